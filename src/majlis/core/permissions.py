"""Who may do what: roles, actions and the per-domain permission matrices.

A matrix cell is ALL, OWN (only records the user created or is assigned to)
or NONE. Services call `require(actor, matrix, action, record)`; the API and
the pages never decide permissions themselves.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol
from uuid import UUID

from majlis.core.errors import PermissionDenied


class Role(StrEnum):
    OWNER = "owner"
    MANAGER = "manager"
    SALES = "sales"
    ANALYST = "analyst"


class Action(StrEnum):
    CREATE = "create"
    VIEW = "view"
    EDIT = "edit"
    DELETE = "delete"
    MERGE = "merge"
    EXPORT = "export"
    ADMINISTER = "administer"


class Access(StrEnum):
    ALL = "all"
    OWN = "own"
    NONE = "none"


@dataclass(frozen=True)
class Actor:
    """Who is acting, for which company, with which role; passed into every service call."""

    company_id: UUID
    role: Role
    user_id: UUID | None = None
    kind: str = "user"  # "user", "system"
    request_id: str | None = None

    @classmethod
    def system(cls, company_id: UUID, request_id: str | None = None) -> Actor:
        """Jobs, imports run by an operator and the CLI act as the company's system user."""
        return cls(company_id=company_id, role=Role.OWNER, kind="system", request_id=request_id)


class OwnedRecord(Protocol):
    created_by: UUID | None
    owner_id: UUID | None


Matrix = dict[Role, dict[Action, Access]]


def _row(**cells: Access) -> dict[Action, Access]:
    return {Action(name): access for name, access in cells.items()}


ALL, OWN, NONE = Access.ALL, Access.OWN, Access.NONE

CUSTOMERS: Matrix = {
    Role.OWNER: _row(create=ALL, view=ALL, edit=ALL, delete=ALL, merge=ALL, export=ALL),
    Role.MANAGER: _row(create=ALL, view=ALL, edit=ALL, delete=NONE, merge=ALL, export=ALL),
    Role.SALES: _row(create=ALL, view=ALL, edit=OWN, delete=NONE, merge=NONE, export=NONE),
    Role.ANALYST: _row(create=NONE, view=ALL, edit=NONE, delete=NONE, merge=NONE, export=ALL),
}

COMPANY_SETTINGS: Matrix = {
    Role.OWNER: _row(view=ALL, administer=ALL),
    Role.MANAGER: _row(view=ALL, administer=NONE),
    Role.SALES: _row(view=ALL, administer=NONE),
    Role.ANALYST: _row(view=ALL, administer=NONE),
}


def access_for(actor: Actor, matrix: Matrix, action: Action) -> Access:
    return matrix[actor.role].get(action, Access.NONE)


def is_own(actor: Actor, record: OwnedRecord) -> bool:
    return actor.user_id is not None and actor.user_id in (record.created_by, record.owner_id)


def can(actor: Actor, matrix: Matrix, action: Action, record: OwnedRecord | None = None) -> bool:
    access = access_for(actor, matrix, action)
    if access is Access.ALL:
        return True
    if access is Access.OWN:
        return record is None or is_own(actor, record)
    return False


def require(
    actor: Actor, matrix: Matrix, action: Action, record: OwnedRecord | None = None
) -> None:
    """Raise PermissionDenied unless the actor's role allows `action` (on `record`)."""
    if not can(actor, matrix, action, record):
        scope = " on records they do not own" if record is not None else ""
        raise PermissionDenied(f"role '{actor.role}' may not {action}{scope}")
