"""Shapes of the imports HTTP API."""

from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import BaseModel, ConfigDict

from majlis.imports.models import ImportPolicy, ImportStatus


class ImportJobOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    status: ImportStatus
    policy: ImportPolicy
    file_name: str
    encoding: str
    mapping: dict[str, str]
    dry_run: bool
    total_rows: int
    invalid_rows: int
    matched_rows: int
    applied_through: int
    inserted: int
    updated: int
    skipped: int
    progress: float
    created_at: datetime
    finished_at: datetime | None


class RowErrorOut(BaseModel):
    row: int
    column: str
    message: str


class RowErrorPage(BaseModel):
    items: list[RowErrorOut]
    next_cursor: str | None
