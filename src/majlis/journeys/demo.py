"""Demo journeys: customers at different stages, a task queue, a rule, a loyalty program.

Idempotent: a company whose journey already has moves is left as it is.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from majlis.core.permissions import Actor
from majlis.customers.models import Customer
from majlis.journeys import automation, queue, service
from majlis.journeys.models import TaskKind, WorkflowAction
from majlis.journeys.rules import RuleIn
from majlis.journeys.schemas import JourneyUpdate, TaskCreate
from majlis.loyalty import service as loyalty
from majlis.loyalty.schemas import RewardIn

# Path through the default journey and deal value, per demo customer.
JOURNEYS: tuple[tuple[tuple[str, ...], str], ...] = (
    ((), "0"),
    (("contacted",), "4500"),
    (("contacted", "consultation"), "12000"),
    (("contacted", "consultation", "proposal"), "38000"),
    (("contacted", "consultation", "proposal", "won"), "21000"),
    (("contacted", "consultation", "proposal", "won", "follow_up", "loyal"), "64000"),
    (("lost",), "0"),
)
TASKS = (
    (TaskKind.CALL, "Call to book the consultation", 1, 2),
    (TaskKind.SEND_QUOTE, "Send the proposal with the revised prices", 3, 4),
    (TaskKind.VISIT, "Visit the showroom together", 2, 48),
    (TaskKind.COLLECT_PAYMENT, "Collect the deposit", 4, -6),
    (TaskKind.MESSAGE, "WhatsApp a thank-you note", 5, 24),
)
PROPOSAL_RULE = {
    "name": "Quote every proposal worth 10,000 or more",
    "trigger": "stage_changed",
    "conditions": {
        "conditions": [
            {"field": "event.to", "op": "eq", "value": "proposal"},
            {"field": "journey.deal_value", "op": "gte", "value": 10000},
        ]
    },
    "actions": [
        {"type": "create_task", "kind": "send_quote", "title": "Send the quote", "due_in_hours": 4},
        {"type": "add_tag", "tag": "hot"},
    ],
}


def _already_loaded(session: Session, actor: Actor) -> bool:
    moved = select(WorkflowAction.id).where(WorkflowAction.company_id == actor.company_id)
    return session.scalar(moved.limit(1)) is not None


def _customers(session: Session, actor: Actor) -> list[Customer]:
    return list(
        session.scalars(
            select(Customer)
            .where(Customer.company_id == actor.company_id, Customer.deleted_at.is_(None))
            .order_by(Customer.created_at, Customer.id)
            .limit(len(JOURNEYS))
        )
    )


def _move_along(session: Session, actor: Actor, customers: list[Customer]) -> None:
    for customer, (path, value) in zip(customers, JOURNEYS, strict=False):
        service.update_journey(
            session, actor, customer.id, JourneyUpdate(deal_value=Decimal(value))
        )
        for stage in path:
            service.move_stage(session, actor, customer.id, stage, "demo")


def _queue_tasks(session: Session, actor: Actor, customers: list[Customer]) -> None:
    now = datetime.now(UTC)
    for kind, title, index, hours in TASKS:
        if index < len(customers):
            draft = TaskCreate(
                kind=kind,
                title=title,
                customer_id=customers[index].id,
                due_at=now + timedelta(hours=hours),
                assign="round_robin",
            )
            queue.create_task(session, actor, draft)


def _loyalty(session: Session, actor: Actor, customers: list[Customer]) -> int:
    loyalty.get_program(session, actor)
    for name, name_ar, cost in (
        ("Free coffee", "قهوة مجانية", 150),
        ("VIP lounge", "صالة كبار الزوار", 2500),
    ):
        loyalty.create_reward(
            session, actor, RewardIn(name=name, name_ar=name_ar, cost_points=cost)
        )
    members = 0
    for customer, spent in zip(customers[3:], ("1800", "5200", "16500", "900"), strict=False):
        member = loyalty.enroll(session, actor, customer.id)
        loyalty.earn_for(
            session, actor, member.id, "purchase", Decimal(spent), f"demo:{customer.id}"
        )
        members += 1
    return members


def load_demo_data(session: Session, actor: Actor) -> list[str]:
    """Journeys, tasks, an automation rule and loyalty members for the demo company."""
    if _already_loaded(session, actor):
        return ["journeys: demo data already loaded"]
    customers = _customers(session, actor)
    automation.create_rule(session, actor, RuleIn.model_validate(PROPOSAL_RULE))
    _move_along(session, actor, customers)
    _queue_tasks(session, actor, customers)
    report = automation.process_pending_events(session, actor)
    members = _loyalty(session, actor, customers)
    return [
        f"journeys: {len(customers)} customers across the journey, {len(TASKS)} tasks queued",
        f"journeys: automation rule fired {report.firings} time(s) on {report.events} events",
        f"loyalty: {members} members in the default five-tier program, 2 rewards",
    ]
