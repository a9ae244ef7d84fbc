"""A customer's JSON document, written by PostgreSQL exactly as the API shows it.

The hot reads (the customer list, lookups and search pages) return many rows of
37 columns. Decoding each value into Python, validating it into `CustomerOut`
and serialising it again cost more than the query itself: 2-3 ms for a page of
50 at 1M customers (docs/performance.md, session 9). Here the database builds
each row's JSON text (`json_build_object`) and Python only joins the texts.

The expression is derived from `CustomerOut`'s fields, so the two cannot drift
apart in which fields they show; where PostgreSQL's JSON of a type differs from
Pydantic's (timestamps, numerics), the value is formatted as Pydantic writes it.
`tests/customers/test_documents.py` holds the two byte-for-byte equal in meaning.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from sqlalchemy import (
    ColumnElement,
    DateTime,
    Numeric,
    Text,
    case,
    cast,
    func,
    literal_column,
    null,
)
from sqlalchemy.dialects import postgresql
from sqlalchemy.sql.elements import KeyedColumnElement

from majlis.customers.models import Customer
from majlis.customers.schemas import CustomerOut

_SECONDS = 'YYYY-MM-DD"T"HH24:MI:SS'


def _iso_utc(column: ColumnElement[Any]) -> ColumnElement[Any]:
    """A timestamp as Pydantic writes it: UTC, 'Z', microseconds only when there are any."""
    utc = func.timezone("UTC", column)
    fraction = func.to_char(utc, ".US")
    return func.to_char(utc, _SECONDS) + case((fraction == ".000000", ""), else_=fraction) + "Z"


def _as_shown(column: KeyedColumnElement[Any]) -> ColumnElement[Any]:
    """The column's value in the JSON the API returns."""
    if isinstance(column.type, DateTime):
        return _iso_utc(column)
    if isinstance(column.type, Numeric):
        return cast(column, Text)  # Pydantic writes a Decimal as a string: "5630.00"
    return column


def customer_document(extra: Mapping[str, ColumnElement[Any] | None] | None = None) -> Any:
    """The JSON text of a customer row: `CustomerOut`'s fields, then `extra` ones (None: null).

    Written out as SQL text once: as an expression tree of some 150 elements,
    SQLAlchemy would walk it for a cache key on every execution (3 ms per request
    on this machine, measured A/B).
    """
    fields: list[tuple[str, ColumnElement[Any]]] = [
        (name, _as_shown(Customer.__table__.c[name])) for name in CustomerOut.model_fields
    ]
    fields += [(name, null() if value is None else value) for name, value in (extra or {}).items()]
    # The names are written into the statement: as bound parameters they are 40 more to send.
    pairs: list[Any] = [
        part for name, value in fields for part in (literal_column(f"'{name}'"), value)
    ]
    document = cast(func.json_build_object(*pairs), Text)
    sql = document.compile(dialect=postgresql.dialect(), compile_kwargs={"literal_binds": True})
    return literal_column(str(sql), Text)


def json_array(documents: Iterable[str]) -> str:
    """Documents already written as JSON, as one JSON array."""
    return "[" + ",".join(documents) + "]"
