"""Demo receivables: overdue invoices for a few demo customers, then a real reminder run.

Several customers owe several invoices each, so the run shows what consolidation
saves (one email per customer instead of one per invoice). Idempotent: the
invoices carry a DEMO- number and are created once.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from majlis.core.permissions import Actor
from majlis.customers.models import Customer
from majlis.receivables.cli import summary_lines
from majlis.receivables.ledger import create_invoice, record_payment
from majlis.receivables.models import Invoice
from majlis.receivables.planner import run_reminders
from majlis.receivables.schemas import AllocationIn, InvoiceCreate, PaymentCreate

# (days overdue, amount) per invoice, per demo customer; the last customer pays late once.
OVERDUE_BOOK: tuple[tuple[tuple[int, str], ...], ...] = (
    ((4, "1250.00"), (18, "3400.00"), (35, "980.00")),
    ((9, "560.00"), (22, "1875.50")),
    ((65, "12500.00"), (40, "2200.00"), (12, "450.00"), (6, "300.00")),
    ((3, "799.00"),),
    ((15, "2100.00"), (2, "640.00")),
)


def _demo_customers(session: Session, actor: Actor) -> list[Customer]:
    return list(
        session.scalars(
            select(Customer)
            .where(
                Customer.company_id == actor.company_id,
                Customer.deleted_at.is_(None),
                Customer.email.is_not(None),
            )
            .order_by(Customer.created_at, Customer.id)
            .limit(len(OVERDUE_BOOK))
        )
    )


def _already_loaded(session: Session, actor: Actor) -> bool:
    return (
        session.scalar(
            select(Invoice.id)
            .where(Invoice.company_id == actor.company_id, Invoice.number.like("DEMO-%"))
            .limit(1)
        )
        is not None
    )


def _invoice(
    session: Session, actor: Actor, customer: Customer, number: str, days: int, amount: str
) -> Invoice:
    due = datetime.now(UTC).date() - timedelta(days=days)
    return create_invoice(
        session,
        actor,
        InvoiceCreate(
            customer_id=customer.id,
            number=number,
            issue_date=due - timedelta(days=30),
            due_date=due,
            amount=Decimal(amount),
        ),
    )


def _load_invoices(session: Session, actor: Actor, customers: list[Customer]) -> int:
    created = 0
    for index, (customer, book) in enumerate(zip(customers, OVERDUE_BOOK, strict=False)):
        for position, (days, amount) in enumerate(book, start=1):
            _invoice(session, actor, customer, f"DEMO-{index + 1:02d}-{position}", days, amount)
            created += 1
    # A paid history (20 days late) gives the last customer a risk score to explain.
    payer = customers[-1]
    paid = _invoice(session, actor, payer, "DEMO-PAID-1", 80, "500.00")
    record_payment(
        session,
        actor,
        PaymentCreate(
            customer_id=payer.id,
            amount=Decimal("500.00"),
            received_on=paid.due_date + timedelta(days=20),
            allocations=[AllocationIn(invoice_id=paid.id, amount=Decimal("500.00"))],
        ),
    )
    return created


def load_demo_data(session: Session, actor: Actor) -> list[str]:
    """Overdue invoices for the demo company, then a reminder run; returns lines to print."""
    customers = _demo_customers(session, actor)
    if not customers:
        return ["receivables: no demo customers with an email; skipped"]
    if _already_loaded(session, actor):
        lines = ["receivables: demo invoices already loaded"]
    else:
        created = _load_invoices(session, actor, customers)
        lines = [f"receivables: {created} overdue invoices for {len(customers)} customers"]
    result = run_reminders(session, actor)
    lines += [f"reminder run: {line}" for line in summary_lines(result)]
    lines.append("run 'majlis worker' to send them over SMTP (MAJLIS_SMTP_HOST/PORT)")
    return lines
