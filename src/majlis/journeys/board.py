"""The journey board's read: the customers standing in each stage, newest arrivals first.

A pure read behind the same `JOURNEYS` view check as the API. A customer never
moved stands in the workflow's first stage since they were created (as
`journey_state` says). The whole board is one statement: the stages with their
capped counts (`service.funnel_rows`), each joined LATERAL to its newest cards
(`_cards`, the one definition of a column's cards and their order, which
`stage_cards` pages through too).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    Integer,
    Numeric,
    Select,
    cast,
    func,
    literal,
    select,
    true,
    tuple_,
    union_all,
)
from sqlalchemy.orm import Session
from sqlalchemy.sql.selectable import FromClause, LateralFromClause

from majlis.accounts.models import User
from majlis.core.errors import ValidationFailed
from majlis.core.pagination import Page, decode_cursor, encode_cursor
from majlis.core.permissions import Action, Actor, require
from majlis.customers.models import Customer
from majlis.journeys import service
from majlis.journeys.models import WorkflowStage, WorkflowState
from majlis.journeys.service import JOURNEYS, moved_into, never_moved


@dataclass(frozen=True)
class BoardCard:
    """One customer on the board: who, the deal, since when in the stage, and whose it is."""

    customer_id: uuid.UUID
    name: str
    deal_value: Decimal
    entered_at: datetime
    assignee_name: str | None
    days_in_stage: int  # whole days since `entered_at`, counted by the database


@dataclass(frozen=True)
class BoardColumn:
    """A stage with its capped count (`service.COUNT_CAP`) and its first page of cards."""

    stage: WorkflowStage
    count: int
    cards: Page[BoardCard]


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
    actor: Actor,
    stage: FromClause,
    assigned_to: uuid.UUID | None,
    after: Any,
    limit: int,
) -> Select[Any]:
    """Customers moved into the stage: the stage index, newest arrival first."""
    query = moved_into(
        actor,
        stage,
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


def _cards(
    actor: Actor,
    stage: FromClause,
    first_stage: str,
    assigned_to: uuid.UUID | None,
    after: Any,
    limit: int,
) -> LateralFromClause:
    """The `limit` newest cards of each `stage` row (after the cursor), to join LATERAL.

    The first stage merges the newest of both kinds, each read newest first from its
    own index (stage index, customers by creation), so no column reads the whole
    company; in other stages the never-moved branch is skipped (a one-time filter).
    """
    waiting = _waiting_cards(actor, assigned_to, after, limit)
    waiting = waiting.where(stage.c.key == first_stage).correlate(stage)
    both = union_all(_moved_cards(actor, stage, assigned_to, after, limit), waiting).subquery()
    days = func.greatest(0, func.date_part("day", func.now() - both.c.entered_at))
    return (
        select(*both.c, cast(days, Integer).label("days_in_stage"))
        .order_by(*_newest_first(both))
        .limit(limit)
        .lateral("card")
    )


def _newest_first(cards: FromClause) -> tuple[Any, Any]:
    return cards.c.entered_at.desc(), cards.c.customer_id.desc()


def _page(cards: Sequence[BoardCard], limit: int) -> Page[BoardCard]:
    """At most `limit` cards, and the cursor after the last when there are more."""
    if len(cards) <= limit:
        return Page(list(cards), None)
    last = cards[limit - 1]
    return Page(
        list(cards[:limit]), encode_cursor([last.entered_at.isoformat(), str(last.customer_id)])
    )


def board_columns(
    session: Session, actor: Actor, *, assigned_to: uuid.UUID | None = None, limit: int = 20
) -> list[BoardColumn]:
    """Every stage in order with its capped count and its `limit` newest cards.

    One statement after the stages: what `service.funnel_by_stage` counts, each stage
    joined LATERAL to what `stage_cards` returns for its first page.
    """
    require(actor, JOURNEYS, Action.VIEW)
    stages = service.workflow_stages(session, actor)
    # MATERIALIZED: counted once per stage; inlined, each count would rerun per card.
    funnel = service.funnel_rows(actor, stages, assigned_to).cte("funnel")
    funnel = funnel.prefix_with("MATERIALIZED")
    cards = _cards(actor, funnel, stages[0].key, assigned_to, None, limit + 1)
    query = (
        select(funnel.c.position, funnel.c.customers, *cards.c)
        .select_from(funnel.outerjoin(cards, true()))
        .order_by(funnel.c.position, *_newest_first(cards))
    )
    counts: dict[int, int] = {}
    found: dict[int, list[BoardCard]] = {}
    for row in session.execute(query):
        counts[row.position] = int(row.customers)
        found.setdefault(row.position, [])
        if row.customer_id is not None:
            found[row.position].append(BoardCard(*row[2:]))  # the card columns
    return [
        BoardColumn(item, counts[position], _page(found[position], limit))
        for position, item in enumerate(stages, start=1)
    ]


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

    `first_stage` is the workflow's first stage, where never-moved customers also stand.
    """
    require(actor, JOURNEYS, Action.VIEW)
    after = _cursor_values(cursor) if cursor else None
    stage = service.stage_rows([stage_key])
    cards = _cards(actor, stage, first_stage, assigned_to, after, limit + 1)
    query = select(*cards.c).select_from(stage.join(cards, true())).order_by(*_newest_first(cards))
    return _page([BoardCard(*row) for row in session.execute(query)], limit)


def _cursor_values(cursor: str) -> tuple[Any, Any]:
    last_entered, last_id = decode_cursor(cursor, 2)
    try:
        return literal(datetime.fromisoformat(str(last_entered))), literal(uuid.UUID(str(last_id)))
    except ValueError as exc:
        raise ValidationFailed.single("cursor", "is not a cursor this page issued") from exc
