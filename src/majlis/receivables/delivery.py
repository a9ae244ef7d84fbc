"""Sending a reminder: the `reminder.send` outbox handler, exactly once, over real SMTP.

The SMTP send cannot join a database transaction, so the reminder row is the
state machine that makes the effect exactly-once:

1. **Claim** (transaction 1, row locked): re-check the reminder is still
   wanted — still `scheduled`, every invoice it covers still open (a customer
   who paid since scheduling is not reminded: `skipped`), not opted out since
   (`cancelled`), inside the calendar now (else `RetryAt` the next sendable
   moment). Render the email, then set `sending` with an idempotency key and a
   deterministic Message-ID (`<reminder.{id}@majlis>`) and **commit**.
2. **Send** over SMTP.
3. **Record** (transaction 2): `sent`, `sent_at`, an `email_logs` row, audit.

If the worker dies between 2 and 3 (or between 1 and 2), the retry finds the
reminder in `sending`: the email may have left, so it is **not sent again**;
it becomes `unconfirmed` with an email log saying why (a missed reminder is
recoverable by a manual one; a duplicate dunning email is not). Because the
Message-ID is derived from the reminder id, even a manual resend by an
operator is recognisable as the same message to receiving servers.
A clean SMTP failure (refused connection, rejected recipient) means nothing
left: the reminder goes back to `scheduled` and the worker retries with
backoff; on the last attempt it becomes `failed`.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import EmailMessage

from sqlalchemy import select
from sqlalchemy.orm import Session

from majlis.accounts.service import get_company
from majlis.core import audit
from majlis.core.ids import new_id
from majlis.core.mail import SendSteps, SmtpMailer, new_message, send_once
from majlis.core.permissions import Actor
from majlis.core.worker import Delivery, outbox_handler
from majlis.customers.models import Customer
from majlis.receivables.models import (
    OPEN_STATUSES,
    ConsolidatedReminder,
    CustomerReminderOverride,
    DeliveryStatus,
    EmailLog,
    Invoice,
    ReminderLanguage,
)
from majlis.receivables.planner import SEND_TOPIC, savings_pct
from majlis.receivables.settings import company_calendar
from majlis.receivables.templates import InvoiceLineItem, render_reminder, template_for


@dataclass(frozen=True)
class PreparedEmail:
    message: EmailMessage
    to_address: str
    subject: str
    invoice_count: int


def message_id_for(reminder_id: uuid.UUID) -> str:
    return f"<reminder.{reminder_id}@majlis>"


def _lock_reminder(
    session: Session, actor: Actor, reminder_id: uuid.UUID
) -> ConsolidatedReminder | None:
    return session.scalar(
        select(ConsolidatedReminder)
        .where(
            ConsolidatedReminder.company_id == actor.company_id,
            ConsolidatedReminder.id == reminder_id,
        )
        .with_for_update()
    )


def _log(
    session: Session,
    reminder: ConsolidatedReminder,
    to_address: str,
    subject: str,
    status: DeliveryStatus,
    details: dict[str, object],
) -> None:
    session.add(
        EmailLog(
            company_id=reminder.company_id,
            id=new_id(),
            reminder_id=reminder.id,
            customer_id=reminder.customer_id,
            to_address=to_address,
            subject=subject,
            invoice_count=len(reminder.invoice_ids),
            consolidation_savings_pct=savings_pct(1, len(reminder.invoice_ids)),
            delivery_status=status,
            message_id=reminder.message_id,
            details=details,
        )
    )


def _close(
    session: Session,
    actor: Actor,
    reminder: ConsolidatedReminder,
    status: DeliveryStatus,
    reason: str,
) -> None:
    reminder.delivery_status = status
    reminder.status_reason = reason
    session.flush()
    audit.record(
        session, actor, f"reminder.{status}", "reminder", reminder.id, after={"reason": reason}
    )


def _invoice_items(
    session: Session, actor: Actor, reminder: ConsolidatedReminder, now: datetime
) -> list[InvoiceLineItem] | None:
    """The covered invoices as they are now; None if any was paid or voided since planning."""
    invoices = session.scalars(
        select(Invoice)
        .where(Invoice.company_id == actor.company_id, Invoice.id.in_(reminder.invoice_ids))
        .order_by(Invoice.due_date, Invoice.id)
    ).all()
    if len(invoices) != len(reminder.invoice_ids) or any(
        invoice.status not in OPEN_STATUSES for invoice in invoices
    ):
        return None
    today = now.astimezone(company_calendar(session, actor).zone).date()
    return [
        InvoiceLineItem(
            number=invoice.number,
            issue_date=invoice.issue_date,
            due_date=invoice.due_date,
            amount=invoice.amount,
            balance=invoice.balance,
            days_overdue=max(0, (today - invoice.due_date).days),
        )
        for invoice in invoices
    ]


def build_message(
    session: Session,
    actor: Actor,
    reminder: ConsolidatedReminder,
    customer: Customer,
    items: list[InvoiceLineItem],
    sender: str,
) -> PreparedEmail:
    """Render the reminder into an email with its deterministic Message-ID."""
    company = get_company(session, actor.company_id)
    arabic = reminder.language is ReminderLanguage.AR
    template = template_for(
        session, actor, reminder.language, reminder.escalation_level, len(items)
    )
    rendered = render_reminder(
        template,
        customer_name=(customer.name_ar if arabic and customer.name_ar else customer.name),
        company_name=(company.name_ar if arabic and company.name_ar else company.name),
        invoices=items,
        currency=reminder.currency,
        level=reminder.escalation_level,
    )
    message = new_message(
        sender=sender,
        to=str(customer.email),
        subject=rendered.subject,
        message_id=message_id_for(reminder.id),
    )
    message["X-Majlis-Reminder"] = str(reminder.id)
    message.set_content(rendered.text)
    message.add_alternative(rendered.html, subtype="html")
    if rendered.statement_csv is not None:
        message.add_attachment(
            rendered.statement_csv.encode(),
            maintype="text",
            subtype="csv",
            filename="statement.csv",
        )
    # Set last: set_content() and add_alternative() drop Content-* headers.
    message["Content-Language"] = str(reminder.language)
    return PreparedEmail(message, str(customer.email), rendered.subject, len(items))


UNCONFIRMED_REASON = (
    "a previous attempt stopped between claiming and recording the send; not resent, to"
    " avoid a duplicate email"
)


def _claim(
    session: Session, actor: Actor, reminder_id: uuid.UUID, sender: str, now: datetime
) -> PreparedEmail | datetime | None:
    """Transaction 1: an email to send, a later time to try, or None (nothing to do)."""
    reminder = _lock_reminder(session, actor, reminder_id)
    if reminder is None:
        return None
    customer = session.get_one(Customer, (actor.company_id, reminder.customer_id))
    if reminder.delivery_status is DeliveryStatus.SENDING:
        # It probably left: it counts as contact for the interval and the escalation.
        reminder.sent_at = reminder.sending_started_at
        _close(session, actor, reminder, DeliveryStatus.UNCONFIRMED, UNCONFIRMED_REASON)
        details: dict[str, object] = {"reason": UNCONFIRMED_REASON}
        _log(session, reminder, customer.email or "", "", DeliveryStatus.UNCONFIRMED, details)
        return None
    if reminder.delivery_status is not DeliveryStatus.SCHEDULED:
        return None
    if (
        customer.deleted_at is not None
        or not customer.email
        or _opted_out(session, actor, customer)
    ):
        _close(
            session, actor, reminder, DeliveryStatus.CANCELLED, "customer can no longer be reminded"
        )
        return None
    items = _invoice_items(session, actor, reminder, now)
    if items is None:
        _close(session, actor, reminder, DeliveryStatus.SKIPPED, "paid or voided since scheduling")
        return None
    calendar = company_calendar(session, actor)
    if not calendar.is_sendable(now):
        reminder.scheduled_at = calendar.next_sendable(now)
        return reminder.scheduled_at
    prepared = build_message(session, actor, reminder, customer, items, sender)
    reminder.delivery_status = DeliveryStatus.SENDING
    reminder.idempotency_key = f"{SEND_TOPIC}:{reminder.id}"
    reminder.message_id = message_id_for(reminder.id)
    reminder.sending_started_at = now
    return prepared


def _opted_out(session: Session, actor: Actor, customer: Customer) -> bool:
    override = session.get(CustomerReminderOverride, (actor.company_id, customer.id))
    return override is not None and override.opt_out


def _record_sent(
    session: Session, actor: Actor, reminder_id: uuid.UUID, prepared: PreparedEmail
) -> None:
    """Transaction 2: the email left; say so, once."""
    reminder = session.get_one(ConsolidatedReminder, (actor.company_id, reminder_id))
    reminder.delivery_status = DeliveryStatus.SENT
    reminder.sent_at = datetime.now(UTC)
    reminder.status_reason = None
    _log(
        session,
        reminder,
        prepared.to_address,
        prepared.subject,
        DeliveryStatus.SENT,
        {"invoices": [str(i) for i in reminder.invoice_ids], "type": str(reminder.reminder_type)},
    )
    audit.record(
        session,
        actor,
        "reminder.sent",
        "reminder",
        reminder.id,
        after={"message_id": reminder.message_id, "to": prepared.to_address},
    )


def _release(
    session: Session,
    actor: Actor,
    reminder_id: uuid.UUID,
    prepared: PreparedEmail,
    error: Exception,
    final: bool,
) -> None:
    """The SMTP server refused: nothing left, so the reminder may be tried again."""
    reminder = session.get_one(ConsolidatedReminder, (actor.company_id, reminder_id))
    reason = f"SMTP: {type(error).__name__}: {error}"
    if final:
        _close(session, actor, reminder, DeliveryStatus.FAILED, reason)
        _log(
            session,
            reminder,
            prepared.to_address,
            prepared.subject,
            DeliveryStatus.FAILED,
            {"error": reason},
        )
    else:
        reminder.delivery_status = DeliveryStatus.SCHEDULED
        reminder.status_reason = reason


def deliver_reminder(delivery: Delivery, mailer: SmtpMailer) -> None:
    """Claim, send, record — see the module docstring for why in three steps."""
    reminder_id = uuid.UUID(str(delivery.payload["reminder_id"]))
    actor = delivery.actor
    steps: SendSteps[PreparedEmail] = SendSteps(
        claim=lambda session, now: _claim(session, actor, reminder_id, mailer.sender, now),
        message=lambda prepared: prepared.message,
        refused=lambda session, prepared, error, final: _release(
            session, actor, reminder_id, prepared, error, final
        ),
        sent=lambda session, prepared: _record_sent(session, actor, reminder_id, prepared),
        not_yet="outside the company's sending hours",
    )
    send_once(delivery, mailer, steps)


@outbox_handler(SEND_TOPIC)
def send_reminder(delivery: Delivery) -> None:
    deliver_reminder(delivery, SmtpMailer.from_settings())
