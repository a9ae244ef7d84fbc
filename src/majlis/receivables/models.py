"""Receivables tables: invoices, payments and allocations, reminder settings, templates,
consolidated reminders and their email logs (see migration 0005_receivables)."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Computed,
    Date,
    DateTime,
    Enum,
    ForeignKeyConstraint,
    Index,
    Integer,
    Numeric,
    String,
    Text,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB, UUID
from sqlalchemy.orm import Mapped, mapped_column

from majlis.core.models import Base, TenantMixin

OPEN_STATUSES = ("open", "partially_paid")
_OPEN_SQL = text("status IN ('open', 'partially_paid')")


class InvoiceStatus(StrEnum):
    DRAFT = "draft"
    OPEN = "open"
    PARTIALLY_PAID = "partially_paid"
    PAID = "paid"
    VOID = "void"


class Consolidation(StrEnum):
    ENABLED = "ENABLED"
    DISABLED = "DISABLED"
    AUTO = "AUTO"


class Channel(StrEnum):
    EMAIL = "email"


class ReminderLanguage(StrEnum):
    EN = "en"
    AR = "ar"


class EscalationLevel(StrEnum):
    POLITE = "POLITE"
    FIRM = "FIRM"
    URGENT = "URGENT"
    FINAL = "FINAL"


ESCALATION_ORDER = list(EscalationLevel)


class ReminderType(StrEnum):
    SINGLE = "SINGLE"
    CONSOLIDATED = "CONSOLIDATED"
    URGENT_CONSOLIDATED = "URGENT_CONSOLIDATED"
    FINAL_CONSOLIDATED = "FINAL_CONSOLIDATED"
    MANUAL_CONSOLIDATED = "MANUAL_CONSOLIDATED"


class DeliveryStatus(StrEnum):
    SCHEDULED = "scheduled"
    SENDING = "sending"
    SENT = "sent"
    DELIVERED = "delivered"
    FAILED = "failed"
    UNCONFIRMED = "unconfirmed"
    SKIPPED = "skipped"
    CANCELLED = "cancelled"


PENDING_STATUSES = (DeliveryStatus.SCHEDULED, DeliveryStatus.SENDING)
SENT_STATUSES = (DeliveryStatus.SENT, DeliveryStatus.DELIVERED, DeliveryStatus.UNCONFIRMED)


def _pg_enum(enum: type[StrEnum], name: str) -> Enum:
    return Enum(enum, name=name, values_callable=lambda e: [m.value for m in e])


def _customer_fk() -> ForeignKeyConstraint:
    return ForeignKeyConstraint(
        ["company_id", "customer_id"], ["customers.company_id", "customers.id"]
    )


def _now() -> Mapped[datetime]:
    return mapped_column(DateTime(timezone=True), server_default=func.now())


class ReminderSettings(Base):
    """A company's reminder policy; one row per company, created on first read."""

    __tablename__ = "reminder_settings"
    __table_args__ = (
        CheckConstraint("jsonb_typeof(holiday_names) = 'object'", name="holiday_names_object"),
    )

    company_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    consolidation: Mapped[Consolidation] = mapped_column(
        _pg_enum(Consolidation, "consolidation_preference"), server_default="AUTO"
    )
    max_consolidation_amount: Mapped[Decimal] = mapped_column(
        Numeric(14, 2), server_default="100000"
    )
    preferred_contact_interval_days: Mapped[int] = mapped_column(Integer, server_default="7")
    channel: Mapped[Channel] = mapped_column(
        _pg_enum(Channel, "reminder_channel"), server_default="email"
    )
    language: Mapped[ReminderLanguage] = mapped_column(
        _pg_enum(ReminderLanguage, "reminder_language"), server_default="en"
    )
    reminders_paused: Mapped[bool] = mapped_column(Boolean, server_default="false")
    firm_after_days: Mapped[int] = mapped_column(Integer, server_default="15")
    urgent_after_days: Mapped[int] = mapped_column(Integer, server_default="30")
    final_after_days: Mapped[int] = mapped_column(Integer, server_default="60")
    holiday_additions: Mapped[list[date]] = mapped_column(ARRAY(Date), server_default="{}")
    holiday_removals: Mapped[list[date]] = mapped_column(ARRAY(Date), server_default="{}")
    # ISO date of an override -> the owner's name for it (optional; migration 0010).
    holiday_names: Mapped[dict[str, str]] = mapped_column(JSONB, server_default="{}")
    updated_at: Mapped[datetime] = _now()


class CustomerReminderOverride(Base):
    """Per-customer exceptions to the company policy; NULL means "as the company"."""

    __tablename__ = "customer_reminder_overrides"
    __table_args__ = (_customer_fk(),)

    company_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    customer_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    consolidation: Mapped[Consolidation | None] = mapped_column(
        _pg_enum(Consolidation, "consolidation_preference")
    )
    max_consolidation_amount: Mapped[Decimal | None] = mapped_column(Numeric(14, 2))
    preferred_contact_interval_days: Mapped[int | None] = mapped_column(Integer)
    channel: Mapped[Channel | None] = mapped_column(_pg_enum(Channel, "reminder_channel"))
    language: Mapped[ReminderLanguage | None] = mapped_column(
        _pg_enum(ReminderLanguage, "reminder_language")
    )
    opt_out: Mapped[bool] = mapped_column(Boolean, server_default="false")
    updated_at: Mapped[datetime] = _now()


class Invoice(TenantMixin, Base):
    __tablename__ = "invoices"
    __table_args__ = (
        _customer_fk(),
        UniqueConstraint("company_id", "number", name="uq_invoices_number"),
        Index(
            "ix_invoices_open_by_customer",
            "company_id",
            "customer_id",
            "due_date",
            postgresql_where=_OPEN_SQL,
        ),
        Index("ix_invoices_open_by_due", "company_id", "due_date", postgresql_where=_OPEN_SQL),
        Index(
            "ix_invoices_paid_by_customer",
            "company_id",
            "customer_id",
            postgresql_include=["amount"],
            postgresql_where=text("status = 'paid'"),
        ),
        Index("ix_invoices_customer_created", "company_id", "customer_id", "created_at", "id"),
    )

    customer_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    number: Mapped[str] = mapped_column(Text)
    issue_date: Mapped[date] = mapped_column(Date)
    due_date: Mapped[date] = mapped_column(Date)
    amount: Mapped[Decimal] = mapped_column(Numeric(14, 2))
    # Kept by the database from payment_allocations; never written by the application.
    amount_paid: Mapped[Decimal] = mapped_column(Numeric(14, 2), server_default="0")
    currency: Mapped[str] = mapped_column(String(3), server_default="AED")
    status: Mapped[InvoiceStatus] = mapped_column(
        _pg_enum(InvoiceStatus, "invoice_status"), server_default="open"
    )
    paid_on: Mapped[date | None] = mapped_column(Date)
    notes: Mapped[str | None] = mapped_column(Text)
    created_by: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    created_at: Mapped[datetime] = _now()
    updated_at: Mapped[datetime] = _now()

    @property
    def balance(self) -> Decimal:
        return self.amount - self.amount_paid


class InvoiceLine(TenantMixin, Base):
    __tablename__ = "invoice_lines"
    __table_args__ = (
        ForeignKeyConstraint(
            ["company_id", "invoice_id"], ["invoices.company_id", "invoices.id"], ondelete="CASCADE"
        ),
        Index("ix_invoice_lines_invoice", "company_id", "invoice_id", "position"),
    )

    invoice_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    position: Mapped[int] = mapped_column(Integer)
    description: Mapped[str] = mapped_column(Text)
    quantity: Mapped[Decimal] = mapped_column(Numeric(14, 3))
    unit_price: Mapped[Decimal] = mapped_column(Numeric(14, 2))


class Payment(TenantMixin, Base):
    __tablename__ = "payments"
    __table_args__ = (
        _customer_fk(),
        Index("ix_payments_customer", "company_id", "customer_id", "received_on"),
    )

    customer_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    amount: Mapped[Decimal] = mapped_column(Numeric(14, 2))
    # Kept by the database; amount - allocated_amount is the customer's credit.
    allocated_amount: Mapped[Decimal] = mapped_column(Numeric(14, 2), server_default="0")
    currency: Mapped[str] = mapped_column(String(3), server_default="AED")
    received_on: Mapped[date] = mapped_column(Date)
    reference: Mapped[str | None] = mapped_column(Text)
    created_by: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    created_at: Mapped[datetime] = _now()


class PaymentAllocation(TenantMixin, Base):
    __tablename__ = "payment_allocations"
    __table_args__ = (
        ForeignKeyConstraint(["company_id", "payment_id"], ["payments.company_id", "payments.id"]),
        ForeignKeyConstraint(["company_id", "invoice_id"], ["invoices.company_id", "invoices.id"]),
        Index("ix_payment_allocations_invoice", "company_id", "invoice_id"),
        Index("ix_payment_allocations_payment", "company_id", "payment_id"),
    )

    payment_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    invoice_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    amount: Mapped[Decimal] = mapped_column(Numeric(14, 2))
    created_at: Mapped[datetime] = _now()


class ReminderTemplate(TenantMixin, Base):
    __tablename__ = "reminder_templates"
    __table_args__ = (
        UniqueConstraint(
            "company_id",
            "language",
            "escalation_level",
            "supports_consolidation",
            name="uq_reminder_templates_slot",
        ),
    )

    name: Mapped[str] = mapped_column(Text)
    language: Mapped[ReminderLanguage] = mapped_column(
        _pg_enum(ReminderLanguage, "reminder_language")
    )
    escalation_level: Mapped[EscalationLevel] = mapped_column(
        _pg_enum(EscalationLevel, "escalation_level")
    )
    supports_consolidation: Mapped[bool] = mapped_column(Boolean, server_default="true")
    max_invoice_count: Mapped[int] = mapped_column(Integer, server_default="10")
    subject: Mapped[str] = mapped_column(Text)
    body_html: Mapped[str] = mapped_column(Text)
    variables: Mapped[list[str]] = mapped_column(ARRAY(Text), server_default="{}")
    created_at: Mapped[datetime] = _now()
    updated_at: Mapped[datetime] = _now()


class ConsolidatedReminder(TenantMixin, Base):
    """One planned reminder to one customer, covering one or more overdue invoices."""

    __tablename__ = "customer_consolidated_reminders"
    __table_args__ = (
        _customer_fk(),
        CheckConstraint("priority_score BETWEEN 0 AND 100", name="priority_range"),
        Index(
            "ix_customer_consolidated_reminders_customer",
            "company_id",
            "customer_id",
            "created_at",
            "id",
        ),
        Index(
            "ix_customer_consolidated_reminders_sent",
            "company_id",
            "sent_at",
            postgresql_include=[
                "escalation_level",
                "invoice_count",
                "total_amount",
                "opened_at",
                "clicked_at",
                "replied_at",
                "paid_after_reminder_at",
            ],
            postgresql_where=text("sent_at IS NOT NULL"),
        ),
        Index(
            "ix_customer_consolidated_reminders_contact",
            "company_id",
            "customer_id",
            "sent_at",
            postgresql_where=text("sent_at IS NOT NULL"),
        ),
        Index(
            "ix_customer_consolidated_reminders_pending",
            "company_id",
            "customer_id",
            postgresql_where=text("delivery_status IN ('scheduled', 'sending')"),
        ),
        # The reminder queue page, highest priority first (0012_reminder_queue).
        Index(
            "ix_customer_consolidated_reminders_queue",
            "company_id",
            "priority_score",
            "id",
            postgresql_where=text("delivery_status IN ('scheduled', 'sending')"),
        ),
        Index("ix_customer_consolidated_reminders_created", "company_id", "created_at"),
        # Reminders sent lately, with whom they went to (eligibility; 0008_receivables_perf).
        Index(
            "ix_customer_consolidated_reminders_recent",
            "company_id",
            "sent_at",
            postgresql_include=["customer_id"],
            postgresql_where=text("sent_at IS NOT NULL"),
        ),
    )

    customer_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    run_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    invoice_ids: Mapped[list[uuid.UUID]] = mapped_column(ARRAY(UUID(as_uuid=True)))
    invoice_count: Mapped[int] = mapped_column(Integer, Computed("cardinality(invoice_ids)"))
    total_amount: Mapped[Decimal] = mapped_column(Numeric(14, 2))
    currency: Mapped[str] = mapped_column(String(3))
    reminder_type: Mapped[ReminderType] = mapped_column(_pg_enum(ReminderType, "reminder_type"))
    escalation_level: Mapped[EscalationLevel] = mapped_column(
        _pg_enum(EscalationLevel, "escalation_level")
    )
    priority_score: Mapped[int] = mapped_column(Integer)
    oldest_days_overdue: Mapped[int] = mapped_column(Integer)
    channel: Mapped[Channel] = mapped_column(_pg_enum(Channel, "reminder_channel"))
    language: Mapped[ReminderLanguage] = mapped_column(
        _pg_enum(ReminderLanguage, "reminder_language")
    )
    scheduled_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    delivery_status: Mapped[DeliveryStatus] = mapped_column(
        _pg_enum(DeliveryStatus, "reminder_delivery_status"), server_default="scheduled"
    )
    status_reason: Mapped[str | None] = mapped_column(Text)
    idempotency_key: Mapped[str | None] = mapped_column(Text)
    message_id: Mapped[str | None] = mapped_column(Text)
    sending_started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    sent_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    opened_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    clicked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    replied_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    paid_after_reminder_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    manual: Mapped[bool] = mapped_column(Boolean, server_default="false")
    created_by: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    created_at: Mapped[datetime] = _now()


class EmailLog(TenantMixin, Base):
    __tablename__ = "email_logs"
    __table_args__ = (
        ForeignKeyConstraint(
            ["company_id", "reminder_id"],
            ["customer_consolidated_reminders.company_id", "customer_consolidated_reminders.id"],
        ),
        _customer_fk(),
        Index("ix_email_logs_reminder", "company_id", "reminder_id"),
        Index("ix_email_logs_created", "company_id", "created_at"),
    )

    reminder_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    customer_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    to_address: Mapped[str] = mapped_column(Text)
    subject: Mapped[str] = mapped_column(Text)
    invoice_count: Mapped[int] = mapped_column(Integer)
    consolidation_savings_pct: Mapped[Decimal] = mapped_column(Numeric(5, 2))
    delivery_status: Mapped[DeliveryStatus] = mapped_column(
        _pg_enum(DeliveryStatus, "reminder_delivery_status")
    )
    message_id: Mapped[str | None] = mapped_column(Text)
    details: Mapped[dict[str, Any]] = mapped_column("metadata", JSONB, server_default="{}")
    created_at: Mapped[datetime] = _now()
