"""Shapes of the journeys HTTP API: workflow stages, customer journeys and tasks."""

from __future__ import annotations

import uuid
from datetime import datetime, time
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from majlis.customers.schemas import Name, ShortText
from majlis.journeys.models import Channel, FollowUpStatus, TaskKind, TaskStatus

StageKey = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]*$", max_length=40)]
Money = Annotated[Decimal, Field(ge=0, max_digits=14, decimal_places=2)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Read(BaseModel):
    model_config = ConfigDict(from_attributes=True)


# ----- workflow definition -----------------------------------------------------------
class StageIn(Strict):
    key: StageKey
    name: Name
    name_ar: ShortText | None = None
    next_stages: list[StageKey] = Field(default_factory=list, max_length=20)
    is_closed: bool = False


class WorkflowIn(Strict):
    """The whole ordered list of stages; it replaces the company's current definition."""

    stages: list[StageIn] = Field(min_length=2, max_length=30)


class StageOut(Read):
    key: str
    name: str
    name_ar: str | None
    position: int
    next_stages: list[str]
    is_closed: bool


class WorkflowOut(BaseModel):
    stages: list[StageOut]


# ----- a customer's journey ----------------------------------------------------------
class MoveIn(Strict):
    to_stage: StageKey
    reason: ShortText | None = None


class JourneyUpdate(Strict):
    deal_value: Money | None = None
    assigned_to: uuid.UUID | None = None


class StateOut(Read):
    customer_id: uuid.UUID
    stage_key: str
    assigned_to: uuid.UUID | None
    entered_at: datetime
    deal_value: Decimal
    version: int


class ActionOut(Read):
    id: uuid.UUID
    from_stage: str | None
    to_stage: str
    actor_kind: str
    actor_id: uuid.UUID | None
    reason: str | None
    occurred_at: datetime


class JourneyOut(BaseModel):
    state: StateOut
    actions: list[ActionOut]


class EventOut(Read):
    id: uuid.UUID
    customer_id: uuid.UUID | None
    kind: str
    payload: dict[str, Any]
    occurred_at: datetime
    depth: int


class EventPage(BaseModel):
    items: list[EventOut]
    next_cursor: str | None


# ----- tasks -------------------------------------------------------------------------
AssignMode = Literal["round_robin", "least_loaded", "pool"]


class TaskCreate(Strict):
    kind: TaskKind
    title: Name
    due_at: datetime
    customer_id: uuid.UUID | None = None
    notes: ShortText | None = None
    deal_value: Money | None = None
    assigned_to: uuid.UUID | None = None
    assign: AssignMode | None = None

    @model_validator(mode="after")
    def one_way_to_assign(self) -> TaskCreate:
        if self.assigned_to is not None and self.assign is not None:
            raise ValueError("give either assigned_to or assign, not both")
        if self.due_at.tzinfo is None:
            raise ValueError("due_at needs a time zone (e.g. 2026-05-01T09:00:00+04:00)")
        return self


class TaskOut(Read):
    id: uuid.UUID
    customer_id: uuid.UUID | None
    kind: TaskKind
    title: str
    notes: str | None
    due_at: datetime
    deal_value: Decimal
    priority: int
    rank_at: datetime
    status: TaskStatus
    assigned_to: uuid.UUID | None
    claimed_at: datetime | None
    completed_at: datetime | None
    rule_id: uuid.UUID | None
    created_at: datetime


class TaskPage(BaseModel):
    items: list[TaskOut]
    next_cursor: str | None


class CoachOut(BaseModel):
    """The sales coach's next best action for the task's customer (call, offer, ...)."""

    action: str
    reasons: list[str]


class NextTaskOut(BaseModel):
    task: TaskOut | None
    coach: CoachOut | None = None


# ----- follow-ups --------------------------------------------------------------------------
TemplateText = Annotated[str, StringConstraints(min_length=1, max_length=5000)]


class TemplateIn(Strict):
    key: Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]{0,59}$")]
    subject_en: ShortText | None = None
    body_en: TemplateText
    subject_ar: ShortText | None = None
    body_ar: TemplateText


class TemplateOut(Read):
    id: uuid.UUID
    key: str
    subject_en: str | None
    body_en: str
    subject_ar: str | None
    body_ar: str


class PreferencesIn(Strict):
    channel: Channel | None = None
    language: Literal["en", "ar"] | None = None
    quiet_start: time | None = None
    quiet_end: time | None = None
    opted_out: bool = False
    marketing_consent: bool = False

    @model_validator(mode="after")
    def quiet_hours_pair(self) -> PreferencesIn:
        if (self.quiet_start is None) != (self.quiet_end is None):
            raise ValueError("give both quiet_start and quiet_end, or neither")
        if self.quiet_start is not None and self.quiet_start == self.quiet_end:
            raise ValueError("quiet hours must not start and end at the same time")
        return self


class PreferencesOut(Read):
    customer_id: uuid.UUID
    channel: Channel | None
    language: str | None
    quiet_start: time | None
    quiet_end: time | None
    opted_out: bool
    marketing_consent: bool


class FollowUpIn(Strict):
    template: Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]{0,59}$")]
    channel: Channel | None = None


class FollowUpOut(Read):
    id: uuid.UUID
    customer_id: uuid.UUID
    template_key: str
    channel: Channel | None
    language: str
    status: FollowUpStatus
    scheduled_for: datetime
    result: str | None
    subject: str | None
    body: str | None
    created_at: datetime
