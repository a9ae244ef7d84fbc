"""Reminder policy: the company's settings, per-customer overrides and the working calendar."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from majlis.accounts.service import get_company
from majlis.core import audit
from majlis.core.calendars import WorkingCalendar
from majlis.core.errors import ValidationFailed
from majlis.core.permissions import Action, Actor, require
from majlis.receivables.ledger import RECEIVABLES, live_customer
from majlis.receivables.models import (
    Channel,
    Consolidation,
    CustomerReminderOverride,
    ReminderLanguage,
    ReminderSettings,
)
from majlis.receivables.schemas import CustomerOverrideIn, ReminderSettingsIn

_SETTING_FIELDS = tuple(ReminderSettingsIn.model_fields)
_OVERRIDE_FIELDS = tuple(CustomerOverrideIn.model_fields)


def _settings_dict(row: ReminderSettings) -> dict[str, object]:
    return {name: getattr(row, name) for name in _SETTING_FIELDS}


def company_settings(session: Session, actor: Actor) -> ReminderSettings:
    """The company's reminder settings, created with the defaults on first use."""
    row = session.get(ReminderSettings, actor.company_id)
    if row is not None:
        return row
    session.execute(
        insert(ReminderSettings)
        .values(company_id=actor.company_id)
        .on_conflict_do_nothing(index_elements=["company_id"])
    )
    return session.get_one(ReminderSettings, actor.company_id)


def _check_thresholds(values: dict[str, object]) -> None:
    firm, urgent, final = (
        values["firm_after_days"],
        values["urgent_after_days"],
        values["final_after_days"],
    )
    if not (isinstance(firm, int) and isinstance(urgent, int) and isinstance(final, int)):
        return
    if not firm < urgent < final:
        raise ValidationFailed.single(
            "firm_after_days",
            f"thresholds must rise: firm {firm} < urgent {urgent} < final {final} days",
        )


def _apply_holidays(row: ReminderSettings, changes: dict[str, Any]) -> None:
    """Take the holiday fields out of `changes` and set them on `row`.

    Each list replaces the stored one when sent, and so do the names; a name
    belongs to a date in one of the lists. When only the lists are sent (the
    payloads from before names existed), a date's name stays while the date
    does and goes with it.
    """
    closed = set(changes.pop("holiday_additions", row.holiday_additions))
    opened = set(changes.pop("holiday_removals", row.holiday_removals))
    if closed & opened:
        raise ValidationFailed.single("holiday_removals", "a date cannot be added and removed")
    sent: dict[date, str] | None = changes.pop("holiday_names", None)
    if sent is None:
        sent = {date.fromisoformat(day): name for day, name in row.holiday_names.items()}
        sent = {day: name for day, name in sent.items() if day in closed | opened}
    stray = sorted(set(sent) - closed - opened)
    if stray:
        raise ValidationFailed.single(
            f"holiday_names.{stray[0].isoformat()}",
            "name only a date that is in holiday_additions or holiday_removals",
        )
    row.holiday_additions, row.holiday_removals = sorted(closed), sorted(opened)
    row.holiday_names = {day.isoformat(): sent[day] for day in sorted(sent)}


def update_company_settings(
    session: Session, actor: Actor, patch: ReminderSettingsIn
) -> ReminderSettings:
    """Change the fields sent; thresholds must stay in order (also a database CHECK)."""
    require(actor, RECEIVABLES, Action.ADMINISTER)
    row = company_settings(session, actor)
    before = _settings_dict(row)
    changes = patch.model_dump(exclude_unset=True, exclude_none=True)
    _check_thresholds({**before, **changes})
    _apply_holidays(row, changes)
    for name, value in changes.items():
        setattr(row, name, value)
    session.flush()
    after = _settings_dict(row)
    audit.record(
        session,
        actor,
        "reminder_settings.updated",
        "company",
        actor.company_id,
        before=audit.changed_fields(after, before),
        after=audit.changed_fields(before, after),
    )
    return row


def customer_override(
    session: Session, actor: Actor, customer_id: uuid.UUID
) -> CustomerReminderOverride:
    require(actor, RECEIVABLES, Action.VIEW)
    override = session.get(CustomerReminderOverride, (actor.company_id, customer_id))
    if override is None:
        live_customer(session, actor, customer_id)
        # An unsaved row gets no server defaults: spell out "inherits everything, not opted out".
        return CustomerReminderOverride(
            company_id=actor.company_id, customer_id=customer_id, opt_out=False
        )
    return override


def set_customer_override(
    session: Session, actor: Actor, customer_id: uuid.UUID, values: CustomerOverrideIn
) -> CustomerReminderOverride:
    """Replace a customer's overrides (null fields inherit the company's settings)."""
    require(actor, RECEIVABLES, Action.EDIT)
    live_customer(session, actor, customer_id)
    row = values.model_dump()
    session.execute(
        insert(CustomerReminderOverride)
        .values(company_id=actor.company_id, customer_id=customer_id, **row)
        .on_conflict_do_update(index_elements=["company_id", "customer_id"], set_=row)
    )
    override = session.get(CustomerReminderOverride, (actor.company_id, customer_id))
    assert override is not None
    session.refresh(override)
    audit.record(
        session,
        actor,
        "reminder_override.set",
        "customer",
        customer_id,
        after={name: row[name] for name in _OVERRIDE_FIELDS},
    )
    return override


@dataclass(frozen=True)
class EffectivePolicy:
    """What applies to one customer once overrides are laid over the company's settings."""

    consolidation: Consolidation
    max_consolidation_amount: Decimal
    preferred_contact_interval_days: int
    channel: Channel
    language: ReminderLanguage
    opt_out: bool


def effective_policy(
    company: ReminderSettings, override: CustomerReminderOverride | None
) -> EffectivePolicy:
    def pick(name: str) -> object:
        value = getattr(override, name, None) if override is not None else None
        return value if value is not None else getattr(company, name)

    return EffectivePolicy(
        consolidation=Consolidation(str(pick("consolidation"))),
        max_consolidation_amount=Decimal(str(pick("max_consolidation_amount"))),
        preferred_contact_interval_days=int(str(pick("preferred_contact_interval_days"))),
        channel=Channel(str(pick("channel"))),
        language=ReminderLanguage(str(pick("language"))),
        opt_out=bool(override.opt_out) if override is not None else False,
    )


def overrides_for(
    session: Session, actor: Actor, customer_ids: list[uuid.UUID]
) -> dict[uuid.UUID, CustomerReminderOverride]:
    rows = session.scalars(
        select(CustomerReminderOverride).where(
            CustomerReminderOverride.company_id == actor.company_id,
            CustomerReminderOverride.customer_id.in_(customer_ids),
        )
    )
    return {row.customer_id: row for row in rows}


def company_calendar(session: Session, actor: Actor) -> WorkingCalendar:
    """The company's working time, with its moon-sighting holiday corrections."""
    company = get_company(session, actor.company_id)
    settings = company_settings(session, actor)
    return WorkingCalendar(
        country=company.country,
        tz=company.time_zone,
        working_days=frozenset(company.working_days),
        start=company.work_starts,
        end=company.work_ends,
        extra_holidays=frozenset(settings.holiday_additions),
        not_holidays=frozenset(settings.holiday_removals),
    )
