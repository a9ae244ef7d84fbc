"""Running automation rules: CRUD, dry runs, and evaluating the journey event stream.

Events are processed in batches: one query locks a batch of pending events
(`FOR UPDATE SKIP LOCKED`, so several workers share the stream), one query
loads the facts of every customer in it, rules are evaluated in memory, and
one insert claims every firing. The `(company_id, rule_id, event_id)` unique
key makes a rule fire at most once per event even if an event is processed
again. Events caused by rules carry the chain of rules behind them and a
depth; a rule never fires on an event its own actions caused (directly or
through other rules) and chains stop at MAX_DEPTH, so rules cannot loop.
"""

from __future__ import annotations

import json
import uuid
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Row, Select, Text, any_, cast, func, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.orm import Session

from majlis.core import audit
from majlis.core.errors import FieldError, NotFound, ValidationFailed
from majlis.core.ids import new_id
from majlis.core.permissions import Action, Actor, require
from majlis.customers.models import Customer
from majlis.journeys import queue
from majlis.journeys.followups import list_templates, send_follow_up
from majlis.journeys.models import AutomationRule, Channel, RuleFiring, WorkflowEvent, WorkflowState
from majlis.journeys.rules import (
    CUSTOMER_FIELDS,
    AddTag,
    AwardPoints,
    CreateTask,
    Facts,
    MoveStage,
    NotifyUser,
    Predicate,
    RuleAction,
    RuleIn,
    RuleOut,
    SendFollowUp,
    compile_conditions,
    compile_rule,
)
from majlis.journeys.schemas import TaskCreate
from majlis.journeys.service import (
    JOURNEYS,
    Cause,
    audit_each,
    move_stage,
    uuid_array,
    workflow_stages,
)
from majlis.loyalty import service as loyalty
from majlis.notifications import service as notifications
from majlis.notifications.schemas import NotificationIn

MAX_DEPTH = 5
ENTITY = "automation_rule"
DRY_RUN_SAMPLE = 100
FACTS_BATCH = 5000


# ----- rules as records ---------------------------------------------------------------------
def _definition(rule: RuleIn) -> dict[str, Any]:
    return rule.model_dump(mode="json", include={"threshold", "conditions", "actions"})


def rule_out(rule: AutomationRule) -> RuleOut:
    return RuleOut.model_validate(
        {
            "id": rule.id,
            "name": rule.name,
            "trigger": rule.trigger,
            "is_active": rule.is_active,
            "version": rule.version,
            "created_at": rule.created_at,
            **rule.definition,
        }
    )


def _check_references(session: Session, actor: Actor, rule: RuleIn) -> None:
    """Stages and templates a rule's actions name must exist in this company."""
    keys = {stage.key for stage in workflow_stages(session, actor)}
    templates = {template.key for template in list_templates(session, actor)}
    errors = [
        FieldError(f"actions.{i}.to_stage", f"no stage {action.to_stage!r} in this workflow")
        for i, action in enumerate(rule.actions)
        if isinstance(action, MoveStage) and action.to_stage not in keys
    ] + [
        FieldError(f"actions.{i}.template", f"no follow-up template {action.template!r}")
        for i, action in enumerate(rule.actions)
        if isinstance(action, SendFollowUp) and action.template not in templates
    ]
    if errors:
        raise ValidationFailed(errors)


def create_rule(session: Session, actor: Actor, draft: RuleIn) -> AutomationRule:
    """Store a validated rule (owners and managers only)."""
    require(actor, JOURNEYS, Action.ADMINISTER)
    _check_references(session, actor, draft)
    rule = AutomationRule(
        company_id=actor.company_id,
        id=new_id(),
        name=draft.name,
        trigger=draft.trigger,
        definition=_definition(draft),
        is_active=draft.is_active,
        created_by=actor.user_id,
    )
    session.add(rule)
    session.flush()
    session.refresh(rule)
    audit.record(session, actor, "rule.created", ENTITY, rule.id, after=draft.model_dump())
    return rule


def get_rule(session: Session, actor: Actor, rule_id: uuid.UUID) -> AutomationRule:
    require(actor, JOURNEYS, Action.VIEW)
    rule = session.get(AutomationRule, (actor.company_id, rule_id))
    if rule is None:
        raise NotFound(ENTITY, rule_id)
    return rule


def list_rules(session: Session, actor: Actor) -> list[AutomationRule]:
    require(actor, JOURNEYS, Action.VIEW)
    return list(
        session.scalars(
            select(AutomationRule)
            .where(AutomationRule.company_id == actor.company_id)
            .order_by(AutomationRule.created_at, AutomationRule.id)
        )
    )


def replace_rule(
    session: Session, actor: Actor, rule_id: uuid.UUID, draft: RuleIn
) -> AutomationRule:
    """Replace a rule's trigger, conditions, actions and switch."""
    require(actor, JOURNEYS, Action.ADMINISTER)
    rule = get_rule(session, actor, rule_id)
    _check_references(session, actor, draft)
    before = rule_out(rule).model_dump(mode="json")
    rule.name, rule.trigger, rule.is_active = draft.name, draft.trigger, draft.is_active
    rule.definition = _definition(draft)
    rule.version += 1
    session.flush()
    session.refresh(rule)
    audit.record(
        session,
        actor,
        "rule.replaced",
        ENTITY,
        rule.id,
        before=before,
        after=draft.model_dump(mode="json"),
    )
    return rule


# ----- facts -------------------------------------------------------------------------------------
# Facts are read as plain rows, not ORM objects: a batch of thousands of customers would
# otherwise fill the session's identity map, which every later flush walks.
_FACT_COLUMNS = (
    *(getattr(Customer, name).label(f"customer.{name}") for name in CUSTOMER_FIELDS),
    Customer.id.label("customer.id"),
    Customer.created_at,
    Customer.owner_id,
    WorkflowState.stage_key,
    WorkflowState.deal_value,
    WorkflowState.entered_at,
    WorkflowState.assigned_to,
)


def _facts_query(actor: Actor) -> Select[Any]:
    return (
        select(*_FACT_COLUMNS)
        .outerjoin(
            WorkflowState,
            (WorkflowState.company_id == Customer.company_id)
            & (WorkflowState.customer_id == Customer.id),
        )
        .where(Customer.company_id == actor.company_id, Customer.deleted_at.is_(None))
    )


def _facts_of(row: Row[Any], first_stage: str, now: datetime) -> Facts:
    values = row._mapping
    facts: Facts = {f"customer.{name}": values[f"customer.{name}"] for name in CUSTOMER_FIELDS}
    in_journey = values["stage_key"] is not None
    entered = values["entered_at"] if in_journey else values["created_at"]
    facts.update(
        {
            "customer.id": values["customer.id"],
            "journey.stage": values["stage_key"] if in_journey else first_stage,
            "journey.deal_value": values["deal_value"] if in_journey else 0,
            "journey.days_in_stage": (now - entered) // timedelta(days=1),
            "journey.assigned_to": values["assigned_to"] if in_journey else values["owner_id"],
        }
    )
    return facts


def load_facts(
    session: Session, actor: Actor, customer_ids: Iterable[uuid.UUID], first_stage: str
) -> dict[uuid.UUID, Facts]:
    """Facts of many customers in one query."""
    ids = list(set(customer_ids))
    if not ids:
        return {}
    now = datetime.now(UTC)
    rows = session.execute(_facts_query(actor).where(Customer.id == any_(uuid_array(ids))))
    return {row[len(CUSTOMER_FIELDS)]: _facts_of(row, first_stage, now) for row in rows}


def _all_customer_facts(session: Session, actor: Actor, first_stage: str) -> Iterator[Facts]:
    """Every live customer's facts, walked in keyset batches (a dry run never holds them all)."""
    last_id: uuid.UUID | None = None
    now = datetime.now(UTC)
    while True:
        query = _facts_query(actor).order_by(Customer.id).limit(FACTS_BATCH)
        if last_id is not None:
            query = query.where(Customer.id > last_id)
        rows = session.execute(query).all()
        for row in rows:
            yield _facts_of(row, first_stage, now)
        if len(rows) < FACTS_BATCH:
            return
        last_id = rows[-1][len(CUSTOMER_FIELDS)]


@dataclass
class DryRun:
    matched: int
    sample: list[dict[str, Any]]


def dry_run(session: Session, actor: Actor, draft: RuleIn) -> DryRun:
    """Which customers a rule's conditions hit now; event fields count as absent. Writes nothing."""
    require(actor, JOURNEYS, Action.VIEW)
    predicate = compile_conditions(draft.conditions)
    first_stage = workflow_stages(session, actor)[0].key
    matched, sample = 0, list[dict[str, Any]]()
    for facts in _all_customer_facts(session, actor, first_stage):
        if predicate(facts):
            matched += 1
            if len(sample) < DRY_RUN_SAMPLE:
                sample.append(
                    {
                        "id": str(facts["customer.id"]),
                        "name": facts["customer.name"],
                        "stage": facts["journey.stage"],
                    }
                )
    return DryRun(matched, sample)


# ----- evaluating events ----------------------------------------------------------------------
@dataclass(frozen=True)
class CompiledRule:
    id: uuid.UUID
    trigger: str
    predicate: Predicate
    actions: list[RuleAction]


@dataclass(frozen=True)
class PendingEvent:
    """An event waiting for evaluation, read as a row (see _FACT_COLUMNS for why)."""

    id: uuid.UUID
    customer_id: uuid.UUID | None
    kind: str
    payload: dict[str, Any]
    depth: int
    rule_chain: list[uuid.UUID]


@dataclass
class ProcessReport:
    events: int = 0
    firings: int = 0
    skipped_loops: int = 0
    actions: dict[str, int] = field(default_factory=lambda: defaultdict(int))


def active_rules(session: Session, actor: Actor) -> dict[str, list[CompiledRule]]:
    """Active rules compiled once, grouped by the event kind that triggers them."""
    by_trigger: dict[str, list[CompiledRule]] = defaultdict(list)
    rows = session.scalars(
        select(AutomationRule).where(
            AutomationRule.company_id == actor.company_id, AutomationRule.is_active.is_(True)
        )
    )
    for rule in rows:
        definition = rule_out(rule)
        by_trigger[rule.trigger].append(
            CompiledRule(rule.id, rule.trigger, compile_rule(definition), definition.actions)
        )
    return by_trigger


def _event_facts(event: PendingEvent, customer_facts: Facts | None) -> Facts:
    facts = dict(customer_facts or {})
    facts["event.kind"] = event.kind
    facts.update({f"event.{key}": value for key, value in event.payload.items()})
    return facts


def _may_fire(rule: CompiledRule, event: PendingEvent) -> bool:
    """Loop prevention: never on an event this rule caused, never past MAX_DEPTH."""
    return event.depth < MAX_DEPTH and rule.id not in event.rule_chain


def _take_pending_events(session: Session, actor: Actor, limit: int) -> list[PendingEvent]:
    """Lock a batch of pending events and mark them processed, in one statement.

    The mark is part of the processing transaction: if evaluation fails it rolls
    back with everything else, and the events are pending again.
    """
    due = (
        select(WorkflowEvent.id)
        .where(WorkflowEvent.company_id == actor.company_id, WorkflowEvent.processed_at.is_(None))
        .order_by(WorkflowEvent.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    # The payload comes as text and is parsed here: json.loads on bytes (the jsonb loader's
    # input) first sniffs the encoding, which costs more than parsing a small payload.
    columns = [
        cast(WorkflowEvent.payload, Text).label(name)
        if name == "payload"
        else getattr(WorkflowEvent, name)
        for name in PendingEvent.__dataclass_fields__
    ]
    # `id = ANY(ARRAY(subquery))`: the batch is locked once, then each row is one primary-key
    # probe, a plan that stays good even when statistics lag behind a burst of new events.
    taken = (
        update(WorkflowEvent)
        .where(
            WorkflowEvent.company_id == actor.company_id,
            WorkflowEvent.id == any_(func.array(due.scalar_subquery())),
        )
        .values(processed_at=func.now())
        .returning(*columns)
        .cte("taken")
    )
    # The server orders the batch (events in the order they happened): cheaper than
    # comparing a thousand UUIDs in Python.
    rows = session.execute(select(taken).order_by(taken.c.id))
    return [
        PendingEvent(event_id, customer_id, kind, json.loads(payload), depth, rule_chain)
        for event_id, customer_id, kind, payload, depth, rule_chain in rows
    ]


def _claim_firings(
    session: Session, actor: Actor, matches: list[tuple[CompiledRule, PendingEvent]]
) -> set[tuple[uuid.UUID, uuid.UUID]]:
    """Insert a firing per match; only the ones not fired before come back."""
    if not matches:
        return set()
    rows = [
        {
            "company_id": actor.company_id,
            "id": new_id(),
            "rule_id": rule.id,
            "event_id": event.id,
            "outcome": {"actions": [action.type for action in rule.actions]},
        }
        for rule, event in matches
    ]
    # Executed with a list of parameter sets, so the statement compiles once and is sent
    # in batched multi-row INSERTs ("insertmanyvalues"), RETURNING included.
    statement = (
        pg_insert(RuleFiring)
        .on_conflict_do_nothing(index_elements=["company_id", "rule_id", "event_id"])
        .returning(RuleFiring.rule_id, RuleFiring.event_id)
    )
    return {(row.rule_id, row.event_id) for row in session.execute(statement, rows)}


def evaluate_events(
    session: Session, actor: Actor, events: list[PendingEvent], report: ProcessReport
) -> None:
    """Fire every matching rule on each event (at most once per rule and event)."""
    rules = active_rules(session, actor)
    first_stage = workflow_stages(session, actor)[0].key
    relevant = [event for event in events if rules.get(event.kind)]
    facts = load_facts(
        session, actor, (e.customer_id for e in relevant if e.customer_id), first_stage
    )
    matches = []
    for event in relevant:
        event_facts = _event_facts(
            event, facts.get(event.customer_id) if event.customer_id else None
        )
        for rule in rules[event.kind]:
            if not _may_fire(rule, event):
                report.skipped_loops += 1
            elif rule.predicate(event_facts):
                matches.append((rule, event))
    fresh = _claim_firings(session, actor, matches)
    fired = [(rule, event) for rule, event in matches if (rule.id, event.id) in fresh]
    report.firings += len(fired)
    run_actions(session, actor, fired, report)


def process_pending_events(
    session: Session, actor: Actor, *, batch_size: int = 1000, max_batches: int = 100
) -> ProcessReport:
    """Evaluate pending journey events in batches, including the events rules cause."""
    require(actor, JOURNEYS, Action.ADMINISTER)
    report = ProcessReport()
    for _ in range(max_batches):
        events = _take_pending_events(session, actor, batch_size)
        if not events:
            break
        evaluate_events(session, actor, events, report)
        report.events += len(events)
    return report


# ----- actions ---------------------------------------------------------------------------------
@dataclass
class _Batch:
    """The common actions of fired rules, gathered so each kind runs in a few statements."""

    tags: dict[str, set[uuid.UUID]] = field(default_factory=lambda: defaultdict(set))
    tasks: list[tuple[TaskCreate, uuid.UUID]] = field(default_factory=list)
    notices: list[tuple[NotifyUser, uuid.UUID]] = field(default_factory=list)

    def take(self, action: RuleAction, event: PendingEvent, rule_id: uuid.UUID) -> bool:
        """Keep `action` for the batch; False when it must run on its own."""
        customer_id = event.customer_id
        if isinstance(action, CreateTask) and action.assign is None:
            self.tasks.append((_task_draft(action, customer_id), rule_id))
        elif isinstance(action, AddTag | NotifyUser):
            if customer_id is None:
                return True  # about a customer, and there is none: nothing to do
            if isinstance(action, AddTag):
                self.tags[action.tag].add(customer_id)
            else:
                self.notices.append((action, customer_id))
        else:
            return False
        return True

    def run(self, session: Session, actor: Actor) -> None:
        for tag, customer_ids in self.tags.items():
            add_tag(session, actor, customer_ids, tag)
        if self.tasks:
            queue.create_rule_tasks(session, actor, self.tasks)
        if self.notices:
            _notify_users(session, actor, self.notices)


def run_actions(
    session: Session,
    actor: Actor,
    fired: list[tuple[CompiledRule, PendingEvent]],
    report: ProcessReport,
) -> None:
    """Carry out the actions of fired rules.

    Tags, tasks and notifications (the common actions) are batched: a few statements
    for the whole batch of events instead of several per firing.
    """
    batch = _Batch()
    for rule, event in fired:
        cause = Cause(event.id, event.depth + 1, (*event.rule_chain, rule.id))
        for action in rule.actions:
            report.actions[action.type] += 1
            if not batch.take(action, event, rule.id):
                run_action(session, actor, action, event, cause, rule.id)
    batch.run(session, actor)


def _task_draft(action: CreateTask, customer_id: uuid.UUID | None) -> TaskCreate:
    return TaskCreate(
        kind=action.kind,
        title=action.title,
        due_at=datetime.now(UTC) + timedelta(hours=action.due_in_hours),
        customer_id=customer_id,
        assign=action.assign,
    )


def run_action(
    session: Session,
    actor: Actor,
    action: RuleAction,
    event: PendingEvent,
    cause: Cause,
    rule_id: uuid.UUID,
) -> None:
    """Carry out one action of a fired rule that `_Batch` does not take, in the transaction."""
    customer_id = event.customer_id
    if isinstance(action, CreateTask):
        queue.create_task(session, actor, _task_draft(action, customer_id), rule_id=rule_id)
    elif customer_id is None:
        return  # every other action is about a customer
    elif isinstance(action, MoveStage):
        move_stage(session, actor, customer_id, action.to_stage, "automation rule", cause=cause)
    elif isinstance(action, AwardPoints):
        _award_points(session, actor, action, customer_id, f"rule:{rule_id}:{event.id}")
    elif isinstance(action, SendFollowUp):
        send_follow_up(
            session,
            actor,
            customer_id,
            action.template,
            channel=Channel(action.channel) if action.channel else None,
            dedupe_key=f"rule:{rule_id}:{event.id}",
        )


def add_tag(session: Session, actor: Actor, customer_ids: set[uuid.UUID], tag: str) -> None:
    """Tag many customers in one statement, auditing each one that did not have the tag."""
    tagged = session.scalars(
        update(Customer)
        .where(
            Customer.company_id == actor.company_id,
            Customer.id.in_(customer_ids),
            ~Customer.tags.contains([tag]),
        )
        .values(tags=func.array_append(Customer.tags, tag), version=Customer.version + 1)
        .returning(Customer.id)
        .execution_options(synchronize_session=False)
    ).all()
    if tagged:
        audit_each(
            session, actor, "customer.tagged", "customer", {cid: {"tag": tag} for cid in tagged}
        )


def _award_points(
    session: Session, actor: Actor, action: AwardPoints, customer_id: uuid.UUID, reference: str
) -> None:
    """Points go to the customer's loyalty membership; customers who are not members get none."""
    member = loyalty.member_of_customer(session, actor, customer_id)
    if member is not None:
        reason = action.reason or "automation rule"
        loyalty.earn_points(session, actor, member.id, action.points, reason, reference=reference)


def _notify_users(
    session: Session, actor: Actor, notices: list[tuple[NotifyUser, uuid.UUID]]
) -> None:
    """In-app notifications to the named users, else to whoever each journey is assigned to."""
    unnamed = list({customer_id for action, customer_id in notices if action.user_id is None})
    owners: dict[uuid.UUID, uuid.UUID | None] = dict(
        session.execute(
            select(WorkflowState.customer_id, WorkflowState.assigned_to).where(
                WorkflowState.company_id == actor.company_id,
                WorkflowState.customer_id == any_(uuid_array(unnamed)),
                WorkflowState.assigned_to.is_not(None),
            )
        )
        .tuples()
        .all()
    )
    drafts = [
        NotificationIn(
            user_id=user_id,
            title=action.title,
            body=action.body,
            action_url=f"/customers/{customer_id}",
        )
        for action, customer_id in notices
        if (user_id := action.user_id or owners.get(customer_id)) is not None
    ]
    notifications.notify_many(session, actor, drafts)
