"""Merge events and the exact rows each merge moved (migration 0008_merges)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import DateTime, ForeignKeyConstraint, Index, Text, func, text
from sqlalchemy.dialects.postgresql import ARRAY, JSONB, UUID
from sqlalchemy.orm import Mapped, mapped_column

from majlis.core.models import Base, TenantMixin
from majlis.customers.models import Customer


def _customer_fk(column: str) -> ForeignKeyConstraint:
    return ForeignKeyConstraint(["company_id", column], ["customers.company_id", "customers.id"])


class CustomerMerge(TenantMixin, Base):
    """One merge: who survived, who was folded in, and everything needed to undo it."""

    __tablename__ = "customer_merges"
    __table_args__ = (
        _customer_fk("survivor_id"),
        Index("ix_customer_merges_listing", "company_id", "merged_at", "id"),
        Index("ix_customer_merges_survivor", "company_id", "survivor_id"),
    )

    survivor_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    other_ids: Mapped[list[uuid.UUID]] = mapped_column(ARRAY(UUID(as_uuid=True)))
    choices: Mapped[dict[str, str]] = mapped_column(JSONB)
    survivor_before: Mapped[dict[str, Any]] = mapped_column(JSONB)
    survivor_after: Mapped[dict[str, Any]] = mapped_column(JSONB)
    # other customer id -> its full record as it was just before the merge
    snapshots: Mapped[dict[str, Any]] = mapped_column(JSONB)
    # rows that could not move (a unique key on the survivor's side) and how each was resolved
    collisions: Mapped[list[dict[str, Any]]] = mapped_column(JSONB, server_default="[]")
    actor_kind: Mapped[str] = mapped_column(Text)
    actor_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    merged_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    undone_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    undone_by: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))


class CustomerMergeMove(TenantMixin, Base):
    """One row a merge re-pointed: where it lives, which column, and whose it was."""

    __tablename__ = "customer_merge_moves"
    __table_args__ = (
        ForeignKeyConstraint(
            ["company_id", "merge_id"], ["customer_merges.company_id", "customer_merges.id"]
        ),
        _customer_fk("from_customer_id"),
        Index("ix_customer_merge_moves_merge", "company_id", "merge_id"),
        Index("ix_customer_merge_moves_from", "company_id", "from_customer_id"),
    )

    merge_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    table_name: Mapped[str] = mapped_column(Text)
    column_name: Mapped[str] = mapped_column(Text)
    row_key: Mapped[dict[str, Any]] = mapped_column(JSONB)
    from_customer_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))


# Declared here rather than in customers/models.py: the index belongs to this migration.
Index(
    "ix_customers_merged_into",
    Customer.company_id,
    Customer.merged_into_id,
    postgresql_where=text("merged_into_id IS NOT NULL"),
)
