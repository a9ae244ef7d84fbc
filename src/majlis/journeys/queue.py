"""The task queue: priorities, assignment, the next best task and claiming it safely.

Priority (documented in docs/journeys.md):

    value      = min(1, log10(1 + deal_value) / 6)        # 1,000,000 and more -> 1
    risk       = customer risk_score / 10                  # 0 when unknown
    engagement = min(1, journey events in last 30 days / 10)
    boost      = 48 h * value + 24 h * risk + 24 h * engagement      # 0 .. 96 hours
    priority   = round(100 * boost / 96)                   # 0 .. 100, shown to people
    rank_at    = due_at - boost

The queue is ordered by `rank_at`: a task is treated as due up to four days
earlier the more it is worth, the riskier and the more engaged its customer.
Because `rank_at` does not depend on the clock, it is stored and indexed, and
the next task is one index probe however long the queue is.
"""

from __future__ import annotations

import math
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import Row, Select, any_, func, insert, select, union_all
from sqlalchemy.orm import Session, aliased

from majlis.accounts.models import Membership
from majlis.core import audit
from majlis.core.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from majlis.core.ids import new_id
from majlis.core.pagination import Page, page_by_moment
from majlis.core.permissions import Action, Actor, Role, require
from majlis.customers.models import Customer
from majlis.journeys.models import Task, TaskStatus, WorkflowEvent, WorkflowState
from majlis.journeys.schemas import AssignMode, TaskCreate
from majlis.journeys.service import JOURNEYS, audit_each, record_event, uuid_array

MAX_BOOST = timedelta(hours=96)
ENGAGEMENT_WINDOW = timedelta(days=30)
ENGAGEMENT_SATURATION = 10
ELIGIBLE_ROLES = (Role.SALES, Role.MANAGER)
TASK_COMPLETED = "task_completed"
ENTITY = "task"


@dataclass(frozen=True)
class PrioritySignals:
    deal_value: Decimal
    risk_score: Decimal | None
    recent_events: int


def priority_boost(signals: PrioritySignals) -> timedelta:
    """How much earlier than its due time a task ranks (0 to 96 hours)."""
    value = min(1.0, math.log10(1 + float(signals.deal_value)) / 6)
    risk = float(signals.risk_score or 0) / 10
    engagement = min(1.0, signals.recent_events / ENGAGEMENT_SATURATION)
    return timedelta(hours=48 * value + 24 * risk + 24 * engagement)


def priority_of(boost: timedelta) -> int:
    return round(100 * boost / MAX_BOOST)


def _signals_query(actor: Actor) -> Select[Any]:
    """Per live customer: the priority inputs and who owns the journey (a task's default)."""
    recent_events = (
        select(func.count())
        .select_from(WorkflowEvent)
        .where(
            WorkflowEvent.company_id == actor.company_id,
            WorkflowEvent.customer_id == Customer.id,
            WorkflowEvent.occurred_at >= datetime.now(UTC) - ENGAGEMENT_WINDOW,
        )
        .scalar_subquery()
    )
    return (
        select(
            Customer.id,
            Customer.risk_score,
            WorkflowState.deal_value,
            WorkflowState.assigned_to,
            recent_events.label("recent"),
        )
        .outerjoin(
            WorkflowState,
            (WorkflowState.company_id == Customer.company_id)
            & (WorkflowState.customer_id == Customer.id),
        )
        .where(Customer.company_id == actor.company_id, Customer.deleted_at.is_(None))
    )


def _signals_of(row: Row[Any] | None, deal_value: Decimal | None) -> PrioritySignals:
    if row is None:
        return PrioritySignals(deal_value or Decimal("0"), None, 0)
    value = deal_value if deal_value is not None else (row.deal_value or Decimal("0"))
    return PrioritySignals(value, row.risk_score, int(row.recent))


def customer_signals(
    session: Session, actor: Actor, customer_id: uuid.UUID | None, deal_value: Decimal | None
) -> PrioritySignals:
    """The inputs of the priority formula for a task on `customer_id` (if any)."""
    if customer_id is None:
        return _signals_of(None, deal_value)
    row = session.execute(_signals_query(actor).where(Customer.id == customer_id)).one_or_none()
    if row is None:
        raise ValidationFailed.single("customer_id", "no such customer in this company")
    return _signals_of(row, deal_value)


# ----- assignment ------------------------------------------------------------------------------
def _eligible_members(actor: Actor) -> Select[tuple[uuid.UUID]]:
    return select(Membership.user_id).where(
        Membership.company_id == actor.company_id,
        Membership.is_active.is_(True),
        Membership.role.in_(ELIGIBLE_ROLES),
    )


def _round_robin(session: Session, actor: Actor) -> uuid.UUID | None:
    """The eligible user whose latest assigned task is oldest (never assigned comes first)."""
    # Postgres has no max(uuid); the newest id is the first one in descending index order.
    latest = (
        select(Task.id)
        .where(Task.company_id == actor.company_id, Task.assigned_to == Membership.user_id)
        .order_by(Task.id.desc())
        .limit(1)
        .scalar_subquery()
    )
    query = _eligible_members(actor).order_by(latest.asc().nulls_first(), Membership.user_id)
    return session.scalar(query.limit(1))


def _least_loaded(session: Session, actor: Actor) -> uuid.UUID | None:
    """The eligible user with the fewest open or claimed tasks."""
    load = (
        select(func.count())
        .select_from(Task)
        .where(
            Task.company_id == actor.company_id,
            Task.assigned_to == Membership.user_id,
            Task.status.in_((TaskStatus.OPEN, TaskStatus.CLAIMED)),
        )
        .scalar_subquery()
    )
    return session.scalar(_eligible_members(actor).order_by(load, Membership.user_id).limit(1))


def choose_assignee(
    session: Session, actor: Actor, mode: AssignMode, customer_id: uuid.UUID | None
) -> uuid.UUID | None:
    """Pick who gets a new task; assignments are serialised per company so two never tie."""
    if mode == "pool":
        return None
    session.execute(select(func.pg_advisory_xact_lock(func.hashtext(f"assign:{actor.company_id}"))))
    return _round_robin(session, actor) if mode == "round_robin" else _least_loaded(session, actor)


def _default_assignee(
    session: Session, actor: Actor, customer_id: uuid.UUID | None
) -> uuid.UUID | None:
    """Without instructions a task goes to whoever owns the customer's journey, else the pool."""
    if customer_id is None:
        return None
    return session.scalar(
        select(WorkflowState.assigned_to).where(
            WorkflowState.company_id == actor.company_id,
            WorkflowState.customer_id == customer_id,
        )
    )


def _check_member(session: Session, actor: Actor, user_id: uuid.UUID) -> None:
    member = session.get(Membership, (actor.company_id, user_id))
    if member is None or not member.is_active:
        raise ValidationFailed.single("assigned_to", "is not an active member of this company")


# ----- creating and reading ------------------------------------------------------------------
def create_task(
    session: Session, actor: Actor, draft: TaskCreate, *, rule_id: uuid.UUID | None = None
) -> Task:
    """Create a task with its computed priority, assigned as asked."""
    require(actor, JOURNEYS, Action.CREATE)
    signals = customer_signals(session, actor, draft.customer_id, draft.deal_value)
    if draft.assigned_to is not None:
        _check_member(session, actor, draft.assigned_to)
        assignee: uuid.UUID | None = draft.assigned_to
    elif draft.assign is not None:
        assignee = choose_assignee(session, actor, draft.assign, draft.customer_id)
    else:
        assignee = _default_assignee(session, actor, draft.customer_id)
    task = Task(**_task_values(actor, draft, signals, assignee, rule_id))
    session.add(task)
    session.flush()
    audit.record(session, actor, "task.created", ENTITY, task.id, after=_summary(task))
    return task


def _task_values(
    actor: Actor,
    draft: TaskCreate,
    signals: PrioritySignals,
    assignee: uuid.UUID | None,
    rule_id: uuid.UUID | None,
) -> dict[str, Any]:
    boost = priority_boost(signals)
    return {
        "company_id": actor.company_id,
        "id": new_id(),
        "customer_id": draft.customer_id,
        "kind": draft.kind,
        "title": draft.title,
        "notes": draft.notes,
        "due_at": draft.due_at,
        "deal_value": signals.deal_value,
        "priority": priority_of(boost),
        "rank_at": draft.due_at - boost,
        "status": TaskStatus.OPEN,
        "assigned_to": assignee,
        "created_by": actor.user_id,
        "rule_id": rule_id,
    }


def create_rule_tasks(
    session: Session, actor: Actor, drafts: list[tuple[TaskCreate, uuid.UUID]]
) -> int:
    """Tasks that fired rules create without assignment instructions, all in a few statements.

    Each goes to whoever owns its customer's journey, else the pool (as `create_task`
    does without instructions); a customer deleted since the event gets none.
    """
    require(actor, JOURNEYS, Action.CREATE)
    customer_ids = list({draft.customer_id for draft, _ in drafts if draft.customer_id})
    rows = {
        row.id: row
        for row in session.execute(
            _signals_query(actor).where(Customer.id == any_(uuid_array(customer_ids)))
        )
    }
    values = []
    for draft, rule_id in drafts:
        row = rows.get(draft.customer_id) if draft.customer_id else None
        if draft.customer_id is not None and row is None:
            continue
        assignee = row.assigned_to if row is not None else None
        values.append(
            _task_values(actor, draft, _signals_of(row, draft.deal_value), assignee, rule_id)
        )
    if values:
        session.execute(insert(Task), values)
        audit_each(
            session,
            actor,
            "task.created",
            ENTITY,
            {value["id"]: _summary_of(value) for value in values},
        )
    return len(values)


def _summary(task: Task) -> dict[str, object]:
    return _summary_of(
        {
            name: getattr(task, name)
            for name in ("kind", "title", "status", "assigned_to", "priority")
        }
    )


def _summary_of(values: dict[str, Any]) -> dict[str, object]:
    return {name: values[name] for name in ("kind", "title", "status", "assigned_to", "priority")}


def get_task(session: Session, actor: Actor, task_id: uuid.UUID) -> Task:
    require(actor, JOURNEYS, Action.VIEW)
    task = session.get(Task, (actor.company_id, task_id))
    if task is None:
        raise NotFound(ENTITY, task_id)
    return task


def list_tasks(
    session: Session,
    actor: Actor,
    *,
    status: TaskStatus | None = None,
    assigned_to: uuid.UUID | None = None,
    customer_id: uuid.UUID | None = None,
    unassigned: bool = False,
    cursor: str | None = None,
    limit: int = 50,
) -> Page[Task]:
    """Tasks in queue order (rank_at, id), keyset-paginated; `unassigned`: the pool only."""
    require(actor, JOURNEYS, Action.VIEW)
    query = select(Task).where(Task.company_id == actor.company_id)
    if unassigned:
        query = query.where(Task.assigned_to.is_(None))
    for column, value in (
        (Task.status, status),
        (Task.assigned_to, assigned_to),
        (Task.customer_id, customer_id),
    ):
        if value is not None:
            query = query.where(column == value)
    return page_by_moment(
        session, query, Task.rank_at, Task.id, cursor=cursor, limit=limit, newest_first=False
    )


# ----- the next task and claiming -----------------------------------------------------------
def _head_of_queue(actor: Actor, assignee: uuid.UUID | None) -> Select[tuple[Task]]:
    """The first open task of one queue (a user's, or the unassigned pool when None).

    Each is one probe of a partial index ordered like the queue: ix_tasks_queue for a
    user, ix_tasks_pool for the pool (an `IS NULL` condition does not fix a column's
    order for the planner, so the pool needs its own index).
    """
    owner = Task.assigned_to == assignee if assignee is not None else Task.assigned_to.is_(None)
    return (
        select(Task)
        .where(Task.company_id == actor.company_id, Task.status == TaskStatus.OPEN, owner)
        .order_by(Task.rank_at, Task.id)
        .limit(1)
    )


def _best(candidates: list[Task | None]) -> Task | None:
    present = [task for task in candidates if task is not None]
    return min(present, key=lambda task: (task.rank_at, task.id), default=None)


def _require_user(actor: Actor) -> uuid.UUID:
    if actor.user_id is None:
        raise PermissionDenied("only a person has a task queue")
    return actor.user_id


def next_task(session: Session, actor: Actor) -> Task | None:
    """The user's next best open task: the better head of their own queue and of the pool.

    Both heads are fetched in one statement (two index probes, one round trip).
    """
    require(actor, JOURNEYS, Action.VIEW)
    user_id = _require_user(actor)
    heads = union_all(_head_of_queue(actor, user_id), _head_of_queue(actor, None)).subquery()
    best = aliased(Task, heads)
    return session.scalar(select(best).order_by(best.rank_at, best.id).limit(1))


def claim_next_task(session: Session, actor: Actor) -> Task | None:
    """Claim the next best task; concurrent claimers skip rows another has locked.

    `FOR UPDATE SKIP LOCKED` on each queue head means two users claiming at the
    same instant lock different rows, so no task is ever handed out twice.
    """
    require(actor, JOURNEYS, Action.EDIT)
    user_id = _require_user(actor)
    heads = [
        session.scalar(_head_of_queue(actor, q).with_for_update(skip_locked=True))
        for q in (user_id, None)
    ]
    task = _best(heads)
    if task is not None:
        _mark_claimed(session, actor, task, user_id)
    return task


def _mark_claimed(session: Session, actor: Actor, task: Task, user_id: uuid.UUID) -> None:
    task.status, task.assigned_to, task.claimed_at = TaskStatus.CLAIMED, user_id, datetime.now(UTC)
    session.flush()
    audit.record(session, actor, "task.claimed", ENTITY, task.id, after=_summary(task))


def _locked_task(session: Session, actor: Actor, task_id: uuid.UUID) -> Task:
    task = session.scalar(
        select(Task)
        .where(Task.company_id == actor.company_id, Task.id == task_id)
        .with_for_update()
    )
    if task is None:
        raise NotFound(ENTITY, task_id)
    return task


def _may_work_on(actor: Actor, task: Task) -> bool:
    """Managers and owners work any task; others their own or unassigned ones."""
    return actor.role in (Role.OWNER, Role.MANAGER) or task.assigned_to in (None, actor.user_id)


def claim_task(session: Session, actor: Actor, task_id: uuid.UUID) -> Task:
    """Claim one given task; a task someone else already claimed answers 409."""
    require(actor, JOURNEYS, Action.EDIT)
    user_id = _require_user(actor)
    task = _locked_task(session, actor, task_id)
    if task.status is not TaskStatus.OPEN:
        raise Conflict(f"task {task_id} is already {task.status}", status=task.status)
    if not _may_work_on(actor, task):
        raise PermissionDenied("this task is assigned to someone else")
    _mark_claimed(session, actor, task, user_id)
    return task


def complete_task(session: Session, actor: Actor, task_id: uuid.UUID) -> Task:
    """Mark a task done (it must be open or claimed, and the actor's to work on)."""
    require(actor, JOURNEYS, Action.EDIT)
    task = _locked_task(session, actor, task_id)
    if task.status not in (TaskStatus.OPEN, TaskStatus.CLAIMED):
        raise Conflict(f"task {task_id} is already {task.status}", status=task.status)
    if not _may_work_on(actor, task):
        raise PermissionDenied("this task is assigned to someone else")
    task.status, task.completed_at = TaskStatus.DONE, datetime.now(UTC)
    session.flush()
    audit.record(session, actor, "task.completed", ENTITY, task.id, after=_summary(task))
    if task.customer_id is not None:
        details = {"task_id": str(task.id), "kind": str(task.kind), "title": task.title}
        record_event(session, actor, TASK_COMPLETED, task.customer_id, details)
    return task
