"""Journey tables: stages, each customer's place in the journey, its history, tasks and rules."""

from __future__ import annotations

import uuid
from datetime import datetime, time
from decimal import Decimal
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    Boolean,
    DateTime,
    Enum,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Integer,
    Numeric,
    Text,
    Time,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB, UUID
from sqlalchemy.orm import Mapped, mapped_column

from majlis.core.models import Base, TenantMixin


class TaskKind(StrEnum):
    CALL = "call"
    MESSAGE = "message"
    VISIT = "visit"
    SEND_QUOTE = "send_quote"
    COLLECT_PAYMENT = "collect_payment"


class TaskStatus(StrEnum):
    OPEN = "open"
    CLAIMED = "claimed"
    DONE = "done"
    CANCELLED = "cancelled"


def _pg_enum(enum: type[StrEnum], name: str) -> Enum:
    return Enum(enum, name=name, values_callable=lambda e: [m.value for m in e])


def _customer_fk() -> ForeignKeyConstraint:
    return ForeignKeyConstraint(
        ["company_id", "customer_id"], ["customers.company_id", "customers.id"]
    )


def _member_fk(column: str) -> ForeignKeyConstraint:
    return ForeignKeyConstraint(
        ["company_id", column], ["memberships.company_id", "memberships.user_id"]
    )


class WorkflowStage(TenantMixin, Base):
    """One stage of the company's journey; `next_stages` lists the keys a customer may move to."""

    __tablename__ = "workflow_stages"
    __table_args__ = (
        UniqueConstraint("company_id", "key"),
        Index("ix_workflow_stages_position", "company_id", "position"),
    )

    key: Mapped[str] = mapped_column(Text)
    name: Mapped[str] = mapped_column(Text)
    name_ar: Mapped[str | None] = mapped_column(Text)
    position: Mapped[int] = mapped_column(Integer)
    next_stages: Mapped[list[str]] = mapped_column(ARRAY(Text), server_default="{}")
    is_closed: Mapped[bool] = mapped_column(Boolean, server_default="false")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), onupdate=func.now()
    )


class WorkflowState(Base):
    """Where one customer stands: current stage, owner, since when, and the deal's value."""

    __tablename__ = "workflow_state"
    __table_args__ = (
        _customer_fk(),
        _member_fk("assigned_to"),
        ForeignKeyConstraint(
            ["company_id", "stage_key"], ["workflow_stages.company_id", "workflow_stages.key"]
        ),
        Index("ix_workflow_state_stage", "company_id", "stage_key", "entered_at"),
        # The board's "Mine": one person's journeys per stage, newest arrivals first.
        Index("ix_workflow_state_assignee", "company_id", "assigned_to", "stage_key", "entered_at"),
    )

    company_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("companies.id"), primary_key=True
    )
    customer_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    stage_key: Mapped[str] = mapped_column(Text)
    assigned_to: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    entered_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    deal_value: Mapped[Decimal] = mapped_column(Numeric(14, 2), server_default="0")
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), onupdate=func.now()
    )
    version: Mapped[int] = mapped_column(Integer, server_default="1")

    __mapper_args__ = {"version_id_col": version}


class WorkflowAction(TenantMixin, Base):
    """Append-only: who moved a customer from which stage to which, when and why."""

    __tablename__ = "workflow_actions"
    __table_args__ = (
        _customer_fk(),
        Index("ix_workflow_actions_customer", "company_id", "customer_id", "occurred_at", "id"),
    )

    customer_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    from_stage: Mapped[str | None] = mapped_column(Text)
    to_stage: Mapped[str] = mapped_column(Text)
    actor_kind: Mapped[str] = mapped_column(Text)
    actor_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    reason: Mapped[str | None] = mapped_column(Text)
    occurred_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )


class WorkflowEvent(TenantMixin, Base):
    """Everything that happened on a journey; the stream automation rules evaluate.

    `depth` and `rule_chain` record how the event came about (0 and empty for
    events people or other domains caused), so rules cannot feed themselves forever.
    """

    __tablename__ = "workflow_events"
    __table_args__ = (
        _customer_fk(),
        Index("ix_workflow_events_customer", "company_id", "customer_id", "occurred_at", "id"),
        Index(
            "ix_workflow_events_pending",
            "company_id",
            "id",
            postgresql_where=text("processed_at IS NULL"),
        ),
        Index(
            "uq_workflow_events_occurrence",
            "company_id",
            "customer_id",
            "kind",
            "occurrence",
            unique=True,
            postgresql_where=text("occurrence IS NOT NULL"),
        ),
    )

    customer_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    kind: Mapped[str] = mapped_column(Text)
    payload: Mapped[dict[str, Any]] = mapped_column(JSONB, server_default="{}")
    occurred_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )
    depth: Mapped[int] = mapped_column(Integer, server_default="0")
    rule_chain: Mapped[list[uuid.UUID]] = mapped_column(
        ARRAY(UUID(as_uuid=True)), server_default="{}"
    )
    causation_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    processed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # Set by scheduled sweeps: which occurrence (a birthday's year, a silent period) this is.
    occurrence: Mapped[str | None] = mapped_column(Text)


class Task(TenantMixin, Base):
    """Work for a person: call, message, visit, send a quote, collect a payment."""

    __tablename__ = "tasks"
    __table_args__ = (
        _customer_fk(),
        _member_fk("assigned_to"),
        Index(
            "ix_tasks_queue",
            "company_id",
            "assigned_to",
            "rank_at",
            "id",
            postgresql_where=text("status = 'open'"),
        ),
        Index(
            "ix_tasks_pool",
            "company_id",
            "rank_at",
            "id",
            postgresql_where=text("status = 'open' AND assigned_to IS NULL"),
        ),
        # My tasks: a person's claimed tasks in queue order (migration 0011_claimed_tasks).
        Index(
            "ix_tasks_claimed",
            "company_id",
            "assigned_to",
            "rank_at",
            "id",
            postgresql_where=text("status = 'claimed'"),
        ),
        Index("ix_tasks_assignee_status", "company_id", "assigned_to", "status"),
        Index("ix_tasks_assignee_recent", "company_id", "assigned_to", "id"),
        Index("ix_tasks_customer", "company_id", "customer_id", "created_at"),
    )

    customer_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    kind: Mapped[TaskKind] = mapped_column(_pg_enum(TaskKind, "task_kind"))
    title: Mapped[str] = mapped_column(Text)
    notes: Mapped[str | None] = mapped_column(Text)
    due_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    deal_value: Mapped[Decimal] = mapped_column(Numeric(14, 2), server_default="0")
    priority: Mapped[int] = mapped_column(Integer)
    rank_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    status: Mapped[TaskStatus] = mapped_column(
        _pg_enum(TaskStatus, "task_status"), server_default="open"
    )
    assigned_to: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    claimed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    completed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_by: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    rule_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), onupdate=func.now()
    )


class AutomationRule(TenantMixin, Base):
    """A rule: trigger + conditions + actions, stored as validated JSON (`RuleDefinition`)."""

    __tablename__ = "automation_rules"
    __table_args__ = (
        Index(
            "ix_automation_rules_trigger",
            "company_id",
            "trigger",
            postgresql_where=text("is_active"),
        ),
    )

    name: Mapped[str] = mapped_column(Text)
    trigger: Mapped[str] = mapped_column(Text)
    definition: Mapped[dict[str, Any]] = mapped_column(JSONB)
    is_active: Mapped[bool] = mapped_column(Boolean, server_default="true")
    created_by: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), onupdate=func.now()
    )
    version: Mapped[int] = mapped_column(Integer, server_default="1")


class RuleFiring(TenantMixin, Base):
    """Append-only: rule R fired on event E — at most once, by the unique key."""

    __tablename__ = "rule_firings"
    __table_args__ = (
        UniqueConstraint("company_id", "rule_id", "event_id"),
        ForeignKeyConstraint(
            ["company_id", "rule_id"], ["automation_rules.company_id", "automation_rules.id"]
        ),
    )

    rule_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    event_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    fired_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    outcome: Mapped[dict[str, Any]] = mapped_column(JSONB, server_default="{}")


# ----- follow-ups ----------------------------------------------------------------------------
class Channel(StrEnum):
    EMAIL = "email"
    SMS = "sms"
    WHATSAPP = "whatsapp"
    PHONE = "phone"


class FollowUpStatus(StrEnum):
    SENT = "sent"
    SCHEDULED = "scheduled"
    SKIPPED = "skipped"
    FAILED = "failed"


class FollowUpTemplate(TenantMixin, Base):
    """A message in English and Arabic; `{name}`-style fields are filled per customer."""

    __tablename__ = "followup_templates"
    __table_args__ = (UniqueConstraint("company_id", "key"),)

    key: Mapped[str] = mapped_column(Text)
    subject_en: Mapped[str | None] = mapped_column(Text)
    body_en: Mapped[str] = mapped_column(Text)
    subject_ar: Mapped[str | None] = mapped_column(Text)
    body_ar: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class ContactPreferences(Base):
    """How a customer wants to be contacted, if at all."""

    __tablename__ = "contact_preferences"
    __table_args__ = (_customer_fk(),)

    company_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("companies.id"), primary_key=True
    )
    customer_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    channel: Mapped[Channel | None] = mapped_column(_pg_enum(Channel, "contact_channel"))
    language: Mapped[str | None] = mapped_column(Text)
    quiet_start: Mapped[time | None] = mapped_column(Time)
    quiet_end: Mapped[time | None] = mapped_column(Time)
    opted_out: Mapped[bool] = mapped_column(Boolean, server_default="false")
    marketing_consent: Mapped[bool] = mapped_column(Boolean, server_default="false")
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), onupdate=func.now()
    )


class FollowUpExecution(TenantMixin, Base):
    """One follow-up to one customer: sent, scheduled past quiet hours, or skipped, and why."""

    __tablename__ = "followup_executions"
    __table_args__ = (
        _customer_fk(),
        Index("ix_followup_executions_customer", "company_id", "customer_id", "created_at"),
        Index(
            "uq_followup_executions_dedupe",
            "company_id",
            "dedupe_key",
            unique=True,
            postgresql_where=text("dedupe_key IS NOT NULL"),
        ),
    )

    customer_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    template_key: Mapped[str] = mapped_column(Text)
    channel: Mapped[Channel | None] = mapped_column(_pg_enum(Channel, "contact_channel"))
    language: Mapped[str] = mapped_column(Text)
    status: Mapped[FollowUpStatus] = mapped_column(_pg_enum(FollowUpStatus, "followup_status"))
    scheduled_for: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    result: Mapped[str | None] = mapped_column(Text)
    subject: Mapped[str | None] = mapped_column(Text)
    body: Mapped[str | None] = mapped_column(Text)
    dedupe_key: Mapped[str | None] = mapped_column(Text)
    # An email's way through the outbox and SMTP (see `journeys.mail`).
    queued_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    sending_started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    sent_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
