"""CSV import of invoices and payments, row by row through the same services as the API.

Each row runs in its own savepoint: a bad row is reported (row number, field,
message) and leaves nothing behind, good rows are kept. Row numbers count the
header as row 1, as a spreadsheet shows them.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from majlis.core.errors import DomainError, FieldError, ValidationFailed
from majlis.core.permissions import Action, Actor, require
from majlis.customers.models import Customer
from majlis.receivables.ledger import RECEIVABLES, create_invoice, record_payment
from majlis.receivables.models import Invoice
from majlis.receivables.schemas import AllocationIn, InvoiceCreate, PaymentCreate

MAX_ROWS = 50_000
INVOICE_COLUMNS = ("number", "issue_date", "due_date", "amount")
PAYMENT_COLUMNS = ("amount", "received_on")


@dataclass
class ImportResult:
    imported: int = 0
    errors: list[tuple[int, FieldError]] = field(default_factory=list)

    @property
    def failed(self) -> int:
        return len({row for row, _ in self.errors})


def _rows(content: str, required: Iterable[str]) -> list[dict[str, str]]:
    try:
        return _parse_rows(content, required)
    except csv.Error as exc:
        raise ValidationFailed.single("file", f"is not valid CSV: {exc}") from exc


def _parse_rows(content: str, required: Iterable[str]) -> list[dict[str, str]]:
    # newline="" lets the csv module see \r, \n and \r\n exactly as written.
    reader = csv.DictReader(io.StringIO(content.lstrip("\ufeff"), newline=""))
    header = [name.strip() for name in reader.fieldnames or []]
    missing = [name for name in required if name not in header]
    if not header or missing:
        raise ValidationFailed.single("file", f"missing column(s): {', '.join(missing) or 'all'}")
    if "customer_id" not in header and "customer_external_ref" not in header:
        raise ValidationFailed.single("file", "needs customer_id or customer_external_ref")
    rows = [
        {(key or "").strip(): (value or "").strip() for key, value in row.items()} for row in reader
    ]
    if len(rows) > MAX_ROWS:
        raise ValidationFailed.single("file", f"at most {MAX_ROWS} rows per file")
    return rows


def _customer_id(session: Session, actor: Actor, row: dict[str, str]) -> str:
    if row.get("customer_id"):
        return row["customer_id"]
    reference = row.get("customer_external_ref", "")
    found = session.scalar(
        select(Customer.id).where(
            Customer.company_id == actor.company_id,
            Customer.external_ref == reference,
            Customer.deleted_at.is_(None),
        )
    )
    if found is None:
        raise ValidationFailed.single("customer_external_ref", f"no customer {reference!r}")
    return str(found)


def _validated(model: type[BaseModel], values: dict[str, Any]) -> Any:
    try:
        return model.model_validate({k: v for k, v in values.items() if v not in ("", None)})
    except ValidationError as exc:
        raise ValidationFailed(
            [
                FieldError(".".join(str(p) for p in e["loc"]) or "row", e["msg"])
                for e in exc.errors()
            ]
        ) from exc


def _invoice_row(session: Session, actor: Actor, row: dict[str, str]) -> None:
    values: dict[str, Any] = {name: row.get(name) for name in (*INVOICE_COLUMNS, "currency")}
    values["status"] = row.get("status") or "open"
    values["customer_id"] = _customer_id(session, actor, row)
    create_invoice(session, actor, _validated(InvoiceCreate, values))


def _payment_row(session: Session, actor: Actor, row: dict[str, str]) -> None:
    values: dict[str, Any] = {
        name: row.get(name) for name in (*PAYMENT_COLUMNS, "currency", "reference")
    }
    values["customer_id"] = _customer_id(session, actor, row)
    if row.get("invoice_number"):
        invoice = session.scalar(
            select(Invoice).where(
                Invoice.company_id == actor.company_id, Invoice.number == row["invoice_number"]
            )
        )
        if invoice is None:
            raise ValidationFailed.single("invoice_number", f"no invoice {row['invoice_number']}")
        draft = _validated(PaymentCreate, values)
        amount = min(draft.amount, invoice.balance)
        allocation = AllocationIn(invoice_id=invoice.id, amount=amount)
        values["allocations"] = [allocation.model_dump()] if amount > 0 else []
    record_payment(session, actor, _validated(PaymentCreate, values))


def _import(
    session: Session,
    actor: Actor,
    rows: list[dict[str, str]],
    import_row: Callable[[Session, Actor, dict[str, str]], None],
) -> ImportResult:
    result = ImportResult()
    for number, row in enumerate(rows, start=2):
        savepoint = session.begin_nested()
        try:
            import_row(session, actor, row)
        except ValidationFailed as exc:
            savepoint.rollback()
            result.errors.extend((number, error) for error in exc.errors)
        except DomainError as exc:
            savepoint.rollback()
            field_name = str(exc.extra.get("field", "row"))
            result.errors.append((number, FieldError(field_name, exc.detail)))
        else:
            savepoint.commit()
            result.imported += 1
    return result


def import_invoices(session: Session, actor: Actor, content: str) -> ImportResult:
    """Columns: number, customer_id or customer_external_ref, issue_date, due_date, amount,
    optional currency and status (draft/open)."""
    require(actor, RECEIVABLES, Action.CREATE)
    return _import(session, actor, _rows(content, INVOICE_COLUMNS), _invoice_row)


def import_payments(session: Session, actor: Actor, content: str) -> ImportResult:
    """Columns: customer_id or customer_external_ref, amount, received_on, optional currency,
    reference and invoice_number (else the oldest open invoices are paid first)."""
    require(actor, RECEIVABLES, Action.CREATE)
    return _import(session, actor, _rows(content, PAYMENT_COLUMNS), _payment_row)
