"""Customer exports: the filtered (or searched) set, streamed with constant memory.

Rows come from a server-side cursor (`yield_per`), are written to CSV a chunk
at a time or to an XLSX workbook in openpyxl's write-only mode, and never sit
in memory all at once. Cells that a spreadsheet would run as a formula are
neutralised with a leading apostrophe (OWASP "CSV injection").
"""

from __future__ import annotations

import csv
import io
import re
import tempfile
from collections.abc import Iterator
from enum import StrEnum
from typing import Any

from openpyxl import Workbook
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from majlis.core import audit
from majlis.core.db import tenant_session
from majlis.core.permissions import CUSTOMERS, Action, Actor, require
from majlis.customers.models import Customer
from majlis.customers.service import CustomerFilters, filter_conditions
from majlis.search.service import plan_for_this_term, ranked_selection

ENTITY = "customer_export"
BATCH = 2_000
COLUMNS = (
    "id",
    "kind",
    "name",
    "name_ar",
    "business_name",
    "business_name_ar",
    "email",
    "phone",
    "trn",
    "external_ref",
    "address_line1",
    "city",
    "emirate",
    "country",
    "business_type",
    "tags",
    "is_active",
    "source",
    "outstanding_balance",
    "currency",
    "created_at",
)
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
# A plain number ("-12.5", "+971501234567") cannot carry a formula; keep it usable.
_PLAIN_NUMBER = re.compile(r"^[+-]?[0-9]+(\.[0-9]+)?$")


class ExportFormat(StrEnum):
    CSV = "csv"
    XLSX = "xlsx"


def neutralise(value: Any) -> str:
    """The cell text, with a leading apostrophe when a spreadsheet would evaluate it."""
    if value is None:
        return ""
    if isinstance(value, list):
        value = "; ".join(str(v) for v in value)
    text = str(value)
    if text.startswith(_FORMULA_START) and not _PLAIN_NUMBER.match(text):
        return "'" + text
    return text


def _rows(
    session: Session, actor: Actor, filters: CustomerFilters, term: str | None, lang: str | None
) -> Iterator[list[str]]:
    columns = [getattr(Customer, name) for name in COLUMNS]
    conditions = filter_conditions(session, actor, filters)
    if term:
        plan_for_this_term(session)
        query, ranked = ranked_selection(conditions, actor, term, lang)
        query = query.with_only_columns(*columns).order_by(ranked.c.rank_key, Customer.id)
    else:
        query = select(*columns).where(*conditions).order_by(Customer.name, Customer.id)
    result = session.execute(query.execution_options(yield_per=BATCH))
    for row in result:
        yield [neutralise(value) for value in row]


def start_export(
    session: Session, actor: Actor, filters: CustomerFilters, term: str | None, fmt: ExportFormat
) -> None:
    """Check the role and the filters, and record who exported what; rows stream afterwards.

    Filters are validated here, before the response starts: once rows stream, a
    bad phone or TRN filter could no longer be answered with a 422.
    """
    require(actor, CUSTOMERS, Action.EXPORT)
    filter_conditions(session, actor, filters)
    audit.record(
        session,
        actor,
        "customers.exported",
        ENTITY,
        actor.company_id,
        after={
            "format": fmt.value,
            "q": term,
            "filters": {k: v for k, v in vars(filters).items() if v is not None},
        },
    )


def stream_csv(
    engine: Engine,
    actor: Actor,
    filters: CustomerFilters,
    term: str | None = None,
    lang: str | None = None,
) -> Iterator[bytes]:
    """UTF-8 CSV with a BOM (so Excel shows Arabic), yielded in chunks of BATCH rows."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    buffer.write("\ufeff")
    writer.writerow(COLUMNS)
    with tenant_session(engine, actor.company_id, actor.user_id) as session:
        for count, row in enumerate(_rows(session, actor, filters, term, lang), start=1):
            writer.writerow(row)
            if count % BATCH == 0:
                yield buffer.getvalue().encode()
                buffer.seek(0)
                buffer.truncate()
    yield buffer.getvalue().encode()


def write_xlsx(
    engine: Engine,
    actor: Actor,
    filters: CustomerFilters,
    term: str | None = None,
    lang: str | None = None,
) -> Iterator[bytes]:
    """An XLSX workbook built in write-only mode in a temporary file, then streamed."""
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet("customers")
    sheet.append(list(COLUMNS))
    with tenant_session(engine, actor.company_id, actor.user_id) as session:
        for row in _rows(session, actor, filters, term, lang):
            sheet.append(row)
    with tempfile.TemporaryFile() as spool:
        workbook.save(spool)
        spool.seek(0)
        while chunk := spool.read(1 << 16):
            yield chunk
