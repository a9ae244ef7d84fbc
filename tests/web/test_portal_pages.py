"""The customer portal pages: one-time link sign-in, then only the customer's own data."""

from __future__ import annotations

import html
import json
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass

import httpx
import pytest
from sqlalchemy import Engine, func, select, text, update
from tests.web.conftest import Browser, WebCompany
from tests.web.test_page_safety import counting_statements

from majlis.core.audit import AuditEntry
from majlis.core.db import tenant_session
from majlis.core.permissions import Role
from majlis.journeys.models import ContactPreferences
from majlis.loyalty import service as loyalty
from majlis.loyalty.models import PointsEntry, Redemption
from majlis.loyalty.schemas import RewardIn
from majlis.portal.models import PortalSession
from majlis.privacy.models import ConsentChannel, CustomerConsent
from majlis.web.portal_pages import PORTAL_COOKIE

SENT = "If we know you, a sign-in link is on its way."


@dataclass
class Member:
    """A customer enrolled in the company's loyalty program, with some points."""

    company: WebCompany
    customer_id: uuid.UUID
    member_id: uuid.UUID
    email: str
    name: str


def enrol(company: WebCompany, name: str, points: int, **fields: object) -> Member:
    email = f"{uuid.uuid4().hex[:8]}@customer.example"
    customer = company.customer(name=name, email=email, **fields)
    with tenant_session(company.engine, company.company_id) as session:
        actor = company.actor()
        member = loyalty.enroll(session, actor, customer.id)
        if points:
            loyalty.earn_points(session, actor, member.id, points, f"welcome {name}")
    return Member(company, customer.id, member.id, email, name)


def add_reward(company: WebCompany, name: str, cost: int) -> uuid.UUID:
    with tenant_session(company.engine, company.company_id) as session:
        draft = RewardIn(name=name, cost_points=cost)
        return loyalty.create_reward(session, company.actor(), draft).id


def sign_in_link(engine: Engine, customer_id: uuid.UUID) -> str | None:
    """The page the last sign-in message for this customer points to (read from the outbox)."""
    with engine.connect() as conn:
        return conn.execute(
            text(
                "SELECT payload->>'path' FROM outbox_events WHERE topic LIKE 'portal.%'"
                " AND payload->>'customer_id' = :c ORDER BY created_at DESC, id DESC LIMIT 1"
            ),
            {"c": str(customer_id)},
        ).scalar_one_or_none()


def use_link(client: Browser, link: str) -> httpx.Response:
    """Open the emailed link and press its "Sign in" button."""
    shown = client.page(link)
    assert shown.status_code == 200, shown.text
    token = re.search(r'name="token" value="([^"]+)"', shown.text)
    assert token
    return client.submit(link.split("?")[0], {"token": html.unescape(token[1])})


@pytest.fixture
def portal_client(company: WebCompany, admin_engine: Engine) -> Callable[[Member], Browser]:
    """A customer's phone: asks for a link by email, opens it, and keeps the portal cookie."""

    def open_portal(member: Member) -> Browser:
        client = member.company.browser(None)
        home = f"/portal/{member.company.company_id}"
        client.page(f"{home}/sign-in")
        asked = client.submit(f"{home}/sign-in", {"contact": member.email.upper()})
        assert asked.status_code == 303
        link = sign_in_link(admin_engine, member.customer_id)
        assert link and link.startswith(f"{home}/open?token=")
        opened = use_link(client, link)
        assert opened.status_code == 303 and opened.headers["location"] == f"{home}/card"
        client.page(f"{home}/card")
        return client

    return open_portal


def test_sign_in_never_reveals_whether_the_customer_exists(
    company: WebCompany, admin_engine: Engine
) -> None:
    known = enrol(company, "Known Person", 10)
    home = f"/portal/{company.company_id}"
    answers = []
    for contact in (known.email, "nobody@customer.example", "+971 50 000 0000"):
        client = company.browser(None)
        client.page(f"{home}/sign-in")
        asked = client.submit(f"{home}/sign-in", {"contact": contact})
        assert asked.status_code == 303 and asked.headers["location"] == f"{home}/sign-in"
        after = client.page(f"{home}/sign-in")
        assert SENT in after.text
        answers.append(after.text.replace(client.csrf, "<csrf>"))
    assert answers[0] == answers[1] == answers[2]
    assert sign_in_link(admin_engine, known.customer_id) is not None
    with admin_engine.connect() as conn:
        sent = conn.execute(
            text(
                "SELECT count(*) FROM outbox_events WHERE company_id = :c AND topic LIKE 'portal.%'"
            ),
            {"c": company.company_id},
        ).scalar_one()
    assert sent == 1


def test_bad_contact_is_the_form_again_and_csrf_is_required(company: WebCompany) -> None:
    home = f"/portal/{company.company_id}"
    client = company.browser(None)
    client.page(f"{home}/sign-in")
    refused = client.submit(f"{home}/sign-in", {"contact": "not-an-email@"})
    assert refused.status_code == 422
    assert "Enter the email address or phone number we know you by." in refused.text
    assert 'aria-invalid="true"' in refused.text
    forged = client.post(f"{home}/sign-in", data={"contact": "a@b.example"})
    assert forged.status_code == 403
    assert client.get(f"/portal/{uuid.uuid4()}/sign-in").status_code == 404


def test_the_link_opens_a_session_in_its_own_cookie(
    company: WebCompany, portal_client: Callable[[Member], Browser], admin_engine: Engine
) -> None:
    layla = enrol(company, "Layla Haddad", 300, name_ar="ليلى حداد")
    client = portal_client(layla)
    home = f"/portal/{company.company_id}"
    # The cookie was set on the redirect the link answered with.
    fresh = company.browser(None)
    fresh.page(f"{home}/sign-in")
    fresh.submit(f"{home}/sign-in", {"contact": layla.email})
    link = sign_in_link(admin_engine, layla.customer_id) or ""
    opened = use_link(fresh, link)
    cookie = opened.headers["set-cookie"]
    assert cookie.startswith(f"{PORTAL_COOKIE}=")
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie and "Path=/portal" in cookie
    assert "Secure" not in cookie  # plain http in tests; https sets it
    card = client.page(f"{home}/card")
    assert card.status_code == 200
    assert "Layla Haddad" in card.text and "Bronze member" in card.text
    assert ">300</span> points" in card.text
    assert "700 more points to Silver" in card.text
    member_number = layla.member_id.hex[-12:].upper()
    assert f"{member_number[:4]} {member_number[4:8]} {member_number[8:]}" in card.text
    # The link works once: its button again is refused with the sign-in form to ask anew.
    again = use_link(fresh, link)
    assert again.status_code == 401
    assert "This sign-in link is not valid any more." in again.text
    assert 'action="/portal/' in again.text and "Send me a link" in again.text


def test_opening_the_link_does_not_use_it_only_its_button_does(
    company: WebCompany, admin_engine: Engine
) -> None:
    """A mail scanner that fetches the link ahead of the customer must not spend it."""
    noor = enrol(company, "Noor Saleh", 0)
    home = f"/portal/{company.company_id}"
    client = company.browser(None)
    client.page(f"{home}/sign-in")
    client.submit(f"{home}/sign-in", {"contact": noor.email})
    link = sign_in_link(admin_engine, noor.customer_id) or ""
    token = link.partition("?token=")[2]
    for _ in range(2):
        shown = client.page(link)
        assert shown.status_code == 200 and PORTAL_COOKIE not in shown.headers.get("set-cookie", "")
        assert f'name="token" value="{token}"' in shown.text and 'method="post"' in shown.text
    assert client.get(f"{home}/card").status_code == 303  # no portal session yet
    # The button's POST needs the CSRF token; a forged one spends nothing.
    assert client.post(f"{home}/open", data={"token": token}).status_code == 403
    signed_in = client.submit(f"{home}/open", {"token": token})
    assert signed_in.status_code == 303 and signed_in.headers["location"] == f"{home}/card"
    assert "Noor Saleh" in client.page(f"{home}/card").text
    refused = company.browser(None)
    refused.page(link)
    again = refused.submit(f"{home}/open", {"token": token})
    assert again.status_code == 401
    assert "This sign-in link is not valid any more." in again.text
    assert refused.get(f"{home}/card").status_code == 303
    empty = client.get(f"{home}/open")
    assert empty.status_code == 401 and "This sign-in link is not valid any more." in empty.text


def test_each_page_shows_only_this_customers_data(
    company: WebCompany, portal_client: Callable[[Member], Browser]
) -> None:
    amal, badr = enrol(company, "Amal Private", 500), enrol(company, "Badr Private", 40)
    add_reward(company, "Karak Tea", 100)
    client = portal_client(badr)
    home = f"/portal/{company.company_id}"
    pages = {
        slug: client.page(f"{home}/{slug}")
        for slug in ("card", "points", "rewards", "preferences", "data")
    }
    assert all(page.status_code == 200 for page in pages.values())
    everything = "".join(page.text for page in pages.values())
    assert "Badr Private" in pages["card"].text and "welcome Badr Private" in pages["points"].text
    assert "Amal Private" not in everything and "welcome Amal" not in everything
    assert "You have 40 points." in pages["rewards"].text
    exported = client.submit(f"{home}/data")
    assert str(badr.customer_id) in exported.text and str(amal.customer_id) not in exported.text


def test_another_companys_portal_is_not_found(
    make_company, portal_client: Callable[[Member], Browser], company: WebCompany
) -> None:
    mine = enrol(company, "Home Customer", 500)
    other = make_company()
    their_reward = add_reward(other, "Their Reward", 10)
    client = portal_client(mine)
    for path in ("card", "points", "rewards", "preferences", "data"):
        refused = client.get(f"/portal/{other.company_id}/{path}")
        assert refused.status_code == 404, path
        assert "This page does not exist, or it belongs to another company." in refused.text
    home = f"/portal/{company.company_id}"
    assert client.get(f"{home}/rewards/{their_reward}/redeem").status_code == 404
    assert client.submit(f"{home}/rewards/{their_reward}/redeem").status_code == 404
    assert client.get(f"{home}/rewards/not-an-id/redeem").status_code == 404
    assert client.submit(f"/portal/{other.company_id}/preferences", {}).status_code == 404


def test_redeem_with_too_few_points_is_refused_and_nothing_written(
    company: WebCompany, portal_client: Callable[[Member], Browser]
) -> None:
    omar = enrol(company, "Omar Short", 50)
    reward = add_reward(company, "Big Hamper", 120)
    client = portal_client(omar)
    home = f"/portal/{company.company_id}"
    confirm = client.page(f"{home}/rewards/{reward}/redeem")
    assert "Redeem Big Hamper?" in confirm.text
    refused = client.submit(f"{home}/rewards/{reward}/redeem")
    assert refused.status_code == 409
    assert "Not enough points: this reward needs 120, you have 50." in refused.text
    with tenant_session(company.engine, company.company_id) as session:
        redemptions = session.scalar(select(func.count()).select_from(Redemption))
        entries = session.scalar(select(func.count()).select_from(PointsEntry))
        assert (redemptions, entries) == (0, 1)
        loyalty.earn_points(session, company.actor(), omar.member_id, 100, "top up")
    done = client.submit(f"{home}/rewards/{reward}/redeem")
    assert done.status_code == 303
    after = client.page(f"{home}/rewards")
    assert "Reward redeemed." in after.text and "You have 30 points." in after.text


def test_redeem_needs_the_csrf_token(
    company: WebCompany, portal_client: Callable[[Member], Browser]
) -> None:
    nour = enrol(company, "Nour Rich", 500)
    reward = add_reward(company, "Coffee", 20)
    client = portal_client(nour)
    refused = client.post(f"/portal/{company.company_id}/rewards/{reward}/redeem")
    assert refused.status_code == 403
    assert "This form has expired." in refused.text
    with tenant_session(company.engine, company.company_id) as session:
        assert session.scalar(select(func.count()).select_from(Redemption)) == 0


PREFERENCES = {
    "channel": "whatsapp",
    "language": "ar",
    "quiet_start": "٢٢:٠٠",
    "quiet_end": "07:30",
    "marketing_consent": "on",
    "consent_email": "offers",
    "consent_sms": "none",
    "consent_whatsapp": "offers",
    "consent_phone": "service",
    "consent_post": "service",
}


def test_preferences_are_saved_through_the_services_and_audited(
    company: WebCompany, portal_client: Callable[[Member], Browser]
) -> None:
    sara = enrol(company, "Sara Prefs", 0)
    client = portal_client(sara)
    url = f"/portal/{company.company_id}/preferences"
    client.page(url)
    bad = client.submit(url, {**PREFERENCES, "quiet_end": "", "consent_post": "spam"})
    assert bad.status_code == 422
    assert "give both quiet_start and quiet_end, or neither" in bad.text
    assert "Choose one of the options." in bad.text
    with tenant_session(company.engine, company.company_id) as session:
        assert session.get(ContactPreferences, (company.company_id, sara.customer_id)) is None
    saved = client.submit(url, PREFERENCES)
    assert saved.status_code == 303
    shown = client.page(url).text
    assert "Your preferences are saved." in shown and 'value="22:00"' in shown
    with tenant_session(company.engine, company.company_id) as session:
        prefs = session.get(ContactPreferences, (company.company_id, sara.customer_id))
        assert prefs is not None and prefs.channel == "whatsapp" and prefs.language == "ar"
        assert prefs.marketing_consent and not prefs.opted_out
        consents = {
            c.channel: (c.marketing_consent, c.opted_out)
            for c in session.scalars(select(CustomerConsent))
        }
        # Only the channels whose choice changed are recorded ("service" is the default).
        assert consents == {
            ConsentChannel.EMAIL: (True, False),
            ConsentChannel.SMS: (False, True),
            ConsentChannel.WHATSAPP: (True, False),
        }
        audited = session.execute(
            select(AuditEntry.action, AuditEntry.actor_kind).where(
                AuditEntry.entity_id == sara.customer_id,
                AuditEntry.action.in_(["customer.preferences", "customer.consent_changed"]),
            )
        ).all()
        assert sorted(audited) == [
            ("customer.consent_changed", "portal"),
            ("customer.consent_changed", "portal"),
            ("customer.consent_changed", "portal"),
            ("customer.preferences", "portal"),
        ]


def test_download_my_data_is_the_privacy_export(
    company: WebCompany, portal_client: Callable[[Member], Browser]
) -> None:
    hana = enrol(company, "Hana Export", 0)
    client = portal_client(hana)
    url = f"/portal/{company.company_id}/data"
    assert "Download my data" in client.page(url).text
    download = client.submit(url)
    assert download.status_code == 200
    assert download.headers["content-type"].startswith("application/json")
    assert download.headers["content-disposition"].startswith('attachment; filename="my-data-')
    export = json.loads(download.text)
    assert export["format"] == "majlis.customer-export/1"
    assert export["profile"]["id"] == str(hana.customer_id)


def test_points_history_is_keyset_paged_newest_first(
    company: WebCompany, portal_client: Callable[[Member], Browser]
) -> None:
    rami = enrol(company, "Rami Many", 0)
    with tenant_session(company.engine, company.company_id) as session:
        for number in range(1, 26):
            loyalty.earn_points(session, company.actor(), rami.member_id, number, f"visit {number}")
    client = portal_client(rami)
    first = client.page(f"/portal/{company.company_id}/points").text
    assert first.index("visit 25") < first.index("visit 24")
    assert "visit 6<" in first and "visit 5<" not in first
    more = re.search(r'hx-get="([^"]+)"', first)
    assert more
    rest = client.get(more.group(1).replace("&amp;", "&"), headers={"HX-Request": "true"}).text
    assert "<html" not in rest and "visit 5<" in rest and "visit 1<" in rest
    assert "visit 6<" not in rest and "hx-get" not in rest


def test_an_ended_session_goes_back_to_sign_in(
    company: WebCompany, portal_client: Callable[[Member], Browser]
) -> None:
    home = f"/portal/{company.company_id}"
    assert company.browser(None).get(f"{home}/card").headers["location"] == f"{home}/sign-in"
    first = portal_client(enrol(company, "Revoked Person", 0))
    with tenant_session(company.engine, company.company_id) as session:
        session.execute(update(PortalSession).values(revoked_at=func.now()))
    ended = first.get(f"{home}/card")
    assert ended.status_code == 303 and ended.headers["location"] == f"{home}/sign-in"
    second = portal_client(enrol(company, "Leaving Person", 0))
    second.page(f"{home}/card")
    left = second.submit(f"{home}/sign-out")
    assert left.status_code == 303 and left.headers["location"] == f"{home}/sign-in"
    assert "You have signed out." in second.page(f"{home}/sign-in").text
    assert second.get(f"{home}/card").status_code == 303


def test_staff_and_portal_sessions_never_open_each_other(
    company: WebCompany, portal_client: Callable[[Member], Browser], base_url: str
) -> None:
    home = f"/portal/{company.company_id}"
    staff = company.browser(Role.OWNER)
    assert staff.get(f"{home}/card").headers["location"] == f"{home}/sign-in"
    customer = portal_client(enrol(company, "Portal Only", 0))
    assert customer.get("/customers").headers["location"].startswith("/sign-in")
    # A staff session cookie pasted into the portal cookie is not a portal session.
    staff_cookie = staff.cookies["majlis_session"]
    with httpx.Client(base_url=base_url, cookies={PORTAL_COOKIE: staff_cookie}) as forged:
        assert forged.get(f"{home}/card").headers["location"] == f"{home}/sign-in"


def test_customer_values_are_escaped(
    company: WebCompany, portal_client: Callable[[Member], Browser]
) -> None:
    evil = enrol(company, '<script>alert(1)</script>"><b>', 10)
    add_reward(company, "<img src=x onerror=alert(2)>", 5)
    client = portal_client(evil)
    for slug in ("card", "rewards", "points"):
        body = client.page(f"/portal/{company.company_id}/{slug}").text
        assert "<script>alert(1)" not in body and "<img src=x" not in body and "<b>" not in body
    assert (
        "&lt;script&gt;alert(1)&lt;/script&gt;"
        in client.page(f"/portal/{company.company_id}/card").text
    )


def test_portal_pages_cost_a_few_statements_whatever_the_data(
    company: WebCompany, portal_client: Callable[[Member], Browser], app_engine: Engine
) -> None:
    """No N+1: the same handful of statements for one ledger entry or thirty, one reward or six."""
    lina = enrol(company, "Lina Busy", 10)
    add_reward(company, "First Reward", 5)
    client = portal_client(lina)
    paths = [f"/portal/{company.company_id}/{slug}" for slug in ("card", "points", "rewards")]

    def statements() -> list[int]:
        counts = []
        for path in paths:
            with counting_statements(app_engine) as seen:
                assert client.get(path).status_code == 200
            counts.append(len(seen))
        return counts

    few = statements()
    with tenant_session(company.engine, company.company_id) as session:
        for number in range(30):
            loyalty.earn_points(session, company.actor(), lina.member_id, 1, f"visit {number}")
    for number in range(5):
        add_reward(company, f"Reward {number}", 10 + number)
    assert statements() == few
    assert max(few) <= 15
