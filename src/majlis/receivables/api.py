"""Thin routes over the receivables services: invoices, payments, reminders, analytics."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Query, UploadFile, status

from majlis.core.errors import ValidationFailed
from majlis.core.http import Context
from majlis.core.pagination import DEFAULT_LIMIT, MAX_LIMIT
from majlis.core.permissions import Action, require
from majlis.receivables import analytics, ledger, planner, reminders, settings, templates
from majlis.receivables import timeline as _timeline  # noqa: F401 - registers timeline sources
from majlis.receivables.imports import ImportResult, import_invoices, import_payments
from majlis.receivables.models import DeliveryStatus, Invoice, InvoiceStatus, Payment
from majlis.receivables.schemas import (
    AllocationOut,
    BalanceOut,
    CustomerOverrideIn,
    CustomerOverrideOut,
    ImportReport,
    ImportRowError,
    InvoiceCreate,
    InvoiceDetail,
    InvoiceLineOut,
    InvoiceOut,
    InvoicePage,
    LevelStats,
    ManualReminderIn,
    PaymentCreate,
    PaymentOut,
    PlannedReminderOut,
    ReminderAnalytics,
    ReminderOut,
    ReminderPage,
    ReminderSettingsIn,
    ReminderSettingsOut,
    RenderedOut,
    ResponseIn,
    RiskBandOut,
    RiskExplanation,
    RunOut,
    TemplateIn,
    TemplateOut,
)

router = APIRouter(prefix="/api/v1", tags=["receivables"])
Limit = Annotated[int, Query(ge=1, le=MAX_LIMIT)]
MAX_UPLOAD_BYTES = 20 * 1024 * 1024


# ----- invoices ------------------------------------------------------------------------
def _invoice_detail(ctx: Context, invoice: Invoice) -> InvoiceDetail:
    lines = ledger.invoice_lines(ctx.session, ctx.actor, invoice.id)
    return InvoiceDetail(
        **InvoiceOut.model_validate(invoice).model_dump(),
        lines=[InvoiceLineOut.model_validate(line) for line in lines],
    )


@router.post("/invoices", response_model=InvoiceDetail, status_code=status.HTTP_201_CREATED)
def create_invoice(ctx: Context, body: InvoiceCreate) -> InvoiceDetail:
    invoice = ledger.create_invoice(ctx.session, ctx.actor, body)
    ctx.session.refresh(invoice)
    return _invoice_detail(ctx, invoice)


@router.get("/invoices", response_model=InvoicePage)
def list_invoices(
    ctx: Context,
    customer_id: uuid.UUID | None = None,
    status: InvoiceStatus | None = None,
    cursor: str | None = None,
    limit: Limit = DEFAULT_LIMIT,
) -> InvoicePage:
    page = ledger.list_invoices(
        ctx.session, ctx.actor, customer_id=customer_id, status=status, cursor=cursor, limit=limit
    )
    return InvoicePage(
        items=[InvoiceOut.model_validate(i) for i in page.items], next_cursor=page.next_cursor
    )


@router.get("/invoices/{invoice_id}", response_model=InvoiceDetail)
def get_invoice(ctx: Context, invoice_id: uuid.UUID) -> InvoiceDetail:
    return _invoice_detail(ctx, ledger.get_invoice(ctx.session, ctx.actor, invoice_id))


@router.post("/invoices/{invoice_id}/void", response_model=InvoiceOut)
def void_invoice(ctx: Context, invoice_id: uuid.UUID) -> InvoiceOut:
    return InvoiceOut.model_validate(ledger.void_invoice(ctx.session, ctx.actor, invoice_id))


# ----- payments, balance, credit, risk -----------------------------------------------------
def _payment_out(ctx: Context, payment: Payment) -> PaymentOut:
    allocations = ledger.payment_allocations(ctx.session, ctx.actor, payment.id)
    return PaymentOut(
        id=payment.id,
        customer_id=payment.customer_id,
        amount=payment.amount,
        allocated_amount=payment.allocated_amount,
        credit=payment.amount - payment.allocated_amount,
        currency=payment.currency,
        received_on=payment.received_on,
        reference=payment.reference,
        allocations=[AllocationOut.model_validate(a) for a in allocations],
    )


@router.post("/payments", response_model=PaymentOut, status_code=status.HTTP_201_CREATED)
def record_payment(ctx: Context, body: PaymentCreate) -> PaymentOut:
    return _payment_out(ctx, ledger.record_payment(ctx.session, ctx.actor, body))


@router.get("/payments/{payment_id}", response_model=PaymentOut)
def get_payment(ctx: Context, payment_id: uuid.UUID) -> PaymentOut:
    return _payment_out(ctx, ledger.get_payment(ctx.session, ctx.actor, payment_id))


def _balance(ctx: Context, customer_id: uuid.UUID) -> BalanceOut:
    customer = ledger.live_customer(ctx.session, ctx.actor, customer_id)
    ctx.session.refresh(customer)
    return BalanceOut(
        customer_id=customer.id,
        outstanding_balance=customer.outstanding_balance,
        credit=ledger.customer_credit(ctx.session, ctx.actor, customer.id),
        currency=customer.currency,
    )


@router.get("/customers/{customer_id}/balance", response_model=BalanceOut)
def customer_balance(ctx: Context, customer_id: uuid.UUID) -> BalanceOut:
    require(ctx.actor, ledger.RECEIVABLES, Action.VIEW)
    return _balance(ctx, customer_id)


@router.post("/customers/{customer_id}/apply-credit", response_model=BalanceOut)
def apply_credit(ctx: Context, customer_id: uuid.UUID) -> BalanceOut:
    ledger.apply_credit(ctx.session, ctx.actor, customer_id)
    return _balance(ctx, customer_id)


@router.get("/customers/{customer_id}/risk", response_model=RiskExplanation)
def explain_risk(ctx: Context, customer_id: uuid.UUID) -> RiskExplanation:
    inputs = ledger.explain_risk(ctx.session, ctx.actor, customer_id)
    return RiskExplanation(
        customer_id=inputs.customer_id,
        risk_score=inputs.risk_score,
        paid_invoice_count=inputs.paid_invoice_count,
        average_days_paid_after_due=inputs.average_days_paid_after_due,
        rule="average days paid after the due date over paid invoices, mapped by the bands",
        bands=[RiskBandOut(up_to_days=d, score=s) for d, s in ledger.RISK_BANDS]
        + [RiskBandOut(up_to_days=None, score=ledger.RISK_ABOVE_BANDS)],
        no_history_score=ledger.RISK_NO_HISTORY,
    )


# ----- settings ------------------------------------------------------------------------
@router.get("/reminder-settings", response_model=ReminderSettingsOut)
def get_settings(ctx: Context) -> ReminderSettingsOut:
    require(ctx.actor, ledger.RECEIVABLES, Action.VIEW)
    return ReminderSettingsOut.model_validate(settings.company_settings(ctx.session, ctx.actor))


@router.patch("/reminder-settings", response_model=ReminderSettingsOut)
def update_settings(ctx: Context, body: ReminderSettingsIn) -> ReminderSettingsOut:
    row = settings.update_company_settings(ctx.session, ctx.actor, body)
    return ReminderSettingsOut.model_validate(row)


@router.get("/customers/{customer_id}/reminder-settings", response_model=CustomerOverrideOut)
def get_override(ctx: Context, customer_id: uuid.UUID) -> CustomerOverrideOut:
    row = settings.customer_override(ctx.session, ctx.actor, customer_id)
    return CustomerOverrideOut.model_validate(row)


@router.put("/customers/{customer_id}/reminder-settings", response_model=CustomerOverrideOut)
def set_override(
    ctx: Context, customer_id: uuid.UUID, body: CustomerOverrideIn
) -> CustomerOverrideOut:
    row = settings.set_customer_override(ctx.session, ctx.actor, customer_id, body)
    return CustomerOverrideOut.model_validate(row)


# ----- reminders -----------------------------------------------------------------------
def _run_out(result: planner.RunResult) -> RunOut:
    return RunOut(
        run_id=result.run_id,
        dry_run=result.dry_run,
        eligible_customers=result.eligible_customers,
        overdue_invoices=result.overdue_invoices,
        reminders=len(result.planned),
        individual_reminders_replaced=result.overdue_invoices,
        savings_pct=result.savings_pct,
        scheduled_at=result.scheduled_at,
        planned=[
            PlannedReminderOut(
                customer_id=p.customer_id,
                customer_name=p.customer_name,
                invoice_ids=p.invoice_ids,
                invoice_count=p.invoice_count,
                total_amount=p.total_amount,
                currency=p.currency,
                reminder_type=p.reminder_type,
                escalation_level=p.escalation_level,
                priority_score=p.priority_score,
                oldest_days_overdue=p.oldest_days_overdue,
                scheduled_at=p.scheduled_at,
                language=p.language,
            )
            for p in result.planned
        ],
    )


@router.post("/reminders/preview", response_model=RunOut, summary="Plan a run without saving it")
def preview_run(ctx: Context) -> RunOut:
    return _run_out(planner.run_reminders(ctx.session, ctx.actor, dry_run=True))


@router.post("/reminders/run", response_model=RunOut)
def run_reminders(ctx: Context) -> RunOut:
    return _run_out(planner.run_reminders(ctx.session, ctx.actor))


@router.post(
    "/customers/{customer_id}/reminders",
    response_model=ReminderOut,
    status_code=status.HTTP_201_CREATED,
    responses={409: {"description": "opted out, nothing overdue, or needs confirmation"}},
)
def manual_reminder(
    ctx: Context, customer_id: uuid.UUID, body: ManualReminderIn | None = None
) -> ReminderOut:
    confirm = body.confirm if body else False
    reminder = planner.trigger_manual_reminder(ctx.session, ctx.actor, customer_id, confirm=confirm)
    return ReminderOut.model_validate(reminder)


@router.get("/reminders", response_model=ReminderPage)
def list_reminders(
    ctx: Context,
    customer_id: uuid.UUID | None = None,
    status: DeliveryStatus | None = None,
    cursor: str | None = None,
    limit: Limit = DEFAULT_LIMIT,
) -> ReminderPage:
    page = reminders.list_reminders(
        ctx.session, ctx.actor, customer_id=customer_id, status=status, cursor=cursor, limit=limit
    )
    return ReminderPage(
        items=[ReminderOut.model_validate(r) for r in page.items], next_cursor=page.next_cursor
    )


@router.get("/reminders/{reminder_id}", response_model=ReminderOut)
def get_reminder(ctx: Context, reminder_id: uuid.UUID) -> ReminderOut:
    return ReminderOut.model_validate(reminders.get_reminder(ctx.session, ctx.actor, reminder_id))


@router.post("/reminders/{reminder_id}/responses", response_model=ReminderOut)
def record_response(ctx: Context, reminder_id: uuid.UUID, body: ResponseIn) -> ReminderOut:
    reminder = reminders.record_response(ctx.session, ctx.actor, reminder_id, body.event)
    return ReminderOut.model_validate(reminder)


# ----- templates -----------------------------------------------------------------------
@router.get("/reminder-templates", response_model=list[TemplateOut])
def list_templates(ctx: Context) -> list[TemplateOut]:
    return [TemplateOut.model_validate(t) for t in templates.list_templates(ctx.session, ctx.actor)]


@router.post("/reminder-templates", response_model=TemplateOut, status_code=status.HTTP_201_CREATED)
def create_template(ctx: Context, body: TemplateIn) -> TemplateOut:
    return TemplateOut.model_validate(templates.save_template(ctx.session, ctx.actor, body))


@router.get("/reminder-templates/{template_id}", response_model=TemplateOut)
def get_template(ctx: Context, template_id: uuid.UUID) -> TemplateOut:
    template = templates.get_template(ctx.session, ctx.actor, template_id)
    return TemplateOut.model_validate(template)


@router.put("/reminder-templates/{template_id}", response_model=TemplateOut)
def replace_template(ctx: Context, template_id: uuid.UUID, body: TemplateIn) -> TemplateOut:
    template = templates.save_template(ctx.session, ctx.actor, body, template_id)
    return TemplateOut.model_validate(template)


@router.post("/reminder-templates/{template_id}/preview", response_model=RenderedOut)
def preview_template(ctx: Context, template_id: uuid.UUID) -> RenderedOut:
    template = templates.get_template(ctx.session, ctx.actor, template_id)
    rendered = templates.render_sample(template)
    return RenderedOut(
        subject=rendered.subject,
        html=rendered.html,
        text=rendered.text,
        attachment=rendered.statement_csv,
    )


# ----- imports and analytics -------------------------------------------------------------
def _report(result: ImportResult) -> ImportReport:
    return ImportReport(
        imported=result.imported,
        failed=result.failed,
        errors=[
            ImportRowError(row=row, field=error.field, message=error.message)
            for row, error in result.errors
        ],
    )


@router.post("/receivables/imports/invoices", response_model=ImportReport)
def upload_invoices(ctx: Context, file: UploadFile) -> ImportReport:
    content = _read_upload(file)
    return _report(import_invoices(ctx.session, ctx.actor, content))


@router.post("/receivables/imports/payments", response_model=ImportReport)
def upload_payments(ctx: Context, file: UploadFile) -> ImportReport:
    content = _read_upload(file)
    return _report(import_payments(ctx.session, ctx.actor, content))


def _read_upload(file: UploadFile) -> str:
    content = file.file.read(MAX_UPLOAD_BYTES + 1)
    if len(content) > MAX_UPLOAD_BYTES:
        raise ValidationFailed.single("file", "is larger than 20 MB")
    try:
        return content.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ValidationFailed.single("file", "must be UTF-8 CSV") from exc


@router.get("/analytics/reminders", response_model=ReminderAnalytics)
def reminder_analytics(
    ctx: Context, date_from: date | None = None, date_to: date | None = None
) -> ReminderAnalytics:
    """Emails sent vs the individual reminders they replaced, rates by level, money back.

    Defaults to the last 90 days.
    """
    end = date_to or datetime.now(UTC).date()
    start = date_from or end - timedelta(days=90)
    figures = analytics.reminder_analytics(ctx.session, ctx.actor, start, end)
    return ReminderAnalytics(
        date_from=figures.date_from,
        date_to=figures.date_to,
        emails_sent=figures.emails_sent,
        individual_reminders_replaced=figures.individual_reminders_replaced,
        savings_pct=figures.savings_pct,
        amount_recovered=figures.amount_recovered,
        average_days_to_pay=figures.average_days_to_pay,
        by_level=[
            LevelStats(
                escalation_level=level.escalation_level,
                sent=level.sent,
                response_rate=level.response_rate,
                paid_after_reminder_rate=level.paid_after_reminder_rate,
            )
            for level in figures.by_level
        ],
    )
