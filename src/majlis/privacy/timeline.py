"""Timeline source of this domain: consent changes."""

from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.orm import Session

from majlis.core.permissions import Actor
from majlis.core.timeline import Position, TimelineEntry, older_than, timeline_source
from majlis.privacy.models import ConsentLogEntry


@timeline_source("consent")
def consent_entries(
    session: Session, actor: Actor, customer_id: uuid.UUID, before: Position | None, limit: int
) -> list[TimelineEntry]:
    """Each marketing consent or opt-out change, with its source."""
    query = (
        select(ConsentLogEntry)
        .where(
            ConsentLogEntry.company_id == actor.company_id,
            ConsentLogEntry.customer_id == customer_id,
            older_than(ConsentLogEntry.occurred_at, ConsentLogEntry.id, before),
        )
        .order_by(ConsentLogEntry.occurred_at.desc(), ConsentLogEntry.id.desc())
        .limit(limit)
    )
    return [
        TimelineEntry(
            occurred_at=row.occurred_at,
            id=str(row.id),
            kind="consent",
            title=f"{row.channel.value}: "
            + (
                "opted out"
                if row.opted_out
                else "consent"
                if row.marketing_consent
                else "no consent"
            ),
            data={"channel": row.channel.value, "source": row.source},
        )
        for row in session.scalars(query)
    ]
