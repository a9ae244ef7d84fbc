"""The append-only audit log.

The application role may INSERT and SELECT here, never UPDATE or DELETE (the
migration grants nothing else), so history cannot be rewritten through the app.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import DateTime, Index, Text, func, insert, select
from sqlalchemy.dialects.postgresql import JSONB, UUID
from sqlalchemy.orm import Mapped, Session, mapped_column

from majlis.core.ids import new_id
from majlis.core.models import Base, TenantMixin
from majlis.core.pagination import Page, page_by_moment
from majlis.core.permissions import Actor


class AuditEntry(TenantMixin, Base):
    __tablename__ = "audit_log"
    __table_args__ = (Index("ix_audit_log_entity", "company_id", "entity_type", "entity_id", "id"),)

    occurred_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )
    actor_kind: Mapped[str] = mapped_column(Text)
    actor_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    action: Mapped[str] = mapped_column(Text)
    entity_type: Mapped[str] = mapped_column(Text)
    entity_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    before: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    after: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    request_id: Mapped[str | None] = mapped_column(Text)


def _jsonable(state: Mapping[str, Any] | None) -> dict[str, Any] | None:
    if state is None:
        return None
    return dict(json.loads(json.dumps(state, default=str)))


def record(
    session: Session,
    actor: Actor,
    action: str,
    entity_type: str,
    entity_id: uuid.UUID,
    *,
    before: Mapping[str, Any] | None = None,
    after: Mapping[str, Any] | None = None,
) -> None:
    """Append one audit entry in the caller's transaction (it commits or vanishes with it)."""
    session.execute(
        insert(AuditEntry).values(
            company_id=actor.company_id,
            id=new_id(),
            actor_kind=actor.kind,
            actor_id=actor.user_id,
            action=action,
            entity_type=entity_type,
            entity_id=entity_id,
            before=_jsonable(before),
            after=_jsonable(after),
            request_id=actor.request_id,
        )
    )


def changed_fields(before: Mapping[str, Any], after: Mapping[str, Any]) -> dict[str, Any]:
    """The subset of `after` that differs from `before`."""
    return {key: value for key, value in after.items() if before.get(key) != value}


def entity_history(
    session: Session,
    actor: Actor,
    entity_type: str,
    entity_id: uuid.UUID,
    *,
    cursor: str | None = None,
    limit: int = 50,
) -> Page[AuditEntry]:
    """An entity's audit trail, newest first, keyset-paginated on (occurred_at, id)."""
    query = select(AuditEntry).where(
        AuditEntry.company_id == actor.company_id,
        AuditEntry.entity_type == entity_type,
        AuditEntry.entity_id == entity_id,
    )
    return page_by_moment(
        session, query, AuditEntry.occurred_at, AuditEntry.id, cursor=cursor, limit=limit
    )
