"""The owner's settings pages over the real server: members, tokens, working time, reminders,
loyalty tiers and retention — each page's save, its refusals, roles, CSRF and tenancy."""

from __future__ import annotations

import html
import re
import uuid
from collections.abc import Callable
from datetime import time
from typing import TypeVar

import httpx
import pytest
from sqlalchemy import Engine, func, select
from tests.web.conftest import Browser, WebCompany
from tests.web.test_page_safety import counting_statements

from majlis.accounts.models import ApiToken, Company, Membership, User
from majlis.core.audit import AuditEntry
from majlis.core.db import tenant_session
from majlis.core.permissions import Role
from majlis.loyalty.models import LoyaltyTier
from majlis.receivables.models import ReminderSettings, ReminderTemplate

HOSTILE = "<script>alert(1)</script>"
T = TypeVar("T")
PAGES = (
    "/settings/users",
    "/settings/tokens",
    "/settings/calendar",
    "/settings/reminders",
    "/settings/reminders/templates/new?language=ar&level=FIRM",
    "/settings/loyalty",
    "/settings/privacy",
)


def read(company: WebCompany, query: Callable[..., T]) -> T:
    with tenant_session(company.engine, company.company_id) as session:
        return query(session)


def company_row(company: WebCompany) -> Company:
    return read(company, lambda s: s.get_one(Company, company.company_id))


def audited(company: WebCompany, action: str) -> int:
    return read(
        company,
        lambda s: s.scalar(
            select(func.count()).select_from(AuditEntry).where(AuditEntry.action == action)
        ),
    )


def field_error(page: str, field_id: str) -> str:
    """The message shown next to one field (the `-error` paragraph it is described by)."""
    error_id = f"{field_id}-error"
    match = re.search(rf'id="{re.escape(error_id)}"[^>]*>(.*?)</p>', page, re.S)
    assert match, f"no error next to {field_id}"
    assert re.search(rf'aria-describedby="[^"]*{re.escape(error_id)}', page)
    return html.unescape(match.group(1))


# ----- owner only ---------------------------------------------------------------------------
@pytest.mark.parametrize("role", [Role.MANAGER, Role.SALES, Role.ANALYST])
def test_settings_are_the_owners_alone(company: WebCompany, role: Role) -> None:
    owner = company.browser(Role.OWNER)
    assert 'href="/settings"' in owner.page("/customers").text
    other = company.browser(role)
    assert 'href="/settings"' not in other.page("/customers").text
    for url in PAGES:
        assert other.page(url).status_code == 403, url
    # A forged POST is the service's 403, with nothing written.
    other.page("/customers")
    assert other.submit("/settings/privacy", {"retention_days": "40"}).status_code == 403
    assert (
        other.submit("/settings/users", {"email": "x@example.ae", "role": "owner"}).status_code
        == 403
    )
    assert other.submit("/settings/tokens", {"name": "mine"}).status_code == 403
    assert company_row(company).retention_days == 730
    assert read(company, lambda s: s.scalar(select(func.count()).select_from(ApiToken))) == 0


def test_every_settings_page_renders_for_the_owner(browser: Browser) -> None:
    for url in PAGES:
        page = browser.page(url)
        assert page.status_code == 200, url
        assert 'href="/settings" aria-current="page"' in page.text
    assert browser.get("/settings").headers["location"] == "/settings/users"


def test_forms_without_the_csrf_token_are_refused(company: WebCompany, browser: Browser) -> None:
    browser.page("/settings/privacy")
    for url, data in (
        ("/settings/privacy", {"retention_days": "40"}),
        ("/settings/tokens", {"name": "forged"}),
        ("/settings/users", {"email": "forged@example.ae", "role": "owner"}),
    ):
        assert browser.post(url, data={**data, "csrf_token": "wrong"}).status_code == 403
    assert company_row(company).retention_days == 730
    assert read(company, lambda s: s.scalar(select(func.count()).select_from(ApiToken))) == 0


# ----- users and roles ----------------------------------------------------------------------
def member_role(company: WebCompany, email: str) -> Role | None:
    return read(
        company,
        lambda s: s.scalar(
            select(Membership.role)
            .join(User, User.id == Membership.user_id)
            .where(Membership.is_active, func.lower(User.email) == email)
        ),
    )


def test_owner_adds_changes_and_removes_a_member(company: WebCompany, browser: Browser) -> None:
    browser.page("/settings/users")
    added = browser.submit("/settings/users", {"email": "Layla@Example.ae", "role": "sales"})
    assert added.status_code == 303
    page = browser.page("/settings/users").text
    assert "layla@example.ae" in page and "Settings saved." in page
    assert member_role(company, "layla@example.ae") is Role.SALES
    user_id = re.search(r'id="member-([0-9a-f-]+)">\s*<td dir="ltr"><bdi>layla', page)[1]

    assert browser.submit(f"/settings/users/{user_id}/role", {"role": "manager"}).status_code == 303
    assert member_role(company, "layla@example.ae") is Role.MANAGER
    assert audited(company, "membership.role_changed") == 1

    assert browser.submit(f"/settings/users/{user_id}/remove").status_code == 303
    assert member_role(company, "layla@example.ae") is None
    assert "layla@example.ae" not in browser.page("/settings/users").text
    assert audited(company, "membership.removed") == 1


def test_adding_a_member_explains_bad_input_and_writes_nothing(
    company: WebCompany, browser: Browser
) -> None:
    browser.page("/settings/users")
    bad = browser.submit("/settings/users", {"email": "not an email", "role": "sales"})
    assert bad.status_code == 422
    assert "email address" in field_error(bad.text, "s-email").lower()
    assert 'value="not an email"' in bad.text
    no_role = browser.submit("/settings/users", {"email": "ok@example.ae", "role": "boss"})
    assert no_role.status_code == 422 and field_error(no_role.text, "s-role") == "Choose a role."
    existing = company.member(Role.SALES)
    twice = browser.submit("/settings/users", {"email": existing, "role": "manager"})
    assert twice.status_code == 422 and "already a member" in field_error(twice.text, "s-email")
    assert member_role(company, "ok@example.ae") is None
    assert member_role(company, existing) is Role.SALES


def test_the_last_owner_can_be_neither_demoted_nor_removed(
    company: WebCompany, browser: Browser
) -> None:
    owner_id = company.user_ids[Role.OWNER]
    browser.page("/settings/users")
    for url, data in (
        (f"/settings/users/{owner_id}/role", {"role": "manager"}),
        (f"/settings/users/{owner_id}/remove", {}),
    ):
        refused = browser.submit(url, data)
        assert refused.status_code == 422
        assert "last owner" in field_error(refused.text, f"row-{owner_id}")
    assert member_role(company, company.emails[Role.OWNER]) is Role.OWNER
    # With a second owner, the first may step down.
    browser.submit("/settings/users", {"email": "second@example.ae", "role": "owner"})
    assert (
        browser.submit(f"/settings/users/{owner_id}/role", {"role": "manager"}).status_code == 303
    )
    assert member_role(company, company.emails[Role.OWNER]) is Role.MANAGER


# ----- API tokens ---------------------------------------------------------------------------
SECRET_SHOWN = re.compile(r'id="new-token"[^>]*value="(mjl_[^"]+)"')
REVOKE_FORM = re.compile(r'action="/settings/tokens/([0-9a-f-]+)/revoke"')


def test_token_secret_is_shown_once_and_a_revoked_token_is_refused_at_once(
    company: WebCompany, browser: Browser, base_url: str
) -> None:
    browser.page("/settings/tokens")
    created = browser.submit("/settings/tokens", {"name": f"Sync {HOSTILE}"})
    assert created.status_code == 303 and created.headers["location"] == "/settings/tokens"
    first = browser.page("/settings/tokens")
    secret = SECRET_SHOWN.search(first.text)[1]
    assert "shown only this once" in first.text
    assert HOSTILE not in first.text and html.escape(HOSTILE) in first.text
    assert first.headers["cache-control"] == "no-store"
    # A refresh is a GET: no second token, and the secret is not shown again.
    listing = browser.page("/settings/tokens").text
    assert secret not in listing and "shown only this once" not in listing and "Never" in listing
    assert len(REVOKE_FORM.findall(first.text)) == len(REVOKE_FORM.findall(listing)) == 1
    assert audited(company, "token.created") == 1
    assert read(company, lambda s: s.scalar(select(func.count()).select_from(ApiToken))) == 1

    api = httpx.Client(base_url=base_url, headers={"Authorization": f"Bearer {secret}"})
    with api:
        assert api.get("/api/v1/me").status_code == 200
        token_id = REVOKE_FORM.search(listing)[1]
        assert browser.submit(f"/settings/tokens/{token_id}/revoke").status_code == 303
        assert api.get("/api/v1/me").status_code == 401
    revoked = browser.page("/settings/tokens").text
    assert "Revoked" in revoked and "The token was revoked." in revoked


def test_a_handed_over_secret_is_shown_only_to_its_member(
    make_company: Callable[..., WebCompany], company: WebCompany, browser: Browser
) -> None:
    browser.page("/settings/tokens")
    created = browser.submit("/settings/tokens", {"name": "sync"})
    handed_over = created.cookies["majlis_new_token"]
    assert "mjl_" not in created.headers["location"]
    other = make_company().browser(Role.OWNER)
    other.cookies.set("majlis_new_token", handed_over, path="/settings/tokens")
    assert not SECRET_SHOWN.search(other.page("/settings/tokens").text)
    browser.cookies.set("majlis_new_token", handed_over[:-2] + "xx", path="/settings/tokens")
    assert not SECRET_SHOWN.search(browser.page("/settings/tokens").text)


def test_a_token_needs_a_name(company: WebCompany, browser: Browser) -> None:
    browser.page("/settings/tokens")
    refused = browser.submit("/settings/tokens", {"name": "   "})
    assert refused.status_code == 422 and "characters" in field_error(refused.text, "s-name")
    assert "mjl_" not in refused.text
    assert read(company, lambda s: s.scalar(select(func.count()).select_from(ApiToken))) == 0


# ----- working time and holidays ------------------------------------------------------------
def test_owner_changes_the_working_week_hours_and_zone(
    company: WebCompany, browser: Browser
) -> None:
    browser.page("/settings/calendar")
    saved = browser.post(
        "/settings/calendar",
        data={
            "csrf_token": browser.csrf,
            "working_days": ["6", "0", "1", "2", "3"],
            "work_starts": "٠٨:٣٠",  # Arabic-Indic digits
            "work_ends": "16:00",
            "time_zone": "Asia/Riyadh",
        },
    )
    assert saved.status_code == 303
    row = company_row(company)
    assert row.working_days == [0, 1, 2, 3, 6]
    assert (row.work_starts, row.work_ends, row.time_zone) == (time(8, 30), time(16), "Asia/Riyadh")
    assert audited(company, "company.working_time_changed") == 1


def test_working_time_refusals_sit_next_to_their_fields(
    company: WebCompany, browser: Browser
) -> None:
    browser.page("/settings/calendar")
    data = {
        "working_days": [],
        "work_starts": "17:00",
        "work_ends": "09:00",
        "time_zone": "Mars/Base",
    }
    refused = browser.post("/settings/calendar", data={"csrf_token": browser.csrf, **data})
    assert refused.status_code == 422
    assert "empty" in field_error(refused.text, "s-working-days")
    assert "start before" in field_error(refused.text, "s-work_ends")
    assert "unknown time zone" in field_error(refused.text, "s-time_zone")
    unreadable = browser.post(
        "/settings/calendar",
        data={
            "csrf_token": browser.csrf,
            "working_days": ["0"],
            "work_starts": "nine",
            "work_ends": "17:00",
            "time_zone": "Asia/Dubai",
        },
    )
    assert "HH:MM" in field_error(unreadable.text, "s-work_starts")
    row = company_row(company)
    assert row.working_days == [0, 1, 2, 3, 4] and row.time_zone == "Asia/Dubai"


def test_holiday_overrides_are_added_and_removed(company: WebCompany, browser: Browser) -> None:
    browser.page("/settings/calendar")
    assert (
        browser.submit(
            "/settings/calendar/holidays", {"date": "2026-12-20", "kind": "closed"}
        ).status_code
        == 303
    )
    assert (
        browser.submit(
            "/settings/calendar/holidays", {"date": "2026-12-02", "kind": "open"}
        ).status_code
        == 303
    )
    page = browser.page("/settings/calendar").text
    assert "Dec 20, 2026" in page and "National Day" in page
    both = browser.submit("/settings/calendar/holidays", {"date": "2026-12-02", "kind": "closed"})
    assert both.status_code == 422 and "added and removed" in field_error(both.text, "h-date")
    bad = browser.submit("/settings/calendar/holidays", {"date": "soon", "kind": "closed"})
    assert bad.status_code == 422 and "YYYY-MM-DD" in field_error(bad.text, "h-date")
    assert (
        browser.submit(
            "/settings/calendar/holidays/remove", {"date": "2026-12-20", "kind": "closed"}
        ).status_code
        == 303
    )
    settings = read(company, lambda s: s.get_one(ReminderSettings, company.company_id))
    assert settings.holiday_additions == [] and [
        d.isoformat() for d in settings.holiday_removals
    ] == ["2026-12-02"]


def test_holiday_overrides_carry_a_name_shown_escaped_in_english_and_arabic(
    make_company: Callable[..., WebCompany], company: WebCompany, browser: Browser
) -> None:
    browser.page("/settings/calendar")
    founders = {"date": "2026-12-03", "kind": "closed", "name": "Our founders' day"}
    assert browser.submit("/settings/calendar/holidays", founders).status_code == 303
    hostile = {"date": "2026-12-02", "kind": "open", "name": HOSTILE}
    assert browser.submit("/settings/calendar/holidays", hostile).status_code == 303
    page = browser.page("/settings/calendar").text
    assert "Our founders&#39; day" in page and "National Day" in page
    assert HOSTILE not in page and html.escape(HOSTILE) in page
    arabic = company.browser(Role.OWNER, **{"Accept-Language": "ar"}).page("/settings/calendar")
    assert 'dir="rtl"' in arabic.text and "Our founders&#39; day" in arabic.text
    assert "عطلة رسمية" in arabic.text

    # Adding a date again renames it; a name over 100 characters is refused, nothing written.
    renamed = {**founders, "name": "يوم المؤسسين"}
    assert browser.submit("/settings/calendar/holidays", renamed).status_code == 303
    too_long = browser.submit("/settings/calendar/holidays", {**founders, "name": "x" * 101})
    assert too_long.status_code == 422
    assert "100 characters" in field_error(too_long.text, "h-name")
    settings = read(company, lambda s: s.get_one(ReminderSettings, company.company_id))
    assert settings.holiday_names == {"2026-12-02": HOSTILE, "2026-12-03": "يوم المؤسسين"}

    # Taking a date out takes its name with it; another company sees none of them.
    assert browser.submit("/settings/calendar/holidays/remove", hostile).status_code == 303
    settings = read(company, lambda s: s.get_one(ReminderSettings, company.company_id))
    assert settings.holiday_names == {"2026-12-03": "يوم المؤسسين"}
    other = make_company().browser(Role.OWNER).page("/settings/calendar").text
    assert "يوم المؤسسين" not in other and "Our founders" not in other


# ----- reminders ----------------------------------------------------------------------------
def test_reminder_thresholds_save_and_refuse_out_of_order(
    company: WebCompany, browser: Browser
) -> None:
    browser.page("/settings/reminders")
    values = {
        "firm_after_days": "10",
        "urgent_after_days": "20",
        "final_after_days": "٤٥",
        "preferred_contact_interval_days": "5",
        "consolidation": "ENABLED",
        "max_consolidation_amount": "5000",
    }
    assert browser.submit("/settings/reminders", values).status_code == 303
    row = read(company, lambda s: s.get_one(ReminderSettings, company.company_id))
    assert (row.firm_after_days, row.urgent_after_days, row.final_after_days) == (10, 20, 45)
    assert row.consolidation == "ENABLED" and row.preferred_contact_interval_days == 5
    disordered = browser.submit("/settings/reminders", {**values, "urgent_after_days": "8"})
    assert disordered.status_code == 422
    assert "thresholds must rise" in field_error(disordered.text, "s-firm_after_days")
    nonsense = browser.submit("/settings/reminders", {**values, "max_consolidation_amount": "lots"})
    assert nonsense.status_code == 422 and field_error(nonsense.text, "s-max_consolidation_amount")
    row = read(company, lambda s: s.get_one(ReminderSettings, company.company_id))
    assert row.urgent_after_days == 20


def template_form(**changes: str) -> dict[str, str]:
    return {
        "language": "ar",
        "escalation_level": "FIRM",
        "name": "Firm Arabic",
        "subject": "تذكير: {{ invoice_count }} فواتير",
        "body_html": "<p>عزيزنا {{ customer_name }}، المبلغ {{ total_amount|money }}</p>",
        "supports_consolidation": "on",
        "max_invoice_count": "10",
        **changes,
    }


def test_templates_are_listed_previewed_and_saved(company: WebCompany, browser: Browser) -> None:
    listing = browser.page("/settings/reminders").text
    assert listing.count("Customize") == 8  # four levels, two languages, all built-in
    editor = browser.page("/settings/reminders/templates/new?language=ar&level=FIRM").text
    assert "/settings/reminders/preview?language=ar&amp;level=FIRM" in editor
    assert "/settings/reminders/preview?language=en&amp;level=FIRM" in editor  # the other language
    built_in = browser.get("/settings/reminders/preview?language=ar&level=FIRM")
    assert 'dir="rtl"' in built_in.text and "sandbox" in built_in.headers["content-security-policy"]

    preview = browser.submit("/settings/reminders/preview", template_form())
    assert preview.status_code == 200 and "sandbox" in preview.headers["content-security-policy"]
    assert "عزيزنا Sample، المبلغ 200.00" in preview.text and 'lang="ar" dir="rtl"' in preview.text
    broken = browser.submit("/settings/reminders/preview", template_form(body_html="{% if %}"))
    assert broken.status_code == 422 and "body_html" in broken.text

    saved = browser.submit("/settings/reminders/templates", template_form(name=HOSTILE))
    assert saved.status_code == 303
    listing = browser.page("/settings/reminders").text
    assert listing.count("Customize") == 7 and html.escape(HOSTILE) in listing
    assert HOSTILE not in listing
    template_id = re.search(r'href="/settings/reminders/templates/([0-9a-f-]{36})"', listing)[1]
    assert browser.page(f"/settings/reminders/templates/{template_id}").status_code == 200
    assert "200.00" in browser.get(f"/settings/reminders/templates/{template_id}/preview").text
    assert audited(company, "reminder_template.saved") == 1


def test_a_broken_template_comes_back_with_its_errors_and_nothing_saved(
    company: WebCompany, browser: Browser
) -> None:
    browser.page("/settings/reminders/templates/new?language=en&level=POLITE")
    refused = browser.submit(
        "/settings/reminders/templates",
        template_form(language="en", subject="{{ secret_key }}", body_html="{% for %}"),
    )
    assert refused.status_code == 422
    assert "unknown variable" in field_error(refused.text, "s-subject")
    assert field_error(refused.text, "s-body_html")
    assert "{{ secret_key }}" in html.unescape(refused.text)  # the typing stays
    empty = browser.submit("/settings/reminders/templates", template_form(name=""))
    assert empty.status_code == 422 and field_error(empty.text, "s-name")
    count = read(company, lambda s: s.scalar(select(func.count()).select_from(ReminderTemplate)))
    assert count == 0


# ----- loyalty ------------------------------------------------------------------------------
def tier_fields(*tiers: tuple[str, str, str]) -> dict[str, str]:
    fields = {}
    for index, (key, name, points) in enumerate(tiers):
        fields |= {
            f"tiers.{index}.key": key,
            f"tiers.{index}.name": name,
            f"tiers.{index}.name_ar": "",
            f"tiers.{index}.min_points": points,
        }
    return fields


PROGRAM = {
    "name": "Majlis Rewards",
    "points_per_currency_unit": "1",
    "points_per_visit": "10",
    "points_per_referral": "50",
    "expiry_days": "365",
}


def test_loyalty_tiers_save_in_order_and_refuse_disorder(
    company: WebCompany, browser: Browser
) -> None:
    page = browser.page("/settings/loyalty").text
    assert 'name="tiers.0.key"' in page and 'value="0"' in page
    good = tier_fields(("member", "Member", "0"), ("gold", "Gold", "١٠٠٠"), ("", "", ""))
    assert browser.submit("/settings/loyalty", {**PROGRAM, **good}).status_code == 303
    tiers = read(
        company,
        lambda s: [
            (t.key, t.min_points)
            for t in s.scalars(select(LoyaltyTier).order_by(LoyaltyTier.min_points))
        ],
    )
    assert tiers == [("member", 0), ("gold", 1000)]
    disordered = tier_fields(
        ("member", "Member", "0"), ("gold", "Gold", "500"), ("silver", "Silver", "200")
    )
    refused = browser.submit("/settings/loyalty", {**PROGRAM, **disordered})
    assert refused.status_code == 422 and "strictly increasing" in refused.text
    assert 'value="silver"' in refused.text  # the rows come back as typed
    bad_points = browser.submit("/settings/loyalty", {**PROGRAM, "points_per_visit": "-1", **good})
    assert bad_points.status_code == 422 and field_error(bad_points.text, "s-points_per_visit")
    assert len(read(company, lambda s: s.scalars(select(LoyaltyTier)).all())) == 2


# ----- retention ----------------------------------------------------------------------------
def test_retention_explains_the_consequence_and_validates(
    company: WebCompany, browser: Browser
) -> None:
    page = browser.page("/settings/privacy").text
    assert "more than 730 days ago" in page and "cannot be restored" in page
    too_short = browser.submit("/settings/privacy", {"retention_days": "29"})
    assert too_short.status_code == 422 and "30" in field_error(too_short.text, "s-retention_days")
    assert company_row(company).retention_days == 730
    assert browser.submit("/settings/privacy", {"retention_days": "٤٠٠"}).status_code == 303
    assert company_row(company).retention_days == 400
    assert audited(company, "company.retention_changed") == 1


def test_settings_in_arabic(company: WebCompany) -> None:
    arabic = company.browser(Role.OWNER, **{"Accept-Language": "ar"})
    page = arabic.page("/settings/calendar").text
    assert 'dir="rtl"' in page and "الإعدادات" in page


# ----- tenancy ------------------------------------------------------------------------------
def test_another_companys_ids_are_not_found(
    make_company: Callable[..., WebCompany], company: WebCompany, browser: Browser
) -> None:
    other = make_company()
    other_browser = other.browser(Role.OWNER)
    other_browser.page("/settings/tokens")
    other_browser.submit("/settings/tokens", {"name": "theirs"})
    token_id = re.search(
        r'action="/settings/tokens/([0-9a-f-]+)/revoke"',
        other_browser.page("/settings/tokens").text,
    )[1]
    other_browser.submit("/settings/reminders/templates", template_form())
    template_id = re.search(
        r'href="/settings/reminders/templates/([0-9a-f-]{36})"',
        other_browser.page("/settings/reminders").text,
    )[1]
    other_user = other.user_ids[Role.OWNER]

    browser.page("/settings/users")
    assert (
        browser.submit(f"/settings/users/{other_user}/role", {"role": "analyst"}).status_code == 404
    )
    assert browser.submit(f"/settings/users/{other_user}/remove").status_code == 404
    assert browser.submit(f"/settings/tokens/{token_id}/revoke").status_code == 404
    assert browser.page(f"/settings/reminders/templates/{template_id}").status_code == 404
    assert browser.get(f"/settings/reminders/templates/{template_id}/preview").status_code == 404
    assert (
        browser.submit(f"/settings/reminders/templates/{template_id}", template_form()).status_code
        == 404
    )
    assert member_role(other, other.emails[Role.OWNER]) is Role.OWNER
    revoked = read(other, lambda s: s.get_one(ApiToken, (other.company_id, uuid.UUID(token_id))))
    assert revoked.revoked_at is None


# ----- no N+1 -------------------------------------------------------------------------------
def settings_statements(browser: Browser, engine: Engine) -> dict[str, int]:
    counts = {}
    for url in PAGES:
        with counting_statements(engine) as statements:
            assert browser.get(url).status_code == 200
        counts[url] = len(statements)
    return counts


def test_settings_queries_do_not_grow_with_members_tokens_or_templates(
    company: WebCompany, browser: Browser, app_engine: Engine
) -> None:
    settings_statements(browser, app_engine)  # first visits create the default rows
    few = settings_statements(browser, app_engine)
    browser.page("/settings/tokens")
    for number in range(5):
        browser.submit("/settings/users", {"email": f"m{number}@example.ae", "role": "sales"})
        browser.submit("/settings/tokens", {"name": f"token {number}"})
    browser.submit("/settings/reminders/templates", template_form())
    browser.submit("/settings/reminders/templates", template_form(language="en", name="Firm"))
    assert settings_statements(browser, app_engine) == few
    assert max(few.values()) <= 12, few
