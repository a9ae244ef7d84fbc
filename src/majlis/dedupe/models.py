"""Tables of the duplicate workflow: match keys, review pairs, remembered decisions, scans.

The matching core (features, model, blocking) is pure Python; these tables are
what the online check, batch scans and the review queue keep in PostgreSQL
(migration 0008_dedupe).
"""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    DateTime,
    Enum,
    Float,
    ForeignKeyConstraint,
    Index,
    Integer,
    Text,
    func,
)
from sqlalchemy.dialects.postgresql import JSONB, UUID
from sqlalchemy.orm import Mapped, mapped_column

from majlis.core.models import Base, TenantMixin


class PairStatus(StrEnum):
    PENDING = "pending"
    MERGED = "merged"
    NOT_DUPLICATE = "not_duplicate"
    SKIPPED = "skipped"


class PairSource(StrEnum):
    SCAN = "scan"
    SYNC = "sync"


class ScanStatus(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    FINISHED = "finished"
    FAILED = "failed"


def _pg_enum(enum: type[StrEnum], name: str) -> Enum:
    return Enum(enum, name=name, values_callable=lambda e: [m.value for m in e])


def _customer_fk(column: str, table: str) -> ForeignKeyConstraint:
    return ForeignKeyConstraint(
        ["company_id", column],
        ["customers.company_id", "customers.id"],
        name=f"fk_{table}_{column}",
        ondelete="CASCADE",
    )


class CustomerMatchKey(Base):
    """One blocking key of one live customer: the index behind the online check.

    Derived data (like the search index): rebuilt by `majlis dedupe reindex`,
    so it references the company only, not the customer — a merge does not
    move it and a customer's stale keys are dropped when it changes.
    """

    __tablename__ = "customer_match_keys"
    __table_args__ = (
        ForeignKeyConstraint(["company_id"], ["companies.id"], name="fk_customer_match_keys_co"),
        Index("ix_customer_match_keys_customer", "company_id", "customer_id"),
    )

    company_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    key: Mapped[str] = mapped_column(Text, primary_key=True)
    customer_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)


class DuplicatePair(TenantMixin, Base):
    """A proposed duplicate pair in the review queue (customer_id_a < customer_id_b)."""

    __tablename__ = "duplicate_pairs"
    __table_args__ = (
        _customer_fk("customer_id_a", "duplicate_pairs"),
        _customer_fk("customer_id_b", "duplicate_pairs"),
        Index("ix_duplicate_pairs_queue", "company_id", "status", "match_probability", "id"),
        Index("ix_duplicate_pairs_pair", "company_id", "customer_id_a", "customer_id_b"),
        Index("ix_duplicate_pairs_b", "company_id", "customer_id_b"),
        Index("ix_duplicate_pairs_cluster", "company_id", "cluster_id"),
    )

    customer_id_a: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    customer_id_b: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    match_probability: Mapped[float] = mapped_column(Float)
    evidence: Mapped[list[dict[str, Any]]] = mapped_column(JSONB)
    reasons: Mapped[str] = mapped_column(Text)
    cluster_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    scan_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    source: Mapped[PairSource] = mapped_column(_pg_enum(PairSource, "duplicate_pair_source"))
    status: Mapped[PairStatus] = mapped_column(
        _pg_enum(PairStatus, "duplicate_pair_status"), server_default="pending"
    )
    decided_by: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    decided_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class NotDuplicate(Base):
    """A remembered "not a duplicate" decision, keyed by the ordered customer pair."""

    __tablename__ = "not_duplicate_pairs"
    __table_args__ = (
        _customer_fk("customer_id_a", "not_duplicate_pairs"),
        _customer_fk("customer_id_b", "not_duplicate_pairs"),
        Index("ix_not_duplicate_pairs_b", "company_id", "customer_id_b"),
    )

    company_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    customer_id_a: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    customer_id_b: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    decided_by: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    decided_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class DuplicateScan(TenantMixin, Base):
    """One batch scan of a company's customers and its progress."""

    __tablename__ = "duplicate_scans"

    status: Mapped[ScanStatus] = mapped_column(
        _pg_enum(ScanStatus, "duplicate_scan_status"), server_default="queued"
    )
    requested_by: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    customers_total: Mapped[int] = mapped_column(Integer, server_default="0")
    candidate_pairs: Mapped[int] = mapped_column(Integer, server_default="0")
    pairs_written: Mapped[int] = mapped_column(Integer, server_default="0")
    pairs_skipped: Mapped[int] = mapped_column(Integer, server_default="0")
    clusters: Mapped[int] = mapped_column(Integer, server_default="0")
    stage: Mapped[str | None] = mapped_column(Text)
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
