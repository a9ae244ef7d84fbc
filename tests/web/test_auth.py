"""Signing in and out, the session cookie, CSRF, throttling, companies and languages."""

from __future__ import annotations

from urllib.parse import quote

from sqlalchemy import update
from tests.web.conftest import PASSWORD, Browser, WebCompany

from majlis.accounts import service as accounts
from majlis.accounts.models import Membership
from majlis.core.db import tenant_session
from majlis.core.permissions import Actor, Role
from majlis.web.security import SESSION_COOKIE


def test_root_sends_visitors_to_sign_in_and_members_to_customers(company: WebCompany) -> None:
    visitor = company.browser(role=None)
    assert visitor.get("/").headers["location"] == "/sign-in"
    member = company.browser(Role.SALES)
    assert member.get("/").headers["location"] == "/customers"


def test_sign_in_sets_a_signed_http_only_lax_cookie(company: WebCompany) -> None:
    client = company.browser(role=None)
    page = client.page("/sign-in")
    assert page.status_code == 200 and 'autocomplete="current-password"' in page.text
    signed = client.submit("/sign-in", {"email": company.member(), "password": PASSWORD})
    assert signed.status_code == 303 and signed.headers["location"] == "/customers"
    cookie = signed.headers["set-cookie"]
    assert cookie.startswith(f"{SESSION_COOKIE}=")
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie and "Secure" not in cookie
    assert client.get("/customers").status_code == 200


def test_cookie_is_secure_and_hsts_sent_behind_https(company: WebCompany) -> None:
    # uvicorn trusts X-Forwarded-Proto from loopback, as it would from a local TLS proxy.
    client = company.browser(role=None, **{"X-Forwarded-Proto": "https"})
    client.page("/sign-in")
    signed = client.submit("/sign-in", {"email": company.member(), "password": PASSWORD})
    assert "Secure" in signed.headers["set-cookie"]
    assert signed.headers["strict-transport-security"].startswith("max-age=")


def test_wrong_password_is_refused_with_one_message(company: WebCompany) -> None:
    client = company.browser(role=None)
    client.page("/sign-in")
    for email in (company.member(), "nobody@test.example"):
        refused = client.submit("/sign-in", {"email": email, "password": "wrong password!"})
        assert refused.status_code == 401
        assert "Email or password is wrong." in refused.text
    assert client.get("/customers").status_code == 303


def test_pages_need_sign_in_and_return_where_the_user_was_going(company: WebCompany) -> None:
    client = company.browser(role=None)
    asked = client.get("/customers?source=chat")
    assert asked.status_code == 303
    assert asked.headers["location"] == "/sign-in?next=" + quote("/customers?source=chat", safe="")
    form = client.page(asked.headers["location"])
    assert 'name="next" value="/customers?source=chat"' in form.text
    signed = client.submit(
        "/sign-in",
        {"email": company.member(), "password": PASSWORD, "next": "/customers?source=chat"},
    )
    assert signed.headers["location"] == "/customers?source=chat"


def test_next_never_leaves_the_site(company: WebCompany) -> None:
    client = company.browser(role=None)
    client.page("/sign-in")
    for target in ("//evil.example/x", "https://evil.example/", "/\\evil.example"):
        client.page("/customers" if client.cookies else "/sign-in")
        signed = client.submit(
            "/sign-in", {"email": company.member(), "password": PASSWORD, "next": target}
        )
        assert signed.headers["location"] == "/customers"


def test_sign_out_ends_the_session(browser: Browser) -> None:
    signed_out = browser.submit("/sign-out")
    assert signed_out.headers["location"] == "/sign-in"
    assert browser.page("/sign-in").status_code == 200
    assert browser.get("/customers").status_code == 303


def test_forms_without_the_csrf_token_are_refused(company: WebCompany, browser: Browser) -> None:
    customer = company.customer(name="Csrf Target")
    edit = {"name": "Changed", "kind": "individual", "preferred_language": "en", "version": "1"}
    forged = browser.post(f"/customers/{customer.id}", data={**edit, "csrf_token": "forged"})
    assert forged.status_code == 403
    assert "This form has expired" in forged.text
    assert browser.post("/sign-out").status_code == 403
    assert browser.get(f"/customers/{customer.id}").text.count("Csrf Target") >= 1
    # HTMX sends the token as a header instead of a field.
    via_header = browser.post(
        f"/customers/{customer.id}",
        data=edit,
        headers={"X-CSRF-Token": browser.csrf, "HX-Request": "true"},
    )
    assert via_header.status_code == 200 and "Changed" in via_header.text


def test_sign_in_form_itself_needs_the_token(company: WebCompany) -> None:
    client = company.browser(role=None)
    client.page("/sign-in")
    refused = client.post("/sign-in", data={"email": company.member(), "password": PASSWORD})
    assert refused.status_code == 403


def test_a_forged_cookie_counts_as_signed_out(company: WebCompany, browser: Browser) -> None:
    value = browser.cookies[SESSION_COOKIE]
    stranger = Browser(base_url=company.base_url, timeout=30)
    stranger.cookies.set(SESSION_COOKIE, value[:-4] + "AAAA")
    with stranger:
        assert stranger.get("/customers").status_code == 303


def test_repeated_failures_lock_the_email_out(company: WebCompany) -> None:
    email = company.member(Role.SALES)
    client = company.browser(role=None)
    client.page("/sign-in")
    for _ in range(5):
        assert client.submit("/sign-in", {"email": email, "password": "nope"}).status_code == 401
    locked = client.submit("/sign-in", {"email": email, "password": PASSWORD})
    assert locked.status_code == 429
    assert "Too many failed attempts" in locked.text
    # Another member of the same office is not locked out by it.
    assert company.browser(Role.MANAGER).get("/customers").status_code == 200


def test_a_deactivated_membership_is_signed_out_at_the_next_click(
    company: WebCompany, app_engine
) -> None:
    browser = company.browser(Role.SALES)
    assert browser.get("/customers").status_code == 200
    with tenant_session(app_engine, company.company_id) as session:
        session.execute(
            update(Membership)
            .where(
                Membership.company_id == company.company_id,
                Membership.user_id == company.user_ids[Role.SALES],
            )
            .values(is_active=False)
        )
    assert browser.get("/customers").status_code == 303


def test_company_switcher_lists_and_switches_only_own_companies(make_company, app_engine) -> None:
    first, second, stranger = make_company(), make_company(), make_company()
    email = first.member(Role.MANAGER)
    with tenant_session(app_engine, second.company_id) as session:
        accounts.add_user(session, Actor.system(second.company_id), email, Role.ANALYST)
    first.customer(name="Only In First")
    second.customer(name="Only In Second")
    browser = first.browser(role=None)
    browser.sign_in(email)
    page = browser.page("/customers")
    assert 'id="company-switch"' in page.text
    assert str(second.company_id) in page.text and str(stranger.company_id) not in page.text

    for current, shown, hidden in (
        (first, "Only In First", "Only In Second"),
        (second, "Only In Second", "Only In First"),
    ):
        switched = browser.submit("/company", {"company_id": str(current.company_id)})
        assert switched.headers["location"] == "/customers"
        page = browser.page("/customers")
        assert shown in page.text and hidden not in page.text
    assert "New customer" not in page.text  # an analyst in the second company

    refused = browser.submit("/company", {"company_id": str(stranger.company_id)})
    assert refused.status_code == 404
    assert "Only In Second" in browser.page("/customers").text


def test_language_switch_sets_direction_and_is_remembered(browser: Browser) -> None:
    switched = browser.submit("/language", {"lang": "ar", "next": "/customers?sort=-name"})
    assert switched.headers["location"] == "/customers?sort=-name"
    page = browser.page("/customers")
    assert '<html lang="ar" dir="rtl">' in page.text and "العملاء" in page.text
    browser.submit("/language", {"lang": "th"})
    page = browser.page("/customers")
    assert '<html lang="th" dir="ltr">' in page.text and "ลูกค้า" in page.text


def test_language_follows_the_browser_until_chosen(company: WebCompany) -> None:
    client = company.browser(role=None, **{"Accept-Language": "ar-AE,ar;q=0.9,en;q=0.5"})
    page = client.page("/sign-in")
    assert 'dir="rtl"' in page.text and "تسجيل الدخول" in page.text


def test_pages_send_secure_headers(browser: Browser) -> None:
    page = browser.get("/customers")
    headers = page.headers
    assert "script-src 'self'" in headers["content-security-policy"]
    assert "frame-ancestors 'none'" in headers["content-security-policy"]
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["x-frame-options"] == "DENY"
    assert headers["referrer-policy"] == "same-origin"
    assert headers["cache-control"] == "no-store"
    assert "<script>" not in page.text and " style=" not in page.text  # nothing inline


def test_static_assets_ship_in_the_package_with_long_caching(browser: Browser) -> None:
    page = browser.get("/customers").text
    for name in ("htmx.min.js", "majlis.css", "favicon.svg"):
        start = page.index(f"/static/{name}?v=")
        url = page[start : page.index('"', start)]
        asset = browser.get(url)
        assert asset.status_code == 200 and len(asset.content) > 100
        assert "immutable" in asset.headers["cache-control"]
        assert asset.headers["x-content-type-options"] == "nosniff"


def test_htmx_requests_are_sent_to_sign_in_as_a_whole_page(company: WebCompany) -> None:
    client = company.browser(role=None)
    answer = client.get(
        "/customers?q=x",
        headers={
            "HX-Request": "true",
            "HX-Current-URL": f"{company.base_url}/customers?source=chat",
        },
    )
    assert answer.status_code == 204
    assert answer.headers["hx-redirect"] == "/sign-in?next=" + quote(
        "/customers?source=chat", safe=""
    )
