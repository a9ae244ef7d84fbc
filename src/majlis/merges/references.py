"""Everything that points at a customer, read from the catalog at merge time.

A merge must re-point *every* reference to the customers it folds in, including
tables added long after this code was written. So nothing here lists tables:
the foreign keys whose referenced table is `customers` are read from
`pg_constraint`, their unique keys from `pg_index`, and the rows are moved by
`majlis_merge_repoint` (migration 0008_merges), which accepts only such keys.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session

# Columns that record history rather than ownership: they keep pointing where they
# pointed (a merge chain stays a chain; a merge event keeps naming its survivor).
HISTORY_COLUMNS = frozenset(
    {
        ("customers", "merged_into_id"),
        ("customer_merges", "survivor_id"),
        ("customer_merge_moves", "from_customer_id"),
    }
)

_REFERENCES = text(
    """
    SELECT c.relname, a.attname
      FROM pg_constraint k
      JOIN pg_class c ON c.oid = k.conrelid
      JOIN pg_namespace n ON n.oid = c.relnamespace
      JOIN pg_attribute lead ON lead.attrelid = k.conrelid AND lead.attnum = k.conkey[1]
      JOIN pg_attribute a ON a.attrelid = k.conrelid AND a.attnum = k.conkey[2]
     WHERE k.contype = 'f' AND k.confrelid = 'public.customers'::regclass
       AND n.nspname = 'public' AND cardinality(k.conkey) = 2 AND lead.attname = 'company_id'
     ORDER BY c.relname, a.attname
    """
)
_PRIMARY_KEY = text(
    """
    SELECT a.attname
      FROM pg_index x
      JOIN pg_attribute a ON a.attrelid = x.indrelid AND a.attnum = ANY(x.indkey)
     WHERE x.indrelid = to_regclass(:table) AND x.indisprimary AND a.attname <> 'company_id'
     ORDER BY a.attnum
    """
)
# Key columns of each unique index in order; an expression column comes back as NULL.
_UNIQUE_KEYS = text(
    """
    SELECT i.relname, pg_get_expr(x.indpred, x.indrelid),
           array(SELECT a.attname
                   FROM unnest(x.indkey::int2[]) WITH ORDINALITY AS u(attnum, ord)
                   LEFT JOIN pg_attribute a ON a.attrelid = x.indrelid AND a.attnum = u.attnum
                  WHERE u.ord <= x.indnkeyatts ORDER BY u.ord)
      FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid
     WHERE x.indrelid = to_regclass(:table) AND x.indisunique
    """
)
_REPOINT = text(
    "SELECT majlis_merge_repoint(CAST(:table AS regclass), :column, :source, :target,"
    " CAST(:only AS jsonb), CAST(:except AS jsonb))"
)


def quote(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


@dataclass(frozen=True)
class UniqueKey:
    """A unique index that includes the reference column: where a moved row can collide."""

    name: str
    columns: tuple[str, ...]  # the key's other columns (not company_id, not the reference)
    predicate: str | None  # a partial index's WHERE clause, as PostgreSQL prints it


@dataclass(frozen=True)
class Reference:
    """One (table, column) foreign key to customers, as the catalog describes it."""

    table: str
    column: str
    primary_key: tuple[str, ...]
    unique_keys: tuple[UniqueKey, ...]

    @property
    def label(self) -> str:
        return f"{self.table}.{self.column}"

    def key_expression(self, alias: str) -> str:
        """SQL building the row's primary key (without company_id) as JSON, like the function."""
        pairs = ", ".join(f"'{col}', {alias}.{quote(col)}" for col in self.primary_key)
        return f"jsonb_build_object({pairs})"


def primary_key(session: Session, table: str) -> tuple[str, ...]:
    return tuple(session.scalars(_PRIMARY_KEY, {"table": quote(table)}))


def _unique_keys(session: Session, table: str, column: str) -> tuple[UniqueKey, ...]:
    keys = []
    for name, predicate, columns in session.execute(_UNIQUE_KEYS, {"table": quote(table)}):
        if column in columns and None not in columns:
            others = tuple(c for c in columns if c not in ("company_id", column))
            keys.append(UniqueKey(name, others, predicate))
    return tuple(keys)


def customer_references(session: Session) -> list[Reference]:
    """Every composite (company_id, column) foreign key to customers that a merge re-points."""
    return [
        Reference(table, column, primary_key(session, table), _unique_keys(session, table, column))
        for table, column in session.execute(_REFERENCES)
        if (table, column) not in HISTORY_COLUMNS
    ]


def count_rows(
    session: Session, reference: Reference, company_id: uuid.UUID, customer_id: uuid.UUID
) -> int:
    query = (
        f"SELECT count(*) FROM {quote(reference.table)}"
        f" WHERE company_id = :company AND {quote(reference.column)} = :customer"
    )
    return int(session.scalar(text(query), {"company": company_id, "customer": customer_id}) or 0)


def colliding_rows(
    session: Session,
    reference: Reference,
    company_id: uuid.UUID,
    source: uuid.UUID,
    target: uuid.UUID,
) -> list[dict[str, Any]]:
    """Keys of `source`'s rows that cannot move to `target`: it already has a row with that key.

    An expression index cannot be compared here; if one collides, the move itself fails
    and the merge is refused naming the table (nothing is ever dropped to make room).
    """
    found: dict[str, dict[str, Any]] = {}
    column = quote(reference.column)
    for key in reference.unique_keys:
        where = f" AND ({key.predicate})" if key.predicate else ""
        same = "".join(f" AND s.{quote(c)} = r.{quote(c)}" for c in key.columns)
        query = (
            f"WITH cand AS (SELECT * FROM {quote(reference.table)} WHERE company_id = :company"
            f" AND {column} IN (:source, :target){where})"
            f" SELECT {reference.key_expression('r')} FROM cand r WHERE r.{column} = :source"
            f" AND EXISTS (SELECT 1 FROM cand s WHERE s.{column} = :target{same})"
        )
        params = {"company": company_id, "source": source, "target": target}
        for row_key in session.scalars(text(query), params):
            found[json.dumps(row_key, sort_keys=True)] = row_key
    return list(found.values())


def repoint(
    session: Session,
    reference: Reference | tuple[str, str],
    source: uuid.UUID,
    target: uuid.UUID,
    *,
    only: list[dict[str, Any]] | None = None,
    keep: list[dict[str, Any]] | None = None,
) -> list[dict[str, Any]]:
    """Move `source`'s rows (all, or `only` these keys, minus `keep`) to `target`; their keys."""
    table, column = (
        (reference.table, reference.column) if isinstance(reference, Reference) else reference
    )
    params = {
        "table": quote(table),
        "column": column,
        "source": source,
        "target": target,
        "only": None if only is None else json.dumps(only),
        "except": json.dumps(keep) if keep else None,
    }
    return list(session.scalars(_REPOINT, params))


def rows_not_on(
    session: Session,
    table: str,
    column: str,
    keys: list[dict[str, Any]],
    company_id: uuid.UUID,
    customer_id: uuid.UUID,
) -> int:
    """How many of the rows with these keys still exist but no longer point at `customer_id`."""
    columns = primary_key(session, table)
    if not columns:  # the table is gone: none of its rows still exist
        return 0
    reference = Reference(table, column, columns, ())
    query = (
        f"SELECT count(*) FROM {quote(table)} t WHERE t.company_id = :company"
        f" AND {reference.key_expression('t')}"
        " IN (SELECT jsonb_array_elements(CAST(:keys AS jsonb)))"
        f" AND t.{quote(column)} IS DISTINCT FROM :customer"
    )
    params = {"company": company_id, "keys": json.dumps(keys), "customer": customer_id}
    return int(session.scalar(text(query), params) or 0)
