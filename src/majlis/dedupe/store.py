"""Customer match keys in PostgreSQL: what makes the online check an index lookup.

Each live customer has one row per blocking key the matching core produces
(`DEFAULT_RULES`: phones, emails, TRN, external reference, transliteration
name keys with city or birth date, address, trading name), stored as
``"<rule>|<key>"``. Checking a draft computes the same keys and asks for
``company_id = :c AND key = ANY(...)`` — equality on text, a leakproof
operator, so the btree on ``(company_id, key, customer_id)`` is used under
forced RLS (see docs/dedupe.md for the EXPLAIN).

Keys are computed in Python (transliteration has no SQL equivalent), so the
customers service calls `refresh_keys` when a customer is created, changed,
deleted or restored, and `majlis dedupe reindex` back-fills a company.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Iterator, Mapping
from functools import cache
from typing import Any, cast

import psycopg
from psycopg.rows import dict_row
from sqlalchemy import Dialect, Select, delete, insert, select, text
from sqlalchemy.orm import Session

from majlis.customers.models import Customer
from majlis.dedupe.blocking import DEFAULT_RULES
from majlis.dedupe.features import PreparedRecord, prepare_record
from majlis.dedupe.models import CustomerMatchKey

# The columns the matching core reads, in the shape `prepare_record` expects.
RECORD_COLUMNS = (
    Customer.id,
    Customer.kind,
    Customer.name,
    Customer.name_ar,
    Customer.business_name,
    Customer.business_name_ar,
    Customer.email,
    Customer.phone,
    Customer.secondary_emails,
    Customer.secondary_phones,
    Customer.trn,
    Customer.external_ref,
    Customer.address_line1,
    Customer.city,
    Customer.emirate,
    Customer.postal_code,
    Customer.country,
    Customer.date_of_birth,
    Customer.business_type,
)
# A key longer than this (a pasted paragraph as an address) is cut: btree
# entries are limited to ~2.7 kB and such keys never match anything anyway.
MAX_KEY_LENGTH = 400
# Customers per INSERT when re-indexing a whole company.
REINDEX_BATCH = 5_000


def as_record(values: Mapping[Any, Any]) -> dict[str, Any]:
    """A customer row (or validated draft values) as the plain dict the core reads."""
    record = {column.key: values.get(column.key) for column in RECORD_COLUMNS}
    for enum_field in ("kind", "business_type"):
        value = record[enum_field]
        record[enum_field] = getattr(value, "value", value)
    return record


def live_customers(company_id: uuid.UUID) -> Select[Any]:
    """The record columns of a company's live customers (not deleted, not merged away)."""
    return select(*RECORD_COLUMNS).where(
        Customer.company_id == company_id,
        Customer.deleted_at.is_(None),
        Customer.merged_into_id.is_(None),
    )


def match_keys(record: PreparedRecord) -> set[str]:
    """Every blocking key of a prepared record, namespaced by its rule."""
    return {
        f"{rule.name}|{key}"[:MAX_KEY_LENGTH] for rule in DEFAULT_RULES for key in rule.keys(record)
    }


def _key_rows(company_id: uuid.UUID, records: Iterable[PreparedRecord]) -> Iterator[dict[str, Any]]:
    for record in records:
        for key in match_keys(record):
            yield {"company_id": company_id, "key": key, "customer_id": record.id}


def refresh_keys(
    session: Session, company_id: uuid.UUID, customer: Customer, *, new: bool = False
) -> None:
    """Replace one customer's keys (none while it is deleted or merged into another).

    A `new` customer has no keys yet: nothing to delete (one round trip fewer per create).
    """
    if not new:
        session.execute(
            delete(CustomerMatchKey).where(
                CustomerMatchKey.company_id == company_id,
                CustomerMatchKey.customer_id == customer.id,
            )
        )
    if customer.deleted_at is not None or customer.merged_into_id is not None:
        return
    record = prepare_record(as_record({c.key: getattr(customer, c.key) for c in RECORD_COLUMNS}))
    rows = list(_key_rows(company_id, [record]))
    if rows:
        session.execute(insert(CustomerMatchKey), rows)


def reindex_company(session: Session, company_id: uuid.UUID) -> int:
    """Rebuild every match key of a company from its live customers; returns the key count."""
    session.execute(delete(CustomerMatchKey).where(CustomerMatchKey.company_id == company_id))
    written = 0
    result = session.execute(live_customers(company_id).execution_options(yield_per=REINDEX_BATCH))
    for rows in result.mappings().partitions():
        key_rows = list(_key_rows(company_id, (prepare_record(as_record(r)) for r in rows)))
        if key_rows:
            session.execute(insert(CustomerMatchKey), key_rows)
        written += len(key_rows)
    return written


# Each key contributes at most PER_KEY candidates (a switchboard shared by 500
# employees, "mhmd|dubai|a"), and the MAX_CANDIDATES with the most selective
# shared keys are scored: the check's cost is bounded whatever the company's
# size. A key held by n customers counts 1/n (inverse block frequency), so a
# shared personal phone outweighs several name keys shared with namesakes.
PER_KEY = 25
MAX_CANDIDATES = 8
# One constant statement, not a Select built per call: SQLAlchemy would rebuild
# its cache key, run ORM loading and ARRAY processors for the 8 rows (~2 ms of
# CPU per check). It is prepared on the session's own connection, unlike most
# statements (see `core.db`): parsing and planning cost more than running it
# (measured at 100k customers: 2.5 ms → 1.0 ms per lookup), and its plan does
# not depend on the values: the generic plan (EXPLAIN under
# plan_cache_mode=force_generic_plan) is the custom one — index-only lookups by
# (company, key), each stopped after PER_KEY rows however many customers share
# the key, then primary-key reads of at most MAX_CANDIDATES customers.
_CANDIDATES = text(
    f"""
    SELECT {", ".join(f"c.{column.key}" for column in RECORD_COLUMNS)}
      FROM customers c
      JOIN (SELECT m.customer_id
              FROM unnest(CAST(:keys AS text[])) AS q(key)
              CROSS JOIN LATERAL (
                    SELECT b.customer_id, count(*) OVER () AS holders
                      FROM (SELECT k.customer_id FROM customer_match_keys k
                             WHERE k.company_id = :company_id AND k.key = q.key
                               AND k.customer_id <> ALL(CAST(:exclude AS uuid[]))
                             LIMIT :per_key) AS b) AS m
             GROUP BY m.customer_id
             ORDER BY sum(1.0 / m.holders) DESC, m.customer_id
             LIMIT :max_candidates) AS hits ON c.id = hits.customer_id
     WHERE c.company_id = :company_id AND c.deleted_at IS NULL AND c.merged_into_id IS NULL
    """
)


def candidate_records(
    session: Session, company_id: uuid.UUID, keys: Iterable[str], exclude: Iterable[uuid.UUID]
) -> list[dict[str, Any]]:
    """Live customers sharing at least one key, the most selectively shared first (one query)."""
    wanted = sorted(keys)
    if not wanted:
        return []
    params = {
        "keys": wanted,
        "exclude": list(exclude),
        "company_id": company_id,
        "per_key": PER_KEY,
        "max_candidates": MAX_CANDIDATES,
    }
    connection = session.connection()
    driver = cast(psycopg.Connection[Any], connection.connection.driver_connection)
    with driver.cursor(row_factory=dict_row) as cursor:
        cursor.execute(_candidates_sql(connection.dialect), params, prepare=True)
        return [as_record(row) for row in cursor]


@cache
def _candidates_sql(dialect: Dialect) -> str:
    """The candidate statement in the driver's own placeholder style."""
    return str(_CANDIDATES.compile(dialect=dialect))


def load_records(
    session: Session, company_id: uuid.UUID, customer_ids: list[uuid.UUID]
) -> list[dict[str, Any]]:
    """Record dicts of the live customers among `customer_ids`."""
    if not customer_ids:
        return []
    query = live_customers(company_id).where(Customer.id.in_(customer_ids))
    return [as_record(row) for row in session.execute(query).mappings()]
