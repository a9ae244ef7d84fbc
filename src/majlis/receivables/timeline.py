"""Invoices and reminders in the customer's activity timeline."""

from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.orm import Session

from majlis.core.permissions import Actor
from majlis.core.timeline import Position, TimelineEntry, older_than, timeline_source
from majlis.receivables.models import ConsolidatedReminder, Invoice


@timeline_source("invoice")
def invoice_entries(
    session: Session, actor: Actor, customer_id: uuid.UUID, before: Position | None, limit: int
) -> list[TimelineEntry]:
    """Each invoice issued to the customer, with its current status."""
    query = (
        select(Invoice)
        .where(
            Invoice.company_id == actor.company_id,
            Invoice.customer_id == customer_id,
            older_than(Invoice.created_at, Invoice.id, before),
        )
        .order_by(Invoice.created_at.desc(), Invoice.id.desc())
        .limit(limit)
    )
    return [
        TimelineEntry(
            occurred_at=invoice.created_at,
            id=str(invoice.id),
            kind="invoice",
            title=f"Invoice {invoice.number}: {invoice.amount:,.2f} {invoice.currency}",
            data={
                "status": str(invoice.status),
                "due_date": invoice.due_date.isoformat(),
                "balance": str(invoice.balance),
            },
        )
        for invoice in session.scalars(query)
    ]


@timeline_source("reminder")
def reminder_entries(
    session: Session, actor: Actor, customer_id: uuid.UUID, before: Position | None, limit: int
) -> list[TimelineEntry]:
    """Each payment reminder planned for the customer and how it went."""
    query = (
        select(ConsolidatedReminder)
        .where(
            ConsolidatedReminder.company_id == actor.company_id,
            ConsolidatedReminder.customer_id == customer_id,
            older_than(ConsolidatedReminder.created_at, ConsolidatedReminder.id, before),
        )
        .order_by(ConsolidatedReminder.created_at.desc(), ConsolidatedReminder.id.desc())
        .limit(limit)
    )
    return [
        TimelineEntry(
            occurred_at=reminder.created_at,
            id=str(reminder.id),
            kind="reminder",
            title=(
                f"{reminder.escalation_level.title()} reminder for {reminder.invoice_count}"
                f" invoice(s): {reminder.total_amount:,.2f} {reminder.currency}"
            ),
            data={
                "reminder_type": str(reminder.reminder_type),
                "delivery_status": str(reminder.delivery_status),
            },
        )
        for reminder in session.scalars(query)
    ]
