"""Journey rules: the company's stages, each customer's stage, moves between stages, events.

Every function takes a session already scoped to the actor's company and the
actor; none knows about HTTP. Queries filter by company as well as relying on
row-level security.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    BindParameter,
    ColumnElement,
    ScalarSelect,
    Select,
    Text,
    bindparam,
    case,
    delete,
    func,
    insert,
    literal,
    select,
    text,
    update,
)
from sqlalchemy.dialects.postgresql import ARRAY, UUID
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.orm import Session
from sqlalchemy.sql.selectable import FromClause
from sqlalchemy.types import TypeEngine

from majlis.accounts.models import Membership
from majlis.core import audit
from majlis.core.audit import AuditEntry
from majlis.core.errors import Conflict, FieldError, ValidationFailed
from majlis.core.ids import new_id
from majlis.core.pagination import Page, decode_cursor, encode_cursor
from majlis.core.permissions import ALL, NONE, Access, Action, Actor, Matrix, Role, require
from majlis.core.timeline import table_source
from majlis.customers.models import Customer
from majlis.customers.service import get_customer
from majlis.journeys.models import WorkflowAction, WorkflowEvent, WorkflowStage, WorkflowState
from majlis.journeys.schemas import JourneyUpdate, StageIn, WorkflowIn


# Sales staff work any customer's journey; only owners and managers redefine the journey
# and its automation (ADMINISTER); analysts read.
def _cells(
    create: Access, edit: Access, delete: Access, administer: Access
) -> dict[Action, Access]:
    return {
        Action.VIEW: ALL,
        Action.CREATE: create,
        Action.EDIT: edit,
        Action.DELETE: delete,
        Action.ADMINISTER: administer,
    }


JOURNEYS: Matrix = {
    Role.OWNER: _cells(create=ALL, edit=ALL, delete=ALL, administer=ALL),
    Role.MANAGER: _cells(create=ALL, edit=ALL, delete=ALL, administer=ALL),
    Role.SALES: _cells(create=ALL, edit=ALL, delete=NONE, administer=NONE),
    Role.ANALYST: _cells(create=NONE, edit=NONE, delete=NONE, administer=NONE),
}

STAGE_CHANGED = "stage_changed"

DEFAULT_STAGES: tuple[StageIn, ...] = (
    StageIn(key="lead", name="Lead", name_ar="عميل محتمل", next_stages=["contacted", "lost"]),
    StageIn(
        key="contacted",
        name="Contacted",
        name_ar="تم التواصل",
        next_stages=["consultation", "lost"],
    ),
    StageIn(
        key="consultation", name="Consultation", name_ar="استشارة", next_stages=["proposal", "lost"]
    ),
    StageIn(key="proposal", name="Proposal", name_ar="عرض سعر", next_stages=["won", "lost"]),
    StageIn(key="won", name="Won", name_ar="تم الفوز", next_stages=["follow_up"]),
    StageIn(key="lost", name="Lost", name_ar="خسارة", next_stages=["lead"], is_closed=True),
    StageIn(key="follow_up", name="Follow-up", name_ar="متابعة", next_stages=["loyal", "lost"]),
    StageIn(key="loyal", name="Loyal", name_ar="عميل وفي", next_stages=["follow_up"]),
)


# ----- the workflow definition -------------------------------------------------------------
def _stored_stages(session: Session, actor: Actor) -> list[WorkflowStage]:
    return list(
        session.scalars(
            select(WorkflowStage)
            .where(WorkflowStage.company_id == actor.company_id)
            .order_by(WorkflowStage.position)
        )
    )


def _insert_stages(session: Session, actor: Actor, stages: list[StageIn]) -> None:
    session.execute(
        insert(WorkflowStage),
        [
            {**stage.model_dump(), "company_id": actor.company_id, "id": new_id(), "position": i}
            for i, stage in enumerate(stages)
        ],
    )


def workflow_stages(session: Session, actor: Actor) -> list[WorkflowStage]:
    """The company's ordered stages; the default journey is created on first use."""
    require(actor, JOURNEYS, Action.VIEW)
    stages = _stored_stages(session, actor)
    if stages:
        return stages
    # Two first uses at once: the advisory lock makes the second wait, then find the stages.
    session.execute(select(func.pg_advisory_xact_lock(func.hashtext(f"wf:{actor.company_id}"))))
    stages = _stored_stages(session, actor)
    if not stages:
        _insert_stages(session, actor, list(DEFAULT_STAGES))
        stages = _stored_stages(session, actor)
    return stages


def _definition_errors(definition: WorkflowIn) -> list[FieldError]:
    keys = [stage.key for stage in definition.stages]
    errors = [
        FieldError(f"stages.{i}.key", f"stage {key!r} appears more than once")
        for i, key in enumerate(keys)
        if key in keys[:i]
    ]
    for i, stage in enumerate(definition.stages):
        for target in stage.next_stages:
            if target not in keys:
                errors.append(FieldError(f"stages.{i}.next_stages", f"no stage {target!r}"))
            elif target == stage.key:
                errors.append(
                    FieldError(f"stages.{i}.next_stages", "a stage cannot lead to itself")
                )
    return errors


def _stages_in_use(session: Session, actor: Actor, keys: list[str]) -> list[str]:
    return list(
        session.scalars(
            select(WorkflowState.stage_key)
            .where(
                WorkflowState.company_id == actor.company_id,
                WorkflowState.stage_key.not_in(keys),
            )
            .distinct()
        )
    )


def replace_workflow(session: Session, actor: Actor, definition: WorkflowIn) -> list[WorkflowStage]:
    """Replace the ordered stages; a stage that still holds customers cannot be removed."""
    require(actor, JOURNEYS, Action.ADMINISTER)
    errors = _definition_errors(definition)
    if errors:
        raise ValidationFailed(errors)
    before = [stage.key for stage in workflow_stages(session, actor)]
    keys = [stage.key for stage in definition.stages]
    in_use = _stages_in_use(session, actor, keys)
    if in_use:
        raise Conflict(
            f"stages {', '.join(sorted(in_use))} still hold customers; move them first",
            stages=sorted(in_use),
        )
    existing = {stage.key: stage for stage in _stored_stages(session, actor)}
    session.execute(
        delete(WorkflowStage).where(
            WorkflowStage.company_id == actor.company_id, WorkflowStage.key.not_in(keys)
        )
    )
    for position, stage in enumerate(definition.stages):
        row = existing.get(stage.key)
        if row is None:
            _insert_stages_at(session, actor, stage, position)
        else:
            for name, value in stage.model_dump().items():
                setattr(row, name, value)
            row.position = position
    session.flush()
    audit.record(
        session,
        actor,
        "workflow.replaced",
        "workflow",
        actor.company_id,
        before={"stages": before},
        after={"stages": keys},
    )
    session.expire_all()
    return _stored_stages(session, actor)


def _insert_stages_at(session: Session, actor: Actor, stage: StageIn, position: int) -> None:
    session.add(
        WorkflowStage(
            company_id=actor.company_id, id=new_id(), position=position, **stage.model_dump()
        )
    )


# ----- events ------------------------------------------------------------------------------
@dataclass(frozen=True)
class Cause:
    """Why an event happened when a rule caused it: the triggering event and the rule chain."""

    event_id: uuid.UUID
    depth: int
    rule_chain: tuple[uuid.UUID, ...]


_UUID_ARRAY: TypeEngine[Any] = ARRAY(UUID(as_uuid=True))
_TEXT_ARRAY: TypeEngine[Any] = ARRAY(Text)


def uuid_array(ids: list[uuid.UUID]) -> BindParameter[Any]:
    """One array parameter (`= ANY(:ids)`) instead of a thousand-parameter IN list."""
    return bindparam(None, ids, type_=_UUID_ARRAY)


def audit_each(
    session: Session,
    actor: Actor,
    action: str,
    entity_type: str,
    changes: dict[uuid.UUID, dict[str, Any]],
) -> None:
    """One audit entry per entity, in one batched INSERT (what `audit.record` does, for many)."""
    session.execute(
        insert(AuditEntry),
        [
            {
                "company_id": actor.company_id,
                "id": new_id(),
                "actor_kind": actor.kind,
                "actor_id": actor.user_id,
                "action": action,
                "entity_type": entity_type,
                "entity_id": entity_id,
                "after": json.loads(json.dumps(after, default=str)),
                "request_id": actor.request_id,
            }
            for entity_id, after in changes.items()
        ],
    )


def record_event(
    session: Session,
    actor: Actor,
    kind: str,
    customer_id: uuid.UUID | None,
    payload: dict[str, Any] | None = None,
    *,
    cause: Cause | None = None,
) -> uuid.UUID:
    """Append one journey event; automation rules pick it up when events are processed."""
    event_id = new_id()
    session.execute(
        insert(WorkflowEvent).values(
            company_id=actor.company_id,
            id=event_id,
            customer_id=customer_id,
            kind=kind,
            payload=payload or {},
            depth=cause.depth if cause else 0,
            rule_chain=list(cause.rule_chain) if cause else [],
            causation_id=cause.event_id if cause else None,
        )
    )
    return event_id


def list_events(
    session: Session,
    actor: Actor,
    *,
    customer_id: uuid.UUID | None = None,
    cursor: str | None = None,
    limit: int = 50,
) -> Page[WorkflowEvent]:
    """Journey events, newest first (keyset on id: ids are time-ordered)."""
    require(actor, JOURNEYS, Action.VIEW)
    query = (
        select(WorkflowEvent)
        .where(WorkflowEvent.company_id == actor.company_id)
        .order_by(WorkflowEvent.id.desc())
        .limit(limit + 1)
    )
    if customer_id is not None:
        query = query.where(WorkflowEvent.customer_id == customer_id)
    if cursor:
        (last_id,) = decode_cursor(cursor, 1)
        query = query.where(WorkflowEvent.id < uuid.UUID(last_id))
    rows = list(session.scalars(query))
    next_cursor = encode_cursor([str(rows[limit - 1].id)]) if len(rows) > limit else None
    return Page(rows[:limit], next_cursor)


# Journey events (stage changes, rule outcomes, ...) on the customer's timeline.
journey_entries = table_source(
    "journey",
    WorkflowEvent,
    occurred_at=WorkflowEvent.occurred_at,
    title=lambda event: event.kind,
    data=lambda event: event.payload,
)


# ----- a customer's journey -------------------------------------------------------------------
def _stage_map(session: Session, actor: Actor) -> dict[str, WorkflowStage]:
    return {stage.key: stage for stage in workflow_stages(session, actor)}


def find_state(session: Session, actor: Actor, customer_id: uuid.UUID) -> WorkflowState | None:
    return session.scalar(
        select(WorkflowState).where(
            WorkflowState.company_id == actor.company_id,
            WorkflowState.customer_id == customer_id,
        )
    )


def journey_state(session: Session, actor: Actor, customer_id: uuid.UUID) -> WorkflowState:
    """The customer's stage; a customer never moved stands, unsaved, in the first stage."""
    require(actor, JOURNEYS, Action.VIEW)
    customer = get_customer(session, actor, customer_id)
    state = find_state(session, actor, customer_id)
    if state is not None:
        return state
    first = workflow_stages(session, actor)[0]
    return WorkflowState(
        company_id=actor.company_id,
        customer_id=customer_id,
        stage_key=first.key,
        assigned_to=customer.owner_id,
        entered_at=customer.created_at,
        deal_value=Decimal("0"),
        version=0,
    )


def journey_actions(session: Session, actor: Actor, customer_id: uuid.UUID) -> list[WorkflowAction]:
    """Who moved the customer between stages, newest first."""
    require(actor, JOURNEYS, Action.VIEW)
    return list(
        session.scalars(
            select(WorkflowAction)
            .where(
                WorkflowAction.company_id == actor.company_id,
                WorkflowAction.customer_id == customer_id,
            )
            .order_by(WorkflowAction.occurred_at.desc(), WorkflowAction.id.desc())
            .limit(200)
        )
    )


def _locked_state(session: Session, actor: Actor, customer_id: uuid.UUID) -> WorkflowState:
    """The stored state, row-locked; created in the first stage on the first write."""
    get_customer(session, actor, customer_id)
    query = (
        select(WorkflowState)
        .where(
            WorkflowState.company_id == actor.company_id,
            WorkflowState.customer_id == customer_id,
        )
        .with_for_update()
    )
    state = session.scalar(query)
    if state is not None:
        return state
    implicit = journey_state(session, actor, customer_id)
    # A concurrent first write may have inserted it meanwhile: then lock theirs.
    session.execute(
        pg_insert(WorkflowState)
        .values(
            company_id=actor.company_id,
            customer_id=customer_id,
            stage_key=implicit.stage_key,
            assigned_to=implicit.assigned_to,
            entered_at=implicit.entered_at,
        )
        .on_conflict_do_nothing()
    )
    return session.scalars(query.execution_options(populate_existing=True)).one()


def check_transition(stages: dict[str, WorkflowStage], from_key: str, to_key: str) -> None:
    """A move is valid only to a stage the current stage lists in `next_stages`."""
    if to_key not in stages:
        raise ValidationFailed.single("to_stage", f"no stage {to_key!r} in this workflow")
    allowed = stages[from_key].next_stages if from_key in stages else []
    if to_key not in allowed:
        choices = ", ".join(allowed) or "none"
        raise ValidationFailed.single(
            "to_stage", f"cannot move from {from_key!r} to {to_key!r}; allowed: {choices}"
        )


def move_stage(
    session: Session,
    actor: Actor,
    customer_id: uuid.UUID,
    to_stage: str,
    reason: str | None = None,
    *,
    cause: Cause | None = None,
) -> WorkflowState:
    """Move a customer to another stage, recording the action, an event and an audit entry."""
    require(actor, JOURNEYS, Action.EDIT)
    state = _locked_state(session, actor, customer_id)
    from_stage = state.stage_key
    check_transition(_stage_map(session, actor), from_stage, to_stage)
    now = datetime.now(UTC)
    state.stage_key, state.entered_at = to_stage, now
    session.flush()
    session.add(
        WorkflowAction(
            company_id=actor.company_id,
            id=new_id(),
            customer_id=customer_id,
            from_stage=from_stage,
            to_stage=to_stage,
            actor_kind=actor.kind,
            actor_id=actor.user_id,
            reason=reason,
        )
    )
    change = {"from": from_stage, "to": to_stage, "reason": reason}
    record_event(session, actor, STAGE_CHANGED, customer_id, change, cause=cause)
    audit.record(session, actor, "journey.moved", "customer", customer_id, after=change)
    return state


def _check_member(session: Session, actor: Actor, user_id: uuid.UUID, field_name: str) -> None:
    member = session.get(Membership, (actor.company_id, user_id))
    if member is None or not member.is_active:
        raise ValidationFailed.single(field_name, "is not an active member of this company")


def update_journey(
    session: Session, actor: Actor, customer_id: uuid.UUID, changes: JourneyUpdate
) -> WorkflowState:
    """Change the deal value or the person the customer's journey is assigned to."""
    require(actor, JOURNEYS, Action.EDIT)
    values = changes.model_dump(exclude_unset=True)
    if values.get("assigned_to") is not None:
        _check_member(session, actor, values["assigned_to"], "assigned_to")
    if values.get("deal_value") is None:
        values.pop("deal_value", None)
    state = _locked_state(session, actor, customer_id)
    before = {name: getattr(state, name) for name in values}
    if values:
        session.execute(
            update(WorkflowState)
            .where(
                WorkflowState.company_id == actor.company_id,
                WorkflowState.customer_id == customer_id,
            )
            .values(**values, version=WorkflowState.version + 1)
        )
        session.refresh(state)
    audit.record(
        session, actor, "journey.updated", "customer", customer_id, before=before, after=values
    )
    return state


# ----- the funnel -------------------------------------------------------------------------------
# Counts stop here ("1,000+"): an exact count per stage reads every live customer of the
# company, which no page can afford at a million customers.
COUNT_CAP = 1000


@dataclass(frozen=True)
class StageCount:
    stage: WorkflowStage
    customers: int  # exact up to COUNT_CAP; COUNT_CAP + 1 stands for "more than COUNT_CAP"

    @property
    def capped(self) -> bool:
        return self.customers > COUNT_CAP


def stage_rows(keys: list[str]) -> FromClause:
    """The stages as rows `stage(key, position)`, in the order given.

    Per-stage subqueries correlate to `stage.c.key` (LATERAL where they are in FROM),
    so one statement serves every stage and PostgreSQL parses and plans each subquery
    once, not once per stage.
    """
    return (
        func.unnest(bindparam(None, keys, type_=_TEXT_ARRAY))
        .table_valued("key", with_ordinality="position")
        .render_derived(name="stage")
    )


def moved_into(actor: Actor, stage: FromClause, *columns: Any) -> Select[Any]:
    """`columns` over live customers whose journey stands in the `stage` row's stage."""
    return (
        select(*columns)
        .select_from(WorkflowState)
        .join(
            Customer,
            (Customer.company_id == WorkflowState.company_id)
            & (Customer.id == WorkflowState.customer_id),
        )
        .where(
            WorkflowState.company_id == actor.company_id,
            WorkflowState.stage_key == stage.c.key,
            Customer.deleted_at.is_(None),
        )
        .correlate(stage)
    )


def never_moved(actor: Actor, *columns: Any) -> Select[Any]:
    """`columns` over live customers with no journey yet: they stand in the first stage.

    The journey is probed per customer (a scalar subquery, which PostgreSQL never turns
    into a join), so a LIMIT stops the scan: no hash of every journey of the company.
    """
    journey = (
        select(literal(1))
        .where(
            WorkflowState.company_id == Customer.company_id,
            WorkflowState.customer_id == Customer.id,
        )
        .scalar_subquery()
    )
    return (
        select(*columns)
        .select_from(Customer)
        .where(
            Customer.company_id == actor.company_id,
            Customer.deleted_at.is_(None),
            journey.is_(None),
        )
    )


def _journeys_in(actor: Actor, stage: FromClause, assigned_to: uuid.UUID | None) -> Select[Any]:
    """The stage's journeys (optionally one person's), straight from the stage indexes."""
    query = (
        select(literal(1))
        .where(WorkflowState.company_id == actor.company_id, WorkflowState.stage_key == stage.c.key)
        .correlate(stage)
    )
    if assigned_to is not None:
        query = query.where(WorkflowState.assigned_to == assigned_to)
    return query


def _customer_is_live() -> ColumnElement[bool]:
    """The journey's customer is not in the trash: one primary-key probe per journey."""
    return (
        select(Customer.deleted_at)
        .where(
            Customer.company_id == WorkflowState.company_id,
            Customer.id == WorkflowState.customer_id,
        )
        .scalar_subquery()
        .is_(None)
    )


def _capped_count(query: Select[Any]) -> ScalarSelect[Any]:
    return select(func.count()).select_from(query.limit(COUNT_CAP + 1).subquery()).scalar_subquery()


def _moved_count(actor: Actor, stage: FromClause, assigned_to: uuid.UUID | None) -> Any:
    """Past the cap by the index alone, "more than COUNT_CAP"; under it, the live ones exactly.

    PostgreSQL runs a CASE branch's subquery only when the branch is taken, so a large
    stage costs COUNT_CAP + 1 index entries, and only a small one probes its customers.
    """
    journeys = _journeys_in(actor, stage, assigned_to)
    return case(
        (_capped_count(journeys) > COUNT_CAP, COUNT_CAP + 1),
        else_=_capped_count(journeys.where(_customer_is_live())),
    )


def funnel_rows(
    actor: Actor, stages: list[WorkflowStage], assigned_to: uuid.UUID | None
) -> Select[Any]:
    """The stages as rows `(key, position, customers)`, each count capped (`COUNT_CAP`).

    The first stage adds the never-moved customers (for `assigned_to`, those it owns).
    """
    stage = stage_rows([item.key for item in stages])
    moved = _moved_count(actor, stage, assigned_to)
    waiting = never_moved(actor, literal(1))
    if assigned_to is not None:
        waiting = waiting.where(Customer.owner_id == assigned_to)
    customers = case(
        (stage.c.key != stages[0].key, moved),
        (moved > COUNT_CAP, COUNT_CAP + 1),
        else_=func.least(moved + _capped_count(waiting), COUNT_CAP + 1),
    )
    return select(stage.c.key, stage.c.position, customers.label("customers"))


def funnel_by_stage(
    session: Session, actor: Actor, *, assigned_to: uuid.UUID | None = None
) -> list[StageCount]:
    """Live customers per stage, in the workflow's order, each count capped (`COUNT_CAP`).

    A customer never moved stands in the first stage (as `journey_state` says);
    `assigned_to` counts only the journeys assigned to that person (for a never-moved
    customer, its owner). One statement, reading at most about COUNT_CAP + 1 index
    entries per stage whatever the size of the company. A stage holding more than
    COUNT_CAP journeys reads "more" even if some of their customers are in the trash.
    """
    stages = workflow_stages(session, actor)
    funnel = funnel_rows(actor, stages, assigned_to).subquery()
    counts = session.scalars(select(funnel.c.customers).order_by(funnel.c.position))
    return [StageCount(item, int(n)) for item, n in zip(stages, counts, strict=True)]


@dataclass(frozen=True)
class StageSummary:
    """Exact live customers per stage, in the workflow's order, as of `refreshed_at` (None
    before the first refresh)."""

    customers: list[tuple[WorkflowStage, int]]
    refreshed_at: datetime | None


# Kept by the analytics refresh (migration 0013_stage_counts); '' holds the customers never
# moved, who stand in the first stage.
_STAGE_COUNTS = text("SELECT stage_key, customers, refreshed_at FROM journey_stage_counts_current")


def summarised_funnel(session: Session, actor: Actor) -> StageSummary:
    """`funnel_by_stage` for everyone, exact, as of the last analytics refresh: the
    dashboard's funnel, whose bars would all read "1,000+" counted live at scale."""
    stages = workflow_stages(session, actor)
    rows = session.execute(_STAGE_COUNTS).all()
    counts = {row.stage_key: int(row.customers) for row in rows}
    counts[stages[0].key] = counts.get(stages[0].key, 0) + counts.pop("", 0)
    return StageSummary(
        [(stage, counts.get(stage.key, 0)) for stage in stages],
        max((row.refreshed_at for row in rows), default=None),
    )
