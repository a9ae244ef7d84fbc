"""Reading reminders and recording how customers responded to them."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import Select, func, select, text, tuple_
from sqlalchemy.orm import Session

from majlis.core import audit
from majlis.core.errors import Conflict, NotFound, ValidationFailed
from majlis.core.pagination import DEFAULT_LIMIT, Page, decode_cursor, encode_cursor
from majlis.core.permissions import Action, Actor, require
from majlis.receivables.ledger import RECEIVABLES
from majlis.receivables.models import SENT_STATUSES, ConsolidatedReminder, DeliveryStatus

RESPONSE_COLUMNS = {"opened": "opened_at", "clicked": "clicked_at", "replied": "replied_at"}
QUEUE_COUNT_CAP = 1000
# Planned and not yet sent: written as the partial indexes' own predicate, so the planner
# proves it implies theirs (a bound enum parameter would not).
_WAITING = text("delivery_status IN ('scheduled', 'sending')")


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


# ----- the queue: reminders waiting to be sent ---------------------------------------------
@dataclass(frozen=True)
class WaitingPage:
    """One page of the queue and how many reminders wait, exact up to QUEUE_COUNT_CAP (a
    larger number stands for "more than QUEUE_COUNT_CAP")."""

    items: list[ConsolidatedReminder]
    waiting: int
    next_cursor: str | None


def _after(cursor: str) -> tuple[int, uuid.UUID]:
    """The (priority, id) a queue cursor continues after."""
    priority, last_id = decode_cursor(cursor, 2)
    try:
        return int(priority), uuid.UUID(str(last_id))
    except (TypeError, ValueError) as exc:
        raise ValidationFailed.single("cursor", "is not a cursor this API issued") from exc


def waiting_reminders(
    session: Session, actor: Actor, *, cursor: str | None = None, limit: int = DEFAULT_LIMIT
) -> WaitingPage:
    """Reminders planned and not yet sent, highest priority first (the latest planned first
    among equals), keyset-paged on (priority, id) along the queue index."""
    require(actor, RECEIVABLES, Action.VIEW)
    waiting = select(ConsolidatedReminder).where(
        ConsolidatedReminder.company_id == actor.company_id, _WAITING
    )
    page = waiting
    if cursor:
        page = page.where(
            tuple_(ConsolidatedReminder.priority_score, ConsolidatedReminder.id) < _after(cursor)
        )
    order = (ConsolidatedReminder.priority_score.desc(), ConsolidatedReminder.id.desc())
    rows = list(session.scalars(page.order_by(*order).limit(limit + 1)))
    next_cursor = None
    if len(rows) > limit:
        last = rows[limit - 1]
        next_cursor = encode_cursor([last.priority_score, str(last.id)])
    capped = waiting.with_only_columns(ConsolidatedReminder.id).limit(QUEUE_COUNT_CAP + 1)
    count = session.scalar(select(func.count()).select_from(capped.subquery())) or 0
    return WaitingPage(rows[:limit], count, next_cursor)
