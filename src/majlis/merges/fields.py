"""Per-field choices of a merge: which value the survivor ends up with.

A choice is `"survivor"` (keep the survivor's value), `"other:<id>"` (take that
merged customer's value) or `"combine"` (only for the multi-valued groups:
phones, emails, tags, notes). Without a choice, multi-valued groups combine
(nothing is lost) and single-valued fields keep the survivor's value, filled
from the first other customer that has one when the survivor's is empty.
"""

from __future__ import annotations

import uuid
from typing import Any

from majlis.core.errors import FieldError, ValidationFailed
from majlis.customers.models import Customer, CustomerKind
from majlis.customers.schemas import CustomerFields

SURVIVOR, COMBINE, OTHER_PREFIX = "survivor", "combine", "other:"

# group -> (primary column, list column); tags and notes are single columns.
CONTACT_GROUPS = {"phones": ("phone", "secondary_phones"), "emails": ("email", "secondary_emails")}
MULTI_VALUED = (*CONTACT_GROUPS, "tags", "notes")
_GROUPED = {column for columns in CONTACT_GROUPS.values() for column in columns}
# `kind` is not choosable: an individual does not become an organization by merging.
SINGLE_VALUED = tuple(
    name for name in CustomerFields.model_fields if name not in {*_GROUPED, *MULTI_VALUED, "kind"}
)
CHOOSABLE = (*SINGLE_VALUED, *MULTI_VALUED)


def _unique(values: list[Any]) -> list[Any]:
    return list(dict.fromkeys(value for value in values if value))


def validate_choices(choices: dict[str, str], other_ids: list[uuid.UUID]) -> dict[str, str]:
    """The choices, checked: known fields and customers, combine only for multi-valued ones."""
    errors = []
    allowed_others = {f"{OTHER_PREFIX}{other}" for other in other_ids}
    for field_name, choice in choices.items():
        where = f"choices.{field_name}"
        if field_name not in CHOOSABLE:
            errors.append(FieldError(where, f"is not a field; choose among {', '.join(CHOOSABLE)}"))
        elif choice == COMBINE and field_name not in MULTI_VALUED:
            errors.append(FieldError(where, f"combine applies only to {', '.join(MULTI_VALUED)}"))
        elif choice not in (SURVIVOR, COMBINE) and choice not in allowed_others:
            errors.append(
                FieldError(where, "must be 'survivor', 'combine' or 'other:<id of an other_ids>'")
            )
    if errors:
        raise ValidationFailed(errors)
    return choices


def _source(choice: str, survivor: Customer, others: dict[uuid.UUID, Customer]) -> Customer | None:
    """The customer a survivor/other choice takes its value from."""
    if choice == SURVIVOR:
        return survivor
    if choice.startswith(OTHER_PREFIX):
        return others[uuid.UUID(choice.removeprefix(OTHER_PREFIX))]
    return None


def _single(name: str, choice: str | None, survivor: Customer, others: list[Customer]) -> Any:
    if choice is not None:
        source = _source(choice, survivor, {other.id: other for other in others})
        return getattr(source, name)
    filled = [getattr(c, name) for c in (survivor, *others) if getattr(c, name) is not None]
    return filled[0] if filled else None


def _contact_group(
    columns: tuple[str, str], choice: str, survivor: Customer, others: list[Customer]
) -> dict[str, Any]:
    primary, secondary = columns
    source = _source(choice, survivor, {other.id: other for other in others})
    if source is not None:
        return {primary: getattr(source, primary), secondary: list(getattr(source, secondary))}
    everyone = (survivor, *others)
    all_values = _unique(
        [v for c in everyone for v in (getattr(c, primary), *getattr(c, secondary))]
    )
    main = getattr(survivor, primary) or (all_values[0] if all_values else None)
    return {primary: main, secondary: [v for v in all_values if v != main]}


def _list_or_text(name: str, choice: str, survivor: Customer, others: list[Customer]) -> Any:
    source = _source(choice, survivor, {other.id: other for other in others})
    if source is not None:
        return getattr(source, name)
    values = [getattr(c, name) for c in (survivor, *others)]
    if name == "tags":
        return _unique([tag for tags in values for tag in tags])
    return "\n\n".join(_unique(values)) or None


def merged_values(
    survivor: Customer, others: list[Customer], choices: dict[str, str]
) -> dict[str, Any]:
    """Every choosable column's value after the merge."""
    values: dict[str, Any] = {
        name: _single(name, choices.get(name), survivor, others) for name in SINGLE_VALUED
    }
    for group, columns in CONTACT_GROUPS.items():
        values.update(_contact_group(columns, choices.get(group, COMBINE), survivor, others))
    for name in ("tags", "notes"):
        values[name] = _list_or_text(name, choices.get(name, COMBINE), survivor, others)
    if survivor.kind is CustomerKind.ORGANIZATION and "date_of_birth" not in choices:
        values["date_of_birth"] = survivor.date_of_birth  # never filled from an individual
    if survivor.kind is CustomerKind.ORGANIZATION and values.get("date_of_birth"):
        raise ValidationFailed.single(
            "choices.date_of_birth", "the survivor is an organization; it has no date of birth"
        )
    return values
