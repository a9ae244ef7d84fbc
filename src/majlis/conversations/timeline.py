"""Timeline sources of this domain: a customer's conversations and interactions."""

from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.orm import Session

from majlis.conversations.models import Conversation, CustomerInteraction
from majlis.core.permissions import Actor
from majlis.core.timeline import Position, TimelineEntry, older_than, timeline_source


@timeline_source("conversation")
def conversation_entries(
    session: Session, actor: Actor, customer_id: uuid.UUID, before: Position | None, limit: int
) -> list[TimelineEntry]:
    """Each conversation linked to the customer, at the time it started."""
    query = (
        select(Conversation)
        .where(
            Conversation.company_id == actor.company_id,
            Conversation.customer_id == customer_id,
            older_than(Conversation.started_at, Conversation.id, before),
        )
        .order_by(Conversation.started_at.desc(), Conversation.id.desc())
        .limit(limit)
    )
    return [
        TimelineEntry(
            occurred_at=row.started_at,
            id=str(row.id),
            kind="conversation",
            title=f"conversation on {row.channel}",
            data={
                "conversation_id": str(row.id),
                "channel": row.channel,
                "summary": row.summary,
                "link_source": row.link_source,
            },
        )
        for row in session.scalars(query)
    ]


@timeline_source("interaction")
def interaction_entries(
    session: Session, actor: Actor, customer_id: uuid.UUID, before: Position | None, limit: int
) -> list[TimelineEntry]:
    """Who viewed, edited, loaded into chat or exported the customer."""
    query = (
        select(CustomerInteraction)
        .where(
            CustomerInteraction.company_id == actor.company_id,
            CustomerInteraction.customer_id == customer_id,
            older_than(CustomerInteraction.occurred_at, CustomerInteraction.id, before),
        )
        .order_by(CustomerInteraction.occurred_at.desc(), CustomerInteraction.id.desc())
        .limit(limit)
    )
    return [
        TimelineEntry(
            occurred_at=row.occurred_at,
            id=str(row.id),
            kind="interaction",
            title=row.kind.value,
            data={
                "actor_id": str(row.actor_id) if row.actor_id else None,
                "sensitive_fields": row.sensitive_fields,
            },
        )
        for row in session.scalars(query)
    ]
