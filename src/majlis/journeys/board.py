"""The journey board's read: the customers standing in one stage, newest arrivals first.

A pure read behind the same `JOURNEYS` view check as the API; the per-stage
counts come from `service.funnel_by_stage` (capped). A customer never moved stands
in the workflow's first stage since they were created (as `journey_state` says).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Numeric, Select, func, literal, select, tuple_, union_all
from sqlalchemy.orm import Session

from majlis.accounts.models import User
from majlis.core.errors import ValidationFailed
from majlis.core.pagination import Page, decode_cursor, encode_cursor
from majlis.core.permissions import Action, Actor, require
from majlis.customers.models import Customer
from majlis.journeys.models import WorkflowState
from majlis.journeys.service import JOURNEYS, moved_into, never_moved


@dataclass(frozen=True)
class BoardCard:
    """One customer on the board: who, the deal, since when in the stage, and whose it is."""

    customer_id: uuid.UUID
    name: str
    deal_value: Decimal
    entered_at: datetime
    assignee_name: str | None


def _assignee_name() -> Any:
    return func.coalesce(User.full_name, User.email)


def _newest(
    query: Select[Any],
    order: tuple[Any, Any],
    assignee: Any,
    assigned_to: uuid.UUID | None,
    after: tuple[Any, Any] | None,
    limit: int,
) -> Select[Any]:
    """`query` filtered by assignee and cursor, newest arrivals first, keyset-limited."""
    if assigned_to is not None:
        query = query.where(assignee == assigned_to)
    if after is not None:
        query = query.where(tuple_(*order) < tuple_(*after))
    return query.order_by(order[0].desc(), order[1].desc()).limit(limit)


def _moved_cards(
    actor: Actor, stage_key: str, assigned_to: uuid.UUID | None, after: Any, limit: int
) -> Select[Any]:
    """Customers moved into the stage: the stage index, newest arrival first."""
    query = moved_into(
        actor,
        stage_key,
        Customer.id.label("customer_id"),
        Customer.name,
        WorkflowState.deal_value.label("deal_value"),
        WorkflowState.entered_at.label("entered_at"),
        _assignee_name().label("assignee"),
    ).outerjoin(User, User.id == WorkflowState.assigned_to)
    order = (WorkflowState.entered_at, WorkflowState.customer_id)
    return _newest(query, order, WorkflowState.assigned_to, assigned_to, after, limit)


def _waiting_cards(
    actor: Actor, assigned_to: uuid.UUID | None, after: Any, limit: int
) -> Select[Any]:
    """Customers never moved, in the first stage since they were created (newest first)."""
    query = never_moved(
        actor,
        Customer.id.label("customer_id"),
        Customer.name,
        literal(Decimal(0), Numeric(14, 2)).label("deal_value"),
        Customer.created_at.label("entered_at"),
        _assignee_name().label("assignee"),
    ).outerjoin(User, User.id == Customer.owner_id)
    order = (Customer.created_at, Customer.id)
    return _newest(query, order, Customer.owner_id, assigned_to, after, limit)


def stage_cards(
    session: Session,
    actor: Actor,
    stage_key: str,
    *,
    first_stage: str,
    assigned_to: uuid.UUID | None = None,
    cursor: str | None = None,
    limit: int = 50,
) -> Page[BoardCard]:
    """Customers in `stage_key`, latest to enter first, keyset-paged on (entered, id).

    `first_stage` is the workflow's first stage, where never-moved customers also
    stand: its page merges the newest of both kinds, each read newest first from its
    own index (stage index, customers by creation), so no page reads the whole company.
    """
    require(actor, JOURNEYS, Action.VIEW)
    after = _cursor_values(cursor) if cursor else None
    query = _moved_cards(actor, stage_key, assigned_to, after, limit + 1)
    if stage_key == first_stage:
        both = union_all(query, _waiting_cards(actor, assigned_to, after, limit + 1)).subquery()
        query = (
            select(*both.c)
            .order_by(both.c.entered_at.desc(), both.c.customer_id.desc())
            .limit(limit + 1)
        )
    cards = [BoardCard(*row) for row in session.execute(query).all()]
    next_cursor = None
    if len(cards) > limit:
        last = cards[limit - 1]
        next_cursor = encode_cursor([last.entered_at.isoformat(), str(last.customer_id)])
    return Page(cards[:limit], next_cursor)


def _cursor_values(cursor: str) -> tuple[Any, Any]:
    last_entered, last_id = decode_cursor(cursor, 2)
    try:
        return literal(datetime.fromisoformat(str(last_entered))), literal(uuid.UUID(str(last_id)))
    except ValueError as exc:
        raise ValidationFailed.single("cursor", "is not a cursor this page issued") from exc
