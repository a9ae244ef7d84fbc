"""Thin routes over the journeys services: workflow, customer journeys, tasks, automation."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Query, status

from majlis.core.http import Context
from majlis.core.pagination import DEFAULT_LIMIT, MAX_LIMIT
from majlis.insights import leads
from majlis.journeys import automation, followups, queue, service
from majlis.journeys.models import Task, TaskStatus, WorkflowState
from majlis.journeys.rules import RuleIn, RuleOut
from majlis.journeys.schemas import (
    ActionOut,
    CoachOut,
    EventOut,
    EventPage,
    FollowUpIn,
    FollowUpOut,
    JourneyOut,
    JourneyUpdate,
    MoveIn,
    NextTaskOut,
    PreferencesIn,
    PreferencesOut,
    StageOut,
    StateOut,
    TaskCreate,
    TaskOut,
    TaskPage,
    TemplateIn,
    TemplateOut,
    WorkflowIn,
    WorkflowOut,
)

router = APIRouter(prefix="/api/v1", tags=["journeys"])
Limit = Annotated[int, Query(ge=1, le=MAX_LIMIT)]


# ----- workflow ----------------------------------------------------------------------------------
@router.get("/journeys/workflow", response_model=WorkflowOut)
def get_workflow(ctx: Context) -> WorkflowOut:
    stages = service.workflow_stages(ctx.session, ctx.actor)
    return WorkflowOut(stages=[StageOut.model_validate(s) for s in stages])


@router.put("/journeys/workflow", response_model=WorkflowOut)
def replace_workflow(ctx: Context, body: WorkflowIn) -> WorkflowOut:
    stages = service.replace_workflow(ctx.session, ctx.actor, body)
    return WorkflowOut(stages=[StageOut.model_validate(s) for s in stages])


@router.get("/journeys/events", response_model=EventPage)
def list_events(
    ctx: Context,
    customer_id: uuid.UUID | None = None,
    cursor: str | None = None,
    limit: Limit = DEFAULT_LIMIT,
) -> EventPage:
    page = service.list_events(
        ctx.session, ctx.actor, customer_id=customer_id, cursor=cursor, limit=limit
    )
    return EventPage(
        items=[EventOut.model_validate(e) for e in page.items], next_cursor=page.next_cursor
    )


# ----- a customer's journey ----------------------------------------------------------------------
def _journey(ctx: Context, customer_id: uuid.UUID, state: WorkflowState) -> JourneyOut:
    actions = service.journey_actions(ctx.session, ctx.actor, customer_id)
    return JourneyOut(
        state=StateOut.model_validate(state),
        actions=[ActionOut.model_validate(a) for a in actions],
    )


@router.get("/customers/{customer_id}/journey", response_model=JourneyOut)
def get_journey(ctx: Context, customer_id: uuid.UUID) -> JourneyOut:
    return _journey(ctx, customer_id, service.journey_state(ctx.session, ctx.actor, customer_id))


@router.post("/customers/{customer_id}/journey/move", response_model=JourneyOut)
def move_customer(ctx: Context, customer_id: uuid.UUID, body: MoveIn) -> JourneyOut:
    state = service.move_stage(ctx.session, ctx.actor, customer_id, body.to_stage, body.reason)
    return _journey(ctx, customer_id, state)


@router.patch("/customers/{customer_id}/journey", response_model=JourneyOut)
def update_journey(ctx: Context, customer_id: uuid.UUID, body: JourneyUpdate) -> JourneyOut:
    state = service.update_journey(ctx.session, ctx.actor, customer_id, body)
    return _journey(ctx, customer_id, state)


# ----- tasks -------------------------------------------------------------------------------------
@router.post("/tasks", response_model=TaskOut, status_code=status.HTTP_201_CREATED)
def create_task(ctx: Context, body: TaskCreate) -> TaskOut:
    return TaskOut.model_validate(queue.create_task(ctx.session, ctx.actor, body))


@router.get("/tasks", response_model=TaskPage)
def list_tasks(
    ctx: Context,
    status_: Annotated[TaskStatus | None, Query(alias="status")] = None,
    assigned_to: uuid.UUID | None = None,
    customer_id: uuid.UUID | None = None,
    cursor: str | None = None,
    limit: Limit = DEFAULT_LIMIT,
) -> TaskPage:
    page = queue.list_tasks(
        ctx.session,
        ctx.actor,
        status=status_,
        assigned_to=assigned_to,
        customer_id=customer_id,
        cursor=cursor,
        limit=limit,
    )
    return TaskPage(
        items=[TaskOut.model_validate(t) for t in page.items], next_cursor=page.next_cursor
    )


def _with_coach(ctx: Context, task: Task | None) -> NextTaskOut:
    """The task and, for its customer, the sales coach's next best action with its reasons."""
    if task is None:
        return NextTaskOut(task=None)
    coach = None
    if task.customer_id is not None:
        advice = leads.next_best_action(ctx.session, ctx.actor, task.customer_id)
        coach = CoachOut(action=advice.action, reasons=advice.reasons)
    return NextTaskOut(task=TaskOut.model_validate(task), coach=coach)


@router.get("/tasks/next", response_model=NextTaskOut, summary="The caller's next best task")
def next_task(ctx: Context) -> NextTaskOut:
    return _with_coach(ctx, queue.next_task(ctx.session, ctx.actor))


@router.post("/tasks/next/claim", response_model=NextTaskOut, summary="Claim the next best task")
def claim_next_task(ctx: Context) -> NextTaskOut:
    return _with_coach(ctx, queue.claim_next_task(ctx.session, ctx.actor))


@router.get("/tasks/{task_id}", response_model=TaskOut)
def get_task(ctx: Context, task_id: uuid.UUID) -> TaskOut:
    return TaskOut.model_validate(queue.get_task(ctx.session, ctx.actor, task_id))


@router.post("/tasks/{task_id}/claim", response_model=TaskOut)
def claim_task(ctx: Context, task_id: uuid.UUID) -> TaskOut:
    return TaskOut.model_validate(queue.claim_task(ctx.session, ctx.actor, task_id))


@router.post("/tasks/{task_id}/complete", response_model=TaskOut)
def complete_task(ctx: Context, task_id: uuid.UUID) -> TaskOut:
    return TaskOut.model_validate(queue.complete_task(ctx.session, ctx.actor, task_id))


# ----- automation --------------------------------------------------------------------------------
@router.post("/automation/rules", response_model=RuleOut, status_code=status.HTTP_201_CREATED)
def create_rule(ctx: Context, body: RuleIn) -> RuleOut:
    return automation.rule_out(automation.create_rule(ctx.session, ctx.actor, body))


@router.get("/automation/rules", response_model=list[RuleOut])
def list_rules(ctx: Context) -> list[RuleOut]:
    return [automation.rule_out(r) for r in automation.list_rules(ctx.session, ctx.actor)]


@router.post("/automation/rules/dry-run", summary="Which customers a rule would hit now")
def dry_run_rule(ctx: Context, body: RuleIn) -> dict[str, Any]:
    result = automation.dry_run(ctx.session, ctx.actor, body)
    return {"matched": result.matched, "sample": result.sample}


@router.get("/automation/rules/{rule_id}", response_model=RuleOut)
def get_rule(ctx: Context, rule_id: uuid.UUID) -> RuleOut:
    return automation.rule_out(automation.get_rule(ctx.session, ctx.actor, rule_id))


@router.put("/automation/rules/{rule_id}", response_model=RuleOut)
def replace_rule(ctx: Context, rule_id: uuid.UUID, body: RuleIn) -> RuleOut:
    return automation.rule_out(automation.replace_rule(ctx.session, ctx.actor, rule_id, body))


@router.post("/automation/process", summary="Evaluate pending journey events now")
def process_events(ctx: Context) -> dict[str, Any]:
    report = automation.process_pending_events(ctx.session, ctx.actor)
    return {
        "events": report.events,
        "firings": report.firings,
        "skipped_loops": report.skipped_loops,
        "actions": dict(report.actions),
    }


# ----- follow-ups ------------------------------------------------------------------------------
@router.post(
    "/followups/templates", response_model=TemplateOut, status_code=status.HTTP_201_CREATED
)
def create_template(ctx: Context, body: TemplateIn) -> TemplateOut:
    return TemplateOut.model_validate(followups.create_template(ctx.session, ctx.actor, body))


@router.get("/followups/templates", response_model=list[TemplateOut])
def list_templates(ctx: Context) -> list[TemplateOut]:
    return [TemplateOut.model_validate(t) for t in followups.list_templates(ctx.session, ctx.actor)]


@router.get("/customers/{customer_id}/preferences", response_model=PreferencesOut)
def get_preferences(ctx: Context, customer_id: uuid.UUID) -> PreferencesOut:
    return PreferencesOut.model_validate(followups.preferences(ctx.session, ctx.actor, customer_id))


@router.put("/customers/{customer_id}/preferences", response_model=PreferencesOut)
def set_preferences(ctx: Context, customer_id: uuid.UUID, body: PreferencesIn) -> PreferencesOut:
    return PreferencesOut.model_validate(
        followups.set_preferences(ctx.session, ctx.actor, customer_id, body)
    )


@router.post(
    "/customers/{customer_id}/followups",
    response_model=FollowUpOut,
    status_code=status.HTTP_201_CREATED,
)
def send_follow_up(ctx: Context, customer_id: uuid.UUID, body: FollowUpIn) -> FollowUpOut:
    execution = followups.send_follow_up(
        ctx.session, ctx.actor, customer_id, body.template, channel=body.channel
    )
    return FollowUpOut.model_validate(execution)


@router.get("/customers/{customer_id}/followups", response_model=list[FollowUpOut])
def customer_follow_ups(ctx: Context, customer_id: uuid.UUID) -> list[FollowUpOut]:
    executions = followups.customer_follow_ups(ctx.session, ctx.actor, customer_id)
    return [FollowUpOut.model_validate(e) for e in executions]
