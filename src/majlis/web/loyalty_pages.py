"""Staff loyalty pages: the program, members by tier, the member list, a member's points.

Everything goes through `majlis.loyalty.service`, the service behind
`/api/v1/loyalty/...`: a balance is always the ledger's sum, a redemption is
the service's (member locked, then the reward; balance, tier, stock and
per-member limits checked there), and the `LOYALTY` matrix decides who may
redeem (owners, managers, sales) and who may correct points by hand (owners
and managers). Forms validate with the API's own schemas.
"""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Request, Response
from pydantic import ValidationError

from majlis.core.errors import Conflict, FieldError
from majlis.core.permissions import Action, can, require
from majlis.customers import service as customers
from majlis.loyalty import service as loyalty
from majlis.loyalty.models import LoyaltyMember, LoyaltyTier
from majlis.loyalty.schemas import AdjustIn
from majlis.web.charts import Number
from majlis.web.customer_tab_pages import ENTRY_KINDS, redeem_reward
from majlis.web.dashboard_pages import capped_count, category_chart
from majlis.web.forms import VerifiedForm, field_errors, text_value
from majlis.web.locale import N_
from majlis.web.rendering import Page, PageRoute, redirect, signed_in

router = APIRouter(route_class=PageRoute, include_in_schema=False)

MEMBERS_PAGE_SIZE = 25
LEDGER_PAGE_SIZE = 25
ADJUSTED = N_("The points were adjusted.")


def tier_label(page: Page, tier: LoyaltyTier) -> str:
    """The tier's name in the reader's language where the company gave one."""
    return page.fmt.name_of(tier)


@router.get("/loyalty")
def program(request: Request, cursor: str | None = None) -> Response:
    """The program and its tiers, members by tier (capped), the member list (keyset), rewards."""
    with signed_in(request) as page:
        settings = loyalty.get_program(page.db, page.actor)
        tiers = loyalty.tiers(page.db, page.actor)
        counts = loyalty.members_by_tier(page.db, page.actor)
        members = loyalty.list_members(page.db, page.actor, cursor, MEMBERS_PAGE_SIZE)
        pairs: list[tuple[str, Number]] = [
            (tier_label(page, tier), counts.get(tier.key, 0)) for tier in tiers
        ]
        return page.render(
            "loyalty/program.html",
            program=settings,
            tiers=tiers,
            tier_names={tier.key: tier_label(page, tier) for tier in tiers},
            by_tier=category_chart(
                page,
                "members-by-tier",
                pairs,
                lambda count: capped_count(page, count, loyalty.COUNT_CAP),
                N_("Tier"),
                N_("Members"),
            ),
            members=members.items,
            next_cursor=members.next_cursor,
            first_page=cursor is None,
            rewards=loyalty.list_rewards(page.db, page.actor),
        )


def _member_page(
    page: Page,
    member: LoyaltyMember,
    *,
    status_code: int = 200,
    refusal: str | None = None,
    adjust_text: dict[str, str] | None = None,
    adjust_errors: list[FieldError] | None = None,
) -> Response:
    """A member: tier, balance (the ledger's sum), the ledger newest first, rewards, forms."""
    tiers = loyalty.tiers(page.db, page.actor)
    ledger = loyalty.ledger_page(
        page.db,
        page.actor,
        member.id,
        cursor=page.request.query_params.get("cursor") or None,
        limit=LEDGER_PAGE_SIZE,
    )
    # A member outlives a soft-deleted customer: the points stay readable by name.
    customer = customers.get_customer(page.db, page.actor, member.customer_id, include_deleted=True)
    return page.render(
        "loyalty/member.html",
        status_code=status_code,
        member=member,
        customer=customer,
        name=page.fmt.name_of(customer),
        balance=loyalty.balance(page.db, page.actor, member.id),
        rolling=loyalty.rolling_points(page.db, page.actor, member.id),
        tier_names={tier.key: tier_label(page, tier) for tier in tiers},
        tier_order=[tier.key for tier in tiers],
        entries=ledger.items,
        next_cursor=ledger.next_cursor,
        entry_kinds=ENTRY_KINDS,
        rewards=loyalty.list_rewards(page.db, page.actor),
        may_redeem=can(page.actor, loyalty.LOYALTY, Action.EDIT),
        may_adjust=can(page.actor, loyalty.LOYALTY, Action.ADMINISTER),
        refusal=refusal,
        adjust_text=adjust_text or {},
        adjust_errors={error.field: error.message for error in adjust_errors or []},
    )


@router.get("/loyalty/members/{member_id}")
def member(request: Request, member_id: uuid.UUID) -> Response:
    with signed_in(request) as page:
        return _member_page(page, loyalty.get_member(page.db, page.actor, member_id))


@router.post("/loyalty/members/{member_id}/redeem")
def redeem(request: Request, member_id: uuid.UUID, form: VerifiedForm) -> Response:
    with signed_in(request) as page:
        member = loyalty.get_member(page.db, page.actor, member_id)
        refusal = redeem_reward(page, member, form)
        if refusal is not None:
            return _member_page(page, member, status_code=409, refusal=refusal)
        return redirect(request, f"/loyalty/members/{member.id}")


@router.post("/loyalty/members/{member_id}/adjust")
def adjust(request: Request, member_id: uuid.UUID, form: VerifiedForm) -> Response:
    """A manual correction (owners and managers): `loyalty.service.adjust_points`, audited."""
    with signed_in(request) as page:
        # Refuse a forged form before reading it, whatever it holds.
        require(page.actor, loyalty.LOYALTY, Action.ADMINISTER)
        member = loyalty.get_member(page.db, page.actor, member_id)
        text = {
            "points": text_value(form, "points", digits=True),
            "reason": text_value(form, "reason"),
        }
        try:
            draft = AdjustIn.model_validate(text)
        except ValidationError as exc:
            return _member_page(
                page, member, status_code=422, adjust_text=text, adjust_errors=field_errors(exc)
            )
        try:
            with page.db.begin_nested():
                loyalty.adjust_points(page.db, page.actor, member.id, draft.points, draft.reason)
        except Conflict as exc:
            errors = [FieldError("points", exc.detail)]
            return _member_page(
                page, member, status_code=409, adjust_text=text, adjust_errors=errors
            )
        page.web.update(flash=ADJUSTED)
        return redirect(request, f"/loyalty/members/{member.id}")
