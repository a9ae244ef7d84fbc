"""Customers that arrive in bulk — chat sync, imports — checked after their batch commits.

The bulk paths write customers with set-based SQL (thousands per statement),
which the per-customer hook of the customers service never sees, and
computing transliteration keys in Python inside those statements would cut
their throughput several-fold. So they only queue one outbox event per batch
(`CHAT_TOPIC` with the new customers' ids, `IMPORT_TOPIC` with the job's row
range), and the worker here indexes the new customers' match keys and, for
customers created from chat, runs the online check:

* best match ≥ `AUTO_LINK_THRESHOLD` (0.99): the chat customer *is* the
  existing one — it is merged into it (through `merges`, so it can be undone),
  which links its conversations to the existing customer;
* best match ≥ the model's threshold: the pair goes to the review queue
  (source ``sync``); the conversation stays with the new chat customer;
* below: nothing.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import delete, insert, select, text
from sqlalchemy.orm import Session

from majlis.core import audit
from majlis.core.errors import DomainError
from majlis.core.permissions import Actor
from majlis.customers.models import Customer
from majlis.dedupe import store
from majlis.dedupe.features import prepare_record
from majlis.dedupe.models import CustomerMatchKey, DuplicatePair, PairSource
from majlis.dedupe.review import merge_and_rekey
from majlis.dedupe.service import (
    AUTO_LINK_THRESHOLD,
    DuplicateMatch,
    find_matches,
    likely_threshold,
    remembered_not_duplicates,
)
from majlis.imports.reading import FIELDS as IMPORT_FIELDS

CHAT_TOPIC = "dedupe.chat_customers"
IMPORT_TOPIC = "dedupe.imported_customers"


def index_customers(
    session: Session, company_id: uuid.UUID, customer_ids: Sequence[uuid.UUID]
) -> int:
    """Replace the match keys of some customers at once; returns the keys written."""
    session.execute(
        delete(CustomerMatchKey).where(
            CustomerMatchKey.company_id == company_id,
            CustomerMatchKey.customer_id.in_(customer_ids),
        )
    )
    rows = [
        {"company_id": company_id, "key": key, "customer_id": record["id"]}
        for record in store.load_records(session, company_id, list(customer_ids))
        for key in store.match_keys(prepare_record(record))
    ]
    if rows:
        session.execute(insert(CustomerMatchKey), rows)
    return len(rows)


_IMPORTED = text(
    """
    SELECT coalesce(match_id, customer_id) FROM import_rows
     WHERE company_id = :company_id AND job_id = :job_id
       AND row_number > :after AND row_number <= :upto AND errors = '[]'
    """
)


def index_import_batch(
    session: Session, company_id: uuid.UUID, job_id: uuid.UUID, after: int, upto: int
) -> int:
    """Index the customers one applied import batch inserted or updated."""
    params = {"company_id": company_id, "job_id": job_id, "after": after, "upto": upto}
    return index_customers(session, company_id, list(session.scalars(_IMPORTED, params)))


# ----- import preview ------------------------------------------------------------------
# What an import row says about the person; the rest (tags, notes, is_active) is no evidence.
_IMPORT_ROW_FIELDS = tuple(f for f in IMPORT_FIELDS if f not in ("tags", "notes", "is_active"))


@dataclass(frozen=True)
class RowMatches:
    row: int
    matches: list[DuplicateMatch]


def import_row_matches(
    session: Session, actor: Actor, job_id: uuid.UUID, *, after: int, limit: int
) -> tuple[list[RowMatches], int | None]:
    """Fuzzy matches of the next `limit` valid rows of an import that matched no identifier.

    Rows the import already matched exactly (TRN, reference, email, phone) are
    reported by the import itself. Returns the rows with matches and the last
    row number read (None at the end of the file), which pages through it.
    """
    from majlis.imports.models import ImportRow
    from majlis.imports.service import get_job  # lazy: imports is another domain

    get_job(session, actor, job_id)
    columns = [getattr(ImportRow, name) for name in _IMPORT_ROW_FIELDS]
    rows = session.execute(
        select(ImportRow.row_number, ImportRow.customer_id, *columns)
        .where(
            ImportRow.company_id == actor.company_id,
            ImportRow.job_id == job_id,
            ImportRow.row_number > after,
            ImportRow.match_id.is_(None),
            ImportRow.errors == text("'[]'::jsonb"),
        )
        .order_by(ImportRow.row_number)
        .limit(limit)
    ).mappings()
    found, last = [], None
    for row in rows:
        last = row["row_number"]
        record = {**store.as_record(row), "id": row["customer_id"]}
        matches = find_matches(session, actor.company_id, record, exclude={row["customer_id"]})
        if matches:
            found.append(RowMatches(last, matches))
    return found, last


# ----- chat sync --------------------------------------------------------------------------
@dataclass
class ArrivalSummary:
    checked: int = 0
    auto_linked: int = 0
    queued: int = 0


def _queue_pair(session: Session, actor: Actor, new_id: uuid.UUID, match: DuplicateMatch) -> None:
    first, second = sorted((new_id, match.customer_id))
    pair = DuplicatePair(
        company_id=actor.company_id,
        customer_id_a=first,
        customer_id_b=second,
        match_probability=match.match_probability,
        evidence=match.evidence,
        reasons="; ".join(match.reasons),
        source=PairSource.SYNC,
    )
    session.add(pair)
    session.flush()
    audit.record(
        session, actor, "duplicate_pair.queued", "duplicate_pair", pair.id, after={"source": "sync"}
    )


def _auto_link(session: Session, actor: Actor, new_id: uuid.UUID, match: DuplicateMatch) -> bool:
    """Merge the chat customer into its certain match; False when the merge is refused."""
    savepoint = session.begin_nested()
    try:
        merge_and_rekey(session, actor, match.customer_id, [new_id])
    except DomainError:
        savepoint.rollback()
        return False
    savepoint.commit()
    return True


def _still_live(session: Session, actor: Actor, customer_id: uuid.UUID) -> bool:
    return (
        session.scalar(
            select(Customer.id).where(
                Customer.company_id == actor.company_id,
                Customer.id == customer_id,
                Customer.deleted_at.is_(None),
                Customer.merged_into_id.is_(None),
            )
        )
        is not None
    )


def check_chat_customers(
    session: Session, actor: Actor, customer_ids: Sequence[uuid.UUID]
) -> ArrivalSummary:
    """Index customers created by a chat sync batch, then link or queue their duplicates."""
    index_customers(session, actor.company_id, customer_ids)
    summary = ArrivalSummary()
    for customer_id in customer_ids:
        records = store.load_records(session, actor.company_id, [customer_id])
        if not records or not _still_live(session, actor, customer_id):
            continue
        summary.checked += 1
        exclude = {customer_id} | remembered_not_duplicates(session, actor.company_id, customer_id)
        matches = find_matches(
            session, actor.company_id, records[0], exclude=exclude, threshold=likely_threshold()
        )
        if not matches:
            continue
        best = matches[0]
        if best.match_probability >= AUTO_LINK_THRESHOLD and _auto_link(
            session, actor, customer_id, best
        ):
            summary.auto_linked += 1
        else:
            _queue_pair(session, actor, customer_id, best)
            summary.queued += 1
    return summary
