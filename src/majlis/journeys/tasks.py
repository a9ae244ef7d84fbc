"""Journey and loyalty background work, run by `majlis worker`.

- `customer.created` (outbox) becomes a `customer_created` journey event.
- `payment.recorded` (outbox, from receivables) earns purchase points for the
  paying customer's loyalty membership, once per payment (the ledger reference).
- Every minute, pending journey events are evaluated against automation rules,
  and follow-ups held back by quiet hours are sent once the hours are over.
- Scheduled sweeps record the time-based events (birthday, no contact, points
  threshold, invoice overdue, conversation received), each on its own schedule.
- `followup.email` (outbox) sends an email follow-up over SMTP, exactly once.
- Every day, loyalty points past their date expire.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from datetime import timedelta
from functools import partial

from sqlalchemy import Engine, select, text
from sqlalchemy.orm import Session

from majlis.core.db import tenant_session
from majlis.core.permissions import Actor
from majlis.core.worker import Delivery, outbox_handler, periodic_task
from majlis.journeys import mail, sweeps
from majlis.journeys.automation import process_pending_events
from majlis.journeys.followups import deliver_due_follow_ups
from majlis.journeys.models import WorkflowEvent
from majlis.journeys.service import record_event
from majlis.loyalty import service as loyalty
from majlis.receivables.ledger import get_payment

log = logging.getLogger("majlis.journeys")
FOLLOW_UP_EMAILS = mail.TOPIC  # registered by importing `mail`
CUSTOMER_CREATED = "customer_created"


@outbox_handler("customer.created")
def customer_created(delivery: Delivery) -> None:
    """Start the customer's journey stream (once, even if the event is delivered twice)."""
    customer_id = uuid.UUID(delivery.payload["customer_id"])
    with delivery.transaction() as session:
        seen = session.scalar(
            select(WorkflowEvent.id).where(
                WorkflowEvent.company_id == delivery.company_id,
                WorkflowEvent.customer_id == customer_id,
                WorkflowEvent.kind == CUSTOMER_CREATED,
            )
        )
        if seen is None:
            record_event(session, delivery.actor, CUSTOMER_CREATED, customer_id)


@outbox_handler("payment.recorded")
def points_for_payment(delivery: Delivery) -> None:
    """Paid invoices earn loyalty points; the payment id makes a redelivery earn nothing."""
    with delivery.transaction() as session:
        actor = delivery.actor
        customer_id = uuid.UUID(delivery.payload["customer_id"])
        member = loyalty.member_of_customer(session, actor, customer_id)
        if member is None:
            return
        payment = get_payment(session, actor, uuid.UUID(delivery.payload["payment_id"]))
        points = loyalty.purchase_points(session, actor, payment.amount, payment.created_at)
        if points > 0:
            loyalty.earn_points(
                session, actor, member.id, points, "purchase", reference=f"payment:{payment.id}"
            )


def _companies(engine: Engine, function: str) -> list[uuid.UUID]:
    with Session(engine) as session, session.begin():
        return list(session.scalars(text(f"SELECT company_id FROM {function}()")))


def _for_each(engine: Engine, function: str, job: Callable[[Session, Actor], object]) -> None:
    for company_id in _companies(engine, function):
        try:
            with tenant_session(engine, company_id) as session:
                job(session, Actor.system(company_id))
        except Exception:  # one company's failure must not starve the others
            log.exception("journeys job failed for company %s", company_id)


@periodic_task("journeys.rules", every=timedelta(minutes=1))
def run_automation_rules(engine: Engine) -> None:
    _for_each(engine, "majlis_journeys_companies", process_pending_events)


@periodic_task("journeys.follow_ups", every=timedelta(minutes=1))
def send_due_follow_ups(engine: Engine) -> None:
    """Follow-ups held back by quiet hours go out once the hours are over."""
    _for_each(engine, "majlis_followup_companies", deliver_due_follow_ups)


# How often each sweep looks: a birthday needs noticing within the hour after local
# midnight, a conversation within a minute; silence and overdue invoices change slowly.
SWEEP_EVERY = {
    "birthday": timedelta(hours=1),
    "no_contact": timedelta(minutes=15),
    "points_threshold": timedelta(minutes=5),
    "invoice_overdue": timedelta(hours=1),
    "conversation_received": timedelta(minutes=1),
}


def _sweep_task(kind: str, every: timedelta) -> Callable[[Engine], None]:
    """The periodic task sweeping `kind` in every company that has a rule listening for it."""

    def run(engine: Engine) -> None:
        _for_each(engine, "majlis_sweep_companies", partial(_sweep_one, kind=kind))

    periodic_task(f"journeys.sweep.{kind}", every=every)(run)
    return run


def _sweep_one(session: Session, actor: Actor, *, kind: str) -> int:
    return sweeps.sweep(session, actor, kind)


SWEEP_TASKS = {kind: _sweep_task(kind, every) for kind, every in SWEEP_EVERY.items()}


@periodic_task("loyalty.expiry", every=timedelta(hours=24))
def expire_loyalty_points(engine: Engine) -> None:
    _for_each(engine, "majlis_loyalty_companies", loyalty.expire_points)
