"""Scheduled sweeps: the journey events that no request produces.

Birthdays, silence, a points balance crossing a threshold, an invoice falling
overdue and a conversation arriving happen without anyone calling the API, so
the worker looks for them (one periodic task per trigger, see `tasks.py`). A
sweep is one set-based query that finds the customers matching *now*, each with
an **occurrence** key naming what it found:

| trigger | occurrence | so a rule fires |
|---|---|---|
| `birthday` | the year (company-local date) | once per year |
| `no_contact` | threshold + when the silence began | once per silent period |
| `points_threshold` | threshold + the ledger entry that crossed it | once per crossing |
| `invoice_overdue` | the invoice | once per invoice |
| `conversation_received` | the conversation | once per conversation |

New occurrences become ordinary journey events; the unique key
`(company_id, customer_id, kind, occurrence)` makes a second sweep (or two
workers sweeping at once) record nothing new, and the rule engine, idempotent
per event, does the rest. `no_contact` and `points_threshold` run once per
threshold that an active rule names; the event carries it and only rules with
that threshold fire (`rules.compile_rule`).
"""

from __future__ import annotations

import calendar
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import (
    ColumnElement,
    Integer,
    Select,
    String,
    and_,
    cast,
    exists,
    extract,
    func,
    select,
)
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.orm import Session

from majlis.accounts.service import get_company
from majlis.conversations.models import Conversation
from majlis.core.ids import new_id
from majlis.core.permissions import Action, Actor, require
from majlis.customers.models import Customer
from majlis.journeys.models import AutomationRule, WorkflowAction, WorkflowEvent
from majlis.journeys.service import JOURNEYS
from majlis.loyalty.models import LoyaltyMember, PointsEntry
from majlis.receivables.models import OPEN_STATUSES, Invoice

# A conversation older than this when first swept is history, not news.
CONVERSATION_WINDOW = timedelta(days=7)


@dataclass(frozen=True)
class SweepContext:
    """What a sweep query needs: the company, its local today, and one rule threshold."""

    company_id: uuid.UUID
    today: date
    now: datetime
    threshold: int | None = None


def last_contact_at() -> ColumnElement[datetime]:
    """When we last heard from or dealt with a customer (correlated to `Customer`).

    The latest of: the customer's creation, `last_seen_at` (conversations and
    interactions keep it) and their last journey stage move. Used by the
    no-contact sweep and the churn-risk KPI so both mean the same silence.
    """
    moved = (
        select(func.max(WorkflowAction.occurred_at))
        .where(
            WorkflowAction.company_id == Customer.company_id,
            WorkflowAction.customer_id == Customer.id,
        )
        .scalar_subquery()
    )
    return func.greatest(Customer.created_at, Customer.last_seen_at, moved)


def _live_customers(ctx: SweepContext) -> ColumnElement[bool]:
    return and_(
        Customer.company_id == ctx.company_id,
        Customer.deleted_at.is_(None),
        Customer.is_active.is_(True),
    )


def _birthday_codes(today: date) -> list[int]:
    """Month × 100 + day of the birthdays celebrated today (29 Feb on 28 Feb in common years)."""
    codes = [today.month * 100 + today.day]
    if (today.month, today.day) == (2, 28) and not calendar.isleap(today.year):
        codes.append(229)
    return codes


def _birthdays(ctx: SweepContext) -> Select[Any]:
    born = Customer.date_of_birth
    code = extract("month", born) * 100 + extract("day", born)
    year = ctx.today.year
    return select(
        Customer.id,
        func.jsonb_build_object("year", year, "age", year - extract("year", born).cast(Integer)),
        cast(str(year), String),
    ).where(_live_customers(ctx), born.is_not(None), code.in_(_birthday_codes(ctx.today)))


def _silent(ctx: SweepContext) -> Select[Any]:
    assert ctx.threshold is not None
    last = last_contact_at().label("last_contact")
    contacts = select(Customer.id, last).where(_live_customers(ctx)).subquery()
    since = contacts.c.last_contact
    return select(
        contacts.c.id,
        func.jsonb_build_object(
            "threshold",
            ctx.threshold,
            "days_silent",
            extract("day", ctx.now - since),
            "last_contact_at",
            since,
        ),
        func.concat(ctx.threshold, "d:", extract("epoch", since)),
    ).where(since <= ctx.now - timedelta(days=ctx.threshold))


def _points_crossings(ctx: SweepContext) -> Select[Any]:
    assert ctx.threshold is not None
    company = PointsEntry.company_id == ctx.company_id
    rich = (
        select(PointsEntry.member_id)
        .where(company)
        .group_by(PointsEntry.member_id)
        .having(func.sum(PointsEntry.points) >= ctx.threshold)
    )
    after = func.sum(PointsEntry.points).over(
        partition_by=PointsEntry.member_id, order_by=PointsEntry.id
    )
    running = (
        select(PointsEntry.member_id, PointsEntry.id, after.label("after"), PointsEntry.points)
        .where(company, PointsEntry.member_id.in_(rich))
        .subquery()
    )
    # The last entry that took the balance from below the threshold to at or above it.
    crossing = (
        select(running.c.member_id, running.c.id, running.c.after)
        .where(
            running.c.after >= ctx.threshold,
            running.c.after - running.c.points < ctx.threshold,
        )
        .distinct(running.c.member_id)
        .order_by(running.c.member_id, running.c.id.desc())
        .subquery()
    )
    return (
        select(
            LoyaltyMember.customer_id,
            func.jsonb_build_object("threshold", ctx.threshold, "balance", crossing.c.after),
            func.concat(ctx.threshold, "p:", crossing.c.id),
        )
        .select_from(crossing)
        .join(
            LoyaltyMember,
            (LoyaltyMember.company_id == ctx.company_id)
            & (LoyaltyMember.id == crossing.c.member_id),
        )
    )


def _overdue_invoices(ctx: SweepContext) -> Select[Any]:
    return select(
        Invoice.customer_id,
        func.jsonb_build_object(
            "invoice_id",
            Invoice.id,
            "number",
            Invoice.number,
            "balance",
            Invoice.amount - Invoice.amount_paid,
            "days_overdue",
            ctx.today - Invoice.due_date,
        ),
        cast(Invoice.id, String),
    ).where(
        Invoice.company_id == ctx.company_id,
        Invoice.status.in_(OPEN_STATUSES),
        Invoice.due_date < ctx.today,
    )


def _received_conversations(ctx: SweepContext) -> Select[Any]:
    arrived = func.coalesce(Conversation.customer_linked_at, Conversation.created_at)
    return select(
        Conversation.customer_id,
        func.jsonb_build_object(
            "conversation_id", Conversation.id, "channel", Conversation.channel
        ),
        cast(Conversation.id, String),
    ).where(
        Conversation.company_id == ctx.company_id,
        Conversation.customer_id.is_not(None),
        arrived >= ctx.now - CONVERSATION_WINDOW,
    )


Finder = Callable[[SweepContext], Select[Any]]
SWEEPS: dict[str, Finder] = {
    "birthday": _birthdays,
    "no_contact": _silent,
    "points_threshold": _points_crossings,
    "invoice_overdue": _overdue_invoices,
    "conversation_received": _received_conversations,
}
THRESHOLDED = frozenset({"no_contact", "points_threshold"})


def _thresholds(session: Session, actor: Actor, kind: str) -> list[int | None]:
    """The thresholds active rules of `kind` name ([None] for triggers without one)."""
    rules = session.scalars(
        select(AutomationRule.definition["threshold"].as_integer())
        .where(
            AutomationRule.company_id == actor.company_id,
            AutomationRule.trigger == kind,
            AutomationRule.is_active.is_(True),
        )
        .distinct()
    ).all()
    if kind in THRESHOLDED:
        return sorted(threshold for threshold in rules if threshold is not None)
    return [None] if rules else []


def _new_occurrences(session: Session, actor: Actor, kind: str, found: Select[Any]) -> list[Any]:
    """The matches of `found` not recorded yet (the unique key's index answers each probe)."""
    customer_id, _payload, occurrence = found.selected_columns
    seen = exists().where(
        WorkflowEvent.company_id == actor.company_id,
        WorkflowEvent.customer_id == customer_id,
        WorkflowEvent.kind == kind,
        WorkflowEvent.occurrence == occurrence,
    )
    return list(session.execute(found.where(~seen)))


def _record(session: Session, actor: Actor, kind: str, rows: list[Any]) -> int:
    if not rows:
        return 0
    statement = (
        pg_insert(WorkflowEvent)
        .on_conflict_do_nothing(
            index_elements=["company_id", "customer_id", "kind", "occurrence"],
            index_where=WorkflowEvent.occurrence.is_not(None),
        )
        .returning(WorkflowEvent.id)
    )
    values = [
        {
            "company_id": actor.company_id,
            "id": new_id(),
            "customer_id": customer_id,
            "kind": kind,
            "payload": payload,
            "occurrence": occurrence,
        }
        for customer_id, payload, occurrence in rows
    ]
    return len(session.execute(statement, values).all())


def sweep(session: Session, actor: Actor, kind: str, now: datetime | None = None) -> int:
    """Record the `kind` events due now for this company; returns how many were new.

    Does nothing unless an active rule listens for `kind`.
    """
    require(actor, JOURNEYS, Action.ADMINISTER)
    moment = now or datetime.now(UTC)
    zone = ZoneInfo(get_company(session, actor.company_id).time_zone)
    recorded = 0
    for threshold in _thresholds(session, actor, kind):
        ctx = SweepContext(actor.company_id, moment.astimezone(zone).date(), moment, threshold)
        rows = _new_occurrences(session, actor, kind, SWEEPS[kind](ctx))
        recorded += _record(session, actor, kind, rows)
    return recorded


def sweep_all(session: Session, actor: Actor, now: datetime | None = None) -> dict[str, int]:
    """Every sweep once (the CLI and tests; the worker runs each on its own schedule)."""
    return {kind: sweep(session, actor, kind, now) for kind in SWEEPS}
