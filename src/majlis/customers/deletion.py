"""Guards that run before a customer is deleted, registered by the domains that need them.

Rows of other domains hang off a customer (an organization's contacts and projects; later
invoices, subscriptions, ...). Such a domain registers a guard with
`@before_customer_delete("name")`, and `customers.service.delete_customer` runs every guard
in the delete's own transaction. A guard either refuses with `Conflict` (deleting would
orphan its rows) or, when the caller asked to archive everything, archives them and says
how many. The customers domain never imports those domains, so a new one adds its guard
without editing this package.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy.orm import Session

from majlis.core.permissions import Actor
from majlis.customers.models import Customer

# (session, actor, customer, archive_all) -> what the guard archived, e.g. {"projects_archived": 2}
DeleteGuard = Callable[[Session, Actor, Customer, bool], dict[str, int]]
_guards: dict[str, DeleteGuard] = {}


def before_customer_delete(name: str) -> Callable[[DeleteGuard], DeleteGuard]:
    """Register a guard under `name` (one guard per name; registering again replaces it)."""

    def register(guard: DeleteGuard) -> DeleteGuard:
        _guards[name] = guard
        return guard

    return register


def registered_guards() -> list[str]:
    return sorted(_guards)


def run_delete_guards(
    session: Session, actor: Actor, customer: Customer, *, archive_all: bool
) -> dict[str, int]:
    """Run every guard; the first refusal aborts the delete, and with it the transaction
    (so nothing an earlier guard archived stays archived). Returns all that was archived."""
    archived: dict[str, int] = {}
    for guard in _guards.values():
        archived.update(guard(session, actor, customer, archive_all))
    return archived
