"""The transactional outbox: events that leave the database are written with the change.

A worker delivers them after commit; the `(company_id, dedupe_key)` unique key
makes emitting the same logical event twice a no-op, so a retried job never
queues a second email.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import DateTime, Integer, Text, UniqueConstraint, func
from sqlalchemy.dialects.postgresql import JSONB, insert
from sqlalchemy.orm import Mapped, Session, mapped_column

from majlis.core.ids import new_id
from majlis.core.models import Base, TenantMixin
from majlis.core.permissions import Actor


class OutboxEvent(TenantMixin, Base):
    __tablename__ = "outbox_events"
    __table_args__ = (UniqueConstraint("company_id", "dedupe_key"),)

    topic: Mapped[str] = mapped_column(Text)
    payload: Mapped[dict[str, Any]] = mapped_column(JSONB)
    dedupe_key: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    available_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )
    attempts: Mapped[int] = mapped_column(Integer, server_default="0")
    delivered_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_error: Mapped[str | None] = mapped_column(Text)


def emit(
    session: Session,
    actor: Actor,
    topic: str,
    payload: dict[str, Any],
    *,
    dedupe_key: str | None = None,
) -> uuid.UUID | None:
    """Queue an event in the caller's transaction; returns None if it was already queued."""
    event_id = new_id()
    statement = (
        insert(OutboxEvent)
        .values(
            company_id=actor.company_id,
            id=event_id,
            topic=topic,
            payload=payload,
            dedupe_key=dedupe_key or str(event_id),
        )
        .on_conflict_do_nothing(index_elements=["company_id", "dedupe_key"])
        .returning(OutboxEvent.id)
    )
    return session.execute(statement).scalar_one_or_none()
