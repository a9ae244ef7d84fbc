"""Import jobs and their staged rows (tables from migration 0004_search)."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import Boolean, DateTime, Enum, ForeignKeyConstraint, Integer, Text
from sqlalchemy.dialects.postgresql import JSONB, UUID
from sqlalchemy.orm import Mapped, mapped_column

from majlis.core.models import Base, TenantMixin, Timestamps


class ImportStatus(StrEnum):
    STAGED = "staged"  # validated; a dry run stops here
    RUNNING = "running"  # batches being applied; resumable from applied_through
    COMPLETED = "completed"
    FAILED = "failed"


class ImportPolicy(StrEnum):
    """What to do with a row that matches an existing customer by an identifier."""

    SKIP = "skip"
    UPDATE = "update"
    CREATE = "create"


def _pg_enum(enum: type[StrEnum], name: str) -> Enum:
    return Enum(enum, name=name, values_callable=lambda e: [m.value for m in e])


class ImportJob(TenantMixin, Timestamps, Base):
    __tablename__ = "import_jobs"
    __table_args__ = (ForeignKeyConstraint(["company_id"], ["companies.id"]),)

    status: Mapped[ImportStatus] = mapped_column(_pg_enum(ImportStatus, "import_status"))
    policy: Mapped[ImportPolicy] = mapped_column(_pg_enum(ImportPolicy, "import_policy"))
    file_name: Mapped[str] = mapped_column(Text)
    encoding: Mapped[str] = mapped_column(Text)
    mapping: Mapped[dict[str, Any]] = mapped_column(JSONB)
    dry_run: Mapped[bool] = mapped_column(Boolean, server_default="false")
    total_rows: Mapped[int] = mapped_column(Integer, server_default="0")
    invalid_rows: Mapped[int] = mapped_column(Integer, server_default="0")
    matched_rows: Mapped[int] = mapped_column(Integer, server_default="0")
    applied_through: Mapped[int] = mapped_column(Integer, server_default="0")
    inserted: Mapped[int] = mapped_column(Integer, server_default="0")
    updated: Mapped[int] = mapped_column(Integer, server_default="0")
    skipped: Mapped[int] = mapped_column(Integer, server_default="0")
    created_by: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    @property
    def progress(self) -> float:
        """Share of rows applied; `applied_through` is a file row number and row 1 the header."""
        if not self.total_rows:
            return 1.0
        return max(0.0, min(1.0, (self.applied_through - 1) / self.total_rows))


class ImportRow(Base):
    __tablename__ = "import_rows"
    company_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    job_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    row_number: Mapped[int] = mapped_column(Integer, primary_key=True)
    customer_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    errors: Mapped[list[dict[str, str]]] = mapped_column(JSONB, server_default="[]")
    match_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    matched_by: Mapped[str | None] = mapped_column(Text)

    # The file's cells after set-based clean-up (see imports/service.py), all text.
    kind: Mapped[str | None] = mapped_column(Text)
    name: Mapped[str | None] = mapped_column(Text)
    name_ar: Mapped[str | None] = mapped_column(Text)
    business_name: Mapped[str | None] = mapped_column(Text)
    business_name_ar: Mapped[str | None] = mapped_column(Text)
    email: Mapped[str | None] = mapped_column(Text)
    phone: Mapped[str | None] = mapped_column(Text)
    trn: Mapped[str | None] = mapped_column(Text)
    external_ref: Mapped[str | None] = mapped_column(Text)
    address_line1: Mapped[str | None] = mapped_column(Text)
    city: Mapped[str | None] = mapped_column(Text)
    emirate: Mapped[str | None] = mapped_column(Text)
    country: Mapped[str | None] = mapped_column(Text)
    business_type: Mapped[str | None] = mapped_column(Text)
    tags: Mapped[str | None] = mapped_column(Text)
    notes: Mapped[str | None] = mapped_column(Text)
    is_active: Mapped[str | None] = mapped_column(Text)
