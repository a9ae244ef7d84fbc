"""Invoices, payments, allocations, credit and the risk score.

Money totals are the database's job: triggers (migration 0005) derive each
invoice's `amount_paid`/`status` from its allocations and each customer's
`outstanding_balance` from its open invoices. This module only writes facts —
invoices, payments, allocations — and never a total.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import Select, func, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from majlis.core import audit, outbox
from majlis.core.errors import Conflict, FieldError, NotFound, ValidationFailed
from majlis.core.ids import new_id
from majlis.core.pagination import DEFAULT_LIMIT, Page, decode_cursor, encode_cursor
from majlis.core.permissions import ALL, NONE, Action, Actor, Matrix, Role, _row, require
from majlis.customers.models import Customer
from majlis.receivables.models import (
    OPEN_STATUSES,
    Invoice,
    InvoiceLine,
    InvoiceStatus,
    Payment,
    PaymentAllocation,
)
from majlis.receivables.schemas import AllocationIn, InvoiceCreate, PaymentCreate

RECEIVABLES: Matrix = {
    Role.OWNER: _row(create=ALL, view=ALL, edit=ALL, export=ALL, administer=ALL),
    Role.MANAGER: _row(create=ALL, view=ALL, edit=ALL, export=ALL, administer=ALL),
    Role.SALES: _row(create=ALL, view=ALL, edit=NONE, export=NONE, administer=NONE),
    Role.ANALYST: _row(create=NONE, view=ALL, edit=NONE, export=ALL, administer=NONE),
}
CENT = Decimal("0.01")


# ----- customers -----------------------------------------------------------------------
def billable_customer(
    session: Session, actor: Actor, customer_id: uuid.UUID, field: str = "customer_id"
) -> Customer:
    """A live customer of the actor's company, or a field error naming `field`."""
    customer = session.get(Customer, (actor.company_id, customer_id))
    if customer is None or customer.deleted_at is not None:
        raise ValidationFailed.single(field, f"no customer {customer_id} in this company")
    return customer


def live_customer(session: Session, actor: Actor, customer_id: uuid.UUID) -> Customer:
    """A live customer named in a URL; 404 otherwise (including another company's)."""
    customer = session.get(Customer, (actor.company_id, customer_id))
    if customer is None or customer.deleted_at is not None:
        raise NotFound("customer", customer_id)
    return customer


def _currency_for(customer: Customer, requested: str | None) -> str:
    currency = requested or customer.currency
    if currency != customer.currency:
        # One balance per customer, in one currency: mixing would make it meaningless.
        raise ValidationFailed.single(
            "currency", f"customer {customer.name} is billed in {customer.currency}"
        )
    return currency


# ----- invoices ------------------------------------------------------------------------
def invoice_snapshot(invoice: Invoice) -> dict[str, object]:
    return {
        "number": invoice.number,
        "customer_id": str(invoice.customer_id),
        "amount": str(invoice.amount),
        "currency": invoice.currency,
        "due_date": invoice.due_date.isoformat(),
        "status": str(invoice.status),
    }


def _invoice_amount(draft: InvoiceCreate) -> Decimal:
    lines_total = sum(
        ((line.quantity * line.unit_price).quantize(CENT) for line in draft.lines), Decimal(0)
    )
    if draft.amount is None:
        if lines_total <= 0:
            raise ValidationFailed.single("lines", "the lines add up to nothing")
        return lines_total
    if draft.lines and lines_total != draft.amount:
        raise ValidationFailed.single(
            "amount", f"is {draft.amount} but the lines add up to {lines_total}"
        )
    return draft.amount


def _ensure_number_free(session: Session, actor: Actor, number: str) -> None:
    existing = session.scalar(
        select(Invoice.id).where(Invoice.company_id == actor.company_id, Invoice.number == number)
    )
    if existing is not None:
        raise Conflict(
            f"invoice number {number} is already used", field="number", existing_id=str(existing)
        )


def create_invoice(session: Session, actor: Actor, draft: InvoiceCreate) -> Invoice:
    """Issue an invoice (optionally with lines); the customer's balance follows by trigger."""
    require(actor, RECEIVABLES, Action.CREATE)
    customer = billable_customer(session, actor, draft.customer_id)
    currency = _currency_for(customer, draft.currency)
    amount = _invoice_amount(draft)
    _ensure_number_free(session, actor, draft.number)
    invoice = Invoice(
        company_id=actor.company_id,
        id=new_id(),
        customer_id=customer.id,
        number=draft.number,
        issue_date=draft.issue_date,
        due_date=draft.due_date,
        amount=amount,
        currency=currency,
        status=InvoiceStatus(draft.status),
        notes=draft.notes,
        created_by=actor.user_id,
    )
    savepoint = session.begin_nested()
    try:
        session.add(invoice)
        session.flush()
    except IntegrityError as exc:
        savepoint.rollback()
        raise Conflict(f"invoice number {draft.number} is already used", field="number") from exc
    savepoint.commit()
    session.add_all(
        InvoiceLine(
            company_id=actor.company_id,
            id=new_id(),
            invoice_id=invoice.id,
            position=position,
            description=line.description,
            quantity=line.quantity,
            unit_price=line.unit_price,
        )
        for position, line in enumerate(draft.lines, start=1)
    )
    session.flush()
    audit.record(
        session, actor, "invoice.created", "invoice", invoice.id, after=invoice_snapshot(invoice)
    )
    return invoice


def get_invoice(session: Session, actor: Actor, invoice_id: uuid.UUID) -> Invoice:
    require(actor, RECEIVABLES, Action.VIEW)
    invoice = session.get(Invoice, (actor.company_id, invoice_id))
    if invoice is None:
        raise NotFound("invoice", invoice_id)
    return invoice


def invoice_lines(session: Session, actor: Actor, invoice_id: uuid.UUID) -> list[InvoiceLine]:
    return list(
        session.scalars(
            select(InvoiceLine)
            .where(InvoiceLine.company_id == actor.company_id, InvoiceLine.invoice_id == invoice_id)
            .order_by(InvoiceLine.position)
        )
    )


def list_invoices(
    session: Session,
    actor: Actor,
    *,
    customer_id: uuid.UUID | None = None,
    status: InvoiceStatus | None = None,
    cursor: str | None = None,
    limit: int = DEFAULT_LIMIT,
) -> Page[Invoice]:
    """Invoices newest first, keyset-paginated on id (UUIDv7 ids sort by creation)."""
    require(actor, RECEIVABLES, Action.VIEW)
    query: Select[tuple[Invoice]] = select(Invoice).where(Invoice.company_id == actor.company_id)
    if customer_id is not None:
        query = query.where(Invoice.customer_id == customer_id)
    if status is not None:
        query = query.where(Invoice.status == status)
    if cursor:
        (last_id,) = decode_cursor(cursor, 1)
        query = query.where(Invoice.id < uuid.UUID(str(last_id)))
    rows = list(session.scalars(query.order_by(Invoice.id.desc()).limit(limit + 1)))
    next_cursor = encode_cursor([str(rows[limit - 1].id)]) if len(rows) > limit else None
    return Page(rows[:limit], next_cursor)


def void_invoice(session: Session, actor: Actor, invoice_id: uuid.UUID) -> Invoice:
    """Cancel an invoice that nothing has been paid against; it leaves the balance."""
    require(actor, RECEIVABLES, Action.EDIT)
    invoice = get_invoice(session, actor, invoice_id)
    if invoice.status is InvoiceStatus.VOID:
        return invoice
    if invoice.amount_paid > 0:
        raise Conflict(f"invoice {invoice.number} has payments allocated; it cannot be voided")
    before = invoice_snapshot(invoice)
    invoice.status = InvoiceStatus.VOID
    session.flush()
    audit.record(
        session,
        actor,
        "invoice.voided",
        "invoice",
        invoice.id,
        before=before,
        after=invoice_snapshot(invoice),
    )
    return invoice


# ----- payments and allocations ----------------------------------------------------------
@dataclass(frozen=True)
class Allocation:
    invoice_id: uuid.UUID
    amount: Decimal


def _open_invoices(
    session: Session, actor: Actor, customer_id: uuid.UUID, ids: Sequence[uuid.UUID] | None = None
) -> list[Invoice]:
    """The customer's open invoices, oldest due first, locked against concurrent payments."""
    query = select(Invoice).where(
        Invoice.company_id == actor.company_id,
        Invoice.customer_id == customer_id,
        Invoice.status.in_(OPEN_STATUSES),
    )
    if ids is not None:
        query = query.where(Invoice.id.in_(ids))
    return list(
        session.scalars(
            query.order_by(Invoice.due_date, Invoice.id)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
    )


def oldest_first(invoices: Sequence[Invoice], available: Decimal) -> list[Allocation]:
    """Spread `available` over invoices in order, each up to its balance."""
    allocations = []
    for invoice in invoices:
        if available <= 0:
            break
        amount = min(available, invoice.balance)
        if amount > 0:
            allocations.append(Allocation(invoice.id, amount))
            available -= amount
    return allocations


def _explicit(
    session: Session, actor: Actor, customer_id: uuid.UUID, requested: list[AllocationIn]
) -> list[Allocation]:
    invoices = {
        invoice.id: invoice
        for invoice in _open_invoices(
            session, actor, customer_id, [a.invoice_id for a in requested]
        )
    }
    errors = []
    for index, item in enumerate(requested):
        invoice = invoices.get(item.invoice_id)
        if invoice is None:
            errors.append(
                FieldError(
                    f"allocations.{index}.invoice_id", "not an open invoice of this customer"
                )
            )
        elif item.amount > invoice.balance:
            errors.append(
                FieldError(
                    f"allocations.{index}.amount",
                    f"exceeds the balance {invoice.balance} of invoice {invoice.number}",
                )
            )
    if len({a.invoice_id for a in requested}) != len(requested):
        errors.append(FieldError("allocations", "name each invoice once"))
    if errors:
        raise ValidationFailed(errors)
    return [Allocation(a.invoice_id, a.amount) for a in requested]


def _insert_allocations(
    session: Session, actor: Actor, payment_id: uuid.UUID, allocations: list[Allocation]
) -> None:
    if not allocations:
        return
    session.add_all(
        PaymentAllocation(
            company_id=actor.company_id,
            id=new_id(),
            payment_id=payment_id,
            invoice_id=allocation.invoice_id,
            amount=allocation.amount,
        )
        for allocation in allocations
    )
    # One INSERT statement, so the trigger recomputes the totals once.
    session.flush()


_MARK_PAID_AFTER_REMINDER = text(
    """
    UPDATE customer_consolidated_reminders r SET paid_after_reminder_at = now()
     WHERE r.company_id = :company_id AND r.customer_id = :customer_id
       AND r.delivery_status IN ('sent', 'delivered', 'unconfirmed')
       AND r.paid_after_reminder_at IS NULL
       AND EXISTS (SELECT 1 FROM invoices i
                    WHERE i.company_id = r.company_id AND i.id = ANY(r.invoice_ids)
                      AND i.status = 'paid')
    """
)


def _after_money_landed(session: Session, actor: Actor, customer_id: uuid.UUID) -> None:
    """Payment landed: re-score the customer and credit the reminders that asked for it."""
    recompute_risk_scores(session, actor, [customer_id])
    session.execute(
        _MARK_PAID_AFTER_REMINDER, {"company_id": actor.company_id, "customer_id": customer_id}
    )


def record_payment(session: Session, actor: Actor, draft: PaymentCreate) -> Payment:
    """Record a payment and allocate it (as asked, or oldest due first); the rest is credit."""
    require(actor, RECEIVABLES, Action.CREATE)
    customer = billable_customer(session, actor, draft.customer_id)
    currency = _currency_for(customer, draft.currency)
    if draft.allocations is None:
        allocations = oldest_first(_open_invoices(session, actor, customer.id), draft.amount)
    else:
        allocations = _explicit(session, actor, customer.id, draft.allocations)
        if sum((a.amount for a in allocations), Decimal(0)) > draft.amount:
            raise ValidationFailed.single("allocations", "add up to more than the payment")
    payment = Payment(
        company_id=actor.company_id,
        id=new_id(),
        customer_id=customer.id,
        amount=draft.amount,
        currency=currency,
        received_on=draft.received_on,
        reference=draft.reference,
        created_by=actor.user_id,
    )
    session.add(payment)
    session.flush()
    _insert_allocations(session, actor, payment.id, allocations)
    _after_money_landed(session, actor, customer.id)
    session.refresh(payment)
    audit.record(
        session,
        actor,
        "payment.recorded",
        "payment",
        payment.id,
        after={
            "customer_id": str(customer.id),
            "amount": str(payment.amount),
            "allocations": [
                {"invoice_id": str(a.invoice_id), "amount": str(a.amount)} for a in allocations
            ],
        },
    )
    outbox.emit(
        session,
        actor,
        "payment.recorded",
        {"payment_id": str(payment.id), "customer_id": str(customer.id)},
    )
    return payment


def get_payment(session: Session, actor: Actor, payment_id: uuid.UUID) -> Payment:
    require(actor, RECEIVABLES, Action.VIEW)
    payment = session.get(Payment, (actor.company_id, payment_id))
    if payment is None:
        raise NotFound("payment", payment_id)
    return payment


def payment_allocations(
    session: Session, actor: Actor, payment_id: uuid.UUID
) -> list[PaymentAllocation]:
    return list(
        session.scalars(
            select(PaymentAllocation)
            .where(
                PaymentAllocation.company_id == actor.company_id,
                PaymentAllocation.payment_id == payment_id,
            )
            .order_by(PaymentAllocation.id)
        )
    )


def customer_credit(session: Session, actor: Actor, customer_id: uuid.UUID) -> Decimal:
    """Money received from the customer and not yet allocated to any invoice."""
    credit = session.scalar(
        select(func.coalesce(func.sum(Payment.amount - Payment.allocated_amount), 0)).where(
            Payment.company_id == actor.company_id, Payment.customer_id == customer_id
        )
    )
    return Decimal(credit or 0).quantize(CENT)


def apply_credit(session: Session, actor: Actor, customer_id: uuid.UUID) -> list[Allocation]:
    """Use the customer's credit (unallocated payments, oldest first) on open invoices."""
    require(actor, RECEIVABLES, Action.EDIT)
    customer = live_customer(session, actor, customer_id)
    payments = session.scalars(
        select(Payment)
        .where(
            Payment.company_id == actor.company_id,
            Payment.customer_id == customer.id,
            Payment.allocated_amount < Payment.amount,
        )
        .order_by(Payment.received_on, Payment.id)
        .with_for_update()
    ).all()
    invoices = _open_invoices(session, actor, customer.id)
    applied: list[Allocation] = []
    for payment in payments:
        allocations = oldest_first(invoices, payment.amount - payment.allocated_amount)
        _insert_allocations(session, actor, payment.id, allocations)
        applied.extend(allocations)
        invoices = _open_invoices(session, actor, customer.id)
    if applied:
        _after_money_landed(session, actor, customer.id)
        audit.record(
            session,
            actor,
            "credit.applied",
            "customer",
            customer.id,
            after={
                "allocations": [
                    {"invoice_id": str(a.invoice_id), "amount": str(a.amount)} for a in applied
                ]
            },
        )
    return applied


# ----- risk score ------------------------------------------------------------------------
# Average days paid after the due date → score (0 safe … 10 risky). The SQL and
# the explanation shown to staff are both generated from this one table.
RISK_BANDS: tuple[tuple[int, Decimal], ...] = (
    (0, Decimal("1.0")),
    (5, Decimal("2.0")),
    (15, Decimal("4.0")),
    (30, Decimal("6.0")),
    (60, Decimal("8.0")),
)
RISK_ABOVE_BANDS = Decimal("9.0")
RISK_NO_HISTORY = Decimal("5.0")


def risk_for(average_days_late: Decimal | None) -> Decimal:
    if average_days_late is None:
        return RISK_NO_HISTORY
    for up_to, score in RISK_BANDS:
        if average_days_late <= up_to:
            return score
    return RISK_ABOVE_BANDS


def _risk_case_sql() -> str:
    whens = " ".join(f"WHEN h.avg_late <= {days} THEN {score}" for days, score in RISK_BANDS)
    return f"CASE WHEN h.paid = 0 THEN {RISK_NO_HISTORY} {whens} ELSE {RISK_ABOVE_BANDS} END"


_PAYMENT_HISTORY = """
    SELECT count(*) AS paid, avg(i.paid_on - i.due_date) AS avg_late FROM invoices i
     WHERE i.company_id = c.company_id AND i.customer_id = c.id
       AND i.status = 'paid' AND i.paid_on IS NOT NULL
"""
_RECOMPUTE_RISK = text(
    f"""
    UPDATE customers c SET risk_score = s.score
      FROM (SELECT c.company_id, c.id, {_risk_case_sql()} AS score
              FROM customers c CROSS JOIN LATERAL ({_PAYMENT_HISTORY}) h
             WHERE c.company_id = :company_id AND c.deleted_at IS NULL
               AND (CAST(:ids AS uuid[]) IS NULL OR c.id = ANY(CAST(:ids AS uuid[])))) s
     WHERE c.company_id = s.company_id AND c.id = s.id
       AND c.risk_score IS DISTINCT FROM s.score
    """
)


def recompute_risk_scores(
    session: Session, actor: Actor, customer_ids: Sequence[uuid.UUID] | None = None
) -> int:
    """Re-score customers from their payment history in one statement; returns rows changed.

    Called with the payer when a payment lands, and without ids by the nightly job.
    """
    ids = [str(i) for i in customer_ids] if customer_ids is not None else None
    result = session.execute(_RECOMPUTE_RISK, {"company_id": actor.company_id, "ids": ids})
    return int(result.rowcount)  # type: ignore[attr-defined]


@dataclass(frozen=True)
class RiskInputs:
    customer_id: uuid.UUID
    risk_score: Decimal
    paid_invoice_count: int
    average_days_paid_after_due: Decimal | None


def explain_risk(session: Session, actor: Actor, customer_id: uuid.UUID) -> RiskInputs:
    """The inputs behind a customer's risk score, computed fresh from the invoices."""
    require(actor, RECEIVABLES, Action.VIEW)
    live_customer(session, actor, customer_id)
    paid, avg_late = session.execute(
        select(func.count(), func.avg(Invoice.paid_on - Invoice.due_date)).where(
            Invoice.company_id == actor.company_id,
            Invoice.customer_id == customer_id,
            Invoice.status == InvoiceStatus.PAID,
            Invoice.paid_on.is_not(None),
        )
    ).one()
    average = Decimal(avg_late) if paid else None
    shown = average.quantize(Decimal("0.1")) if average is not None else None
    return RiskInputs(customer_id, risk_for(average), int(paid), shown)
