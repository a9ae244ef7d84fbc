"""Outbox handlers: requested scans, and customers that arrived in bulk (chat, imports)."""

from __future__ import annotations

import uuid

from majlis.core.worker import Delivery, outbox_handler
from majlis.dedupe import arrivals, review, scan
from majlis.dedupe.models import DuplicateScan, ScanStatus

# A failed scan is recorded on its row; retrying a minutes-long job blindly
# would only repeat the failure, so the operator re-requests it.
SCAN_ATTEMPTS = 1


@outbox_handler(review.SCAN_TOPIC, max_attempts=SCAN_ATTEMPTS)
def run_requested_scan(delivery: Delivery) -> None:
    """Scan the company in this worker process (single-process: workers may be threads)."""
    scan_id = uuid.UUID(delivery.payload["scan_id"])
    with delivery.transaction() as session:
        row = session.get(DuplicateScan, (delivery.company_id, scan_id))
        if row is None or row.status is not ScanStatus.QUEUED:
            return  # already run by an earlier delivery of the same event
    scan.run_scan(delivery.engine, delivery.company_id, scan_id)


@outbox_handler(arrivals.CHAT_TOPIC)
def check_chat_customers(delivery: Delivery) -> None:
    """Customers a chat sync batch created: index them, auto-link or queue their duplicates."""
    ids = [uuid.UUID(value) for value in delivery.payload["customer_ids"]]
    with delivery.transaction() as session:
        arrivals.check_chat_customers(session, delivery.actor, ids)


@outbox_handler(arrivals.IMPORT_TOPIC)
def index_imported_customers(delivery: Delivery) -> None:
    """Customers an import batch inserted or updated: index their match keys."""
    payload = delivery.payload
    with delivery.transaction() as session:
        arrivals.index_import_batch(
            session,
            delivery.company_id,
            uuid.UUID(payload["job_id"]),
            int(payload["after"]),
            int(payload["upto"]),
        )
