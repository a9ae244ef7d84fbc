"""Shapes of the conversations HTTP API: chat records as channels send them, and answers."""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints, model_validator

from majlis.conversations.models import InteractionKind, LinkSource, SyncState

Typed = Annotated[str, StringConstraints(max_length=500)]


class ChannelCustomer(BaseModel):
    """The customer as the channel saw them: kept exactly as typed, normalised only to match."""

    model_config = ConfigDict(extra="forbid")

    name: Typed | None = None
    email: Typed | None = None
    phone: Annotated[str, StringConstraints(max_length=40)] | None = None
    address: Typed | None = None
    trn: Annotated[str, StringConstraints(max_length=40)] | None = None
    external_ref: Annotated[str, StringConstraints(max_length=100)] | None = None


class Message(BaseModel):
    model_config = ConfigDict(extra="forbid")

    sender: Literal["customer", "agent", "bot"]
    text: Annotated[str, StringConstraints(max_length=20_000)]
    sent_at: AwareDatetime | None = None


class ConversationIn(BaseModel):
    """One chat session from a channel."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    channel: Annotated[str, StringConstraints(pattern=r"^[a-z0-9_\-]{1,40}$")]
    session_id: Annotated[str, StringConstraints(min_length=1, max_length=200)]
    channel_user: Annotated[str, StringConstraints(max_length=200)] | None = None
    interaction_number: Annotated[int, Field(ge=1)] | None = None
    customer: ChannelCustomer = ChannelCustomer()
    started_at: AwareDatetime
    ended_at: AwareDatetime | None = None
    summary: Annotated[str, StringConstraints(max_length=20_000)] | None = None
    messages: list[Message] = Field(default_factory=list, max_length=1000)
    append_summary_to_notes: bool = False

    @model_validator(mode="after")
    def _ends_after_start(self) -> ConversationIn:
        if self.ended_at is not None and self.ended_at < self.started_at:
            raise ValueError("ended_at must not be before started_at")
        return self


class ConversationOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    channel: str
    session_id: str
    channel_user: str | None
    interaction_number: int | None
    contact_name: str | None
    contact_email: str | None
    contact_phone: str | None
    contact_address: str | None
    contact_trn: str | None
    contact_external_ref: str | None
    started_at: datetime
    ended_at: datetime | None
    summary: str | None
    messages: list[dict[str, Any]]
    customer_id: uuid.UUID | None
    matched_contact_id: uuid.UUID | None = Field(
        description="the organization contact whose email or phone linked the conversation"
    )
    customer_linked_at: datetime | None
    link_source: LinkSource | None
    sync_state: SyncState
    match_reason: str | None
    match_confidence: Decimal | None
    ambiguous_candidates: list[uuid.UUID]
    anonymised_at: datetime | None
    created_at: datetime


class ConversationPage(BaseModel):
    items: list[ConversationOut]
    next_cursor: str | None


class IngestSummaryOut(BaseModel):
    """What a sync did: conversations written, and how each landed."""

    received: int
    ingested: int
    duplicates: int
    linked: int
    created: int
    ambiguous: int
    anonymous: int
    by_reason: dict[str, int]


class IngestedConversation(BaseModel):
    conversation: ConversationOut
    summary: IngestSummaryOut


class RelinkIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    customer_id: uuid.UUID


class SyncStatusOut(BaseModel):
    total: int
    linked: int
    unlinked: int
    ambiguous: int
    anonymous: int
    pending: int
    by_source: dict[str, int]


class InteractionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: InteractionKind


class InteractionOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    customer_id: uuid.UUID
    kind: InteractionKind
    actor_kind: str
    actor_id: uuid.UUID | None
    sensitive_fields: list[str]
    occurred_at: datetime


class TimelineEntryOut(BaseModel):
    occurred_at: datetime
    id: str
    kind: str
    title: str
    data: dict[str, Any]


class TimelinePage(BaseModel):
    items: list[TimelineEntryOut]
    next_cursor: str | None
