"""What to do with a row that cannot move because the survivor already has one like it.

Some tables allow one row per customer (a journey state, contact preferences, a
loyalty membership, one consent per channel ...). When both the survivor and a
merged customer have such a row, the merge cannot simply re-point the other's.
Each table names its rule here; a table without one makes the merge refuse
(409, naming the table) rather than guess. No resolver may delete a row.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from majlis.core.permissions import Actor


@dataclass(frozen=True)
class Collision:
    table: str
    column: str
    row_key: dict[str, Any]
    customer_id: uuid.UUID  # the merged customer the row belongs to
    survivor_id: uuid.UUID


# Returns a short description of the resolution, stored on the merge event.
Resolver = Callable[[Session, Actor, Collision], str]

KEPT_ON_MERGED = "kept_on_merged_customer"


def keep_survivor_row(session: Session, actor: Actor, collision: Collision) -> str:
    """The survivor's row wins; the other's stays untouched on the merged customer.

    Nothing is lost: the row is listed on the merge event, still readable under the
    merged customer's id, and needs no work to undo.
    """
    return KEPT_ON_MERGED


_RESOLVERS: dict[str, Resolver] = {}
_DERIVED_TABLES: set[str] = set()


def register_resolver(table: str, resolver: Resolver) -> None:
    """Declare how merges resolve unique collisions in `table` (one resolver per table)."""
    _RESOLVERS[table] = resolver


def resolver_for(table: str) -> Resolver | None:
    return _RESOLVERS.get(table)


# (session, actor, survivor id, merged ids): a step another domain runs in the merge's (or the
# undo's) transaction, for rows that mean something else once two customers are one, or two
# again (a pending "are these the same?" pair between them is answered by the merge itself and
# becomes an open question again when the merge is undone).
MergeStep = Callable[[Session, Actor, uuid.UUID, list[uuid.UUID]], None]


class _Steps:
    """Named steps registered by other domains (merges imports none of them), run by name."""

    def __init__(self) -> None:
        self._steps: dict[str, MergeStep] = {}

    def register(self, name: str) -> Callable[[MergeStep], MergeStep]:
        def register(step: MergeStep) -> MergeStep:
            self._steps[name] = step
            return step

        return register

    def run(
        self, session: Session, actor: Actor, survivor_id: uuid.UUID, merged_ids: list[uuid.UUID]
    ) -> None:
        for name in sorted(self._steps):
            self._steps[name](session, actor, survivor_id, merged_ids)


_AFTER_MERGE = _Steps()
_AFTER_UNMERGE = _Steps()
# `@after_merge(name)`: run once every reference has moved to the survivor.
after_merge = _AFTER_MERGE.register
run_after_merge = _AFTER_MERGE.run
# `@after_unmerge(name)`: run once an undo has moved the rows back to the restored customers.
after_unmerge = _AFTER_UNMERGE.register
run_after_unmerge = _AFTER_UNMERGE.run


def register_derived_table(table: str) -> None:
    """Declare `table` as computed from the customer's own fields (e.g. by a trigger).

    Its rows describe that customer's record, not something the customer owns, so a
    merge leaves them where they are: the survivor's are recomputed when its fields
    change, and the merged customer's stay with the hidden record.
    """
    _DERIVED_TABLES.add(table)


def is_derived(table: str) -> bool:
    return table in _DERIVED_TABLES


# One row per customer (or per customer and channel / organization): the survivor's wins.
for _table in (
    "workflow_state",  # journeys: one stage per customer
    "contact_preferences",  # journeys: quiet hours and opt-out
    "customer_reminder_overrides",  # receivables: one override per customer
    "loyalty_members",  # loyalty: one membership per customer
    "customer_consents",  # privacy: one consent row per channel
    "contacts",  # organizations: one primary contact per organization
    "not_duplicate_pairs",  # dedupe: a pair decision already recorded for the survivor
):
    register_resolver(_table, keep_survivor_row)

register_derived_table("customer_search_keys")  # search: name/phone keys kept by a trigger
