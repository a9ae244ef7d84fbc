"""Merging duplicate customers into one survivor, and undoing it.

A merge runs in one savepoint of the caller's transaction: the customers are
locked, the survivor takes the chosen field values, every row that references
a merged customer (found from the catalog, see `references.py`) is re-pointed
to the survivor and recorded, the merged customers are marked
`merged_into_id` (never deleted), and the merge event keeps a full snapshot of
each. A dry run does all of that and rolls the savepoint back, so its counts
are exactly what a real merge would move.
"""

from __future__ import annotations

import json
import uuid
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

import psycopg.errors
from sqlalchemy import Select, insert, inspect, select
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session

from majlis.core import audit, outbox
from majlis.core.errors import Conflict, NotFound, ValidationFailed
from majlis.core.ids import new_id
from majlis.core.pagination import DEFAULT_LIMIT, Page, page_by_moment
from majlis.core.permissions import CUSTOMERS, Action, Actor, require
from majlis.customers.models import Customer
from majlis.customers.schemas import CustomerOut
from majlis.customers.service import UNIQUE_IDENTIFIERS
from majlis.merges.fields import CHOOSABLE, merged_values, validate_choices
from majlis.merges.models import CustomerMerge, CustomerMergeMove
from majlis.merges.references import (
    Reference,
    colliding_rows,
    customer_references,
    repoint,
    rows_not_on,
)
from majlis.merges.resolvers import (
    Collision,
    is_derived,
    resolver_for,
    run_after_merge,
    run_after_unmerge,
)

ENTITY = "customer"
# How long a merge can be undone; documented in docs/merges.md.
RETENTION = timedelta(days=30)
T = TypeVar("T")
M = TypeVar("M")


@dataclass(frozen=True)
class MovedCount:
    table: str
    column: str
    rows: int


@dataclass(frozen=True)
class MergeResult:
    """What a merge did (or, for a dry run, would do)."""

    merge_id: uuid.UUID | None
    dry_run: bool
    survivor: dict[str, Any]  # the survivor as it is (would be) after the merge
    merged_ids: list[uuid.UUID]
    moved: list[MovedCount]
    collisions: list[dict[str, Any]]


@dataclass
class _Moves:
    rows: list[tuple[Reference, dict[str, Any], uuid.UUID]] = field(default_factory=list)
    collisions: list[dict[str, Any]] = field(default_factory=list)

    def counts(self) -> list[MovedCount]:
        counted: dict[tuple[str, str], int] = defaultdict(int)
        for reference, _, _ in self.rows:
            counted[(reference.table, reference.column)] += 1
        return [MovedCount(table, column, n) for (table, column), n in sorted(counted.items())]


# ----- shared --------------------------------------------------------------------------
def _jsonable(value: dict[str, Any]) -> dict[str, Any]:
    return dict(json.loads(json.dumps(value, default=str)))


def full_snapshot(customer: Customer) -> dict[str, Any]:
    """Every column of the customer, as JSON (the merge event keeps one per merged customer)."""
    columns = inspect(Customer).column_attrs
    return _jsonable({attr.key: getattr(customer, attr.key) for attr in columns})


def _in_savepoint(session: Session, work: Callable[[], T], *, keep: bool) -> T:
    """Run `work` in a savepoint; keep its writes only if `keep` (a failure never leaks out)."""
    savepoint = session.begin_nested()
    try:
        result = work()
    except BaseException:
        savepoint.rollback()
        raise
    if keep:
        savepoint.commit()
    else:
        savepoint.rollback()
    return result


def _without_waiting(session: Session, query: Select[tuple[M]]) -> list[M]:
    """The rows of a NOWAIT locking query; a row locked by someone else answers 409."""
    try:
        return list(session.scalars(query.execution_options(populate_existing=True)))
    except OperationalError as exc:
        if isinstance(exc.orig, psycopg.errors.LockNotAvailable):
            raise Conflict(
                "these customers are being merged or edited right now; try again",
                reason="locked",
            ) from exc
        raise


def _lock_customers(
    session: Session, actor: Actor, customer_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, Customer]:
    """Lock the customers in id order without waiting: a concurrent merge gets 409 at once.

    FOR NO KEY UPDATE conflicts with another merge or edit of the same customers but
    not with the key-share locks that inserting an invoice or a task takes.
    """
    query = (
        select(Customer)
        .where(Customer.company_id == actor.company_id, Customer.id.in_(customer_ids))
        .order_by(Customer.id)
        .with_for_update(nowait=True, key_share=True)
    )
    found = {customer.id: customer for customer in _without_waiting(session, query)}
    for customer_id in customer_ids:
        customer = found.get(customer_id)
        if customer is None or customer.deleted_at is not None:
            raise NotFound(ENTITY, customer_id)
    return found


def _typed(snapshot: dict[str, Any]) -> CustomerOut:
    """Typed field values from a JSON snapshot."""
    return CustomerOut.model_validate(snapshot)


# ----- merge ---------------------------------------------------------------------------
def _checked_other_ids(survivor_id: uuid.UUID, other_ids: list[uuid.UUID]) -> list[uuid.UUID]:
    others = list(dict.fromkeys(other_ids))
    if not others:
        raise ValidationFailed.single("other_ids", "name at least one customer to merge")
    if survivor_id in others:
        raise ValidationFailed.single("other_ids", "must not contain the survivor")
    return others


def _ensure_not_merged(customers: list[Customer]) -> None:
    for customer in customers:
        if customer.merged_into_id is not None:
            raise Conflict(
                f"customer {customer.id} was already merged into {customer.merged_into_id}",
                reason="already-merged",
                customer_id=str(customer.id),
            )


def _apply_values(
    session: Session, survivor: Customer, others: list[Customer], values: dict[str, Any]
) -> None:
    """Give the survivor its merged values; an identifier it takes is freed on the other first."""
    for other in others:
        for identifier in UNIQUE_IDENTIFIERS:
            if getattr(other, identifier) is not None and getattr(other, identifier) == values.get(
                identifier
            ):
                setattr(other, identifier, None)
        other.merged_into_id = survivor.id
    session.flush()  # the others release identifiers before the survivor takes them
    for name, value in values.items():
        setattr(survivor, name, value)
    session.flush()


def _resolve_collision(session: Session, actor: Actor, collision: Collision) -> dict[str, Any]:
    resolver = resolver_for(collision.table)
    if resolver is None:
        raise Conflict(
            f"{collision.table} allows one such row per customer and both the survivor and"
            f" customer {collision.customer_id} have one; no merge rule is registered for"
            f" {collision.table}, so nothing was merged",
            reason="unresolved-collision",
            table=collision.table,
        )
    resolution = resolver(session, actor, collision)
    return {
        "table": collision.table,
        "column": collision.column,
        "row_key": collision.row_key,
        "customer_id": str(collision.customer_id),
        "resolution": resolution,
    }


def _move_one(
    session: Session,
    actor: Actor,
    reference: Reference,
    other_id: uuid.UUID,
    survivor_id: uuid.UUID,
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(moved keys, resolved collisions) of one merged customer's rows in one reference."""
    blocked = colliding_rows(session, reference, actor.company_id, other_id, survivor_id)
    resolved = [
        _resolve_collision(
            session, actor, Collision(reference.table, reference.column, key, other_id, survivor_id)
        )
        for key in blocked
    ]
    savepoint = session.begin_nested()
    try:
        moved = repoint(session, reference, other_id, survivor_id, keep=blocked)
    except IntegrityError as exc:
        savepoint.rollback()
        raise Conflict(
            f"rows of {reference.table} cannot move to the survivor ({exc.orig}); nothing was"
            " merged",
            reason="unresolved-collision",
            table=reference.table,
        ) from exc
    savepoint.commit()
    return moved, resolved


def movable_references(session: Session) -> list[Reference]:
    """The references a merge re-points: every foreign key to customers, minus derived tables."""
    return [ref for ref in customer_references(session) if not is_derived(ref.table)]


def _move_references(
    session: Session, actor: Actor, survivor_id: uuid.UUID, others: list[Customer]
) -> _Moves:
    moves = _Moves()
    references = movable_references(session)
    # One other at a time: a second other's row then collides with the first one's moved row.
    for other in others:
        for reference in references:
            moved, resolved = _move_one(session, actor, reference, other.id, survivor_id)
            moves.rows.extend((reference, key, other.id) for key in moved)
            moves.collisions.extend(resolved)
    return moves


def _record_merge(
    session: Session,
    actor: Actor,
    survivor: Customer,
    others: list[Customer],
    before: dict[str, Any],
    snapshots: dict[str, Any],
    choices: dict[str, str],
    moves: _Moves,
) -> uuid.UUID:
    after = full_snapshot(survivor)
    merge = CustomerMerge(
        company_id=actor.company_id,
        id=new_id(),
        survivor_id=survivor.id,
        other_ids=[other.id for other in others],
        choices=choices,
        survivor_before=before,
        survivor_after=after,
        snapshots=snapshots,
        collisions=moves.collisions,
        actor_kind=actor.kind,
        actor_id=actor.user_id,
    )
    session.add(merge)
    session.flush()
    if moves.rows:
        session.execute(
            insert(CustomerMergeMove),
            [
                {
                    "company_id": actor.company_id,
                    "id": new_id(),
                    "merge_id": merge.id,
                    "table_name": reference.table,
                    "column_name": reference.column,
                    "row_key": key,
                    "from_customer_id": from_id,
                }
                for reference, key, from_id in moves.rows
            ],
        )
    changed = audit.changed_fields(before, after)
    audit.record(
        session,
        actor,
        "customer.merged",
        ENTITY,
        survivor.id,
        before={key: before[key] for key in changed},
        after={**changed, "merge_id": merge.id, "merged_ids": merge.other_ids},
    )
    for other in others:
        audit.record(
            session,
            actor,
            "customer.merged_into",
            ENTITY,
            other.id,
            before={"merged_into_id": None},
            after={"merged_into_id": survivor.id, "merge_id": merge.id},
        )
    payload = {
        "merge_id": str(merge.id),
        "survivor_id": str(survivor.id),
        "merged_ids": [str(other.id) for other in others],
    }
    outbox.emit(session, actor, "customer.merged", payload)
    return merge.id


def _merge(
    session: Session,
    actor: Actor,
    survivor_id: uuid.UUID,
    other_ids: list[uuid.UUID],
    choices: dict[str, str],
    dry_run: bool,
) -> MergeResult:
    locked = _lock_customers(session, actor, sorted([survivor_id, *other_ids]))
    survivor, others = locked[survivor_id], [locked[other_id] for other_id in other_ids]
    _ensure_not_merged([survivor, *others])
    before = full_snapshot(survivor)
    snapshots = {str(other.id): full_snapshot(other) for other in others}
    _apply_values(session, survivor, others, merged_values(survivor, others, choices))
    moves = _move_references(session, actor, survivor.id, others)
    run_after_merge(session, actor, survivor.id, list(other_ids))
    session.refresh(survivor)  # triggers (e.g. balances) may have changed it
    merge_id = _record_merge(session, actor, survivor, others, before, snapshots, choices, moves)
    return MergeResult(
        merge_id=None if dry_run else merge_id,
        dry_run=dry_run,
        survivor=CustomerOut.model_validate(survivor).model_dump(mode="json"),
        merged_ids=list(other_ids),
        moved=moves.counts(),
        collisions=moves.collisions,
    )


def merge_customers(
    session: Session,
    actor: Actor,
    survivor_id: uuid.UUID,
    other_ids: list[uuid.UUID],
    choices: dict[str, str] | None = None,
    dry_run: bool = False,
) -> MergeResult:
    """Merge `other_ids` into `survivor_id` (owner/manager only); see the module docstring.

    `choices` maps a field to "survivor", "other:<id>" or "combine" (see `fields.py`).
    Raises NotFound for an unknown customer, Conflict (409) when a customer is locked by
    a concurrent merge, already merged, or a unique collision has no resolver, and
    ValidationFailed for bad choices. With `dry_run` nothing is written.
    """
    require(actor, CUSTOMERS, Action.MERGE)
    others = _checked_other_ids(survivor_id, other_ids)
    checked = validate_choices(dict(choices or {}), others)
    return _in_savepoint(
        session,
        lambda: _merge(session, actor, survivor_id, others, checked, dry_run),
        keep=not dry_run,
    )


# ----- reading -------------------------------------------------------------------------
def get_merge(session: Session, actor: Actor, merge_id: uuid.UUID) -> CustomerMerge:
    require(actor, CUSTOMERS, Action.VIEW)
    merge = session.get(CustomerMerge, (actor.company_id, merge_id))
    if merge is None:
        raise NotFound("merge", merge_id)
    return merge


def moved_counts(session: Session, actor: Actor, merge_id: uuid.UUID) -> list[MovedCount]:
    """How many rows the merge moved, per table and column."""
    rows = session.execute(
        select(CustomerMergeMove.table_name, CustomerMergeMove.column_name).where(
            CustomerMergeMove.company_id == actor.company_id,
            CustomerMergeMove.merge_id == merge_id,
        )
    ).all()
    counted: dict[tuple[str, str], int] = defaultdict(int)
    for table, column in rows:
        counted[(table, column)] += 1
    return [MovedCount(table, column, n) for (table, column), n in sorted(counted.items())]


def list_merges(
    session: Session, actor: Actor, *, cursor: str | None = None, limit: int = DEFAULT_LIMIT
) -> Page[CustomerMerge]:
    """The company's merges, newest first, keyset-paginated on (merged_at, id)."""
    require(actor, CUSTOMERS, Action.VIEW)
    query = select(CustomerMerge).where(CustomerMerge.company_id == actor.company_id)
    return page_by_moment(
        session, query, CustomerMerge.merged_at, CustomerMerge.id, cursor=cursor, limit=limit
    )


# ----- undo ----------------------------------------------------------------------------
def _refuse(detail: str, reason: str, **extra: Any) -> Conflict:
    return Conflict(f"this merge cannot be undone: {detail}", reason=reason, **extra)


def _changed_by_merge(merge: CustomerMerge) -> list[str]:
    before, after = merge.survivor_before, merge.survivor_after
    return [name for name in CHOOSABLE if before.get(name) != after.get(name)]


def _check_undoable(merge: CustomerMerge, now: datetime) -> None:
    if merge.undone_at is not None:
        raise _refuse(f"it was already undone at {merge.undone_at.isoformat()}", "already-undone")
    if now - merge.merged_at > RETENTION:
        raise _refuse(
            f"merges can be undone for {RETENTION.days} days; this one is from"
            f" {merge.merged_at.date().isoformat()}",
            "retention-expired",
        )


def _check_customers_unchanged(
    merge: CustomerMerge, survivor: Customer, others: list[Customer]
) -> None:
    if survivor.merged_into_id is not None:
        raise _refuse(
            f"the survivor was merged into {survivor.merged_into_id} since; undo that first",
            "survivor-merged",
        )
    current = full_snapshot(survivor)
    edited = [
        name
        for name in _changed_by_merge(merge)
        if current.get(name) != merge.survivor_after.get(name)
    ]
    if edited:
        raise _refuse(
            f"the survivor's {', '.join(edited)} changed after the merge",
            "survivor-changed",
            fields=edited,
        )
    for other in others:
        if other.merged_into_id != survivor.id:
            raise _refuse(f"customer {other.id} is no longer merged here", "customer-changed")


def _moved_groups(
    session: Session, actor: Actor, merge: CustomerMerge
) -> dict[tuple[str, str, uuid.UUID], list[dict[str, Any]]]:
    groups: dict[tuple[str, str, uuid.UUID], list[dict[str, Any]]] = defaultdict(list)
    moves = session.scalars(
        select(CustomerMergeMove).where(
            CustomerMergeMove.company_id == actor.company_id,
            CustomerMergeMove.merge_id == merge.id,
        )
    )
    for move in moves:
        groups[(move.table_name, move.column_name, move.from_customer_id)].append(move.row_key)
    return groups


def _check_rows_still_on_survivor(
    session: Session,
    actor: Actor,
    survivor_id: uuid.UUID,
    groups: dict[tuple[str, str, uuid.UUID], list[dict[str, Any]]],
) -> None:
    for (table, column, _), keys in groups.items():
        elsewhere = rows_not_on(session, table, column, keys, actor.company_id, survivor_id)
        if elsewhere:
            raise _refuse(
                f"{elsewhere} moved row(s) of {table} were re-assigned after the merge",
                "row-moved-again",
                table=table,
            )


def _restore_customers(
    session: Session, merge: CustomerMerge, survivor: Customer, others: list[Customer]
) -> None:
    before = _typed(merge.survivor_before)
    for name in _changed_by_merge(merge):
        setattr(survivor, name, getattr(before, name))
    session.flush()  # the survivor gives back identifiers before the others reclaim them
    for other in others:
        snapshot = _typed(merge.snapshots[str(other.id)])
        for identifier in UNIQUE_IDENTIFIERS:
            setattr(other, identifier, getattr(snapshot, identifier))
        other.merged_into_id = None
    session.flush()


def _undo(session: Session, actor: Actor, merge_id: uuid.UUID) -> CustomerMerge:
    get_merge(session, actor, merge_id)
    (merge,) = _without_waiting(
        session,
        select(CustomerMerge)
        .where(CustomerMerge.company_id == actor.company_id, CustomerMerge.id == merge_id)
        .with_for_update(nowait=True),
    )
    _check_undoable(merge, datetime.now(UTC))
    try:
        locked = _lock_customers(session, actor, sorted([merge.survivor_id, *merge.other_ids]))
    except NotFound as exc:
        raise _refuse(f"{exc.detail} any more (deleted since)", "customer-deleted") from exc
    survivor, others = locked[merge.survivor_id], [locked[i] for i in merge.other_ids]
    _check_customers_unchanged(merge, survivor, others)
    groups = _moved_groups(session, actor, merge)
    _check_rows_still_on_survivor(session, actor, survivor.id, groups)
    try:
        _restore_customers(session, merge, survivor, others)
        for (table, column, from_id), keys in groups.items():
            repoint(session, (table, column), survivor.id, from_id, only=keys)
    except IntegrityError as exc:
        raise _refuse(f"later changes collide with it ({exc.orig})", "collision") from exc
    run_after_unmerge(session, actor, survivor.id, list(merge.other_ids))
    merge.undone_at, merge.undone_by = datetime.now(UTC), actor.user_id
    session.flush()
    for customer in (survivor, *others):
        audit.record(
            session,
            actor,
            "customer.merge_undone",
            ENTITY,
            customer.id,
            after={"merge_id": merge.id},
        )
    outbox.emit(session, actor, "customer.merge_undone", {"merge_id": str(merge.id)})
    return merge


def undo_merge(session: Session, actor: Actor, merge_id: uuid.UUID) -> CustomerMerge:
    """Restore the merged customers and move back exactly the rows the merge moved.

    Rows deleted since are skipped; other domains' `after_unmerge` steps then run (the
    review queue re-opens the pair the merge answered). Refused (409 with a `reason`)
    when already undone, past `RETENTION`, or unsafe: the survivor was edited in a field
    the merge set, a moved row was re-assigned, or the survivor was merged again.
    """
    require(actor, CUSTOMERS, Action.MERGE)
    return _in_savepoint(session, lambda: _undo(session, actor, merge_id), keep=True)
