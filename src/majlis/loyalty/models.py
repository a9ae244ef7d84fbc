"""Loyalty tables: program, tiers, members, the points ledger, campaigns, rewards, badges."""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    Boolean,
    DateTime,
    Enum,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Integer,
    Numeric,
    Text,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB, UUID
from sqlalchemy.orm import Mapped, mapped_column

from majlis.core.models import Base, TenantMixin


class EntryKind(StrEnum):
    EARN = "earn"
    REDEEM = "redeem"
    EXPIRE = "expire"
    ADJUST = "adjust"


def _fk(column: str, parent: str) -> ForeignKeyConstraint:
    return ForeignKeyConstraint(["company_id", column], [f"{parent}.company_id", f"{parent}.id"])


class LoyaltyProgram(TenantMixin, Base):
    """One per company: how points are earned and how long they last."""

    __tablename__ = "loyalty_programs"
    __table_args__ = (UniqueConstraint("company_id"),)

    name: Mapped[str] = mapped_column(Text)
    points_per_currency_unit: Mapped[Decimal] = mapped_column(Numeric(10, 4), server_default="1")
    points_per_visit: Mapped[int] = mapped_column(Integer, server_default="0")
    points_per_referral: Mapped[int] = mapped_column(Integer, server_default="0")
    expiry_days: Mapped[int] = mapped_column(Integer, server_default="365")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class LoyaltyTier(TenantMixin, Base):
    """A tier, reached by `min_points` earned over the rolling last 12 months."""

    __tablename__ = "loyalty_tiers"
    __table_args__ = (UniqueConstraint("company_id", "key"),)

    key: Mapped[str] = mapped_column(Text)
    name: Mapped[str] = mapped_column(Text)
    name_ar: Mapped[str | None] = mapped_column(Text)
    min_points: Mapped[int] = mapped_column(Integer)


class LoyaltyMember(TenantMixin, Base):
    __tablename__ = "loyalty_members"
    __table_args__ = (
        ForeignKeyConstraint(
            ["company_id", "customer_id"], ["customers.company_id", "customers.id"]
        ),
        _fk("referred_by", "loyalty_members"),
        UniqueConstraint("company_id", "customer_id"),
        UniqueConstraint("company_id", "referral_code"),
        Index("ix_loyalty_members_tier", "company_id", "tier_key"),  # capped tier counts
    )

    customer_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    tier_key: Mapped[str] = mapped_column(Text)
    referral_code: Mapped[str] = mapped_column(Text)
    referred_by: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    joined_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class PointsEntry(TenantMixin, Base):
    """One line of the points ledger; a member's balance is the sum of `points`.

    Positive entries are *lots*: `remaining` says how many of their points are
    still unspent, and spending (redeem, negative adjust) and expiry draw from
    the oldest lots first, so the sum of open lots always equals the balance.
    """

    __tablename__ = "points_ledger"
    __table_args__ = (
        _fk("member_id", "loyalty_members"),
        Index("ix_points_ledger_member", "company_id", "member_id", "occurred_at"),
        Index(
            "ix_points_ledger_open_lots",
            "company_id",
            "member_id",
            "expires_at",
            "id",
            postgresql_where=text("remaining > 0"),
        ),
        Index(
            "uq_points_ledger_reference",
            "company_id",
            "member_id",
            "reference",
            unique=True,
            postgresql_where=text("reference IS NOT NULL"),
        ),
    )

    member_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    kind: Mapped[EntryKind] = mapped_column(
        Enum(EntryKind, name="points_entry_kind", values_callable=lambda e: [m.value for m in e])
    )
    points: Mapped[int] = mapped_column(Integer)
    remaining: Mapped[int | None] = mapped_column(Integer)
    expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    reason: Mapped[str | None] = mapped_column(Text)
    reference: Mapped[str | None] = mapped_column(Text)
    actor_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    occurred_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class LoyaltyCampaign(TenantMixin, Base):
    """A bonus campaign: purchase points are multiplied while it runs."""

    __tablename__ = "loyalty_campaigns"
    __table_args__ = (Index("ix_loyalty_campaigns_period", "company_id", "starts_at", "ends_at"),)

    name: Mapped[str] = mapped_column(Text)
    multiplier: Mapped[Decimal] = mapped_column(Numeric(5, 2))
    starts_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    ends_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class Reward(TenantMixin, Base):
    __tablename__ = "rewards"

    name: Mapped[str] = mapped_column(Text)
    name_ar: Mapped[str | None] = mapped_column(Text)
    cost_points: Mapped[int] = mapped_column(Integer)
    min_tier_key: Mapped[str | None] = mapped_column(Text)
    stock: Mapped[int | None] = mapped_column(Integer)
    per_member_limit: Mapped[int | None] = mapped_column(Integer)
    is_active: Mapped[bool] = mapped_column(Boolean, server_default="true")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class Redemption(TenantMixin, Base):
    __tablename__ = "redemptions"
    __table_args__ = (
        _fk("member_id", "loyalty_members"),
        _fk("reward_id", "rewards"),
        _fk("ledger_entry_id", "points_ledger"),
        Index("ix_redemptions_member_reward", "company_id", "member_id", "reward_id"),
    )

    member_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    reward_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    ledger_entry_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    points: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class Achievement(TenantMixin, Base):
    """A badge; `criterion` is {"metric": ..., "at_least": N} (see loyalty.service.METRICS)."""

    __tablename__ = "achievements"
    __table_args__ = (UniqueConstraint("company_id", "key"),)

    key: Mapped[str] = mapped_column(Text)
    name: Mapped[str] = mapped_column(Text)
    name_ar: Mapped[str | None] = mapped_column(Text)
    criterion: Mapped[dict[str, Any]] = mapped_column(JSONB)


class MemberAchievement(Base):
    __tablename__ = "member_achievements"
    __table_args__ = (_fk("member_id", "loyalty_members"), _fk("achievement_id", "achievements"))

    company_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("companies.id"), primary_key=True
    )
    member_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    achievement_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    awarded_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
