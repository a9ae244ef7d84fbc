"""Shapes of the privacy HTTP API: consent, erasure requests, retention, export."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from majlis.customers.schemas import Name, ShortText
from majlis.privacy.models import ConsentChannel, ErasureStatus

Reason = Annotated[str, StringConstraints(min_length=3, max_length=2_000, strip_whitespace=True)]


class ConsentIn(BaseModel):
    """The customer's choice on one channel and where it was given."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    marketing_consent: bool
    opted_out: bool = False
    source: Annotated[str, StringConstraints(min_length=1, max_length=200)]
    note: ShortText | None = None


class ConsentOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    channel: ConsentChannel
    marketing_consent: bool
    opted_out: bool
    updated_by: uuid.UUID | None
    updated_at: datetime


class ConsentLogOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    channel: ConsentChannel
    marketing_consent: bool
    opted_out: bool
    source: str
    note: str | None
    actor_kind: str
    actor_id: uuid.UUID | None
    occurred_at: datetime


class ConsentsOut(BaseModel):
    current: list[ConsentOut]
    log: list[ConsentLogOut]


class ErasureRequestIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: Reason
    requested_by: Name


class ErasureRequestOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    customer_id: uuid.UUID | None
    reason: str
    requested_by: str
    status: ErasureStatus
    received_at: datetime
    deadline_at: datetime
    recorded_by: uuid.UUID | None
    completed_at: datetime | None
    completed_by: uuid.UUID | None
    pseudonym: str | None
    outcome: dict[str, Any] | None


class ErasureRequestPage(BaseModel):
    items: list[ErasureRequestOut]
    next_cursor: str | None


class RetentionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    retention_days: Annotated[int, Field(ge=30, le=36_500)]


class RetentionOut(BaseModel):
    retention_days: int


class PurgeOut(BaseModel):
    customers_purged: int
    conversations_purged: int
    cutoff: datetime
