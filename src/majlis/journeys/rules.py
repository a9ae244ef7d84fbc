"""Automation rules: trigger + conditions + actions, as validated data; never code.

A rule is JSON checked by the Pydantic models below (a discriminated union of
actions, a closed list of fields and operators), compiled once into plain
Python predicates, and evaluated against *facts*: the customer's record, their
journey state and the triggering event's payload.
"""

from __future__ import annotations

import operator
import uuid
from collections.abc import Callable
from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from majlis.customers.schemas import Name, ShortText, Tag
from majlis.journeys.models import TaskKind
from majlis.journeys.schemas import AssignMode, StageKey

TriggerEvent = Literal[
    "customer_created",
    "stage_changed",
    "conversation_received",
    "invoice_overdue",
    "no_contact",
    "birthday",
    "points_threshold",
    "task_completed",
]
CUSTOMER_FIELDS = (
    "name",
    "city",
    "emirate",
    "country",
    "tags",
    "risk_score",
    "outstanding_balance",
    "source",
    "preferred_language",
    "kind",
    "is_active",
)
JOURNEY_FIELDS = ("stage", "deal_value", "days_in_stage", "assigned_to")
FieldName = Annotated[
    str,
    StringConstraints(
        pattern=rf"^(customer\.({'|'.join(CUSTOMER_FIELDS)})"
        rf"|journey\.({'|'.join(JOURNEY_FIELDS)})|event\.[a-z][a-z0-9_]{{0,39}})$"
    ),
]
Operator = Literal["eq", "ne", "gt", "gte", "lt", "lte", "in", "contains", "exists"]
Scalar = str | int | float | bool | None


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Comparison(Strict):
    """`field op value`, e.g. {"field": "journey.deal_value", "op": "gte", "value": 5000}."""

    field: FieldName
    op: Operator
    value: Scalar | list[str | int | float] = None


class ConditionGroup(Strict):
    """All (or any) of the comparisons and nested groups hold; an empty group always holds."""

    mode: Literal["all", "any"] = "all"
    conditions: list[Comparison | ConditionGroup] = Field(default_factory=list, max_length=30)


class CreateTask(Strict):
    type: Literal["create_task"]
    kind: TaskKind
    title: Name
    due_in_hours: int = Field(default=24, ge=0, le=24 * 365)
    assign: AssignMode | None = None


class MoveStage(Strict):
    type: Literal["move_stage"]
    to_stage: StageKey


class AddTag(Strict):
    type: Literal["add_tag"]
    tag: Tag


class SendFollowUp(Strict):
    type: Literal["send_follow_up"]
    template: Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]{0,59}$")]
    channel: Literal["email", "sms", "whatsapp", "phone"] | None = None


class AwardPoints(Strict):
    type: Literal["award_points"]
    points: int = Field(gt=0, le=1_000_000)
    reason: ShortText | None = None


class NotifyUser(Strict):
    type: Literal["notify_user"]
    title: Name
    body: ShortText | None = None
    user_id: uuid.UUID | None = None  # None: whoever the customer's journey is assigned to


RuleAction = Annotated[
    CreateTask | MoveStage | AddTag | SendFollowUp | AwardPoints | NotifyUser,
    Field(discriminator="type"),
]


class RuleIn(Strict):
    name: Name
    trigger: TriggerEvent
    conditions: ConditionGroup = Field(default_factory=ConditionGroup)
    actions: list[RuleAction] = Field(min_length=1, max_length=10)
    is_active: bool = True


class RuleOut(BaseModel):
    id: uuid.UUID
    name: str
    trigger: str
    conditions: ConditionGroup
    actions: list[RuleAction]
    is_active: bool
    version: int
    created_at: datetime


# ----- compiling conditions into predicates -------------------------------------------------
Facts = dict[str, Any]
Predicate = Callable[[Facts], bool]

_ORDERINGS: dict[str, Callable[[Any, Any], bool]] = {
    "gt": operator.gt,
    "gte": operator.ge,
    "lt": operator.lt,
    "lte": operator.le,
}


def _comparable(left: Any, right: Any) -> tuple[Any, Any] | None:
    """Numbers compare as numbers, everything else as text; None never compares."""
    if left is None or right is None:
        return None
    if isinstance(left, int | float | Decimal) and not isinstance(left, bool):
        try:
            return Decimal(str(left)), Decimal(str(right))
        except ArithmeticError:
            return None
    return str(left), str(right)


def _equals(left: Any, right: Any) -> bool:
    pair = _comparable(left, right)
    return pair is not None and pair[0] == pair[1]


def _compile_comparison(comparison: Comparison) -> Predicate:
    name, op, value = comparison.field, comparison.op, comparison.value
    if op == "exists":
        wanted = value is not False
        return lambda facts: (facts.get(name) not in (None, [], "")) == wanted
    if op == "eq":
        return lambda facts: _equals(facts.get(name), value)
    if op == "ne":
        return lambda facts: not _equals(facts.get(name), value)
    if op == "in":
        options = value if isinstance(value, list) else [value]
        return lambda facts: any(_equals(facts.get(name), option) for option in options)
    if op == "contains":
        return lambda facts: _contains(facts.get(name), value)
    ordering = _ORDERINGS[op]

    def ordered(facts: Facts) -> bool:
        pair = _comparable(facts.get(name), value)
        return pair is not None and bool(ordering(*pair))

    return ordered


def _contains(haystack: Any, needle: Any) -> bool:
    if isinstance(haystack, list):
        return needle in haystack
    return isinstance(haystack, str) and str(needle).casefold() in haystack.casefold()


def compile_conditions(group: ConditionGroup) -> Predicate:
    """One predicate for a whole condition tree (compiled once per rule, run per event)."""
    parts = [
        compile_conditions(part) if isinstance(part, ConditionGroup) else _compile_comparison(part)
        for part in group.conditions
    ]
    if not parts:
        return lambda facts: True
    if group.mode == "all":
        return lambda facts: all(part(facts) for part in parts)
    return lambda facts: any(part(facts) for part in parts)
