"""Reading reminders and recording how customers responded to them."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from majlis.core import audit
from majlis.core.errors import Conflict, NotFound
from majlis.core.pagination import DEFAULT_LIMIT, Page, decode_cursor, encode_cursor
from majlis.core.permissions import Action, Actor, require
from majlis.receivables.ledger import RECEIVABLES
from majlis.receivables.models import SENT_STATUSES, ConsolidatedReminder, DeliveryStatus

RESPONSE_COLUMNS = {"opened": "opened_at", "clicked": "clicked_at", "replied": "replied_at"}


def get_reminder(session: Session, actor: Actor, reminder_id: uuid.UUID) -> ConsolidatedReminder:
    require(actor, RECEIVABLES, Action.VIEW)
    reminder = session.get(ConsolidatedReminder, (actor.company_id, reminder_id))
    if reminder is None:
        raise NotFound("reminder", reminder_id)
    return reminder


def list_reminders(
    session: Session,
    actor: Actor,
    *,
    customer_id: uuid.UUID | None = None,
    status: DeliveryStatus | None = None,
    cursor: str | None = None,
    limit: int = DEFAULT_LIMIT,
) -> Page[ConsolidatedReminder]:
    """Reminders newest first, keyset-paginated on id."""
    require(actor, RECEIVABLES, Action.VIEW)
    query: Select[tuple[ConsolidatedReminder]] = select(ConsolidatedReminder).where(
        ConsolidatedReminder.company_id == actor.company_id
    )
    if customer_id is not None:
        query = query.where(ConsolidatedReminder.customer_id == customer_id)
    if status is not None:
        query = query.where(ConsolidatedReminder.delivery_status == status)
    if cursor:
        (last_id,) = decode_cursor(cursor, 1)
        query = query.where(ConsolidatedReminder.id < uuid.UUID(str(last_id)))
    rows = list(session.scalars(query.order_by(ConsolidatedReminder.id.desc()).limit(limit + 1)))
    next_cursor = encode_cursor([str(rows[limit - 1].id)]) if len(rows) > limit else None
    return Page(rows[:limit], next_cursor)


def record_response(
    session: Session, actor: Actor, reminder_id: uuid.UUID, event: str
) -> ConsolidatedReminder:
    """The customer opened, clicked or replied to a sent reminder (first time counts)."""
    require(actor, RECEIVABLES, Action.EDIT)
    reminder = get_reminder(session, actor, reminder_id)
    if reminder.delivery_status not in SENT_STATUSES:
        raise Conflict(f"reminder {reminder_id} was not sent (it is {reminder.delivery_status})")
    column = RESPONSE_COLUMNS[event]
    if getattr(reminder, column) is None:
        setattr(reminder, column, datetime.now(UTC))
        if reminder.delivery_status is DeliveryStatus.SENT:
            reminder.delivery_status = DeliveryStatus.DELIVERED
        session.flush()
        audit.record(
            session, actor, f"reminder.{event}", "reminder", reminder.id, after={column: True}
        )
    return reminder
