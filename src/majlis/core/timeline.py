"""A customer's activity timeline: one newest-first stream merged from many sources.

Each domain contributes a *source* — a function returning its newest entries
for a customer strictly before a position — and registers it with
`@timeline_source("kind")`. The timeline merges whatever sources are
registered, so a domain added later (invoices, reminders, journeys) joins the
stream without editing this module. Most sources read one table of rows keyed
by customer; `table_source(...)` declares such a source in a few lines.
"""

from __future__ import annotations

import heapq
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, literal, select, true, tuple_
from sqlalchemy.orm import QueryableAttribute, Session

from majlis.core.audit import AuditEntry
from majlis.core.pagination import Page, decode_cursor, encode_cursor
from majlis.core.permissions import Actor


@dataclass(frozen=True, order=True)
class Position:
    """Where a timeline page ends: entries sort by (occurred_at, id), newest first."""

    occurred_at: datetime
    id: str


@dataclass(frozen=True)
class TimelineEntry:
    occurred_at: datetime
    id: str
    kind: str
    title: str
    data: dict[str, Any] = field(default_factory=dict)

    @property
    def position(self) -> Position:
        return Position(self.occurred_at, self.id)


# (session, actor, customer_id, before, limit) -> up to `limit` entries older than `before`,
# newest first. Sources must filter by company themselves (RLS is the second lock).
TimelineSource = Callable[[Session, Actor, uuid.UUID, Position | None, int], list[TimelineEntry]]
_sources: dict[str, TimelineSource] = {}


def timeline_source(kind: str) -> Callable[[TimelineSource], TimelineSource]:
    """Register a source of timeline entries under `kind` (one source per kind)."""

    def register(source: TimelineSource) -> TimelineSource:
        _sources[kind] = source
        return source

    return register


def older_than(
    occurred_at: QueryableAttribute[datetime] | ColumnElement[datetime],
    entry_id: QueryableAttribute[uuid.UUID] | ColumnElement[uuid.UUID],
    before: Position | None,
) -> ColumnElement[bool]:
    """SQL for "strictly before `before`" in (occurred_at, id) order; sources use it in WHERE."""
    if before is None:
        return true()
    return tuple_(occurred_at, entry_id) < tuple_(
        literal(before.occurred_at), literal(uuid.UUID(before.id))
    )


def registered_kinds() -> list[str]:
    return sorted(_sources)


class TableSource:
    """A source reading one tenant table: the customer's rows, newest first, as entries.

    `customer` is the column holding the customer id (default: the model's `customer_id`);
    `where` adds conditions every row must meet; `title` and `data` shape an entry from a row.
    """

    def __init__(
        self,
        kind: str,
        model: type[Any],
        *,
        occurred_at: QueryableAttribute[datetime],
        title: Callable[[Any], str],
        data: Callable[[Any], dict[str, Any]],
        customer: QueryableAttribute[uuid.UUID] | None = None,
        where: tuple[ColumnElement[bool], ...] = (),
    ) -> None:
        self.kind, self.model, self.title, self.data = kind, model, title, data
        self.occurred_at = occurred_at
        self.customer = customer if customer is not None else model.customer_id
        self.where = where

    def __call__(
        self,
        session: Session,
        actor: Actor,
        customer_id: uuid.UUID,
        before: Position | None,
        limit: int,
    ) -> list[TimelineEntry]:
        model = self.model
        query = (
            select(model)
            .where(
                model.company_id == actor.company_id,
                self.customer == customer_id,
                *self.where,
                older_than(self.occurred_at, model.id, before),
            )
            .order_by(self.occurred_at.desc(), model.id.desc())
            .limit(limit)
        )
        return [
            TimelineEntry(
                occurred_at=getattr(row, self.occurred_at.key),
                id=str(row.id),
                kind=self.kind,
                title=self.title(row),
                data=self.data(row),
            )
            for row in session.scalars(query)
        ]


def table_source(
    kind: str,
    model: type[Any],
    *,
    occurred_at: QueryableAttribute[datetime],
    title: Callable[[Any], str],
    data: Callable[[Any], dict[str, Any]] = lambda row: {},
    customer: QueryableAttribute[uuid.UUID] | None = None,
    where: tuple[ColumnElement[bool], ...] = (),
) -> TableSource:
    """Declare and register the source of `kind` that reads `model`'s rows of a customer."""
    source = TableSource(
        kind, model, occurred_at=occurred_at, title=title, data=data, customer=customer, where=where
    )
    timeline_source(kind)(source)
    return source


def customer_timeline(
    session: Session,
    actor: Actor,
    customer_id: uuid.UUID,
    *,
    cursor: str | None = None,
    limit: int = 50,
) -> Page[TimelineEntry]:
    """Newest-first page of everything that happened to a customer, keyset-paginated.

    Each source returns at most `limit + 1` entries before the cursor, so a page
    costs one indexed query per source however deep the client has scrolled.
    """
    before = None
    if cursor:
        occurred_at, entry_id = decode_cursor(cursor, 2)
        before = Position(datetime.fromisoformat(occurred_at), str(entry_id))
    candidates = [
        entry
        for source in _sources.values()
        for entry in source(session, actor, customer_id, before, limit + 1)
    ]
    newest = heapq.nlargest(limit + 1, candidates, key=lambda entry: entry.position)
    page = newest[:limit]
    next_cursor = None
    if len(newest) > limit:
        last = page[-1]
        next_cursor = encode_cursor([last.occurred_at.isoformat(), last.id])
    return Page(page, next_cursor)


# Every audited change of the customer record.
audit_entries = table_source(
    "audit",
    AuditEntry,
    occurred_at=AuditEntry.occurred_at,
    customer=AuditEntry.entity_id,
    where=(AuditEntry.entity_type == "customer",),
    title=lambda row: row.action,
    data=lambda row: {
        "actor_id": str(row.actor_id) if row.actor_id else None,
        "after": row.after,
    },
)
