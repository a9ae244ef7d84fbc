"""Receivables pages: overdue invoices, the reminder queue, sent reminders, the customer tab.

Every page calls the receivables services (`ledger`, `planner`, `templates`,
`reminders`, `analytics`) inside `signed_in(...)`, so the `RECEIVABLES` matrix,
tenancy and audit are exactly those of the JSON API. The queue is the reminders
planned and not yet sent (a run every hour plans them, `reminders.waiting_reminders`
lists them); "Run now" is `planner.run_reminders`, the service behind
`POST /api/v1/reminders/run`. Each waiting reminder's email can be previewed in
either language before it goes.

A reminder email is company-written HTML: it is rendered by the template
service's sandbox and shown in a sandboxed iframe, served by its own route
with a policy that allows its inline styles and nothing else — no scripts, no
network, no forms — and only inside our own pages.
"""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import HTMLResponse
from sqlalchemy import Row, select, tuple_
from sqlalchemy.orm import Session

from majlis.core.pagination import decode_cursor, encode_cursor
from majlis.core.permissions import Action, can, require
from majlis.customers import service as customers
from majlis.customers.models import Customer
from majlis.receivables import analytics, ledger, planner, reminders
from majlis.receivables.models import (
    OPEN_STATUSES,
    ConsolidatedReminder,
    DeliveryStatus,
    EscalationLevel,
    Invoice,
    InvoiceStatus,
    ReminderLanguage,
)
from majlis.receivables.templates import InvoiceLineItem, render_reminder, template_for
from majlis.web.customer_pages import CUSTOMER_TABS, CustomerTab, permissions
from majlis.web.dashboard_pages import capped_count
from majlis.web.forms import VerifiedForm
from majlis.web.locale import N_
from majlis.web.rendering import Page, PageRoute, redirect, signed_in

router = APIRouter(route_class=PageRoute, include_in_schema=False)
# The issue's order: Profile, Contacts and projects, Conversations, Invoices and reminders,
# Journey and tasks, Loyalty, Activity.
CUSTOMER_TABS.insert(
    next(i for i, tab in enumerate(CUSTOMER_TABS) if tab.slug == "journey"),
    CustomerTab("receivables", N_("Invoices and reminders"), "/receivables"),
)

PAGE_SIZE = 25
CUSTOMER_REMINDERS_SHOWN = 10
ANALYTICS_DAYS = 90
# The email may style itself inline; it may not run code, load anything, submit
# anything, or be framed by anyone but our own pages.
EMAIL_PREVIEW_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'unsafe-inline'; img-src data:; form-action 'none'; "
        "base-uri 'none'; frame-ancestors 'self'; sandbox"
    ),
    "X-Frame-Options": "SAMEORIGIN",
}
SECTIONS = (
    ("overdue", N_("Overdue invoices"), "/receivables"),
    ("queue", N_("Reminder queue"), "/receivables/queue"),
    ("sent", N_("Sent reminders"), "/receivables/sent"),
)
LEVEL_LABELS = {
    EscalationLevel.POLITE: N_("Polite"),
    EscalationLevel.FIRM: N_("Firm"),
    EscalationLevel.URGENT: N_("Urgent"),
    EscalationLevel.FINAL: N_("Final"),
}
STATUS_LABELS = {
    DeliveryStatus.SCHEDULED: N_("Scheduled"),
    DeliveryStatus.SENDING: N_("Sending"),
    DeliveryStatus.SENT: N_("Sent"),
    DeliveryStatus.DELIVERED: N_("Delivered"),
    DeliveryStatus.FAILED: N_("Failed"),
    DeliveryStatus.UNCONFIRMED: N_("Unconfirmed"),
    DeliveryStatus.SKIPPED: N_("Skipped"),
    DeliveryStatus.CANCELLED: N_("Cancelled"),
}
INVOICE_STATUS_LABELS = {
    InvoiceStatus.DRAFT: N_("Draft"),
    InvoiceStatus.OPEN: N_("Open"),
    InvoiceStatus.PARTIALLY_PAID: N_("Partially paid"),
    InvoiceStatus.PAID: N_("Paid"),
    InvoiceStatus.VOID: N_("Void"),
}
LANGUAGE_LABELS = {ReminderLanguage.EN: N_("English"), ReminderLanguage.AR: N_("Arabic")}


def _render(page: Page, template: str, section: str, **values: Any) -> Response:
    return page.render(
        template,
        sections=SECTIONS,
        section=section,
        level_labels=LEVEL_LABELS,
        status_labels=STATUS_LABELS,
        invoice_status_labels=INVOICE_STATUS_LABELS,
        language_labels=LANGUAGE_LABELS,
        **values,
    )


def _names(db: Session, page: Page, customer_ids: set[uuid.UUID]) -> dict[uuid.UUID, str]:
    """The names of the customers a page lists, in one query."""
    rows = db.execute(
        select(Customer.id, Customer.name).where(
            Customer.company_id == page.actor.company_id, Customer.id.in_(customer_ids)
        )
    )
    return dict(rows.tuples().all())


# ----- overdue invoices --------------------------------------------------------------------
def _company_today(page: Page) -> date:
    return datetime.now(UTC).astimezone(page.fmt.zone).date()


def overdue_invoices(
    page: Page, today: date, cursor: str | None
) -> tuple[list[Row[tuple[Invoice, str]]], str | None]:
    """Open invoices past due, oldest due first, keyset-paged on (due date, id)."""
    require(page.actor, ledger.RECEIVABLES, Action.VIEW)
    query = (
        select(Invoice, Customer.name)
        .join(
            Customer,
            (Customer.company_id == Invoice.company_id) & (Customer.id == Invoice.customer_id),
        )
        .where(
            Invoice.company_id == page.actor.company_id,
            Invoice.status.in_(OPEN_STATUSES),
            Invoice.due_date < today,
            Customer.deleted_at.is_(None),
        )
    )
    if cursor:
        due, last_id = decode_cursor(cursor, 2)
        query = query.where(
            tuple_(Invoice.due_date, Invoice.id)
            > (date.fromisoformat(str(due)), uuid.UUID(str(last_id)))
        )
    rows = list(
        page.db.execute(query.order_by(Invoice.due_date, Invoice.id).limit(PAGE_SIZE + 1)).all()
    )
    next_cursor = None
    if len(rows) > PAGE_SIZE:
        last = rows[PAGE_SIZE - 1][0]
        next_cursor = encode_cursor([last.due_date.isoformat(), str(last.id)])
    return rows[:PAGE_SIZE], next_cursor


@router.get("/receivables")
def overdue(request: Request, cursor: str | None = None) -> Response:
    with signed_in(request) as page:
        today = _company_today(page)
        rows, next_cursor = overdue_invoices(page, today, cursor)
        return _render(
            page,
            "receivables/overdue.html",
            "overdue",
            rows=rows,
            today=today,
            next_cursor=next_cursor,
            first_page=cursor is None,
        )


# ----- the reminder queue ------------------------------------------------------------------
@router.get("/receivables/queue")
def queue(request: Request, cursor: str | None = None) -> Response:
    """Reminders planned and waiting to be sent, highest priority first, a page at a time."""
    with signed_in(request) as page:
        waiting = reminders.waiting_reminders(page.db, page.actor, cursor=cursor, limit=PAGE_SIZE)
        return _render(
            page,
            "receivables/queue.html",
            "queue",
            waiting=waiting,
            waiting_count=capped_count(page, waiting.waiting, reminders.QUEUE_COUNT_CAP),
            names=_names(page.db, page, {r.customer_id for r in waiting.items}),
            first_page=cursor is None,
            can_run=can(page.actor, ledger.RECEIVABLES, Action.CREATE),
        )


@router.post("/receivables/queue/run")
def run_now(request: Request, form: VerifiedForm) -> Response:
    """The same service as `POST /api/v1/reminders/run`: plan every customer due now, then
    show the queue."""
    with signed_in(request) as page:
        planner.run_reminders(page.db, page.actor)
        page.web.update(flash=N_("The reminder run was scheduled."))
        return redirect(request, "/receivables/queue")


def _preview_language(lang: str | None, reminder: ConsolidatedReminder) -> ReminderLanguage:
    """The language asked for, else the one the reminder will be sent in."""
    if lang in {language.value for language in ReminderLanguage}:
        return ReminderLanguage(lang)
    return reminder.language


@router.get("/receivables/reminders/{reminder_id}")
def preview(request: Request, reminder_id: uuid.UUID, lang: str | None = None) -> Response:
    """The reminder's email, shown in a sandboxed frame, in English or Arabic."""
    with signed_in(request) as page:
        reminder = reminders.get_reminder(page.db, page.actor, reminder_id)
        return _render(
            page,
            "receivables/preview.html",
            "queue",
            reminder=reminder,
            customer=customers.get_customer(page.db, page.actor, reminder.customer_id),
            language=_preview_language(lang, reminder),
        )


def _line_items(page: Page, reminder: ConsolidatedReminder) -> list[InvoiceLineItem]:
    today = _company_today(page)
    invoices = page.db.scalars(
        select(Invoice)
        .where(Invoice.company_id == page.actor.company_id, Invoice.id.in_(reminder.invoice_ids))
        .order_by(Invoice.due_date, Invoice.id)
    )
    return [
        InvoiceLineItem(
            number=invoice.number,
            issue_date=invoice.issue_date,
            due_date=invoice.due_date,
            amount=invoice.amount,
            balance=invoice.balance,
            days_overdue=max(0, (today - invoice.due_date).days),
        )
        for invoice in invoices
    ]


@router.get("/receivables/reminders/{reminder_id}/email")
def email_html(request: Request, reminder_id: uuid.UUID, lang: str | None = None) -> Response:
    """The reminder's email as the template service renders it now, for a sandboxed iframe."""
    with signed_in(request) as page:
        reminder = reminders.get_reminder(page.db, page.actor, reminder_id)
        customer = customers.get_customer(page.db, page.actor, reminder.customer_id)
        language = _preview_language(lang, reminder)
        items = _line_items(page, reminder)
        arabic = language is ReminderLanguage.AR
        company = page.company
        rendered = render_reminder(
            template_for(page.db, page.actor, language, reminder.escalation_level, len(items)),
            customer_name=customer.name_ar if arabic and customer.name_ar else customer.name,
            company_name=company.name_ar if arabic and company.name_ar else company.name,
            invoices=items,
            currency=reminder.currency,
            level=reminder.escalation_level,
        )
        return HTMLResponse(rendered.html, headers=EMAIL_PREVIEW_HEADERS)


# ----- sent reminders ----------------------------------------------------------------------
@router.get("/receivables/sent")
def sent(request: Request, cursor: str | None = None) -> Response:
    """Reminders newest first with their outcomes, and what consolidation saved lately."""
    with signed_in(request) as page:
        listing = reminders.list_reminders(page.db, page.actor, cursor=cursor, limit=PAGE_SIZE)
        end = _company_today(page)
        # Added up by the analytics refresh: counting 90 days of reminders live grows with
        # the company (58 ms at a million customers against 2 ms).
        figures = analytics.summarised_reminder_analytics(
            page.db, page.actor, end - timedelta(days=ANALYTICS_DAYS), end
        )
        return _render(
            page,
            "receivables/sent.html",
            "sent",
            reminders=listing.items,
            next_cursor=listing.next_cursor,
            first_page=cursor is None,
            names=_names(page.db, page, {r.customer_id for r in listing.items}),
            figures=figures,
            analytics_days=ANALYTICS_DAYS,
        )


# ----- the customer tab --------------------------------------------------------------------
@router.get("/customers/{customer_id}/receivables")
def customer_receivables(
    request: Request, customer_id: uuid.UUID, cursor: str | None = None
) -> Response:
    """The customer's invoices, balance, credit, risk score with its inputs, and reminders."""
    with signed_in(request) as page:
        customer = customers.get_customer(page.db, page.actor, customer_id)
        risk = ledger.explain_risk(page.db, page.actor, customer.id)
        invoices = ledger.list_invoices(
            page.db, page.actor, customer_id=customer.id, cursor=cursor, limit=PAGE_SIZE
        )
        recent = reminders.list_reminders(
            page.db, page.actor, customer_id=customer.id, limit=CUSTOMER_REMINDERS_SHOWN
        )
        return page.render(
            "receivables/customer.html",
            customer=customer,
            tabs=CUSTOMER_TABS,
            tab="receivables",
            risk=risk,
            risk_bands=ledger.RISK_BANDS,
            risk_above=ledger.RISK_ABOVE_BANDS,
            risk_no_history=ledger.RISK_NO_HISTORY,
            credit=ledger.customer_credit(page.db, page.actor, customer.id),
            invoices=invoices.items,
            next_cursor=invoices.next_cursor,
            first_page=cursor is None,
            reminders=recent.items,
            today=_company_today(page),
            level_labels=LEVEL_LABELS,
            status_labels=STATUS_LABELS,
            invoice_status_labels=INVOICE_STATUS_LABELS,
            **permissions(page),
        )
