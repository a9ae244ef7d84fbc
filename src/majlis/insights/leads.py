"""Hot leads and the next best action: explainable scores from journey signals.

Lead score (0–100) is the sum of five parts, each computed in one SQL query
so the same formula ranks one customer or the whole company:

    engagement  up to 30   journey events in the last 14 days, 3 points each
    velocity    up to 20   stage moves in the last 30 days, 5 points each
    progress    up to 20   how far the current stage is along the workflow
    value       up to 20   log10(1 + deal value) × 4   (100,000 → 20)
    recency     up to 10   10 if last seen in 7 days, 5 if in 30 days

The reasons shown are the parts that contributed most, in words.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import CompoundSelect, Numeric, Select, case, cast, func, literal, select, union
from sqlalchemy.orm import Session

from majlis.core import outbox
from majlis.core.errors import NotFound
from majlis.core.permissions import CUSTOMERS, Action, Actor, require
from majlis.customers.models import Customer
from majlis.journeys.models import WorkflowAction, WorkflowEvent, WorkflowStage, WorkflowState
from majlis.journeys.service import workflow_stages
from majlis.notifications.models import Priority
from majlis.notifications.service import notify_owners
from majlis.receivables.models import Invoice, InvoiceStatus

PARTS = ("engagement", "velocity", "progress", "value", "recency")
HOT = 60


@dataclass(frozen=True)
class LeadScore:
    customer_id: uuid.UUID
    name: str
    stage: str
    score: int
    parts: dict[str, int]
    reasons: list[str]


def _score_query(actor: Actor, stage_count: int) -> Select[Any]:
    now = datetime.now(UTC)
    events = (
        select(func.count())
        .where(
            WorkflowEvent.company_id == actor.company_id,
            WorkflowEvent.customer_id == Customer.id,
            WorkflowEvent.occurred_at >= now - timedelta(days=14),
        )
        .scalar_subquery()
    )
    moves = (
        select(func.count())
        .where(
            WorkflowAction.company_id == actor.company_id,
            WorkflowAction.customer_id == Customer.id,
            WorkflowAction.occurred_at >= now - timedelta(days=30),
        )
        .scalar_subquery()
    )
    position = (
        select(WorkflowStage.position)
        .where(
            WorkflowStage.company_id == actor.company_id,
            WorkflowStage.key == WorkflowState.stage_key,
            WorkflowStage.is_closed.is_(False),
        )
        .scalar_subquery()
    )
    deal = func.coalesce(WorkflowState.deal_value, 0)
    parts = {
        "engagement": func.least(30, events * 3),
        "velocity": func.least(20, moves * 5),
        "progress": func.coalesce(position * 20 / max(stage_count - 1, 1), 0),
        "value": func.least(20, func.round(cast(func.log(1 + deal) * 4, Numeric))),
        "recency": case(
            (Customer.last_seen_at >= now - timedelta(days=7), 10),
            (Customer.last_seen_at >= now - timedelta(days=30), 5),
            else_=0,
        ),
    }
    total = sum((part for part in parts.values()), start=literal(0))
    return (
        select(
            Customer.id,
            Customer.name,
            func.coalesce(WorkflowState.stage_key, "").label("stage"),
            *(part.label(name) for name, part in parts.items()),
            total.label("score"),
        )
        .outerjoin(
            WorkflowState,
            (WorkflowState.company_id == Customer.company_id)
            & (WorkflowState.customer_id == Customer.id),
        )
        .where(Customer.company_id == actor.company_id, Customer.deleted_at.is_(None))
    )


REASONS = {
    "engagement": "{} recent journey events (last 14 days)",
    "velocity": "moving fast: {} stage changes in 30 days",
    "progress": "far along the journey ({})",
    "value": "deal worth {}",
    "recency": "seen recently",
}


def _lead(row: Any, deal_values: dict[uuid.UUID, Decimal]) -> LeadScore:
    parts = {name: int(getattr(row, name) or 0) for name in PARTS}
    strongest = sorted((p for p in PARTS if parts[p] > 0), key=lambda p: -parts[p])[:3]
    detail = {
        "engagement": parts["engagement"] // 3,
        "velocity": parts["velocity"] // 5,
        "progress": row.stage or "first stage",
        "value": deal_values.get(row.id, Decimal(0)),
        "recency": "",
    }
    reasons = [REASONS[p].format(detail[p]) for p in strongest]
    return LeadScore(row.id, row.name, row.stage, min(100, int(row.score)), parts, reasons)


def _deal_values(session: Session, actor: Actor, ids: list[uuid.UUID]) -> dict[uuid.UUID, Decimal]:
    rows = session.execute(
        select(WorkflowState.customer_id, WorkflowState.deal_value).where(
            WorkflowState.company_id == actor.company_id, WorkflowState.customer_id.in_(ids)
        )
    )
    return {row.customer_id: row.deal_value for row in rows}


def lead_score(session: Session, actor: Actor, customer_id: uuid.UUID) -> LeadScore:
    """One customer's lead score and the reasons behind it."""
    require(actor, CUSTOMERS, Action.VIEW)
    stages = len(workflow_stages(session, actor))
    row = session.execute(
        _score_query(actor, stages).where(Customer.id == customer_id)
    ).one_or_none()
    if row is None:
        raise NotFound("customer", customer_id)
    return _lead(row, _deal_values(session, actor, [customer_id]))


# Progress, value and recency add up to at most 50, below HOT: a hot lead has had a journey
# event in 14 days or a stage move in 30. Scoring only those customers gives the same list
# without scoring every customer of a large company.
QUIET_MAXIMUM = 20 + 20 + 10


def _recently_active(actor: Actor) -> CompoundSelect[Any]:
    now = datetime.now(UTC)
    return union(
        select(WorkflowEvent.customer_id).where(
            WorkflowEvent.company_id == actor.company_id,
            WorkflowEvent.occurred_at >= now - timedelta(days=14),
        ),
        select(WorkflowAction.customer_id).where(
            WorkflowAction.company_id == actor.company_id,
            WorkflowAction.occurred_at >= now - timedelta(days=30),
        ),
    )


def hot_leads(session: Session, actor: Actor, limit: int = 20) -> list[LeadScore]:
    """The company's highest-scoring open leads (score ≥ 60), best first."""
    require(actor, CUSTOMERS, Action.VIEW)
    stages = len(workflow_stages(session, actor))
    scored = _score_query(actor, stages).where(Customer.id.in_(_recently_active(actor))).subquery()
    rows = session.execute(
        select(scored)
        .where(scored.c.score >= HOT)
        .order_by(scored.c.score.desc(), scored.c.id)
        .limit(limit)
    ).all()
    deals = _deal_values(session, actor, [row.id for row in rows])
    return [_lead(row, deals) for row in rows]


ALERT_SIZE = 10
BODY_LIMIT = 300  # a notification body's limit; the reasons are one click away


def alert_hot_leads(session: Session, actor: Actor, day: date) -> list[LeadScore]:
    """The day's hot-leads alert to the owners, once per day (an outbox key guards repeats)."""
    leads = hot_leads(session, actor, limit=ALERT_SIZE)
    if not leads:
        return []
    payload = {"day": day.isoformat(), "customers": [str(lead.customer_id) for lead in leads]}
    if outbox.emit(session, actor, "insights.hot_leads", payload, dedupe_key=f"hot-leads:{day}"):
        names = ", ".join(f"{lead.name} ({lead.score})" for lead in leads)
        body = names if len(names) <= BODY_LIMIT else names[: BODY_LIMIT - 1] + "…"
        notify_owners(
            session, actor, f"Hot leads for {day:%d %b}: {len(leads)}", body, Priority.HIGH
        )
        return leads
    return []


# ----- the next best action -----------------------------------------------------------------------
@dataclass(frozen=True)
class NextAction:
    action: str  # call, offer, follow_up, collect
    reasons: list[str]


def _overdue_amount(session: Session, actor: Actor, customer_id: uuid.UUID) -> Decimal:
    owed = session.scalar(
        select(func.coalesce(func.sum(Invoice.amount - Invoice.amount_paid), 0)).where(
            Invoice.company_id == actor.company_id,
            Invoice.customer_id == customer_id,
            Invoice.status.in_((InvoiceStatus.OPEN, InvoiceStatus.PARTIALLY_PAID)),
            Invoice.due_date < datetime.now(UTC).date(),
        )
    )
    return Decimal(owed or 0)


def next_best_action(session: Session, actor: Actor, customer_id: uuid.UUID) -> NextAction:
    """What to do next with this customer, and why (first matching rule wins):

    collect when an invoice is overdue; follow up a proposal or a won deal
    waiting 3+ days; offer something to won and loyal customers; call hot leads;
    otherwise follow up.
    """
    lead = lead_score(session, actor, customer_id)
    overdue = _overdue_amount(session, actor, customer_id)
    if overdue > 0:
        return NextAction("collect", [f"{overdue} overdue on unpaid invoices"])
    waiting = session.scalar(
        select(WorkflowState.entered_at).where(
            WorkflowState.company_id == actor.company_id,
            WorkflowState.customer_id == customer_id,
        )
    )
    days = (datetime.now(UTC) - waiting).days if waiting else 0
    if lead.stage in ("proposal", "won") and days >= 3:
        return NextAction("follow_up", [f"in {lead.stage} for {days} days"])
    if lead.stage in ("won", "loyal", "follow_up"):
        return NextAction("offer", [f"a {lead.stage} customer: a good moment for an offer"])
    if lead.score >= HOT:
        return NextAction("call", [f"hot lead (score {lead.score})", *lead.reasons])
    return NextAction("follow_up", [f"lead score {lead.score}", *lead.reasons])
