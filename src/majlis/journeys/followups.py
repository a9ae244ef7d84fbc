"""Follow-ups: bilingual templates sent the way each customer asked, or not at all.

A follow-up honours the customer's preferences: an opted-out customer is
skipped (and the skip recorded), the preferred channel and language are used,
and inside the customer's quiet hours (read in the company's time zone) the
message is scheduled for the end of the quiet period instead of sent.

Messages leave through a *provider* per channel. The default provider records
the message on the outbox (`followup.<channel>`), so any SMS/WhatsApp gateway
can deliver it without the rules knowing which vendor it is;
`register_provider` swaps one in. Email is sent over SMTP by the worker
(`journeys.mail`), exactly once, like payment reminders.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from typing import Protocol
from zoneinfo import ZoneInfo

from jinja2.sandbox import SandboxedEnvironment
from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.orm import Session

from majlis.accounts.service import get_company
from majlis.core import audit, outbox
from majlis.core.errors import Conflict, ValidationFailed
from majlis.core.ids import new_id
from majlis.core.permissions import Action, Actor, require
from majlis.customers.models import Customer
from majlis.customers.service import get_customer
from majlis.journeys.models import (
    Channel,
    ContactPreferences,
    FollowUpExecution,
    FollowUpStatus,
    FollowUpTemplate,
)
from majlis.journeys.schemas import PreferencesIn, TemplateIn
from majlis.journeys.service import JOURNEYS, record_event

# Templates are data typed by staff: a sandbox renders them, so a template can read the
# fields it is given and nothing else.
_templates = SandboxedEnvironment(autoescape=False)


@dataclass(frozen=True)
class Handover:
    """What a provider did with a message: a short result and the execution's new status."""

    result: str
    status: FollowUpStatus = FollowUpStatus.SENT


class FollowUpProvider(Protocol):
    def deliver(self, session: Session, actor: Actor, execution: FollowUpExecution) -> Handover:
        """Hand the message over, in the caller's transaction."""
        ...


class OutboxProvider:
    """The default for SMS, WhatsApp and phone: the message waits on the outbox for a gateway."""

    def deliver(self, session: Session, actor: Actor, execution: FollowUpExecution) -> Handover:
        outbox.emit(
            session,
            actor,
            f"followup.{execution.channel}",
            {
                "execution_id": str(execution.id),
                "customer_id": str(execution.customer_id),
                "language": execution.language,
                "subject": execution.subject,
                "body": execution.body,
            },
            dedupe_key=f"followup:{execution.id}",
        )
        return Handover("queued on the outbox")


class EmailProvider(OutboxProvider):
    """Email goes over SMTP: the outbox carries it to `journeys.mail`, which sends it once.

    The execution stays `scheduled` (with `queued_at`) until the SMTP server has it.
    """

    def deliver(self, session: Session, actor: Actor, execution: FollowUpExecution) -> Handover:
        super().deliver(session, actor, execution)
        execution.queued_at = datetime.now(UTC)
        return Handover("queued for sending by email", FollowUpStatus.SCHEDULED)


_providers: dict[Channel, FollowUpProvider] = {channel: OutboxProvider() for channel in Channel}
_providers[Channel.EMAIL] = EmailProvider()


def register_provider(channel: Channel, provider: FollowUpProvider) -> None:
    _providers[channel] = provider


# ----- templates and preferences ----------------------------------------------------------
def create_template(session: Session, actor: Actor, draft: TemplateIn) -> FollowUpTemplate:
    require(actor, JOURNEYS, Action.ADMINISTER)
    if _template(session, actor, draft.key) is not None:
        raise Conflict(f"a template {draft.key!r} already exists")
    template = FollowUpTemplate(company_id=actor.company_id, id=new_id(), **draft.model_dump())
    session.add(template)
    session.flush()
    audit.record(
        session,
        actor,
        "followup_template.created",
        "followup_template",
        template.id,
        after=draft.model_dump(),
    )
    return template


def list_templates(session: Session, actor: Actor) -> list[FollowUpTemplate]:
    require(actor, JOURNEYS, Action.VIEW)
    return list(
        session.scalars(
            select(FollowUpTemplate)
            .where(FollowUpTemplate.company_id == actor.company_id)
            .order_by(FollowUpTemplate.key)
        )
    )


def _template(session: Session, actor: Actor, key: str) -> FollowUpTemplate | None:
    return session.scalar(
        select(FollowUpTemplate).where(
            FollowUpTemplate.company_id == actor.company_id, FollowUpTemplate.key == key
        )
    )


def preferences(session: Session, actor: Actor, customer_id: uuid.UUID) -> ContactPreferences:
    """The customer's stored preferences, or the defaults (unsaved) when none are stored."""
    require(actor, JOURNEYS, Action.VIEW)
    get_customer(session, actor, customer_id)
    return stored_preferences(session, actor, customer_id)


def stored_preferences(
    session: Session, actor: Actor, customer_id: uuid.UUID
) -> ContactPreferences:
    """The preferences as stored now, or the defaults; no checks (callers have done them)."""
    stored = session.get(ContactPreferences, (actor.company_id, customer_id))
    return stored or ContactPreferences(
        company_id=actor.company_id,
        customer_id=customer_id,
        opted_out=False,
        marketing_consent=False,
    )


def set_preferences(
    session: Session, actor: Actor, customer_id: uuid.UUID, draft: PreferencesIn
) -> ContactPreferences:
    """Store how (and whether) the customer wants to be contacted."""
    require(actor, JOURNEYS, Action.EDIT)
    get_customer(session, actor, customer_id)
    values = draft.model_dump()
    session.execute(
        pg_insert(ContactPreferences)
        .values(company_id=actor.company_id, customer_id=customer_id, **values)
        .on_conflict_do_update(index_elements=["company_id", "customer_id"], set_=values)
    )
    audit.record(
        session,
        actor,
        "customer.preferences",
        "customer",
        customer_id,
        after=draft.model_dump(mode="json"),
    )
    return session.scalars(
        select(ContactPreferences)
        .where(
            ContactPreferences.company_id == actor.company_id,
            ContactPreferences.customer_id == customer_id,
        )
        .execution_options(populate_existing=True)
    ).one()


# ----- quiet hours ------------------------------------------------------------------------------
def end_of_quiet_hours(now: datetime, zone: str, start: time | None, end: time | None) -> datetime:
    """`now` if it is outside the quiet hours (local to `zone`), else when they end.

    Quiet hours may wrap midnight (22:00–08:00).
    """
    if start is None or end is None:
        return now
    local = now.astimezone(ZoneInfo(zone))
    clock = local.time()
    if start < end:
        quiet, ends_tomorrow = start <= clock < end, False
    else:
        quiet, ends_tomorrow = clock >= start or clock < end, clock >= start
    if not quiet:
        return now
    day = local.date() + timedelta(days=1 if ends_tomorrow else 0)
    return datetime.combine(day, end, tzinfo=local.tzinfo).astimezone(UTC)


# ----- sending ------------------------------------------------------------------------------------
def _channel(customer: Customer, prefs: ContactPreferences, asked: Channel | None) -> Channel:
    if asked is not None:
        return asked
    if prefs.channel is not None:
        return prefs.channel
    return Channel.EMAIL if customer.email else Channel.WHATSAPP


def _address(customer: Customer, channel: Channel) -> str | None:
    return customer.email if channel is Channel.EMAIL else customer.phone


def _render(
    template: FollowUpTemplate, language: str, customer: Customer
) -> tuple[str | None, str]:
    arabic = language == "ar"
    fields = {
        "name": (customer.name_ar or customer.name) if arabic else customer.name,
        "city": customer.city or "",
    }
    subject = template.subject_ar if arabic else template.subject_en
    body = template.body_ar if arabic else template.body_en
    render = _templates.from_string
    return (render(subject).render(fields) if subject else None), render(body).render(fields)


def skip_reason(customer: Customer, prefs: ContactPreferences, channel: Channel) -> str | None:
    """Why the customer may not get a message on `channel` now, or None."""
    if prefs.opted_out:
        return "customer opted out of follow-ups"
    if channel is not Channel.PHONE and _address(customer, channel) is None:
        return f"no {'email address' if channel is Channel.EMAIL else 'phone number'}"
    return None


def send_follow_up(
    session: Session,
    actor: Actor,
    customer_id: uuid.UUID,
    template_key: str,
    *,
    channel: Channel | None = None,
    dedupe_key: str | None = None,
    now: datetime | None = None,
) -> FollowUpExecution:
    """Send (or schedule, or skip) one follow-up, recording the execution and a journey event.

    With a `dedupe_key` (a rule firing) a second call returns the first execution.
    """
    require(actor, JOURNEYS, Action.EDIT)
    template = _template(session, actor, template_key)
    if template is None:
        raise ValidationFailed.single("template", f"no follow-up template {template_key!r}")
    if dedupe_key is not None:
        earlier = session.scalar(
            select(FollowUpExecution).where(
                FollowUpExecution.company_id == actor.company_id,
                FollowUpExecution.dedupe_key == dedupe_key,
            )
        )
        if earlier is not None:
            return earlier
    customer = get_customer(session, actor, customer_id)
    prefs = preferences(session, actor, customer_id)
    chosen = _channel(customer, prefs, channel)
    language = prefs.language or ("ar" if customer.preferred_language == "ar" else "en")
    at = now or datetime.now(UTC)
    send_at = end_of_quiet_hours(
        at, get_company(session, actor.company_id).time_zone, prefs.quiet_start, prefs.quiet_end
    )
    subject, body = _render(template, language, customer)
    execution = FollowUpExecution(
        company_id=actor.company_id,
        id=new_id(),
        customer_id=customer_id,
        template_key=template_key,
        channel=chosen,
        language=language,
        scheduled_for=send_at,
        subject=subject,
        body=body,
        dedupe_key=dedupe_key,
        status=FollowUpStatus.SCHEDULED,
    )
    skip = skip_reason(customer, prefs, chosen)
    if skip is not None:
        execution.status, execution.result = FollowUpStatus.SKIPPED, skip
    elif send_at > at:
        execution.result = f"quiet hours: scheduled for {send_at.isoformat()}"
    session.add(execution)
    session.flush()
    if execution.status is FollowUpStatus.SCHEDULED and send_at <= at:
        _deliver(session, actor, execution)
    record_event(
        session,
        actor,
        f"follow_up_{execution.status}",
        customer_id,
        {"template": template_key, "channel": chosen, "result": execution.result},
    )
    return execution


def _deliver(session: Session, actor: Actor, execution: FollowUpExecution) -> None:
    channel = Channel(execution.channel or Channel.EMAIL)
    handover = _providers[channel].deliver(session, actor, execution)
    execution.status, execution.result = handover.status, handover.result
    session.flush()


def deliver_due_follow_ups(session: Session, actor: Actor, now: datetime | None = None) -> int:
    """Hand over scheduled follow-ups whose quiet hours are over; returns how many."""
    require(actor, JOURNEYS, Action.EDIT)
    due = session.scalars(
        select(FollowUpExecution)
        .where(
            FollowUpExecution.company_id == actor.company_id,
            FollowUpExecution.status == FollowUpStatus.SCHEDULED,
            FollowUpExecution.queued_at.is_(None),
            FollowUpExecution.scheduled_for <= (now or datetime.now(UTC)),
        )
        .with_for_update(skip_locked=True)
    ).all()
    for execution in due:
        _deliver(session, actor, execution)
    return len(due)


def customer_follow_ups(
    session: Session, actor: Actor, customer_id: uuid.UUID
) -> list[FollowUpExecution]:
    require(actor, JOURNEYS, Action.VIEW)
    get_customer(session, actor, customer_id)
    return list(
        session.scalars(
            select(FollowUpExecution)
            .where(
                FollowUpExecution.company_id == actor.company_id,
                FollowUpExecution.customer_id == customer_id,
            )
            .order_by(FollowUpExecution.created_at.desc(), FollowUpExecution.id.desc())
            .limit(200)
        )
    )
