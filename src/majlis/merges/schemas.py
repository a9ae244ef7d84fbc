"""Shapes of the merge API."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from majlis.customers.schemas import CustomerOut


class MergeRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    survivor_id: uuid.UUID
    other_ids: list[uuid.UUID] = Field(min_length=1, max_length=20)
    choices: dict[str, str] = Field(
        default_factory=dict,
        description='field -> "survivor", "other:<id>" or "combine" (phones, emails, tags, notes)',
    )
    dry_run: bool = False


class MovedOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    table: str
    column: str
    rows: int


class CollisionOut(BaseModel):
    table: str
    column: str
    row_key: dict[str, Any]
    customer_id: uuid.UUID
    resolution: str


class MergeResultOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    merge_id: uuid.UUID | None
    dry_run: bool
    survivor: CustomerOut
    merged_ids: list[uuid.UUID]
    moved: list[MovedOut]
    collisions: list[CollisionOut]


class MergeOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    survivor_id: uuid.UUID
    other_ids: list[uuid.UUID]
    choices: dict[str, str]
    collisions: list[CollisionOut]
    actor_kind: str
    actor_id: uuid.UUID | None
    merged_at: datetime
    undone_at: datetime | None
    undone_by: uuid.UUID | None


class MergeDetailOut(MergeOut):
    """One merge with the snapshots it keeps and what it moved."""

    snapshots: dict[str, dict[str, Any]]
    survivor_before: dict[str, Any]
    moved: list[MovedOut]


class MergePage(BaseModel):
    items: list[MergeOut]
    next_cursor: str | None
