"""The customer portal pages: a customer's own loyalty card, points, rewards, preferences, data.

Customers are not staff: they sign in with the one-time link the portal
service sends (`majlis.portal.service`; its page shows a "Sign in" button and
only that button's POST uses the link up), and the portal session token it
issues lives in its own signed cookie (`majlis_portal`, its own salt, path
`/portal`). The staff session never opens a portal page and the portal cookie
never opens a staff page. The browser's ordinary session cookie still carries
what any visitor has — the chosen language and the CSRF token — exactly as on
the staff sign-in page, so every form is checked by the same `verified_form`.

Every page calls the services the portal API calls (loyalty, follow-up
preferences, privacy consent and export) as the session's `portal` actor,
with the customer taken from the session, never from the request. A company
id in the URL that is not the session's company is a 404; an ended session
goes back to that company's sign-in page.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Coroutine, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, time
from functools import cache
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from itsdangerous import BadSignature, URLSafeTimedSerializer
from pydantic import ValidationError
from sqlalchemy.orm import Session
from starlette.datastructures import FormData

from majlis.accounts.models import Company
from majlis.accounts.service import get_company
from majlis.core.db import get_engine, tenant_session
from majlis.core.errors import Conflict, DomainError, NotAuthenticated, NotFound
from majlis.core.i18n import ascii_digits
from majlis.core.permissions import Actor
from majlis.customers.models import Customer
from majlis.customers.service import get_customer
from majlis.journeys import followups
from majlis.journeys.models import Channel
from majlis.journeys.schemas import PreferencesIn
from majlis.loyalty import service as loyalty
from majlis.loyalty.models import EntryKind, LoyaltyMember, LoyaltyTier, Reward
from majlis.portal import service as portal
from majlis.portal.api import LinkRequest
from majlis.privacy import service as privacy
from majlis.privacy.models import ConsentChannel, CustomerConsent
from majlis.privacy.schemas import ConsentIn
from majlis.web.forms import VerifiedForm, field_errors, text_value
from majlis.web.locale import LANGUAGES, N_, Formatter
from majlis.web.rendering import (
    anonymous_formatter,
    is_htmx,
    language_of,
    redirect,
    render_template,
)
from majlis.web.security import cookie_signer, finish_response, web_session

PORTAL_COOKIE = "majlis_portal"
COOKIE_SALT = "majlis.web.portal"
COOKIE_MAX_AGE_S = int(portal.SESSION_LIFETIME.total_seconds())
POINTS_PAGE_SIZE = 20
CONSENT_SOURCE = "customer portal"

SECTIONS = (
    ("card", N_("My card")),
    ("points", N_("My points")),
    ("rewards", N_("My rewards")),
    ("preferences", N_("My preferences")),
    ("data", N_("My data")),
)
ENTRY_LABELS = {
    EntryKind.EARN: N_("Earned"),
    EntryKind.REDEEM: N_("Redeemed"),
    EntryKind.EXPIRE: N_("Expired"),
    EntryKind.ADJUST: N_("Adjusted"),
}
CHANNEL_LABELS = {
    "email": N_("Email"),
    "sms": N_("SMS"),
    "whatsapp": N_("WhatsApp"),
    "phone": N_("Phone"),
    "post": N_("Post"),
}
# One choice per channel, so a consent and an opt-out can never be asked for together.
CONSENT_CHOICES = (
    ("offers", N_("Offers welcome")),
    ("service", N_("Service messages only")),
    ("none", N_("Do not contact me")),
)
ERROR_MESSAGES = {
    "not-found": N_("This page does not exist, or it belongs to another company."),
    "csrf": N_("This form has expired. Reload the page and try again."),
}


class PortalSessionEnded(Exception):
    """No live portal session for this company: answered with its sign-in page."""

    def __init__(self, company_id: uuid.UUID) -> None:
        super().__init__(str(company_id))
        self.company_id = company_id


# ----- the portal cookie ------------------------------------------------------------------
@cache
def _signer() -> URLSafeTimedSerializer:
    return cookie_signer(COOKIE_SALT)


def _cookie_token(request: Request) -> str | None:
    raw = request.cookies.get(PORTAL_COOKIE)
    if not raw:
        return None
    try:
        token = _signer().loads(raw, max_age=COOKIE_MAX_AGE_S)
    except BadSignature:
        return None
    return token if isinstance(token, str) else None


def _keep_token(request: Request, response: Response, token: str) -> None:
    response.set_cookie(
        PORTAL_COOKIE,
        _signer().dumps(token),
        max_age=COOKIE_MAX_AGE_S,
        httponly=True,
        samesite="lax",
        secure=request.url.scheme == "https",
        path="/portal",
    )


def _forget_token(response: Response) -> None:
    response.delete_cookie(PORTAL_COOKIE, path="/portal")


# ----- the signed-in customer -------------------------------------------------------------
def _formatter(request: Request, company: Company) -> Formatter:
    return Formatter(LANGUAGES[language_of(request, web_session(request))], company.time_zone)


@dataclass
class PortalPage:
    """A signed-in customer's request, in one transaction scoped to their company."""

    request: Request
    db: Session
    identity: portal.PortalIdentity
    company: Company
    customer: Customer
    fmt: Formatter

    @property
    def actor(self) -> Actor:
        return self.identity.actor

    @property
    def home(self) -> str:
        return f"/portal/{self.company.id}"

    def member(self) -> LoyaltyMember | None:
        return loyalty.member_of_customer(self.db, self.actor, self.customer.id)

    def render(
        self, template: str, section: str, status_code: int = 200, **values: Any
    ) -> Response:
        return render_template(
            self.request,
            template,
            formatter=self.fmt,
            status_code=status_code,
            portal=self,
            company=self.company,
            sections=SECTIONS,
            section=section,
            **values,
        )


@contextmanager
def portal_signed_in(request: Request, company_id: uuid.UUID) -> Iterator[PortalPage]:
    """The customer whose live portal session the cookie holds; another company's URL is 404."""
    token = _cookie_token(request)
    if token is None:
        raise PortalSessionEnded(company_id)
    try:
        session_company = portal.token_company(token)
    except NotAuthenticated as exc:
        raise PortalSessionEnded(company_id) from exc
    if session_company != company_id:
        raise NotFound("portal", company_id)
    with tenant_session(get_engine("app"), company_id) as db:
        try:
            identity = portal.authenticate(db, token)
            customer = get_customer(db, identity.actor, identity.customer_id)
        except (NotAuthenticated, NotFound) as exc:
            raise PortalSessionEnded(company_id) from exc
        company = get_company(db, company_id)
        yield PortalPage(request, db, identity, company, customer, _formatter(request, company))


# ----- how portal routes answer -----------------------------------------------------------
def _error_page(request: Request, error: DomainError) -> Response:
    company_id = request.path_params.get("company_id")
    return render_template(
        request,
        "portal/error.html",
        formatter=anonymous_formatter(request),
        status_code=error.status,
        status=error.status,
        message=ERROR_MESSAGES.get(error.slug, error.detail),
        sign_in=f"/portal/{company_id}/sign-in" if company_id else None,
    )


class PortalRoute(APIRoute):
    """Errors become portal-styled pages; an ended session goes back to the sign-in page."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        endpoint = super().get_route_handler()

        async def portal_handler(request: Request) -> Response:
            try:
                response = await endpoint(request)
            except PortalSessionEnded as ended:
                response = redirect(request, f"/portal/{ended.company_id}/sign-in")
                _forget_token(response)
            except DomainError as exc:
                response = _error_page(request, exc)
            except RequestValidationError:
                response = _error_page(request, NotFound("page", request.url.path))
            return finish_response(request, response)

        return portal_handler


router = APIRouter(prefix="/portal/{company_id}", route_class=PortalRoute, include_in_schema=False)


# ----- signing in and out -----------------------------------------------------------------
def _visitor_page(
    request: Request, company_id: uuid.UUID, template: str, status_code: int = 200, **values: Any
) -> Response:
    """A page for a visitor not signed in yet (another company's id is 404)."""
    with tenant_session(get_engine("app"), company_id) as db:
        company = get_company(db, company_id)
        return render_template(
            request,
            template,
            formatter=_formatter(request, company),
            status_code=status_code,
            company=company,
            **values,
        )


def _sign_in_page(
    request: Request, company_id: uuid.UUID, status_code: int = 200, **values: Any
) -> Response:
    return _visitor_page(request, company_id, "portal/sign_in.html", status_code, **values)


def _link_refused(request: Request, company_id: uuid.UUID) -> Response:
    return _sign_in_page(request, company_id, 401, contact="", errors={}, link_expired=True)


@router.get("/sign-in")
def sign_in_form(request: Request, company_id: uuid.UUID) -> Response:
    return _sign_in_page(request, company_id, contact="", errors={})


def _link_request(company_id: uuid.UUID, contact: str) -> LinkRequest:
    """An address with an @ is an email; anything else is read as a phone number."""
    if "@" in contact:
        return LinkRequest(company_id=company_id, email=contact)
    return LinkRequest(company_id=company_id, phone=ascii_digits(contact) or None)


@router.post("/sign-in")
def ask_for_link(request: Request, company_id: uuid.UUID, form: VerifiedForm) -> Response:
    """Send a link if the customer is known; the answer is the same whether or not they are."""
    contact = text_value(form, "contact")
    try:
        asked = _link_request(company_id, contact)
    except ValidationError:
        message = N_("Enter the email address or phone number we know you by.")
        return _sign_in_page(request, company_id, 422, contact=contact, errors={"contact": message})
    with tenant_session(get_engine("app"), company_id) as db:
        get_company(db, company_id)
        portal.request_link(db, company_id, asked.email, asked.phone)
    web_session(request).update(
        flash=N_("If we know you, a sign-in link is on its way. It works once, within 15 minutes.")
    )
    return redirect(request, f"/portal/{company_id}/sign-in")


@router.get("/open")
def open_link(
    request: Request, company_id: uuid.UUID, token: Annotated[str, Query(max_length=200)] = ""
) -> Response:
    """The emailed link's page: a "Sign in" button only, whose POST spends the link.

    Mail scanners fetch links ahead of the customer; a GET must not use it up.
    """
    if not token:
        return _link_refused(request, company_id)
    return _visitor_page(request, company_id, "portal/open.html", token=token)


@router.post("/open")
def sign_in_with_link(request: Request, company_id: uuid.UUID, form: VerifiedForm) -> Response:
    """Trade the link for a portal session (it works once), then show the card."""
    try:
        with tenant_session(get_engine("app"), company_id) as db:
            session_token = portal.open_session(db, company_id, text_value(form, "token"))
    except NotAuthenticated:
        return _link_refused(request, company_id)
    response = redirect(request, f"/portal/{company_id}/card")
    _keep_token(request, response, session_token)
    return response


@router.post("/sign-out")
def sign_out(request: Request, company_id: uuid.UUID, form: VerifiedForm) -> Response:
    with portal_signed_in(request, company_id) as page:
        portal.sign_out(page.db, page.identity)
    web_session(request).update(flash=N_("You have signed out."))
    response = redirect(request, f"/portal/{company_id}/sign-in")
    _forget_token(response)
    return response


# ----- the loyalty card -------------------------------------------------------------------
def local_name(item: LoyaltyTier | Reward, fmt: Formatter) -> str:
    """A tier's or reward's Arabic name on Arabic pages (when it has one), else its name."""
    return fmt.name_of(item)


def member_number(member: LoyaltyMember) -> str:
    """A short number to read out at the counter: the random tail of the member's UUIDv7."""
    tail = member.id.hex[-12:].upper()
    return " ".join(tail[i : i + 4] for i in range(0, len(tail), 4))


@dataclass(frozen=True)
class Card:
    tier: str
    balance: int
    next_tier: str | None
    points_to_next: int
    number: str
    referral_code: str


def loyalty_card(page: PortalPage, member: LoyaltyMember) -> Card:
    """Tier, balance and the distance to the next tier (on the rolling 12-month points)."""
    standing = loyalty.standing(page.db, page.actor, member)
    return Card(
        tier=local_name(standing.tier, page.fmt),
        balance=standing.balance,
        next_tier=local_name(standing.next_tier, page.fmt) if standing.next_tier else None,
        points_to_next=standing.points_to_next or 0,
        number=member_number(member),
        referral_code=member.referral_code,
    )


@router.get("/card")
def card(request: Request, company_id: uuid.UUID) -> Response:
    with portal_signed_in(request, company_id) as page:
        member = page.member()
        return page.render(
            "portal/card.html", "card", card=loyalty_card(page, member) if member else None
        )


# ----- points history ---------------------------------------------------------------------
@router.get("/points")
def points(request: Request, company_id: uuid.UUID, cursor: str | None = None) -> Response:
    """The ledger newest first; "more" appends the next keyset page in place."""
    with portal_signed_in(request, company_id) as page:
        member = page.member()
        entries: list[Any] = []
        next_url = None
        if member is not None:
            found = loyalty.ledger_page(
                page.db, page.actor, member.id, cursor=cursor, limit=POINTS_PAGE_SIZE
            )
            entries = found.items
            if found.next_cursor:
                next_url = f"{page.home}/points?cursor={found.next_cursor}"
        template = "portal/_entries.html" if is_htmx(request) else "portal/points.html"
        return page.render(
            template,
            "points",
            member=member,
            entries=entries,
            next_url=next_url,
            entry_labels=ENTRY_LABELS,
        )


# ----- rewards ----------------------------------------------------------------------------
def _rewards_page(page: PortalPage, status_code: int = 200, refusal: str | None = None) -> Response:
    member = page.member()
    return page.render(
        "portal/rewards.html",
        "rewards",
        status_code=status_code,
        member=member,
        balance=loyalty.balance(page.db, page.actor, member.id) if member else 0,
        rewards=loyalty.list_rewards(page.db, page.actor),
        reward_name=local_name,
        refusal=refusal,
    )


def _offered_reward(page: PortalPage, reward_id: uuid.UUID) -> Reward:
    reward = next((r for r in loyalty.list_rewards(page.db, page.actor) if r.id == reward_id), None)
    if reward is None:
        raise NotFound("reward", reward_id)
    return reward


@router.get("/rewards")
def rewards(request: Request, company_id: uuid.UUID) -> Response:
    with portal_signed_in(request, company_id) as page:
        return _rewards_page(page)


@router.get("/rewards/{reward_id}/redeem")
def confirm_redeem(request: Request, company_id: uuid.UUID, reward_id: uuid.UUID) -> Response:
    """Ask before spending points (a page, so it works without JavaScript)."""
    with portal_signed_in(request, company_id) as page:
        member = page.member()
        return page.render(
            "portal/redeem.html",
            "rewards",
            reward=_offered_reward(page, reward_id),
            reward_name=local_name,
            balance=loyalty.balance(page.db, page.actor, member.id) if member else 0,
            member=member,
        )


def _refusal(page: PortalPage, error: Conflict, reward_id: uuid.UUID) -> str:
    """The service's reason, in the customer's language where we know it."""
    if "balance" in error.extra:
        return page.fmt.gettext(
            N_("Not enough points: this reward needs {cost}, you have {balance}."),
            cost=page.fmt.number(_offered_reward(page, reward_id).cost_points),
            balance=page.fmt.number(int(error.extra["balance"])),
        )
    return error.detail


@router.post("/rewards/{reward_id}/redeem")
def redeem(
    request: Request, company_id: uuid.UUID, reward_id: uuid.UUID, form: VerifiedForm
) -> Response:
    """Redeem through the loyalty service; a refusal leaves nothing written."""
    with portal_signed_in(request, company_id) as page:
        member = page.member()
        if member is None:
            return _rewards_page(page, 409, page.fmt.gettext(N_("You are not a member yet.")))
        try:
            with page.db.begin_nested():
                loyalty.redeem(page.db, page.actor, member.id, reward_id)
        except Conflict as exc:
            return _rewards_page(page, 409, _refusal(page, exc, reward_id))
    web_session(request).update(flash=N_("Reward redeemed. Show your card to collect it."))
    return redirect(request, f"/portal/{company_id}/rewards")


# ----- contact preferences and consent ----------------------------------------------------
def _consent_choice(consent: CustomerConsent | None) -> str:
    if consent is None:
        return "service"
    if consent.opted_out:
        return "none"
    return "offers" if consent.marketing_consent else "service"


def _clock(value: time | None) -> str:
    return value.strftime("%H:%M") if value else ""


def _stored_choices(page: PortalPage) -> dict[str, str]:
    """The form's values as stored: the preferences, then one consent choice per channel."""
    prefs = followups.preferences(page.db, page.actor, page.customer.id)
    consents, _ = privacy.customer_consents(page.db, page.actor, page.customer.id)
    by_channel = {consent.channel.value: consent for consent in consents}
    values = {
        "channel": prefs.channel.value if prefs.channel else "",
        "language": prefs.language or "",
        "quiet_start": _clock(prefs.quiet_start),
        "quiet_end": _clock(prefs.quiet_end),
        "opted_out": "on" if prefs.opted_out else "",
        "marketing_consent": "on" if prefs.marketing_consent else "",
    }
    for channel in ConsentChannel:
        values[f"consent_{channel.value}"] = _consent_choice(by_channel.get(channel.value))
    return values


def _preferences_page(
    page: PortalPage, values: dict[str, str], errors: dict[str, str], status_code: int = 200
) -> Response:
    return page.render(
        "portal/preferences.html",
        "preferences",
        status_code=status_code,
        values=values,
        errors=errors,
        channels=[(c.value, CHANNEL_LABELS[c.value]) for c in Channel],
        consent_channels=[(c.value, CHANNEL_LABELS[c.value]) for c in ConsentChannel],
        consent_choices=CONSENT_CHOICES,
    )


def _posted_choices(form: FormData) -> dict[str, str]:
    names = ["channel", "language", "quiet_start", "quiet_end", "opted_out", "marketing_consent"]
    names += [f"consent_{channel.value}" for channel in ConsentChannel]
    return {name: text_value(form, name, digits=name.startswith("quiet")) for name in names}


def _preferences_draft(values: dict[str, str]) -> PreferencesIn:
    return PreferencesIn.model_validate(
        {
            "channel": values["channel"] or None,
            "language": values["language"] or None,
            "quiet_start": values["quiet_start"] or None,
            "quiet_end": values["quiet_end"] or None,
            "opted_out": values["opted_out"] == "on",
            "marketing_consent": values["marketing_consent"] == "on",
        }
    )


def _form_errors(posted: dict[str, str]) -> tuple[PreferencesIn | None, dict[str, str]]:
    """The preferences draft, or the messages by field (a rule across fields: quiet hours)."""
    errors = {
        f"consent_{channel.value}": N_("Choose one of the options.")
        for channel in ConsentChannel
        if posted[f"consent_{channel.value}"] not in dict(CONSENT_CHOICES)
    }
    try:
        draft = _preferences_draft(posted)
    except ValidationError as exc:
        for error in field_errors(exc):
            errors.setdefault(
                error.field if error.field != "form" else "quiet_start", error.message
            )
        return None, errors
    return (None if errors else draft), errors


def _save_consents(page: PortalPage, posted: dict[str, str], stored: dict[str, str]) -> None:
    """Record a consent change only for the channels whose choice changed (the log stays true)."""
    for channel in ConsentChannel:
        name = f"consent_{channel.value}"
        if posted[name] == stored[name]:
            continue
        choice = ConsentIn(
            marketing_consent=posted[name] == "offers",
            opted_out=posted[name] == "none",
            source=CONSENT_SOURCE,
        )
        privacy.set_consent(page.db, page.actor, page.customer.id, channel, choice)


@router.get("/preferences")
def preferences(request: Request, company_id: uuid.UUID) -> Response:
    with portal_signed_in(request, company_id) as page:
        return _preferences_page(page, _stored_choices(page), {})


@router.post("/preferences")
def save_preferences(request: Request, company_id: uuid.UUID, form: VerifiedForm) -> Response:
    """Preferences and per-channel consents through the same services as the API (audited)."""
    with portal_signed_in(request, company_id) as page:
        posted = _posted_choices(form)
        draft, errors = _form_errors(posted)
        if draft is None:
            return _preferences_page(page, posted, errors, 422)
        stored = _stored_choices(page)
        followups.set_preferences(page.db, page.actor, page.customer.id, draft)
        _save_consents(page, posted, stored)
    web_session(request).update(flash=N_("Your preferences are saved."))
    return redirect(request, f"/portal/{company_id}/preferences")


# ----- download my data -------------------------------------------------------------------
@router.get("/data")
def data(request: Request, company_id: uuid.UUID) -> Response:
    with portal_signed_in(request, company_id) as page:
        return page.render("portal/data.html", "data")


@router.post("/data")
def download_data(request: Request, company_id: uuid.UUID, form: VerifiedForm) -> Response:
    """The privacy export (the same as the API's), as a JSON file to save."""
    with portal_signed_in(request, company_id) as page:
        export = privacy.export_customer(page.db, page.actor, page.customer.id)
    day = datetime.now(UTC).date().isoformat()
    return Response(
        json.dumps(export, ensure_ascii=False, indent=2),
        media_type="application/json",
        headers={"Content-Disposition": f'attachment; filename="my-data-{day}.json"'},
    )
