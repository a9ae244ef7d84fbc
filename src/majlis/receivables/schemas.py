"""Shapes of the receivables HTTP API (validation that does not depend on the company)."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from majlis.receivables.models import (
    Channel,
    Consolidation,
    DeliveryStatus,
    EscalationLevel,
    InvoiceStatus,
    ReminderLanguage,
    ReminderType,
)

Money = Annotated[Decimal, Field(gt=0, max_digits=14, decimal_places=2)]
Currency = Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$")]
Label = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
Days = Annotated[int, Field(gt=0, le=3650)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class Out(BaseModel):
    model_config = ConfigDict(from_attributes=True)


# ----- invoices ------------------------------------------------------------------------
class InvoiceLineIn(Strict):
    description: Annotated[str, StringConstraints(min_length=1, max_length=500)]
    quantity: Annotated[Decimal, Field(gt=0, max_digits=14, decimal_places=3)] = Decimal(1)
    unit_price: Annotated[Decimal, Field(ge=0, max_digits=14, decimal_places=2)]


class InvoiceCreate(Strict):
    customer_id: uuid.UUID
    number: Label
    issue_date: date
    due_date: date
    amount: Money | None = Field(default=None, description="Defaults to the sum of the lines.")
    currency: Currency | None = Field(default=None, description="Defaults to the customer's.")
    status: Literal[InvoiceStatus.DRAFT, InvoiceStatus.OPEN] = InvoiceStatus.OPEN
    notes: Annotated[str, StringConstraints(max_length=5000)] | None = None
    lines: list[InvoiceLineIn] = Field(default_factory=list, max_length=500)

    @model_validator(mode="after")
    def _dates_and_amount(self) -> InvoiceCreate:
        if self.due_date < self.issue_date:
            raise ValueError("due_date must not be before issue_date")
        if self.amount is None and not self.lines:
            raise ValueError("give an amount or at least one line")
        return self


class InvoiceLineOut(Out):
    position: int
    description: str
    quantity: Decimal
    unit_price: Decimal


class InvoiceOut(Out):
    id: uuid.UUID
    customer_id: uuid.UUID
    number: str
    issue_date: date
    due_date: date
    amount: Decimal
    amount_paid: Decimal
    balance: Decimal
    currency: str
    status: InvoiceStatus
    paid_on: date | None
    notes: str | None
    created_at: datetime


class InvoiceDetail(InvoiceOut):
    lines: list[InvoiceLineOut]


class InvoicePage(BaseModel):
    items: list[InvoiceOut]
    next_cursor: str | None


# ----- payments ------------------------------------------------------------------------
class AllocationIn(Strict):
    invoice_id: uuid.UUID
    amount: Money


class PaymentCreate(Strict):
    customer_id: uuid.UUID
    amount: Money
    currency: Currency | None = None
    received_on: date
    reference: Annotated[str, StringConstraints(max_length=200)] | None = None
    allocations: list[AllocationIn] | None = Field(
        default=None,
        max_length=500,
        description="Omit to pay the oldest open invoices first; the rest is held as credit.",
    )


class AllocationOut(Out):
    invoice_id: uuid.UUID
    amount: Decimal


class PaymentOut(Out):
    id: uuid.UUID
    customer_id: uuid.UUID
    amount: Decimal
    allocated_amount: Decimal
    credit: Decimal
    currency: str
    received_on: date
    reference: str | None
    allocations: list[AllocationOut]


class BalanceOut(BaseModel):
    customer_id: uuid.UUID
    outstanding_balance: Decimal
    credit: Decimal
    currency: str


class RiskBandOut(BaseModel):
    up_to_days: int | None
    score: Decimal


class RiskExplanation(BaseModel):
    customer_id: uuid.UUID
    risk_score: Decimal
    paid_invoice_count: int
    average_days_paid_after_due: Decimal | None
    rule: str
    bands: list[RiskBandOut]
    no_history_score: Decimal


# ----- settings ------------------------------------------------------------------------
class ReminderSettingsIn(Strict):
    consolidation: Consolidation | None = None
    max_consolidation_amount: Money | None = None
    preferred_contact_interval_days: Days | None = None
    channel: Channel | None = None
    language: ReminderLanguage | None = None
    reminders_paused: bool | None = None
    firm_after_days: Days | None = None
    urgent_after_days: Days | None = None
    final_after_days: Days | None = None
    holiday_additions: list[date] | None = Field(default=None, max_length=100)
    holiday_removals: list[date] | None = Field(default=None, max_length=100)
    holiday_names: dict[date, Label] | None = Field(
        default=None,
        max_length=200,
        description="Optional names of overrides by date; replaces all names when sent. "
        "Each date must be in holiday_additions or holiday_removals.",
    )


class ReminderSettingsOut(Out):
    consolidation: Consolidation
    max_consolidation_amount: Decimal
    preferred_contact_interval_days: int
    channel: Channel
    language: ReminderLanguage
    reminders_paused: bool
    firm_after_days: int
    urgent_after_days: int
    final_after_days: int
    holiday_additions: list[date]
    holiday_removals: list[date]
    holiday_names: dict[date, str]


class CustomerOverrideIn(Strict):
    """Send null to inherit the company's setting again."""

    consolidation: Consolidation | None = None
    max_consolidation_amount: Money | None = None
    preferred_contact_interval_days: Days | None = None
    channel: Channel | None = None
    language: ReminderLanguage | None = None
    opt_out: bool = False


class CustomerOverrideOut(Out):
    customer_id: uuid.UUID
    consolidation: Consolidation | None
    max_consolidation_amount: Decimal | None
    preferred_contact_interval_days: int | None
    channel: Channel | None
    language: ReminderLanguage | None
    opt_out: bool


# ----- reminders -----------------------------------------------------------------------
class PlannedReminderOut(BaseModel):
    customer_id: uuid.UUID
    customer_name: str
    invoice_ids: list[uuid.UUID]
    invoice_count: int
    total_amount: Decimal
    currency: str
    reminder_type: ReminderType
    escalation_level: EscalationLevel
    priority_score: int
    oldest_days_overdue: int
    scheduled_at: datetime
    language: ReminderLanguage


class RunOut(BaseModel):
    run_id: uuid.UUID | None
    dry_run: bool
    eligible_customers: int
    overdue_invoices: int
    reminders: int
    individual_reminders_replaced: int
    savings_pct: Decimal
    scheduled_at: datetime | None
    planned: list[PlannedReminderOut]


class ManualReminderIn(Strict):
    confirm: bool = Field(
        default=False, description="Required when the customer was contacted within the interval."
    )


class ReminderOut(Out):
    id: uuid.UUID
    customer_id: uuid.UUID
    run_id: uuid.UUID | None
    invoice_ids: list[uuid.UUID]
    invoice_count: int
    total_amount: Decimal
    currency: str
    reminder_type: ReminderType
    escalation_level: EscalationLevel
    priority_score: int
    oldest_days_overdue: int
    channel: Channel
    language: ReminderLanguage
    scheduled_at: datetime
    delivery_status: DeliveryStatus
    status_reason: str | None
    message_id: str | None
    sent_at: datetime | None
    opened_at: datetime | None
    clicked_at: datetime | None
    replied_at: datetime | None
    paid_after_reminder_at: datetime | None
    manual: bool
    created_at: datetime


class ReminderPage(BaseModel):
    items: list[ReminderOut]
    next_cursor: str | None


class ResponseIn(Strict):
    event: Literal["opened", "clicked", "replied"]


# ----- templates -----------------------------------------------------------------------
class TemplateIn(Strict):
    name: Label
    language: ReminderLanguage
    escalation_level: EscalationLevel
    supports_consolidation: bool = True
    max_invoice_count: Annotated[int, Field(gt=0, le=100)] = 10
    subject: Annotated[str, StringConstraints(min_length=1, max_length=300)]
    body_html: Annotated[str, StringConstraints(min_length=1, max_length=50_000)]


class TemplateOut(Out):
    id: uuid.UUID
    name: str
    language: ReminderLanguage
    escalation_level: EscalationLevel
    supports_consolidation: bool
    max_invoice_count: int
    subject: str
    body_html: str
    variables: list[str]


class RenderedOut(BaseModel):
    subject: str
    html: str
    text: str
    attachment: str | None


# ----- imports and analytics -------------------------------------------------------------
class ImportRowError(BaseModel):
    row: int
    field: str
    message: str


class ImportReport(BaseModel):
    imported: int
    failed: int
    errors: list[ImportRowError]


class LevelStats(BaseModel):
    escalation_level: EscalationLevel
    sent: int
    response_rate: Decimal
    paid_after_reminder_rate: Decimal


class ReminderAnalytics(BaseModel):
    date_from: date
    date_to: date
    emails_sent: int
    individual_reminders_replaced: int
    savings_pct: Decimal
    amount_recovered: Decimal
    average_days_to_pay: Decimal | None
    by_level: list[LevelStats]
