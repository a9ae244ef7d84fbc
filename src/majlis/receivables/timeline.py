"""Invoices and reminders in the customer's activity timeline."""

from __future__ import annotations

from majlis.core.timeline import table_source
from majlis.receivables.models import ConsolidatedReminder, Invoice

# Each invoice issued to the customer, with its current status.
invoice_entries = table_source(
    "invoice",
    Invoice,
    occurred_at=Invoice.created_at,
    title=lambda invoice: f"Invoice {invoice.number}: {invoice.amount:,.2f} {invoice.currency}",
    data=lambda invoice: {
        "status": str(invoice.status),
        "due_date": invoice.due_date.isoformat(),
        "balance": str(invoice.balance),
    },
)

# Each payment reminder planned for the customer and how it went.
reminder_entries = table_source(
    "reminder",
    ConsolidatedReminder,
    occurred_at=ConsolidatedReminder.created_at,
    title=lambda reminder: (
        f"{reminder.escalation_level.title()} reminder for {reminder.invoice_count}"
        f" invoice(s): {reminder.total_amount:,.2f} {reminder.currency}"
    ),
    data=lambda reminder: {
        "reminder_type": str(reminder.reminder_type),
        "delivery_status": str(reminder.delivery_status),
    },
)
