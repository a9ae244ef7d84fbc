"""Shapes of the loyalty HTTP API."""

from __future__ import annotations

import itertools
import uuid
from datetime import datetime
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from majlis.customers.schemas import Name, ShortText
from majlis.loyalty.models import EntryKind

Key = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]*$", max_length=40)]
Points = Annotated[int, Field(gt=0, le=10_000_000)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Read(BaseModel):
    model_config = ConfigDict(from_attributes=True)


class TierIn(Strict):
    key: Key
    name: Name
    name_ar: ShortText | None = None
    min_points: int = Field(ge=0, le=100_000_000)


class ProgramIn(Strict):
    name: Name
    points_per_currency_unit: Decimal = Field(ge=0, le=1000, max_digits=10, decimal_places=4)
    points_per_visit: int = Field(ge=0, le=1_000_000)
    points_per_referral: int = Field(ge=0, le=1_000_000)
    expiry_days: int = Field(ge=1, le=3650)
    tiers: list[TierIn] = Field(min_length=1, max_length=20)

    @model_validator(mode="after")
    def tiers_climb(self) -> ProgramIn:
        if self.tiers[0].min_points != 0:
            raise ValueError("the first tier must start at 0 points")
        thresholds = [tier.min_points for tier in self.tiers]
        if any(b <= a for a, b in itertools.pairwise(thresholds)):
            raise ValueError("tiers must be listed with strictly increasing min_points")
        keys = [tier.key for tier in self.tiers]
        if len(set(keys)) != len(keys):
            raise ValueError("tier keys must be unique")
        return self


class TierOut(Read):
    key: str
    name: str
    name_ar: str | None
    min_points: int


class ProgramOut(BaseModel):
    name: str
    points_per_currency_unit: Decimal
    points_per_visit: int
    points_per_referral: int
    expiry_days: int
    tiers: list[TierOut]


class EnrollIn(Strict):
    customer_id: uuid.UUID
    referral_code: Annotated[str, StringConstraints(max_length=20)] | None = None


class MemberOut(BaseModel):
    id: uuid.UUID
    customer_id: uuid.UUID
    tier_key: str
    referral_code: str
    referred_by: uuid.UUID | None
    joined_at: datetime
    balance: int
    rolling_points: int
    achievements: list[str]


class EarnIn(Strict):
    source: Literal["purchase", "visit"]
    amount: Decimal | None = Field(default=None, gt=0, max_digits=14, decimal_places=2)
    reference: Annotated[str, StringConstraints(max_length=120)] | None = None

    @model_validator(mode="after")
    def purchase_has_amount(self) -> EarnIn:
        if self.source == "purchase" and self.amount is None:
            raise ValueError("a purchase needs its amount")
        return self


class AdjustIn(Strict):
    points: int = Field(ge=-10_000_000, le=10_000_000)
    reason: Name

    @model_validator(mode="after")
    def not_zero(self) -> AdjustIn:
        if self.points == 0:
            raise ValueError("an adjustment of 0 points changes nothing")
        return self


class EntryOut(Read):
    id: uuid.UUID
    kind: EntryKind
    points: int
    remaining: int | None
    expires_at: datetime | None
    reason: str | None
    reference: str | None
    occurred_at: datetime


class RewardIn(Strict):
    name: Name
    name_ar: ShortText | None = None
    cost_points: Points
    min_tier_key: Key | None = None
    stock: int | None = Field(default=None, ge=0)
    per_member_limit: int | None = Field(default=None, ge=1)


class RewardOut(Read):
    id: uuid.UUID
    name: str
    name_ar: str | None
    cost_points: int
    min_tier_key: str | None
    stock: int | None
    per_member_limit: int | None
    is_active: bool


class RedeemIn(Strict):
    reward_id: uuid.UUID


class RedemptionOut(Read):
    id: uuid.UUID
    member_id: uuid.UUID
    reward_id: uuid.UUID
    points: int
    created_at: datetime


class CampaignIn(Strict):
    name: Name
    multiplier: Decimal = Field(gt=1, le=10, max_digits=5, decimal_places=2)
    starts_at: datetime
    ends_at: datetime

    @model_validator(mode="after")
    def ends_after_start(self) -> CampaignIn:
        if self.ends_at <= self.starts_at:
            raise ValueError("ends_at must be after starts_at")
        return self


class CampaignOut(Read):
    id: uuid.UUID
    name: str
    multiplier: Decimal
    starts_at: datetime
    ends_at: datetime


Metric = Literal["points_earned", "visits", "referrals", "redemptions"]


class Criterion(Strict):
    metric: Metric
    at_least: int = Field(ge=1, le=100_000_000)


class AchievementIn(Strict):
    key: Key
    name: Name
    name_ar: ShortText | None = None
    criterion: Criterion


class AchievementOut(Read):
    id: uuid.UUID
    key: str
    name: str
    name_ar: str | None
    criterion: Criterion
