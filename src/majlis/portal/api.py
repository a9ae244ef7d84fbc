"""Portal routes: ask for a sign-in link, open a session, then the customer's own data."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, Response, status
from pydantic import BaseModel, ConfigDict, Field, model_validator
from sqlalchemy.orm import Session

from majlis.core.db import get_engine, tenant_session
from majlis.core.errors import Conflict, NotAuthenticated
from majlis.customers.models import Customer
from majlis.customers.schemas import Email
from majlis.journeys import followups
from majlis.journeys.schemas import PreferencesIn, PreferencesOut
from majlis.loyalty import service as loyalty
from majlis.loyalty.models import LoyaltyMember
from majlis.loyalty.schemas import EntryOut, RedeemIn, RedemptionOut, RewardOut
from majlis.portal import service
from majlis.privacy.service import export_customer

router = APIRouter(prefix="/api/v1/portal", tags=["customer portal"])


class LinkRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    company_id: uuid.UUID
    email: Email | None = None
    phone: Annotated[str, Field(max_length=40)] | None = None

    @model_validator(mode="after")
    def email_or_phone(self) -> LinkRequest:
        if not self.email and not self.phone:
            raise ValueError("give the email or the phone number we know you by")
        return self


class SessionRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    company_id: uuid.UUID
    token: Annotated[str, Field(min_length=10, max_length=200)]


@dataclass(frozen=True)
class PortalContext:
    identity: service.PortalIdentity
    session: Session


def _portal_token(request: Request) -> str:
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise NotAuthenticated("sign in first: 'Authorization: Bearer mjp_…'")
    return token.strip()


def portal_context(request: Request) -> Iterator[PortalContext]:
    """A signed-in customer and their one tenant-scoped transaction."""
    raw = _portal_token(request)
    company_id = service.token_company(raw)
    with tenant_session(get_engine("app"), company_id) as session:
        yield PortalContext(service.authenticate(session, raw), session)


Portal = Annotated[PortalContext, Depends(portal_context)]


@router.post("/links", status_code=status.HTTP_202_ACCEPTED, summary="Send me a sign-in link")
def request_link(body: LinkRequest) -> dict[str, str]:
    with tenant_session(get_engine("app"), body.company_id) as session:
        service.request_link(session, body.company_id, body.email, body.phone)
    return {"detail": "if we know you, a sign-in link is on its way"}


@router.post("/sessions", status_code=status.HTTP_201_CREATED, summary="Sign in with the link")
def open_session(body: SessionRequest) -> dict[str, str]:
    with tenant_session(get_engine("app"), body.company_id) as session:
        token = service.open_session(session, body.company_id, body.token)
    return {"token": token, "token_type": "bearer"}


@router.post("/sign-out", status_code=status.HTTP_204_NO_CONTENT)
def sign_out(portal: Portal) -> Response:
    service.sign_out(portal.session, portal.identity)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


def _membership(portal: Portal) -> LoyaltyMember | None:
    identity = portal.identity
    return loyalty.member_of_customer(portal.session, identity.actor, identity.customer_id)


@router.get("/me", summary="My record, tier and points")
def me(portal: Portal) -> dict[str, Any]:
    session, identity = portal.session, portal.identity
    customer = session.get(Customer, (identity.company_id, identity.customer_id))
    member = _membership(portal)
    return {
        "customer": {
            "id": str(identity.customer_id),
            "name": customer.name if customer else None,
            "email": customer.email if customer else None,
            "phone": customer.phone if customer else None,
        },
        "loyalty": None
        if member is None
        else {
            "tier": member.tier_key,
            "balance": loyalty.balance(session, identity.actor, member.id),
            "referral_code": member.referral_code,
        },
    }


@router.get("/me/points", response_model=list[EntryOut], summary="My points history")
def my_points(portal: Portal) -> list[EntryOut]:
    member = _membership(portal)
    if member is None:
        return []
    entries = loyalty.ledger(portal.session, portal.identity.actor, member.id)
    return [EntryOut.model_validate(entry) for entry in entries]


@router.get("/me/rewards", response_model=list[RewardOut], summary="Rewards I can redeem")
def my_rewards(portal: Portal) -> list[RewardOut]:
    rewards = loyalty.list_rewards(portal.session, portal.identity.actor)
    return [RewardOut.model_validate(reward) for reward in rewards]


@router.post(
    "/me/redeem",
    response_model=RedemptionOut,
    status_code=status.HTTP_201_CREATED,
    summary="Redeem a reward with my points",
)
def redeem(portal: Portal, body: RedeemIn) -> RedemptionOut:
    member = _membership(portal)
    if member is None:
        raise Conflict("you are not a member of the loyalty program yet")
    redemption = loyalty.redeem(portal.session, portal.identity.actor, member.id, body.reward_id)
    return RedemptionOut.model_validate(redemption)


@router.put("/me/preferences", response_model=PreferencesOut, summary="How to contact me")
def set_preferences(portal: Portal, body: PreferencesIn) -> PreferencesOut:
    identity = portal.identity
    prefs = followups.set_preferences(portal.session, identity.actor, identity.customer_id, body)
    return PreferencesOut.model_validate(prefs)


@router.get("/me/export", summary="Download everything held about me (privacy export)")
def my_data(portal: Portal) -> dict[str, Any]:
    identity = portal.identity
    return export_customer(portal.session, identity.actor, identity.customer_id)
