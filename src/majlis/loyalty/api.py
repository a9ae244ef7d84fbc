"""Thin routes over the loyalty service."""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import APIRouter, status

from majlis.core.http import Context
from majlis.loyalty import service
from majlis.loyalty.models import LoyaltyMember, LoyaltyProgram
from majlis.loyalty.schemas import (
    AchievementIn,
    AchievementOut,
    AdjustIn,
    CampaignIn,
    CampaignOut,
    EarnIn,
    EnrollIn,
    EntryOut,
    MemberOut,
    ProgramIn,
    ProgramOut,
    RedeemIn,
    RedemptionOut,
    RewardIn,
    RewardOut,
    TierOut,
)

router = APIRouter(prefix="/api/v1/loyalty", tags=["loyalty"])


def _program_out(ctx: Context, program: LoyaltyProgram) -> ProgramOut:
    tiers = [TierOut.model_validate(t) for t in service.tiers(ctx.session, ctx.actor)]
    return ProgramOut(
        name=program.name,
        points_per_currency_unit=program.points_per_currency_unit,
        points_per_visit=program.points_per_visit,
        points_per_referral=program.points_per_referral,
        expiry_days=program.expiry_days,
        tiers=tiers,
    )


def _member_out(ctx: Context, member: LoyaltyMember) -> MemberOut:
    session, actor = ctx.session, ctx.actor
    return MemberOut(
        id=member.id,
        customer_id=member.customer_id,
        tier_key=member.tier_key,
        referral_code=member.referral_code,
        referred_by=member.referred_by,
        joined_at=member.joined_at,
        balance=service.balance(session, actor, member.id),
        rolling_points=service.rolling_points(session, actor, member.id),
        achievements=service.member_achievement_keys(session, actor, member.id),
    )


@router.get("/program", response_model=ProgramOut)
def get_program(ctx: Context) -> ProgramOut:
    return _program_out(ctx, service.get_program(ctx.session, ctx.actor))


@router.put("/program", response_model=ProgramOut)
def update_program(ctx: Context, body: ProgramIn) -> ProgramOut:
    return _program_out(ctx, service.update_program(ctx.session, ctx.actor, body))


@router.post("/members", response_model=MemberOut, status_code=status.HTTP_201_CREATED)
def enroll(ctx: Context, body: EnrollIn) -> MemberOut:
    member = service.enroll(ctx.session, ctx.actor, body.customer_id, body.referral_code)
    return _member_out(ctx, member)


@router.get("/members/{member_id}", response_model=MemberOut)
def get_member(ctx: Context, member_id: uuid.UUID) -> MemberOut:
    return _member_out(ctx, service.get_member(ctx.session, ctx.actor, member_id))


@router.get("/members/{member_id}/ledger", response_model=list[EntryOut])
def member_ledger(ctx: Context, member_id: uuid.UUID) -> list[EntryOut]:
    return [EntryOut.model_validate(e) for e in service.ledger(ctx.session, ctx.actor, member_id)]


@router.post("/members/{member_id}/earn", response_model=MemberOut)
def earn(ctx: Context, member_id: uuid.UUID, body: EarnIn) -> MemberOut:
    service.get_member(ctx.session, ctx.actor, member_id)
    service.earn_for(ctx.session, ctx.actor, member_id, body.source, body.amount, body.reference)
    return _member_out(ctx, service.get_member(ctx.session, ctx.actor, member_id))


@router.post("/members/{member_id}/adjust", response_model=MemberOut)
def adjust(ctx: Context, member_id: uuid.UUID, body: AdjustIn) -> MemberOut:
    service.adjust_points(ctx.session, ctx.actor, member_id, body.points, body.reason)
    return _member_out(ctx, service.get_member(ctx.session, ctx.actor, member_id))


@router.post(
    "/members/{member_id}/redeem",
    response_model=RedemptionOut,
    status_code=status.HTTP_201_CREATED,
)
def redeem(ctx: Context, member_id: uuid.UUID, body: RedeemIn) -> RedemptionOut:
    redemption = service.redeem(ctx.session, ctx.actor, member_id, body.reward_id)
    return RedemptionOut.model_validate(redemption)


@router.post("/rewards", response_model=RewardOut, status_code=status.HTTP_201_CREATED)
def create_reward(ctx: Context, body: RewardIn) -> RewardOut:
    return RewardOut.model_validate(service.create_reward(ctx.session, ctx.actor, body))


@router.get("/rewards", response_model=list[RewardOut])
def list_rewards(ctx: Context) -> list[RewardOut]:
    return [RewardOut.model_validate(r) for r in service.list_rewards(ctx.session, ctx.actor)]


@router.post("/campaigns", response_model=CampaignOut, status_code=status.HTTP_201_CREATED)
def create_campaign(ctx: Context, body: CampaignIn) -> CampaignOut:
    return CampaignOut.model_validate(service.create_campaign(ctx.session, ctx.actor, body))


@router.post("/achievements", response_model=AchievementOut, status_code=status.HTTP_201_CREATED)
def create_achievement(ctx: Context, body: AchievementIn) -> AchievementOut:
    achievement = service.create_achievement(ctx.session, ctx.actor, body)
    return AchievementOut.model_validate(achievement)


@router.get("/achievements", response_model=list[AchievementOut])
def list_achievements(ctx: Context) -> list[AchievementOut]:
    return [
        AchievementOut.model_validate(a) for a in service.list_achievements(ctx.session, ctx.actor)
    ]


@router.post("/expire", summary="Expire points past their date now (the daily job)")
def expire(ctx: Context) -> dict[str, Any]:
    return {"expired_points": service.expire_points(ctx.session, ctx.actor)}
