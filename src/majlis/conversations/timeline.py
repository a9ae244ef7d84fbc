"""Timeline sources of this domain: a customer's conversations and interactions."""

from __future__ import annotations

from majlis.conversations.models import Conversation, CustomerInteraction
from majlis.core.timeline import table_source

# Each conversation linked to the customer, at the time it started.
conversation_entries = table_source(
    "conversation",
    Conversation,
    occurred_at=Conversation.started_at,
    title=lambda row: f"conversation on {row.channel}",
    data=lambda row: {
        "conversation_id": str(row.id),
        "channel": row.channel,
        "summary": row.summary,
        "link_source": row.link_source,
        "matched_contact_id": str(row.matched_contact_id) if row.matched_contact_id else None,
    },
)

# Who viewed, edited, loaded into chat or exported the customer.
interaction_entries = table_source(
    "interaction",
    CustomerInteraction,
    occurred_at=CustomerInteraction.occurred_at,
    title=lambda row: row.kind.value,
    data=lambda row: {
        "actor_id": str(row.actor_id) if row.actor_id else None,
        "sensitive_fields": row.sensitive_fields,
    },
)
