"""Saved filters: a user's named customer-list filters, optionally shared with the company.

A saved filter stores the list's query (filters, sort, search text) under a name
unique per user. Everyone may save filters for themselves and share them; only
the user who saved a filter may delete it. Every write is audited.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import (
    Boolean,
    DateTime,
    ForeignKeyConstraint,
    Index,
    Text,
    UniqueConstraint,
    func,
    or_,
    select,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB, UUID
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, Session, mapped_column

from majlis.core import audit
from majlis.core.errors import Conflict, FieldError, NotFound, ValidationFailed
from majlis.core.ids import new_id
from majlis.core.models import Base, TenantMixin
from majlis.core.permissions import CUSTOMERS, Action, Actor, require

ENTITY = "saved_filter"
NAME_MAX = 80
VALUE_MAX = 200
# The customer list's query parameters a filter may hold (the cursor is a position, not a filter).
FILTER_KEYS = ("q", "source", "kind", "status", "tag", "sort")
LIST_LIMIT = 50


class SavedFilter(TenantMixin, Base):
    __tablename__ = "saved_filters"
    __table_args__ = (
        ForeignKeyConstraint(
            ["company_id", "user_id"],
            ["memberships.company_id", "memberships.user_id"],
            name="fk_saved_filters_user",
            ondelete="CASCADE",
        ),
        UniqueConstraint("company_id", "user_id", "name", name="uq_saved_filters_user_name"),
        Index(
            "ix_saved_filters_shared",
            "company_id",
            "name",
            postgresql_where=text("shared"),
        ),
    )

    user_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    name: Mapped[str] = mapped_column(Text)
    query: Mapped[dict[str, str]] = mapped_column(JSONB, server_default=text("'{}'::jsonb"))
    shared: Mapped[bool] = mapped_column(Boolean, server_default=text("false"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


def _validated(name: str, query: Mapping[str, Any]) -> tuple[str, dict[str, str]]:
    errors = []
    name = name.strip()
    if not 1 <= len(name) <= NAME_MAX:
        errors.append(FieldError("name", f"must be 1 to {NAME_MAX} characters"))
    unknown = sorted(set(query) - set(FILTER_KEYS))
    if unknown:
        errors.append(FieldError("query", f"unknown filter keys: {', '.join(unknown)}"))
    if any(not isinstance(value, str) or len(value) > VALUE_MAX for value in query.values()):
        errors.append(FieldError("query", f"values must be text of at most {VALUE_MAX} characters"))
    if errors:
        raise ValidationFailed(errors)
    return name, {key: value for key, value in query.items() if value}


def snapshot(saved: SavedFilter) -> dict[str, Any]:
    return {"name": saved.name, "query": saved.query, "shared": saved.shared}


def create_saved_filter(
    session: Session, actor: Actor, name: str, query: Mapping[str, Any], *, shared: bool = False
) -> SavedFilter:
    """Save `query` under `name` for the acting user; a name they already use is a Conflict."""
    require(actor, CUSTOMERS, Action.VIEW)
    if actor.user_id is None:
        raise ValidationFailed.single("user", "only a signed-in user saves filters")
    name, values = _validated(name, query)
    saved = SavedFilter(
        company_id=actor.company_id,
        id=new_id(),
        user_id=actor.user_id,
        name=name,
        query=values,
        shared=shared,
    )
    try:
        with session.begin_nested():
            session.add(saved)
            session.flush()
    except IntegrityError:
        raise Conflict(f"you already have a saved filter named {name!r}", field="name") from None
    audit.record(session, actor, "saved_filter.created", ENTITY, saved.id, after=snapshot(saved))
    return saved


def list_saved_filters(session: Session, actor: Actor) -> list[SavedFilter]:
    """The acting user's filters and those others shared with the company, by name."""
    require(actor, CUSTOMERS, Action.VIEW)
    return list(
        session.scalars(
            select(SavedFilter)
            .where(
                SavedFilter.company_id == actor.company_id,
                or_(SavedFilter.user_id == actor.user_id, SavedFilter.shared.is_(True)),
            )
            .order_by(SavedFilter.name, SavedFilter.id)
            .limit(LIST_LIMIT)
        )
    )


def delete_saved_filter(session: Session, actor: Actor, filter_id: uuid.UUID) -> None:
    """Delete one of the acting user's own filters; anyone else's answers NotFound."""
    require(actor, CUSTOMERS, Action.VIEW)
    saved = session.scalar(
        select(SavedFilter).where(
            SavedFilter.company_id == actor.company_id,
            SavedFilter.id == filter_id,
            SavedFilter.user_id == actor.user_id,
        )
    )
    if saved is None:
        raise NotFound(ENTITY, filter_id)
    before = snapshot(saved)
    session.delete(saved)
    session.flush()
    audit.record(session, actor, "saved_filter.deleted", ENTITY, filter_id, before=before)
