"""The reminder queue: reminders planned and waiting to be sent, highest priority first.

A run stores its reminders (`planner.run_reminders`); the queue is those not yet sent,
read a keyset page at a time along its partial index, with a capped count.
"""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import text
from tests.receivables.test_bulk_plan import varied_company

from majlis.core.db import tenant_session
from majlis.core.errors import ValidationFailed
from majlis.core.pagination import encode_cursor
from majlis.receivables import planner, reminders


def many_debtors(admin_engine, company_id: uuid.UUID, count: int) -> None:
    """`count` customers with an email and an invoice 30 days overdue, set-based."""
    with admin_engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO customers (company_id, id, kind, name, email)"
                " SELECT :c, majlis_new_id(), 'individual', 'Debtor ' || n,"
                " 'd' || n || '@example.ae' FROM generate_series(1, :n) n"
            ),
            {"c": company_id, "n": count},
        )
        conn.execute(
            text(
                "INSERT INTO invoices (company_id, id, customer_id, number, issue_date, due_date,"
                " amount) SELECT company_id, majlis_new_id(), id, 'Q-' || id, current_date - 60,"
                " current_date - 30, 100 FROM customers WHERE company_id = :c"
            ),
            {"c": company_id},
        )


def _walk(app_engine, tenant, limit: int) -> list:
    walked, cursor = [], None
    with tenant_session(app_engine, tenant.company_id) as session:
        while True:
            page = reminders.waiting_reminders(session, tenant.actor(), cursor=cursor, limit=limit)
            assert len(page.items) <= limit
            walked.extend((r.priority_score, r.id, page.waiting) for r in page.items)
            if page.next_cursor is None:
                return walked
            cursor = page.next_cursor


def test_the_queue_walks_a_run_by_priority_and_drops_what_was_sent(
    app_engine, admin_engine, tenant, owner, new_customer, overdue_invoice
) -> None:
    varied_company(owner, new_customer, overdue_invoice)
    with tenant_session(app_engine, tenant.company_id) as session:
        stored = planner.run_reminders(session, tenant.actor())
    planned = len(stored.planned)

    walked = _walk(app_engine, tenant, limit=5)
    assert len(walked) == planned == 12 and len({id_ for _, id_, _ in walked}) == planned
    assert [key[:2] for key in walked] == sorted((key[:2] for key in walked), reverse=True)
    assert {waiting for _, _, waiting in walked} == {planned}

    first_priority, first_id, _ = walked[0]
    with admin_engine.begin() as conn:
        conn.execute(
            text(
                "UPDATE customer_consolidated_reminders SET delivery_status = 'sent',"
                " idempotency_key = 'sent:' || id, message_id = 'm', sent_at = now()"
                " WHERE company_id = :c AND id = :id"
            ),
            {"c": tenant.company_id, "id": first_id},
        )
    after = _walk(app_engine, tenant, limit=50)
    assert [key[:2] for key in after] == [key[:2] for key in walked[1:]]
    assert first_priority >= after[0][0]


def test_the_queue_counts_waiting_reminders_up_to_the_cap(app_engine, admin_engine, tenant) -> None:
    many_debtors(admin_engine, tenant.company_id, reminders.QUEUE_COUNT_CAP + 1)
    with tenant_session(app_engine, tenant.company_id) as session:
        planner.run_reminders(session, tenant.actor())
        page = reminders.waiting_reminders(session, tenant.actor(), limit=3)
    assert page.waiting > reminders.QUEUE_COUNT_CAP and len(page.items) == 3
    assert page.next_cursor is not None


@pytest.mark.parametrize("cursor", ["not-a-cursor", encode_cursor(["high", "nobody"])])
def test_a_foreign_cursor_is_refused(app_engine, tenant, cursor: str) -> None:
    with tenant_session(app_engine, tenant.company_id) as session, pytest.raises(ValidationFailed):
        reminders.waiting_reminders(session, tenant.actor(), cursor=cursor)
