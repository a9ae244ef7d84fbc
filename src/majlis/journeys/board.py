"""The journey board's read: the customers standing in one stage, newest arrivals first.

A pure read behind the same `JOURNEYS` view check as the API; the per-stage
counts come from `service.funnel_by_stage`. A customer never moved stands in
the workflow's first stage since they were created (as `journey_state` says).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import SQLColumnExpression, func, literal, tuple_
from sqlalchemy.orm import Session

from majlis.accounts.models import User
from majlis.core.errors import ValidationFailed
from majlis.core.pagination import Page, decode_cursor, encode_cursor
from majlis.core.permissions import Action, Actor, require
from majlis.customers.models import Customer
from majlis.journeys.models import WorkflowState
from majlis.journeys.service import JOURNEYS, journey_assignee, journeys_of_live_customers


@dataclass(frozen=True)
class BoardCard:
    """One customer on the board: who, the deal, since when in the stage, and whose it is."""

    customer_id: uuid.UUID
    name: str
    deal_value: Decimal
    entered_at: datetime
    assignee_name: str | None


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

    `first_stage` is the workflow's first stage, where never-moved customers stand;
    any other stage reads only moved customers (the stage index, no full scan).
    """
    require(actor, JOURNEYS, Action.VIEW)
    entered: SQLColumnExpression[datetime]
    if stage_key == first_stage:
        entered = func.coalesce(WorkflowState.entered_at, Customer.created_at)
        in_stage = func.coalesce(WorkflowState.stage_key, first_stage) == stage_key
    else:
        entered, in_stage = WorkflowState.entered_at, WorkflowState.stage_key == stage_key
    assignee = journey_assignee()
    query = (
        journeys_of_live_customers(
            actor,
            Customer.id,
            Customer.name,
            func.coalesce(WorkflowState.deal_value, 0),
            entered,
            func.coalesce(User.full_name, User.email),
        )
        .outerjoin(User, User.id == assignee)
        .where(in_stage)
    )
    if assigned_to is not None:
        query = query.where(assignee == assigned_to)
    if cursor:
        query = query.where(tuple_(entered, Customer.id) < tuple_(*_cursor_values(cursor)))
    rows = session.execute(
        query.order_by(entered.desc(), Customer.id.desc()).limit(limit + 1)
    ).all()
    cards = [BoardCard(*row) for row in rows]
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
