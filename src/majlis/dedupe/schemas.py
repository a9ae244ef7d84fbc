"""Shapes of the duplicate API: check results, review pairs, decisions, scans."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from majlis.dedupe.models import PairSource, PairStatus, ScanStatus


class EvidenceOut(BaseModel):
    feature: str
    level: str
    match_weight: float = Field(description="log2 Bayes factor, term-frequency adjusted")
    bayes_factor: float


class DuplicateMatchOut(BaseModel):
    """An existing customer that may be the same person or company."""

    model_config = ConfigDict(from_attributes=True)

    customer_id: uuid.UUID
    display_name: str
    match_probability: float
    likely: bool = Field(description="at or above the model's threshold")
    reasons: list[str]
    evidence: list[EvidenceOut]


class DuplicateCheckOut(BaseModel):
    matches: list[DuplicateMatchOut]


class PairOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    customer_id_a: uuid.UUID
    customer_id_b: uuid.UUID
    match_probability: float
    reasons: str
    evidence: list[dict[str, Any]]
    cluster_id: uuid.UUID | None
    scan_id: uuid.UUID | None
    source: PairSource
    status: PairStatus
    decided_by: uuid.UUID | None
    decided_at: datetime | None
    created_at: datetime


class PairPage(BaseModel):
    items: list[PairOut]
    next_cursor: str | None


class DecisionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    decision: Literal["merge", "not_duplicate", "skip"]
    survivor_id: uuid.UUID | None = Field(
        default=None, description="for merge: which of the two survives (default: the older)"
    )


class BulkAcceptIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    min_probability: float = Field(ge=0.5, le=1.0)
    limit: int = Field(default=100, ge=1, le=500, description="pairs handled in this call")


class PairResultOut(BaseModel):
    pair_id: uuid.UUID
    outcome: Literal["merged", "failed"]
    merged_into: uuid.UUID | None = None
    detail: str | None = None


class BulkAcceptOut(BaseModel):
    results: list[PairResultOut]


class ScanOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    status: ScanStatus
    stage: str | None
    customers_total: int
    candidate_pairs: int
    pairs_written: int
    pairs_skipped: int
    clusters: int
    error: str | None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None


class ImportRowMatchesOut(BaseModel):
    row: int = Field(description="the file's row number (the header is row 1)")
    matches: list[DuplicateMatchOut]


class ImportMatchesPage(BaseModel):
    items: list[ImportRowMatchesOut]
    next_cursor: str | None = Field(description="null once the whole file was read")
