"""The review queue: proposed duplicate pairs and the decisions taken on them.

Decisions: *merge* (calls `merges.service.merge_customers`), *not a duplicate*
(remembered in `not_duplicate_pairs`, never proposed again by scans, online
checks of that customer, or conversation sync) and *skip* (leave it for
later). Every decision writes an audit entry on the pair. Undoing the merge
re-opens the pair it answered (pending again, audited as `duplicate_pair.reopened`).

Roles: everyone who may view customers sees the queue; merge and "not a
duplicate" need the merge permission (owner, manager); skip needs the create
permission (owner, manager, sales) — it changes no customer, it only moves
the pair out of the pending list, so analysts (read-only) may not.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Collection
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from sqlalchemy import literal, select, tuple_
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from majlis.core import audit, outbox
from majlis.core.errors import Conflict, DomainError, NotFound, ValidationFailed
from majlis.core.pagination import DEFAULT_LIMIT, Page, decode_cursor, encode_cursor
from majlis.core.permissions import CUSTOMERS, Action, Actor, require
from majlis.customers.models import Customer
from majlis.dedupe.models import DuplicatePair, DuplicateScan, NotDuplicate, PairStatus
from majlis.dedupe.store import refresh_keys
from majlis.merges.resolvers import after_merge, after_unmerge

if TYPE_CHECKING:
    from majlis.merges.service import MergeResult

ENTITY = "duplicate_pair"
OPEN_STATUSES = (PairStatus.PENDING, PairStatus.SKIPPED)


def list_pairs(
    session: Session,
    actor: Actor,
    *,
    status: PairStatus = PairStatus.PENDING,
    cluster_id: uuid.UUID | None = None,
    cursor: str | None = None,
    limit: int = DEFAULT_LIMIT,
) -> Page[DuplicatePair]:
    """One keyset page of pairs, most probable first."""
    require(actor, CUSTOMERS, Action.VIEW)
    query = select(DuplicatePair).where(
        DuplicatePair.company_id == actor.company_id, DuplicatePair.status == status
    )
    if cluster_id is not None:
        query = query.where(DuplicatePair.cluster_id == cluster_id)
    if cursor:
        probability, last_id = decode_cursor(cursor, 2)
        try:
            bound = tuple_(literal(float(probability)), literal(uuid.UUID(str(last_id))))
        except (TypeError, ValueError) as exc:
            raise ValidationFailed.single("cursor", "is not a cursor this API issued") from exc
        query = query.where(tuple_(DuplicatePair.match_probability, DuplicatePair.id) < bound)
    query = query.order_by(DuplicatePair.match_probability.desc(), DuplicatePair.id.desc())
    rows = list(session.scalars(query.limit(limit + 1)))
    next_cursor = None
    if len(rows) > limit:
        last = rows[limit - 1]
        next_cursor = encode_cursor([last.match_probability, str(last.id)])
    return Page(rows[:limit], next_cursor)


def pair_customers(
    session: Session, actor: Actor, pairs: list[DuplicatePair]
) -> dict[uuid.UUID, Customer]:
    """The customers of a page of pairs, in one query (the review page shows both sides)."""
    require(actor, CUSTOMERS, Action.VIEW)
    ids = {c for pair in pairs for c in (pair.customer_id_a, pair.customer_id_b)}
    if not ids:
        return {}
    rows = session.scalars(
        select(Customer).where(Customer.company_id == actor.company_id, Customer.id.in_(ids))
    )
    return {customer.id: customer for customer in rows}


def get_pair(session: Session, actor: Actor, pair_id: uuid.UUID) -> DuplicatePair:
    require(actor, CUSTOMERS, Action.VIEW)
    pair = session.get(DuplicatePair, (actor.company_id, pair_id), with_for_update=True)
    if pair is None:
        raise NotFound(ENTITY, pair_id)
    return pair


def _open_pair(session: Session, actor: Actor, pair_id: uuid.UUID) -> DuplicatePair:
    pair = get_pair(session, actor, pair_id)
    if pair.status not in OPEN_STATUSES:
        raise Conflict(f"pair {pair_id} was already decided: {pair.status}", status=pair.status)
    return pair


def _set_status(session: Session, actor: Actor, pair: DuplicatePair, status: PairStatus) -> None:
    """Decide the pair (or re-open it: back to pending, undecided) and audit the change."""
    before = {"status": str(pair.status)}
    reopened = status is PairStatus.PENDING
    pair.status = status
    pair.decided_by = None if reopened else actor.user_id
    pair.decided_at = None if reopened else datetime.now(UTC)
    session.flush()
    audit.record(
        session,
        actor,
        "duplicate_pair.reopened" if reopened else f"duplicate_pair.{status}",
        ENTITY,
        pair.id,
        before=before,
        after={
            "status": str(status),
            "customer_id_a": str(pair.customer_id_a),
            "customer_id_b": str(pair.customer_id_b),
            "match_probability": pair.match_probability,
        },
    )


@after_merge("dedupe")
def close_pairs_answered_by_merge(
    session: Session, actor: Actor, survivor_id: uuid.UUID, merged_ids: list[uuid.UUID]
) -> None:
    """Open pairs between customers that were just merged are answered: they are one now.

    The merge re-pointed such a pair to the survivor on both sides; closing it keeps
    the queue from offering a customer as a duplicate of itself.
    """
    answered = session.scalars(
        select(DuplicatePair).where(
            DuplicatePair.company_id == actor.company_id,
            DuplicatePair.customer_id_a == survivor_id,
            DuplicatePair.customer_id_b == survivor_id,
            DuplicatePair.status.in_(OPEN_STATUSES),
        )
    ).all()
    for pair in answered:
        _set_status(session, actor, pair, PairStatus.MERGED)


@after_unmerge("dedupe")
def reopen_pairs_of_undone_merge(
    session: Session, actor: Actor, survivor_id: uuid.UUID, restored_ids: list[uuid.UUID]
) -> None:
    """Pairs the undone merge answered are open questions again: back to pending.

    The undo moved each such pair back onto its two customers (evidence untouched), so
    a reviewer decides anew; the restored customers get their match keys back so the
    online check proposes them again.
    """
    members = [survivor_id, *restored_ids]
    answered = session.scalars(
        select(DuplicatePair).where(
            DuplicatePair.company_id == actor.company_id,
            DuplicatePair.customer_id_a.in_(members),
            DuplicatePair.customer_id_b.in_(members),
            DuplicatePair.status == PairStatus.MERGED,
        )
    ).all()
    for pair in answered:
        _set_status(session, actor, pair, PairStatus.PENDING)
    for customer_id in members:
        customer = session.get(Customer, (actor.company_id, customer_id))
        if customer is not None:
            refresh_keys(session, actor.company_id, customer)


def skip(session: Session, actor: Actor, pair_id: uuid.UUID) -> DuplicatePair:
    """Leave a pair for later: it moves to the `skipped` list and scans do not re-add it."""
    require(actor, CUSTOMERS, Action.CREATE)
    pair = _open_pair(session, actor, pair_id)
    _set_status(session, actor, pair, PairStatus.SKIPPED)
    return pair


def mark_not_duplicate(session: Session, actor: Actor, pair_id: uuid.UUID) -> DuplicatePair:
    """Remember that the two customers are different people or companies."""
    require(actor, CUSTOMERS, Action.MERGE)
    pair = _open_pair(session, actor, pair_id)
    session.execute(
        insert(NotDuplicate)
        .values(
            company_id=actor.company_id,
            customer_id_a=pair.customer_id_a,
            customer_id_b=pair.customer_id_b,
            decided_by=actor.user_id,
        )
        .on_conflict_do_nothing()
    )
    _set_status(session, actor, pair, PairStatus.NOT_DUPLICATE)
    return pair


def merge_and_rekey(
    session: Session,
    actor: Actor,
    survivor_id: uuid.UUID,
    other_ids: list[uuid.UUID],
    choices: dict[str, str] | None = None,
) -> MergeResult:
    """Merge, then re-key the survivor: a merge may combine phones and emails into it."""
    # Lazy: merges is another domain and imports customers, as we do.
    from majlis.merges.service import merge_customers

    result = merge_customers(session, actor, survivor_id, other_ids, choices)
    for customer_id in (survivor_id, *other_ids):
        customer = session.get(Customer, (actor.company_id, customer_id))
        if customer is not None:
            session.refresh(customer)
            refresh_keys(session, actor.company_id, customer)
    return result


def _oldest(session: Session, actor: Actor, customer_ids: set[uuid.UUID]) -> uuid.UUID:
    """The customer created first: the default survivor of a merge."""
    rows = session.execute(
        select(Customer.id)
        .where(Customer.company_id == actor.company_id, Customer.id.in_(customer_ids))
        .order_by(Customer.created_at, Customer.id)
    )
    return rows.scalars().first() or min(customer_ids)


def merge_pair_as_chosen(
    session: Session,
    actor: Actor,
    pair_id: uuid.UUID,
    survivor_id: uuid.UUID | None = None,
    choices: dict[str, str] | None = None,
) -> MergeResult:
    """Merge the two customers of a pair with per-field `choices` (see `merges.fields`).

    The older customer survives unless `survivor_id` says otherwise; the merge
    page uses the result's `merge_id` to offer its undo.
    """
    require(actor, CUSTOMERS, Action.MERGE)
    pair = _open_pair(session, actor, pair_id)
    members = {pair.customer_id_a, pair.customer_id_b}
    if survivor_id is not None and survivor_id not in members:
        raise ValidationFailed.single("survivor_id", "must be one of the pair's two customers")
    survivor = survivor_id or _oldest(session, actor, members)
    # The merge closes the pair (`close_pairs_answered_by_merge`).
    return merge_and_rekey(session, actor, survivor, sorted(members - {survivor}), choices)


def merge_pair(
    session: Session, actor: Actor, pair_id: uuid.UUID, survivor_id: uuid.UUID | None = None
) -> DuplicatePair:
    """Merge the two customers of a pair (the older survives unless `survivor_id` says)."""
    merge_pair_as_chosen(session, actor, pair_id, survivor_id)
    return get_pair(session, actor, pair_id)


def decide(
    session: Session,
    actor: Actor,
    pair_id: uuid.UUID,
    decision: str,
    survivor_id: uuid.UUID | None = None,
) -> DuplicatePair:
    """Apply a review decision: `merge`, `not_duplicate` or `skip`."""
    if decision == "merge":
        return merge_pair(session, actor, pair_id, survivor_id)
    if survivor_id is not None:
        raise ValidationFailed.single("survivor_id", "applies to the merge decision only")
    if decision == "not_duplicate":
        return mark_not_duplicate(session, actor, pair_id)
    return skip(session, actor, pair_id)


@dataclass(frozen=True)
class PairOutcome:
    pair_id: uuid.UUID
    outcome: str  # "merged" | "failed"
    merged_into: uuid.UUID | None = None
    detail: str | None = None


def _components(pairs: list[DuplicatePair]) -> list[list[DuplicatePair]]:
    """Group pairs into connected components over their customers."""
    parent: dict[uuid.UUID, uuid.UUID] = {}

    def find(x: uuid.UUID) -> uuid.UUID:
        while parent.setdefault(x, x) != x:
            x = parent[x]
        return x

    for pair in pairs:
        parent[find(pair.customer_id_a)] = find(pair.customer_id_b)
    groups: dict[uuid.UUID, list[DuplicatePair]] = defaultdict(list)
    for pair in pairs:
        groups[find(pair.customer_id_a)].append(pair)
    return list(groups.values())


def _merge_component(
    session: Session, actor: Actor, component: list[DuplicatePair]
) -> list[PairOutcome]:
    members = {c for pair in component for c in (pair.customer_id_a, pair.customer_id_b)}
    survivor = _oldest(session, actor, members)
    savepoint = session.begin_nested()
    try:
        merge_and_rekey(session, actor, survivor, sorted(members - {survivor}))
    except DomainError as exc:
        savepoint.rollback()
        return [PairOutcome(pair.id, "failed", detail=exc.detail) for pair in component]
    savepoint.commit()  # the merge closed the component's pairs
    return [PairOutcome(pair.id, "merged", merged_into=survivor) for pair in component]


def bulk_accept(
    session: Session,
    actor: Actor,
    min_probability: float,
    limit: int,
    pair_ids: Collection[uuid.UUID] | None = None,
) -> list[PairOutcome]:
    """Merge every pending pair at or above `min_probability`, cluster by cluster.

    Pairs sharing customers are merged together into the oldest customer; a
    cluster whose merge is refused (e.g. a concurrent merge) is reported as
    failed and left pending, the others go ahead. `pair_ids` limits it to the
    pairs a reviewer selected (the review page's bulk "Accept").
    """
    require(actor, CUSTOMERS, Action.MERGE)
    selected = () if pair_ids is None else (DuplicatePair.id.in_(list(pair_ids)),)
    pairs = list(
        session.scalars(
            select(DuplicatePair)
            .where(
                DuplicatePair.company_id == actor.company_id,
                DuplicatePair.status == PairStatus.PENDING,
                DuplicatePair.match_probability >= min_probability,
                *selected,
            )
            .order_by(DuplicatePair.match_probability.desc(), DuplicatePair.id)
            .limit(limit)
            .with_for_update()
        )
    )
    outcomes = []
    for component in _components(pairs):
        outcomes.extend(_merge_component(session, actor, component))
    return outcomes


# ----- scans ---------------------------------------------------------------------------
SCAN_TOPIC = "dedupe.scan"


def request_scan(session: Session, actor: Actor, *, in_worker: bool = True) -> DuplicateScan:
    """Record a batch scan of the company; with `in_worker` the outbox worker runs it.

    The CLI runs its scan itself (`in_worker=False`) but keeps the same row and audit.
    """
    require(actor, CUSTOMERS, Action.MERGE)
    scan = DuplicateScan(company_id=actor.company_id, requested_by=actor.user_id)
    session.add(scan)
    session.flush()
    session.refresh(scan)
    audit.record(session, actor, "duplicate_scan.requested", "duplicate_scan", scan.id)
    if in_worker:
        outbox.emit(
            session, actor, SCAN_TOPIC, {"scan_id": str(scan.id)}, dedupe_key=f"scan:{scan.id}"
        )
    return scan


def get_scan(session: Session, actor: Actor, scan_id: uuid.UUID) -> DuplicateScan:
    require(actor, CUSTOMERS, Action.VIEW)
    scan = session.get(DuplicateScan, (actor.company_id, scan_id))
    if scan is None:
        raise NotFound("duplicate_scan", scan_id)
    return scan
