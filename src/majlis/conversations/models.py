"""Conversations from chat channels, their link to a customer, and customer interactions."""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    DateTime,
    ForeignKeyConstraint,
    Index,
    Integer,
    Numeric,
    Text,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB, UUID
from sqlalchemy.orm import Mapped, mapped_column

from majlis.core.models import Base, TenantMixin
from majlis.customers.models import Customer
from majlis.organizations.models import pg_enum


class LinkSource(StrEnum):
    AUTO_SYNC = "auto_sync"
    MANUAL = "manual"
    MIGRATION = "migration"


class SyncState(StrEnum):
    PENDING = "pending"
    LINKED = "linked"
    AMBIGUOUS = "ambiguous"
    ANONYMOUS = "anonymous"  # nothing to identify the person by: no name, email or phone


class InteractionKind(StrEnum):
    VIEWED = "viewed"
    EDITED = "edited"
    LOADED_INTO_CHAT = "loaded_into_chat"
    EXPORTED = "exported"


# Customer indexes the matching probes use (created by the 0003 migration).
LIVE_CUSTOMER = text("deleted_at IS NULL")
Index(
    "ix_customers_match_name",
    Customer.company_id,
    Customer.match_name,
    postgresql_where=LIVE_CUSTOMER,
)
Index(
    "ix_customers_match_name_ar",
    Customer.company_id,
    Customer.match_name_ar,
    postgresql_where=LIVE_CUSTOMER,
)
Index(
    "ix_customers_has_secondary_emails",
    Customer.company_id,
    postgresql_where=text("deleted_at IS NULL AND secondary_emails <> '{}'"),
)
Index(
    "ix_customers_has_secondary_phones",
    Customer.company_id,
    postgresql_where=text("deleted_at IS NULL AND secondary_phones <> '{}'"),
)


class Conversation(TenantMixin, Base):
    """One chat session as the channel saw it, and the customer it is linked to."""

    __tablename__ = "conversations"
    __table_args__ = (
        ForeignKeyConstraint(
            ["company_id", "customer_id"],
            ["customers.company_id", "customers.id"],
            ondelete="CASCADE",
        ),
        UniqueConstraint("company_id", "channel", "session_id", name="uq_conversations_session"),
        Index("ix_conversations_customer", "company_id", "customer_id", "started_at", "id"),
        Index(
            "ix_conversations_unlinked",
            "company_id",
            "id",
            postgresql_where=text("customer_id IS NULL"),
        ),
        Index("ix_conversations_started", "company_id", "started_at"),
        Index("ix_conversations_sync", "company_id", "sync_state", "link_source"),
        ForeignKeyConstraint(
            ["company_id", "matched_contact_id"],
            ["contacts.company_id", "contacts.id"],
            name="fk_conversations_matched_contact",
            ondelete="SET NULL (matched_contact_id)",
        ),
        Index(
            "ix_conversations_matched_contact",
            "company_id",
            "matched_contact_id",
            postgresql_where=text("matched_contact_id IS NOT NULL"),
        ),
    )

    channel: Mapped[str] = mapped_column(Text)
    session_id: Mapped[str] = mapped_column(Text)
    channel_user: Mapped[str | None] = mapped_column(Text)
    interaction_number: Mapped[int | None] = mapped_column(Integer)
    contact_name: Mapped[str | None] = mapped_column(Text)
    contact_email: Mapped[str | None] = mapped_column(Text)
    contact_phone: Mapped[str | None] = mapped_column(Text)
    contact_address: Mapped[str | None] = mapped_column(Text)
    contact_trn: Mapped[str | None] = mapped_column(Text)
    contact_external_ref: Mapped[str | None] = mapped_column(Text)
    match_email: Mapped[str | None] = mapped_column(Text)
    match_phone: Mapped[str | None] = mapped_column(Text)
    match_trn: Mapped[str | None] = mapped_column(Text)
    match_name: Mapped[str | None] = mapped_column(Text)
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    ended_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    summary: Mapped[str | None] = mapped_column(Text)
    messages: Mapped[list[dict[str, Any]]] = mapped_column(JSONB, server_default="[]")
    customer_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    # The organization contact whose email or phone linked the conversation to its
    # organization (None when the customer's own identifiers matched).
    matched_contact_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    customer_linked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    link_source: Mapped[LinkSource | None] = mapped_column(
        pg_enum(LinkSource, "conversation_link_source")
    )
    sync_state: Mapped[SyncState] = mapped_column(
        pg_enum(SyncState, "conversation_sync_state"), server_default="pending"
    )
    match_reason: Mapped[str | None] = mapped_column(Text)
    match_confidence: Mapped[Decimal | None] = mapped_column(Numeric(4, 3))
    ambiguous_candidates: Mapped[list[uuid.UUID]] = mapped_column(
        ARRAY(UUID(as_uuid=True)), server_default="{}"
    )
    anonymised_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class CustomerInteraction(TenantMixin, Base):
    """Who looked at, edited, loaded into chat or exported a customer, and when (append-only)."""

    __tablename__ = "customer_interactions"
    __table_args__ = (
        ForeignKeyConstraint(
            ["company_id", "customer_id"],
            ["customers.company_id", "customers.id"],
            ondelete="CASCADE",
        ),
        Index(
            "ix_customer_interactions_customer", "company_id", "customer_id", "occurred_at", "id"
        ),
    )

    customer_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    kind: Mapped[InteractionKind] = mapped_column(pg_enum(InteractionKind, "interaction_kind"))
    actor_kind: Mapped[str] = mapped_column(Text)
    actor_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    sensitive_fields: Mapped[list[str]] = mapped_column(ARRAY(Text), server_default="{}")
    occurred_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )
