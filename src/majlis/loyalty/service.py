"""Loyalty rules: program and tiers, members, the points ledger, rewards, achievements.

The ledger is the only record of points: a member's balance is `SUM(points)`
over their entries, never a stored counter. Every change of a member's points
first locks the member's row (`SELECT ... FOR UPDATE`), so two redemptions at
the same moment are serialised and the second sees the first one's spending.
Spending and expiry draw from the oldest lots first (earliest expiry).
"""

from __future__ import annotations

import math
import secrets
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from sqlalchemy import delete, func, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.orm import Session

from majlis.core import audit, outbox
from majlis.core.errors import Conflict, NotFound, ValidationFailed
from majlis.core.ids import new_id
from majlis.core.pagination import Page, decode_cursor, encode_cursor, page_by_moment
from majlis.core.permissions import ALL, NONE, Access, Action, Actor, Matrix, Role, require
from majlis.customers.models import Customer
from majlis.customers.service import get_customer
from majlis.journeys.service import record_event
from majlis.loyalty.models import (
    Achievement,
    EntryKind,
    LoyaltyCampaign,
    LoyaltyMember,
    LoyaltyProgram,
    LoyaltyTier,
    MemberAchievement,
    PointsEntry,
    Redemption,
    Reward,
)
from majlis.loyalty.schemas import (
    AchievementIn,
    CampaignIn,
    Criterion,
    ProgramIn,
    RewardIn,
    TierIn,
)
from majlis.notifications.models import Priority
from majlis.notifications.service import notify_owners


def _cells(create: Access, edit: Access, administer: Access) -> dict[Action, Access]:
    return {
        Action.VIEW: ALL,
        Action.CREATE: create,
        Action.EDIT: edit,
        Action.ADMINISTER: administer,
    }


# Sales staff enrol members, record purchases and visits and redeem rewards; owners and
# managers shape the program and correct balances by hand.
LOYALTY: Matrix = {
    Role.OWNER: _cells(create=ALL, edit=ALL, administer=ALL),
    Role.MANAGER: _cells(create=ALL, edit=ALL, administer=ALL),
    Role.SALES: _cells(create=ALL, edit=ALL, administer=NONE),
    Role.ANALYST: _cells(create=NONE, edit=NONE, administer=NONE),
}

TIER_WINDOW = timedelta(days=365)
# Members by tier stop counting here ("1,000+"): an exact count reads every member.
COUNT_CAP = 1000
DEFAULT_TIERS = (
    TierIn(key="bronze", name="Bronze", name_ar="برونزي", min_points=0),
    TierIn(key="silver", name="Silver", name_ar="فضي", min_points=1_000),
    TierIn(key="gold", name="Gold", name_ar="ذهبي", min_points=5_000),
    TierIn(key="platinum", name="Platinum", name_ar="بلاتيني", min_points=15_000),
    TierIn(key="diamond", name="Diamond", name_ar="ماسي", min_points=50_000),
)
TIER_CHANGED = "tier_changed"


# ----- program and tiers ----------------------------------------------------------------------
def _find_program(session: Session, actor: Actor) -> LoyaltyProgram | None:
    return session.scalar(
        select(LoyaltyProgram).where(LoyaltyProgram.company_id == actor.company_id)
    )


def get_program(session: Session, actor: Actor) -> LoyaltyProgram:
    """The company's program; a default one (five tiers) is created on first use."""
    require(actor, LOYALTY, Action.VIEW)
    program = _find_program(session, actor)
    if program is not None:
        return program
    session.execute(select(func.pg_advisory_xact_lock(func.hashtext(f"loy:{actor.company_id}"))))
    program = _find_program(session, actor)
    if program is None:
        program = LoyaltyProgram(company_id=actor.company_id, id=new_id(), name="Loyalty")
        session.add(program)
        _replace_tiers(session, actor, list(DEFAULT_TIERS))
        session.flush()
        session.refresh(program)
    return program


def tiers(session: Session, actor: Actor) -> list[LoyaltyTier]:
    """Tiers from lowest to highest."""
    get_program(session, actor)
    return list(
        session.scalars(
            select(LoyaltyTier)
            .where(LoyaltyTier.company_id == actor.company_id)
            .order_by(LoyaltyTier.min_points)
        )
    )


def _replace_tiers(session: Session, actor: Actor, new_tiers: list[TierIn]) -> None:
    session.execute(delete(LoyaltyTier).where(LoyaltyTier.company_id == actor.company_id))
    for tier in new_tiers:
        session.add(LoyaltyTier(company_id=actor.company_id, id=new_id(), **tier.model_dump()))
    session.flush()


def update_program(session: Session, actor: Actor, draft: ProgramIn) -> LoyaltyProgram:
    """Change earning rates, expiry and tiers; members move to the tier their points now earn."""
    require(actor, LOYALTY, Action.ADMINISTER)
    program = get_program(session, actor)
    values = draft.model_dump(exclude={"tiers"})
    for name, value in values.items():
        setattr(program, name, value)
    _replace_tiers(session, actor, draft.tiers)
    audit.record(
        session,
        actor,
        "loyalty.program_updated",
        "loyalty_program",
        program.id,
        after=draft.model_dump(mode="json"),
    )
    members = session.scalars(
        select(LoyaltyMember.id).where(LoyaltyMember.company_id == actor.company_id)
    ).all()
    for member_id in members:
        refresh_tier(session, actor, member_id)
    return program


# ----- members --------------------------------------------------------------------------------
def _new_referral_code() -> str:
    # 8 characters from an alphabet without look-alikes (0/O, 1/I): easy to read out loud.
    alphabet = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
    return "".join(secrets.choice(alphabet) for _ in range(8))


def get_member(session: Session, actor: Actor, member_id: uuid.UUID) -> LoyaltyMember:
    require(actor, LOYALTY, Action.VIEW)
    member = session.get(LoyaltyMember, (actor.company_id, member_id))
    if member is None:
        raise NotFound("loyalty member", member_id)
    return member


def member_of_customer(
    session: Session, actor: Actor, customer_id: uuid.UUID
) -> LoyaltyMember | None:
    return session.scalar(
        select(LoyaltyMember).where(
            LoyaltyMember.company_id == actor.company_id,
            LoyaltyMember.customer_id == customer_id,
        )
    )


def _referrer(session: Session, actor: Actor, code: str) -> LoyaltyMember:
    referrer = session.scalar(
        select(LoyaltyMember).where(
            LoyaltyMember.company_id == actor.company_id,
            LoyaltyMember.referral_code == code.strip().upper(),
        )
    )
    if referrer is None:
        raise ValidationFailed.single("referral_code", "no member has this referral code")
    return referrer


def enroll(
    session: Session, actor: Actor, customer_id: uuid.UUID, referral_code: str | None = None
) -> LoyaltyMember:
    """Make a customer a member (lowest tier); a referral code credits the referrer."""
    require(actor, LOYALTY, Action.CREATE)
    get_customer(session, actor, customer_id)
    if member_of_customer(session, actor, customer_id) is not None:
        raise Conflict(f"customer {customer_id} is already a member")
    referrer = _referrer(session, actor, referral_code) if referral_code else None
    member = LoyaltyMember(
        company_id=actor.company_id,
        id=new_id(),
        customer_id=customer_id,
        tier_key=tiers(session, actor)[0].key,
        referral_code=_new_referral_code(),
        referred_by=referrer.id if referrer else None,
    )
    session.add(member)
    session.flush()
    session.refresh(member)
    audit.record(
        session,
        actor,
        "loyalty.enrolled",
        "customer",
        customer_id,
        after={"member_id": member.id, "referred_by": member.referred_by},
    )
    program = get_program(session, actor)
    if referrer is not None and program.points_per_referral:
        earn_points(
            session,
            actor,
            referrer.id,
            program.points_per_referral,
            "referral",
            reference=f"referral:{member.id}",
        )
    return member


def lock_member(session: Session, actor: Actor, member_id: uuid.UUID) -> LoyaltyMember:
    """The member row, locked until commit: every change to points goes through here."""
    member = session.scalar(
        select(LoyaltyMember)
        .where(LoyaltyMember.company_id == actor.company_id, LoyaltyMember.id == member_id)
        .with_for_update()
    )
    if member is None:
        raise NotFound("loyalty member", member_id)
    return member


def balance(session: Session, actor: Actor, member_id: uuid.UUID) -> int:
    """The member's points: the sum of their ledger."""
    total = session.scalar(
        select(func.coalesce(func.sum(PointsEntry.points), 0)).where(
            PointsEntry.company_id == actor.company_id, PointsEntry.member_id == member_id
        )
    )
    return int(total or 0)


def rolling_points(
    session: Session, actor: Actor, member_id: uuid.UUID, now: datetime | None = None
) -> int:
    """Points earned over the last 12 months: what the tier is based on."""
    since = (now or datetime.now(UTC)) - TIER_WINDOW
    total = session.scalar(
        select(func.coalesce(func.sum(PointsEntry.points), 0)).where(
            PointsEntry.company_id == actor.company_id,
            PointsEntry.member_id == member_id,
            PointsEntry.kind == EntryKind.EARN,
            PointsEntry.occurred_at > since,
        )
    )
    return int(total or 0)


@dataclass(frozen=True)
class Standing:
    """Where a member stands: tier, balance, rolling points and the next tier up."""

    tier: LoyaltyTier
    next_tier: LoyaltyTier | None  # None at the top tier
    balance: int
    rolling_points: int

    @property
    def points_to_next(self) -> int | None:
        return None if self.next_tier is None else self.next_tier.min_points - self.rolling_points


def standing(session: Session, actor: Actor, member: LoyaltyMember) -> Standing:
    """The member's tier and the distance to the next one, on the rolling 12-month points."""
    tier_list = tiers(session, actor)
    rolling = rolling_points(session, actor, member.id)
    return Standing(
        tier=next((t for t in tier_list if t.key == member.tier_key), tier_list[0]),
        next_tier=next((t for t in tier_list if t.min_points > rolling), None),
        balance=balance(session, actor, member.id),
        rolling_points=rolling,
    )


def ledger_page(
    session: Session, actor: Actor, member_id: uuid.UUID, *, cursor: str | None, limit: int
) -> Page[PointsEntry]:
    """The member's ledger newest first, keyset-paged on (occurred_at, id) for the pages."""
    get_member(session, actor, member_id)
    query = select(PointsEntry).where(
        PointsEntry.company_id == actor.company_id, PointsEntry.member_id == member_id
    )
    return page_by_moment(
        session, query, PointsEntry.occurred_at, PointsEntry.id, cursor=cursor, limit=limit
    )


def ledger(session: Session, actor: Actor, member_id: uuid.UUID) -> list[PointsEntry]:
    get_member(session, actor, member_id)
    return list(
        session.scalars(
            select(PointsEntry)
            .where(PointsEntry.company_id == actor.company_id, PointsEntry.member_id == member_id)
            .order_by(PointsEntry.occurred_at.desc(), PointsEntry.id.desc())
            .limit(500)
        )
    )


# ----- earning --------------------------------------------------------------------------------
def earn_points(
    session: Session,
    actor: Actor,
    member_id: uuid.UUID,
    points: int,
    reason: str,
    *,
    reference: str | None = None,
    now: datetime | None = None,
    kind: EntryKind = EntryKind.EARN,
) -> PointsEntry | None:
    """Add a lot of points expiring after the program's expiry days.

    With a `reference` (an invoice, a visit, a rule firing) earning is idempotent:
    the same reference never earns twice, and None is returned the second time.
    """
    require(actor, LOYALTY, Action.CREATE)
    if points <= 0:
        raise ValidationFailed.single("points", "must be more than 0")
    lock_member(session, actor, member_id)
    program = get_program(session, actor)
    occurred_at = now or datetime.now(UTC)
    entry_id = session.execute(
        pg_insert(PointsEntry)
        .values(
            company_id=actor.company_id,
            id=new_id(),
            member_id=member_id,
            kind=kind,
            points=points,
            remaining=points,
            expires_at=occurred_at + timedelta(days=program.expiry_days),
            reason=reason,
            reference=reference,
            actor_id=actor.user_id,
            occurred_at=occurred_at,
        )
        .on_conflict_do_nothing(
            index_elements=["company_id", "member_id", "reference"],
            index_where=PointsEntry.reference.is_not(None),
        )
        .returning(PointsEntry.id)
    ).scalar_one_or_none()
    if entry_id is None:
        return None
    refresh_tier(session, actor, member_id, now=occurred_at)
    award_achievements(session, actor, member_id)
    return session.get(PointsEntry, (actor.company_id, entry_id))


def _campaign_multiplier(session: Session, actor: Actor, at: datetime) -> Decimal:
    best = session.scalar(
        select(func.max(LoyaltyCampaign.multiplier)).where(
            LoyaltyCampaign.company_id == actor.company_id,
            LoyaltyCampaign.starts_at <= at,
            LoyaltyCampaign.ends_at > at,
        )
    )
    return best or Decimal("1")


def purchase_points(session: Session, actor: Actor, amount: Decimal, at: datetime) -> int:
    """Points for a purchase: amount × rate × the best running campaign's multiplier, floored."""
    program = get_program(session, actor)
    raw = amount * program.points_per_currency_unit * _campaign_multiplier(session, actor, at)
    return math.floor(raw)


def earn_for(
    session: Session,
    actor: Actor,
    member_id: uuid.UUID,
    source: str,
    amount: Decimal | None,
    reference: str | None,
    now: datetime | None = None,
) -> PointsEntry | None:
    """Apply the program's earning rule for a purchase or a visit."""
    require(actor, LOYALTY, Action.CREATE)
    at = now or datetime.now(UTC)
    if source == "purchase" and amount is not None:
        points = purchase_points(session, actor, amount, at)
    else:
        points = get_program(session, actor).points_per_visit
    if points <= 0:
        raise ValidationFailed.single("source", f"this program gives no points for a {source}")
    return earn_points(session, actor, member_id, points, source, reference=reference, now=at)


# ----- spending and expiry --------------------------------------------------------------------
def _draw_from_lots(session: Session, actor: Actor, member_id: uuid.UUID, points: int) -> None:
    """Take `points` from the member's open lots, the soonest-expiring first."""
    lots = session.scalars(
        select(PointsEntry)
        .where(
            PointsEntry.company_id == actor.company_id,
            PointsEntry.member_id == member_id,
            PointsEntry.remaining > 0,
        )
        .order_by(PointsEntry.expires_at, PointsEntry.id)
        .with_for_update()
    )
    left = points
    for lot in lots:
        taken = min(left, lot.remaining or 0)
        lot.remaining = (lot.remaining or 0) - taken
        left -= taken
        if left == 0:
            break


def spend_points(
    session: Session,
    actor: Actor,
    member_id: uuid.UUID,
    points: int,
    kind: EntryKind,
    reason: str,
    *,
    now: datetime | None = None,
) -> PointsEntry:
    """Take points off a member (redeem or a negative adjustment); never below zero."""
    lock_member(session, actor, member_id)
    available = balance(session, actor, member_id)
    if points > available:
        raise Conflict(
            f"not enough points: {available} available, {points} needed", balance=available
        )
    _draw_from_lots(session, actor, member_id, points)
    entry = PointsEntry(
        company_id=actor.company_id,
        id=new_id(),
        member_id=member_id,
        kind=kind,
        points=-points,
        reason=reason,
        actor_id=actor.user_id,
        occurred_at=now or datetime.now(UTC),
    )
    session.add(entry)
    session.flush()
    return entry


def adjust_points(
    session: Session, actor: Actor, member_id: uuid.UUID, points: int, reason: str
) -> PointsEntry | None:
    """A manual correction by an owner or manager, audited."""
    require(actor, LOYALTY, Action.ADMINISTER)
    get_member(session, actor, member_id)
    if points > 0:
        entry = earn_points(session, actor, member_id, points, reason, kind=EntryKind.ADJUST)
    else:
        entry = spend_points(session, actor, member_id, -points, EntryKind.ADJUST, reason)
    session.flush()
    audit.record(
        session,
        actor,
        "loyalty.adjusted",
        "loyalty_member",
        member_id,
        after={"points": points, "reason": reason},
    )
    return entry


def expire_points(session: Session, actor: Actor, now: datetime | None = None) -> int:
    """Expire every lot past its date (remaining points become an `expire` entry).

    Members are locked in id order, so this job and redemptions never deadlock.
    Returns how many points expired.
    """
    require(actor, LOYALTY, Action.ADMINISTER)
    at = now or datetime.now(UTC)
    due = (
        PointsEntry.company_id == actor.company_id,
        PointsEntry.remaining > 0,
        PointsEntry.expires_at <= at,
    )
    member_ids = session.scalars(select(PointsEntry.member_id).where(*due).distinct()).all()
    expired = 0
    for member_id in sorted(member_ids):
        lock_member(session, actor, member_id)
        lots = session.scalars(
            select(PointsEntry)
            .where(*due, PointsEntry.member_id == member_id)
            .order_by(PointsEntry.expires_at, PointsEntry.id)
        ).all()
        for lot in lots:
            session.add(
                PointsEntry(
                    company_id=actor.company_id,
                    id=new_id(),
                    member_id=member_id,
                    kind=EntryKind.EXPIRE,
                    points=-(lot.remaining or 0),
                    reason=f"lot {lot.id} expired",
                    occurred_at=at,
                )
            )
            expired += lot.remaining or 0
            lot.remaining = 0
        session.flush()
    return expired


# ----- tiers ----------------------------------------------------------------------------------
def tier_for(tier_list: list[LoyaltyTier], points: int) -> LoyaltyTier:
    """The highest tier whose threshold the points reach (tiers sorted lowest first)."""
    reached = [tier for tier in tier_list if tier.min_points <= points]
    return reached[-1] if reached else tier_list[0]


def refresh_tier(
    session: Session, actor: Actor, member_id: uuid.UUID, now: datetime | None = None
) -> str:
    """Put the member in the tier their rolling 12-month points earn; announce a change."""
    member = get_member(session, actor, member_id)
    tier = tier_for(tiers(session, actor), rolling_points(session, actor, member_id, now))
    if tier.key != member.tier_key:
        change = {"from": member.tier_key, "to": tier.key, "member_id": str(member_id)}
        member.tier_key = tier.key
        session.flush()
        record_event(session, actor, TIER_CHANGED, member.customer_id, change)
        # The customer and the company's owner are told by whoever delivers the outbox.
        outbox.emit(
            session,
            actor,
            "loyalty.tier_changed",
            {**change, "customer_id": str(member.customer_id), "notify": ["customer", "owner"]},
        )
        notify_owners(
            session,
            actor,
            f"A loyalty member moved from {change['from']} to {change['to']}",
            f"/customers/{member.customer_id}",
            Priority.NORMAL,
        )
        audit.record(
            session, actor, "loyalty.tier_changed", "loyalty_member", member_id, after=change
        )
    return tier.key


# ----- rewards --------------------------------------------------------------------------------
def create_reward(session: Session, actor: Actor, draft: RewardIn) -> Reward:
    require(actor, LOYALTY, Action.ADMINISTER)
    if draft.min_tier_key and draft.min_tier_key not in {t.key for t in tiers(session, actor)}:
        raise ValidationFailed.single("min_tier_key", "no such tier in this program")
    reward = Reward(company_id=actor.company_id, id=new_id(), **draft.model_dump())
    session.add(reward)
    session.flush()
    session.refresh(reward)
    audit.record(
        session, actor, "reward.created", "reward", reward.id, after=draft.model_dump(mode="json")
    )
    return reward


def list_rewards(session: Session, actor: Actor) -> list[Reward]:
    require(actor, LOYALTY, Action.VIEW)
    return list(
        session.scalars(
            select(Reward)
            .where(Reward.company_id == actor.company_id, Reward.is_active.is_(True))
            .order_by(Reward.cost_points, Reward.id)
        )
    )


def _check_redeemable(
    session: Session, actor: Actor, member: LoyaltyMember, reward: Reward
) -> None:
    if not reward.is_active:
        raise Conflict("this reward is no longer offered")
    if reward.stock is not None and reward.stock <= 0:
        raise Conflict("this reward is out of stock")
    if reward.min_tier_key:
        order = [tier.key for tier in tiers(session, actor)]
        if member.tier_key not in order or (
            reward.min_tier_key in order
            and order.index(member.tier_key) < order.index(reward.min_tier_key)
        ):
            raise Conflict(f"this reward needs tier {reward.min_tier_key} or higher")
    if reward.per_member_limit is not None:
        used = session.scalar(
            select(func.count())
            .select_from(Redemption)
            .where(
                Redemption.company_id == actor.company_id,
                Redemption.member_id == member.id,
                Redemption.reward_id == reward.id,
            )
        )
        if (used or 0) >= reward.per_member_limit:
            raise Conflict(f"this reward may be redeemed {reward.per_member_limit} time(s) only")


def redeem(
    session: Session, actor: Actor, member_id: uuid.UUID, reward_id: uuid.UUID
) -> Redemption:
    """Spend points on a reward: member locked first, then the reward (always in that order)."""
    require(actor, LOYALTY, Action.EDIT)
    member = lock_member(session, actor, member_id)
    reward = session.scalar(
        select(Reward)
        .where(Reward.company_id == actor.company_id, Reward.id == reward_id)
        .with_for_update()
    )
    if reward is None:
        raise NotFound("reward", reward_id)
    _check_redeemable(session, actor, member, reward)
    entry = spend_points(
        session, actor, member_id, reward.cost_points, EntryKind.REDEEM, f"reward {reward.name}"
    )
    if reward.stock is not None:
        session.execute(
            update(Reward)
            .where(Reward.company_id == actor.company_id, Reward.id == reward.id)
            .values(stock=Reward.stock - 1)
        )
    redemption = Redemption(
        company_id=actor.company_id,
        id=new_id(),
        member_id=member_id,
        reward_id=reward.id,
        ledger_entry_id=entry.id,
        points=reward.cost_points,
    )
    session.add(redemption)
    session.flush()
    session.refresh(redemption)
    audit.record(
        session,
        actor,
        "loyalty.redeemed",
        "loyalty_member",
        member_id,
        after={"reward_id": reward.id, "points": reward.cost_points},
    )
    award_achievements(session, actor, member_id)
    return redemption


# ----- campaigns and achievements -------------------------------------------------------------
def create_campaign(session: Session, actor: Actor, draft: CampaignIn) -> LoyaltyCampaign:
    require(actor, LOYALTY, Action.ADMINISTER)
    campaign = LoyaltyCampaign(company_id=actor.company_id, id=new_id(), **draft.model_dump())
    session.add(campaign)
    session.flush()
    audit.record(
        session,
        actor,
        "campaign.created",
        "loyalty_campaign",
        campaign.id,
        after=draft.model_dump(mode="json"),
    )
    return campaign


def create_achievement(session: Session, actor: Actor, draft: AchievementIn) -> Achievement:
    require(actor, LOYALTY, Action.ADMINISTER)
    exists = session.scalar(
        select(Achievement.id).where(
            Achievement.company_id == actor.company_id, Achievement.key == draft.key
        )
    )
    if exists is not None:
        raise Conflict(f"an achievement {draft.key!r} already exists", existing_id=str(exists))
    achievement = Achievement(
        company_id=actor.company_id,
        id=new_id(),
        key=draft.key,
        name=draft.name,
        name_ar=draft.name_ar,
        criterion=draft.criterion.model_dump(),
    )
    session.add(achievement)
    session.flush()
    audit.record(
        session,
        actor,
        "achievement.created",
        "achievement",
        achievement.id,
        after=draft.model_dump(mode="json"),
    )
    return achievement


def list_achievements(session: Session, actor: Actor) -> list[Achievement]:
    require(actor, LOYALTY, Action.VIEW)
    return list(
        session.scalars(
            select(Achievement)
            .where(Achievement.company_id == actor.company_id)
            .order_by(Achievement.key)
        )
    )


@dataclass(frozen=True)
class MemberMetrics:
    points_earned: int
    visits: int
    referrals: int
    redemptions: int


def member_metrics(session: Session, actor: Actor, member_id: uuid.UUID) -> MemberMetrics:
    """What achievement criteria measure, in one query."""
    earned = (
        select(func.coalesce(func.sum(PointsEntry.points), 0))
        .where(
            PointsEntry.company_id == actor.company_id,
            PointsEntry.member_id == member_id,
            PointsEntry.kind == EntryKind.EARN,
        )
        .scalar_subquery()
    )
    visits = (
        select(func.count())
        .select_from(PointsEntry)
        .where(
            PointsEntry.company_id == actor.company_id,
            PointsEntry.member_id == member_id,
            PointsEntry.reason == "visit",
        )
        .scalar_subquery()
    )
    referrals = (
        select(func.count())
        .select_from(LoyaltyMember)
        .where(LoyaltyMember.company_id == actor.company_id, LoyaltyMember.referred_by == member_id)
        .scalar_subquery()
    )
    redemptions = (
        select(func.count())
        .select_from(Redemption)
        .where(Redemption.company_id == actor.company_id, Redemption.member_id == member_id)
        .scalar_subquery()
    )
    row = session.execute(select(earned, visits, referrals, redemptions)).one()
    return MemberMetrics(*(int(value) for value in row))


def _met(criterion: Criterion, metrics: MemberMetrics) -> bool:
    return int(getattr(metrics, criterion.metric)) >= criterion.at_least


def award_achievements(session: Session, actor: Actor, member_id: uuid.UUID) -> list[str]:
    """Give the member every badge whose criterion they now meet (once each)."""
    achievements = list_achievements(session, actor)
    if not achievements:
        return []
    metrics = member_metrics(session, actor, member_id)
    earned = [a for a in achievements if _met(Criterion.model_validate(a.criterion), metrics)]
    if not earned:
        return []
    new = session.scalars(
        pg_insert(MemberAchievement)
        .values(
            [
                {"company_id": actor.company_id, "member_id": member_id, "achievement_id": a.id}
                for a in earned
            ]
        )
        .on_conflict_do_nothing()
        .returning(MemberAchievement.achievement_id)
    ).all()
    return [a.key for a in earned if a.id in set(new)]


def member_achievement_keys(session: Session, actor: Actor, member_id: uuid.UUID) -> list[str]:
    return list(
        session.scalars(
            select(Achievement.key)
            .join(
                MemberAchievement,
                (MemberAchievement.company_id == Achievement.company_id)
                & (MemberAchievement.achievement_id == Achievement.id),
            )
            .where(
                MemberAchievement.company_id == actor.company_id,
                MemberAchievement.member_id == member_id,
            )
            .order_by(Achievement.key)
        )
    )


# ----- members at a glance --------------------------------------------------------------------
@dataclass(frozen=True)
class MemberRow:
    id: uuid.UUID
    customer_id: uuid.UUID
    name: str
    name_ar: str | None
    tier_key: str
    balance: int


def list_members(
    session: Session, actor: Actor, cursor: str | None = None, limit: int = 25
) -> Page[MemberRow]:
    """Members in joining order (keyset on the UUIDv7 id), each with name, tier and balance.

    The balance is the ledger's sum, taken per listed member inside the one query.
    """
    require(actor, LOYALTY, Action.VIEW)
    points = (
        select(func.coalesce(func.sum(PointsEntry.points), 0))
        .where(
            PointsEntry.company_id == LoyaltyMember.company_id,
            PointsEntry.member_id == LoyaltyMember.id,
        )
        .scalar_subquery()
    )
    query = (
        select(
            LoyaltyMember.id,
            LoyaltyMember.customer_id,
            Customer.name,
            Customer.name_ar,
            LoyaltyMember.tier_key,
            points.label("balance"),
        )
        .join(
            Customer,
            (Customer.company_id == LoyaltyMember.company_id)
            & (Customer.id == LoyaltyMember.customer_id),
        )
        .where(LoyaltyMember.company_id == actor.company_id)
    )
    if cursor:
        (last_id,) = decode_cursor(cursor, 1)
        query = query.where(LoyaltyMember.id > _cursor_id(last_id))
    rows = session.execute(query.order_by(LoyaltyMember.id).limit(limit + 1)).all()
    items = [
        MemberRow(row.id, row.customer_id, row.name, row.name_ar, row.tier_key, int(row.balance))
        for row in rows[:limit]
    ]
    next_cursor = encode_cursor([str(items[-1].id)]) if len(rows) > limit else None
    return Page(items, next_cursor)


def _cursor_id(value: object) -> uuid.UUID:
    try:
        return uuid.UUID(str(value))
    except ValueError as exc:
        raise ValidationFailed.single("cursor", "is not a cursor this API issued") from exc


def members_by_tier(session: Session, actor: Actor) -> dict[str, int]:
    """How many members each tier holds, capped: COUNT_CAP + 1 stands for "more".

    One statement; each tier's count reads at most COUNT_CAP + 1 entries of
    `ix_loyalty_members_tier`, so the page costs the same at a million members.
    Tiers without members are absent.
    """
    require(actor, LOYALTY, Action.VIEW)
    keys = [tier.key for tier in tiers(session, actor)]
    counts = [
        select(func.count())
        .select_from(
            select(LoyaltyMember.id)
            .where(LoyaltyMember.company_id == actor.company_id, LoyaltyMember.tier_key == key)
            .limit(COUNT_CAP + 1)
            .subquery()
        )
        .scalar_subquery()
        for key in keys
    ]
    if not counts:
        return {}
    row = session.execute(select(*counts)).one()
    return {key: int(count) for key, count in zip(keys, row, strict=True) if count}
