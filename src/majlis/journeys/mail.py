"""Email follow-ups over SMTP: the `followup.email` outbox handler, exactly once.

The same three steps as payment reminders (`majlis.receivables.delivery`),
with the execution row as the state machine:

1. **Claim** (transaction 1, row locked): the execution must still be
   `scheduled`; the customer is checked again *now* (opted out or without an
   address since: `skipped`; inside their quiet hours: retry when they end).
   Set `sending_started_at` and **commit**.
2. **Send** over SMTP (`core.mail`), Message-ID `<followup.{id}@majlis>`.
3. **Record** (transaction 2): `sent`, `sent_at`, a `follow_up_sent` journey
   event (the customer timeline) and an audit entry.

A retry that finds `sending_started_at` set does not send again (the email
may have left): the execution becomes `failed` with a result saying it is
unconfirmed. A clean SMTP refusal means nothing left: the worker retries with
backoff, and the last attempt marks the execution `failed` with the error.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from email.message import EmailMessage

from sqlalchemy import select
from sqlalchemy.orm import Session

from majlis.accounts.service import get_company
from majlis.core import audit
from majlis.core.mail import SendSteps, SmtpMailer, new_message, send_once
from majlis.core.permissions import Actor
from majlis.core.worker import Delivery, outbox_handler
from majlis.customers.models import Customer
from majlis.journeys.followups import end_of_quiet_hours, skip_reason, stored_preferences
from majlis.journeys.models import Channel, FollowUpExecution, FollowUpStatus
from majlis.journeys.service import record_event

TOPIC = "followup.email"
ENTITY = "followup"
UNCONFIRMED = (
    "unconfirmed: a previous attempt stopped between claiming and recording the send;"
    " not resent, to avoid a duplicate email"
)


def message_id_for(execution_id: uuid.UUID) -> str:
    return f"<followup.{execution_id}@majlis>"


def _locked(session: Session, actor: Actor, execution_id: uuid.UUID) -> FollowUpExecution | None:
    return session.scalar(
        select(FollowUpExecution)
        .where(
            FollowUpExecution.company_id == actor.company_id,
            FollowUpExecution.id == execution_id,
        )
        .with_for_update()
    )


def _finish(
    session: Session,
    actor: Actor,
    execution: FollowUpExecution,
    status: FollowUpStatus,
    result: str,
) -> None:
    """Close the execution, on the customer's timeline and in the audit trail."""
    execution.status, execution.result = status, result
    session.flush()
    details = {"template": execution.template_key, "channel": "email", "result": result}
    record_event(session, actor, f"follow_up_{status}", execution.customer_id, details)
    audit.record(session, actor, f"followup.{status}", ENTITY, execution.id, after=details)


def _message(execution: FollowUpExecution, to: str, sender: str) -> EmailMessage:
    message = new_message(
        sender=sender,
        to=to,
        subject=execution.subject or execution.template_key,
        message_id=message_id_for(execution.id),
    )
    message.set_content(execution.body or "")
    # Set last: set_content() drops Content-* headers.
    message["Content-Language"] = execution.language
    return message


def _claim(
    session: Session, actor: Actor, execution_id: uuid.UUID, sender: str, now: datetime
) -> EmailMessage | datetime | None:
    """Transaction 1: an email to send, a later time to try, or None (nothing to send)."""
    execution = _locked(session, actor, execution_id)
    if execution is None or execution.status is not FollowUpStatus.SCHEDULED:
        return None
    if execution.sending_started_at is not None:
        _finish(session, actor, execution, FollowUpStatus.FAILED, UNCONFIRMED)
        return None
    customer = session.get_one(Customer, (actor.company_id, execution.customer_id))
    prefs = stored_preferences(session, actor, customer.id)
    skip = (
        "customer deleted" if customer.deleted_at else skip_reason(customer, prefs, Channel.EMAIL)
    )
    if skip is not None:
        _finish(session, actor, execution, FollowUpStatus.SKIPPED, skip)
        return None
    zone = get_company(session, actor.company_id).time_zone
    resume = end_of_quiet_hours(now, zone, prefs.quiet_start, prefs.quiet_end)
    if resume > now:
        execution.scheduled_for = resume
        return resume
    execution.sending_started_at = now
    return _message(execution, str(customer.email), sender)


def _sent(session: Session, actor: Actor, execution_id: uuid.UUID, to: str) -> None:
    """Transaction 2: the SMTP server has it; say so, once."""
    execution = session.get_one(FollowUpExecution, (actor.company_id, execution_id))
    execution.sent_at = datetime.now(UTC)
    _finish(session, actor, execution, FollowUpStatus.SENT, f"sent by email to {to}")


def _refused(
    session: Session, actor: Actor, execution_id: uuid.UUID, error: Exception, final: bool
) -> None:
    """Nothing left: fail on the last attempt, else open the execution for the retry."""
    execution = session.get_one(FollowUpExecution, (actor.company_id, execution_id))
    reason = f"SMTP: {type(error).__name__}: {error}"
    execution.sending_started_at = None
    if final:
        _finish(session, actor, execution, FollowUpStatus.FAILED, reason)
    else:
        execution.result = f"{reason}; will retry"


def deliver_follow_up(delivery: Delivery, mailer: SmtpMailer) -> None:
    """Claim, send, record — see the module docstring for why in three steps."""
    execution_id = uuid.UUID(str(delivery.payload["execution_id"]))
    actor = delivery.actor
    steps: SendSteps[EmailMessage] = SendSteps(
        claim=lambda session, now: _claim(session, actor, execution_id, mailer.sender, now),
        message=lambda message: message,
        refused=lambda session, _, error, final: _refused(
            session, actor, execution_id, error, final
        ),
        sent=lambda session, message: _sent(session, actor, execution_id, str(message["To"])),
        not_yet="inside the customer's quiet hours",
    )
    send_once(delivery, mailer, steps)


@outbox_handler(TOPIC)
def send_follow_up_email(delivery: Delivery) -> None:
    deliver_follow_up(delivery, SmtpMailer.from_settings())
