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
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

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
MAX_SILENT_DAYS = 3650
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


# Triggers that scheduled sweeps produce for a threshold each rule names: days without
# contact, or the points balance to cross.
THRESHOLD_TRIGGERS = {"no_contact": "days", "points_threshold": "points"}


class RuleIn(Strict):
    name: Name
    trigger: TriggerEvent
    threshold: int | None = Field(default=None, ge=1, le=10_000_000)
    conditions: ConditionGroup = Field(default_factory=ConditionGroup)
    actions: list[RuleAction] = Field(min_length=1, max_length=10)
    is_active: bool = True

    @model_validator(mode="after")
    def _threshold_fits_trigger(self) -> RuleIn:
        unit = THRESHOLD_TRIGGERS.get(self.trigger)
        if unit is not None and self.threshold is None:
            raise ValueError(f"trigger {self.trigger!r} needs a threshold ({unit})")
        if unit is None and self.threshold is not None:
            raise ValueError(f"trigger {self.trigger!r} takes no threshold")
        if unit == "days" and self.threshold is not None and self.threshold > MAX_SILENT_DAYS:
            raise ValueError(f"a no-contact threshold is at most {MAX_SILENT_DAYS} days")
        return self


class RuleOut(BaseModel):
    id: uuid.UUID
    name: str
    trigger: str
    threshold: int | None = None
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


@dataclass(frozen=True)
class _Operand:
    """A rule's comparison value, converted once when the rule is compiled, not per event."""

    text: str
    number: Decimal | None

    @classmethod
    def of(cls, value: Any) -> _Operand | None:
        if value is None:
            return None
        try:
            number: Decimal | None = Decimal(str(value))
        except ArithmeticError:
            number = None
        return cls(str(value), number)


def _comparable(left: Any, right: _Operand | None) -> tuple[Any, Any] | None:
    """Numbers compare as numbers, everything else as text; None never compares."""
    if left is None or right is None:
        return None
    if isinstance(left, int | float | Decimal) and not isinstance(left, bool):
        if right.number is None:
            return None
        return (left if isinstance(left, Decimal) else Decimal(str(left))), right.number
    return str(left), right.text


def _equals(left: Any, right: _Operand | None) -> bool:
    pair = _comparable(left, right)
    return pair is not None and pair[0] == pair[1]


def _compile_comparison(comparison: Comparison) -> Predicate:
    name, op, value = comparison.field, comparison.op, comparison.value
    if op == "exists":
        wanted = value is not False
        return lambda facts: (facts.get(name) not in (None, [], "")) == wanted
    if op == "contains":
        return lambda facts: _contains(facts.get(name), value)
    if op == "in":
        options = [
            _Operand.of(option) for option in (value if isinstance(value, list) else [value])
        ]
        return lambda facts: any(_equals(facts.get(name), option) for option in options)
    operand = _Operand.of(value)
    if op == "eq":
        return lambda facts: _equals(facts.get(name), operand)
    if op == "ne":
        return lambda facts: not _equals(facts.get(name), operand)
    ordering = _ORDERINGS[op]

    def ordered(facts: Facts) -> bool:
        pair = _comparable(facts.get(name), operand)
        return pair is not None and bool(ordering(*pair))

    return ordered


def _contains(haystack: Any, needle: Any) -> bool:
    if isinstance(haystack, list):
        return needle in haystack
    return isinstance(haystack, str) and str(needle).casefold() in haystack.casefold()


def compile_rule(rule: RuleIn | RuleOut) -> Predicate:
    """A rule's predicate; a threshold rule hears only the sweep events of its own threshold."""
    conditions = compile_conditions(rule.conditions)
    threshold = rule.threshold
    if threshold is None:
        return conditions
    return lambda facts: facts.get("event.threshold") == threshold and conditions(facts)


def compile_conditions(group: ConditionGroup) -> Predicate:
    """One predicate for a whole condition tree (compiled once per rule, run per event)."""
    parts = [
        compile_conditions(part) if isinstance(part, ConditionGroup) else _compile_comparison(part)
        for part in group.conditions
    ]
    if not parts:
        return lambda facts: True
    # Plain loops, not all()/any() over a generator: this runs for every event and rule.
    if group.mode == "all":

        def every(facts: Facts) -> bool:
            for part in parts:  # noqa: SIM110 - all() over a generator is slower
                if not part(facts):
                    return False
            return True

        return every

    def some(facts: Facts) -> bool:
        for part in parts:  # noqa: SIM110 - any() over a generator is slower
            if part(facts):
                return True
        return False

    return some
