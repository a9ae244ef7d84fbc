"""Staff loyalty pages over the real server: program, members, a member's points, redeem, adjust."""

from __future__ import annotations

import html
import re
import uuid
from collections.abc import Callable

import pytest
from tests.web.conftest import Browser, WebCompany

from majlis.core.db import tenant_session
from majlis.core.permissions import Role
from majlis.loyalty import service as loyalty
from majlis.loyalty.schemas import RewardIn
from majlis.web.loyalty_pages import MEMBERS_PAGE_SIZE

HOSTILE = "<script>alert(1)</script>"


def member(company: WebCompany, name: str, points: int = 0, **values: object) -> uuid.UUID:
    """A customer enrolled through the service, with `points` earned."""
    customer = company.customer(name=name, **values)
    with tenant_session(company.engine, company.company_id) as session:
        enrolled = loyalty.enroll(session, company.actor(), customer.id)
        if points:
            loyalty.earn_points(session, company.actor(), enrolled.id, points, "purchase")
        return enrolled.id


def reward(company: WebCompany, name: str, cost: int, **values: object) -> uuid.UUID:
    with tenant_session(company.engine, company.company_id) as session:
        draft = RewardIn(name=name, cost_points=cost, **values)  # type: ignore[arg-type]
        return loyalty.create_reward(session, company.actor(), draft).id


def balance(company: WebCompany, member_id: uuid.UUID) -> int:
    with tenant_session(company.engine, company.company_id) as session:
        return loyalty.balance(session, company.actor(), member_id)


def rows(page: str, table_id: str) -> list[str]:
    table = re.search(rf'<table class="data" id="{table_id}"[^>]*>.*?</table>', page, re.S)
    assert table, f"no table {table_id}"
    return re.findall(r"<tr>\s*<t[dh].*?</tr>", table[0].split("</thead>")[-1], re.S)


# ----- the program page --------------------------------------------------------------------
def test_program_shows_tiers_members_by_tier_members_and_rewards(
    company: WebCompany, browser: Browser
) -> None:
    amal = member(company, "Amal", 1500, name_ar="أمل")
    member(company, HOSTILE, 10)
    reward(company, "Free coffee", 100, name_ar="قهوة مجانية", stock=3)
    reward(company, "Spa day", 5000, min_tier_key="gold")
    page = browser.page("/loyalty").text
    assert 'href="/loyalty" aria-current="page"' in page
    tiers = rows(page, "tiers")
    assert [re.search(r"<bdi>(.*?)</bdi>", row)[1] for row in tiers][:3] == [
        "Bronze",
        "Silver",
        "Gold",
    ]
    assert ">1,000<" in tiers[1]
    # Members by tier: a chart with hover titles and its table.
    chart = re.search(r'<svg id="chart-members-by-tier".*?</svg>', page, re.S)[0]
    assert "<title>Bronze: 1</title>" in chart and "<title>Silver: 1</title>" in chart
    assert "<title>Gold: 0</title>" in chart
    members = rows(page, "members")
    assert f'href="/loyalty/members/{amal}"' in members[0]
    assert ">Silver<" in members[0] and ">1,500<" in members[0]
    assert HOSTILE not in page and html.escape(HOSTILE) in members[1]
    rewards = rows(page, "rewards")
    assert "Free coffee" in rewards[0] and ">3<" in rewards[0] and "Any tier" in rewards[0]
    assert "Spa day" in rewards[1] and ">Gold<" in rewards[1] and "Unlimited" in rewards[1]
    # Arabic: the company's Arabic names, right to left.
    arabic = company.browser(Role.ANALYST, **{"Accept-Language": "ar"}).page("/loyalty").text
    assert 'dir="rtl"' in arabic and "أمل" in arabic and "قهوة مجانية" in arabic
    assert "فضي" in arabic  # Silver


def test_members_are_paged_by_cursor(company: WebCompany, browser: Browser) -> None:
    for number in range(MEMBERS_PAGE_SIZE + 1):
        member(company, f"Member {number:02d}")
    first = browser.page("/loyalty").text
    assert len(rows(first, "members")) == MEMBERS_PAGE_SIZE
    next_url = html.unescape(re.search(r'href="(/loyalty\?cursor=[^"]+)"', first)[1])
    second = browser.page(next_url).text
    assert len(rows(second, "members")) == 1 and "Member 25" in second
    assert "More members" not in second and "Back to the first page" in second
    assert browser.page("/loyalty?cursor=not-a-cursor").status_code == 422


def test_an_empty_program_renders(company: WebCompany) -> None:
    page = company.browser(Role.ANALYST).page("/loyalty")
    assert page.status_code == 200
    assert "No members yet." in page.text and "No rewards yet." in page.text
    assert "No data yet." in page.text  # members by tier


# ----- a member ----------------------------------------------------------------------------
def test_member_page_shows_ledger_and_redeems(company: WebCompany, browser: Browser) -> None:
    amal = member(company, "Amal", 1500)
    coffee = reward(company, "Free coffee", 500)
    reward(company, "Gold lounge", 100, min_tier_key="gold")
    reward(company, "Flight", 9000)
    page = browser.page(f"/loyalty/members/{amal}").text
    assert re.search(r'id="points-balance">1,500<', page) and ">Silver<" in page
    assert len(rows(page, "ledger")) == 1 and "Earned" in page
    # Only what the member may have gets a button; the rest say why not.
    assert page.count('action="/loyalty/members/') == 2  # one redeem + the adjust form
    assert "For Gold members and above." in page and "7,500 more points needed." in page

    response = browser.submit(f"/loyalty/members/{amal}/redeem", {"reward_id": str(coffee)})
    assert response.status_code == 303
    page = browser.page(f"/loyalty/members/{amal}").text
    assert "Reward redeemed." in page
    assert re.search(r'id="points-balance">1,000<', page)
    assert "Redeemed" in rows(page, "ledger")[0] and ">-500<" in rows(page, "ledger")[0]
    assert balance(company, amal) == 1000


def test_a_refused_redemption_says_why_and_writes_nothing(
    company: WebCompany, browser: Browser
) -> None:
    amal = member(company, "Amal", 300)
    gone = reward(company, "Sold out", 100, stock=0)
    browser.page(f"/loyalty/members/{amal}")
    response = browser.submit(f"/loyalty/members/{amal}/redeem", {"reward_id": str(gone)})
    assert response.status_code == 409
    assert "This reward could not be redeemed." in response.text
    assert "out of stock" in response.text
    assert balance(company, amal) == 300
    unknown = browser.submit(f"/loyalty/members/{amal}/redeem", {"reward_id": "nope"})
    assert unknown.status_code == 404


def test_adjust_takes_arabic_digits_and_shows_field_errors(
    company: WebCompany, browser: Browser
) -> None:
    amal = member(company, "Amal", 100)
    browser.page(f"/loyalty/members/{amal}")
    bad = browser.submit(f"/loyalty/members/{amal}/adjust", {"points": "lots", "reason": ""})
    assert bad.status_code == 422
    assert 'id="adjust-points" name="points" value="lots"' in bad.text
    assert 'aria-invalid="true"' in bad.text and 'id="adjust-reason-error"' in bad.text
    too_much = browser.submit(
        f"/loyalty/members/{amal}/adjust", {"points": "-500", "reason": "Typo"}
    )
    assert too_much.status_code == 409 and "not enough points" in too_much.text
    assert balance(company, amal) == 100
    ok = browser.submit(f"/loyalty/members/{amal}/adjust", {"points": "٥٠", "reason": "Goodwill"})
    assert ok.status_code == 303
    assert balance(company, amal) == 150
    assert "The points were adjusted." in browser.page(f"/loyalty/members/{amal}").text


def test_roles_see_only_what_they_may_do_and_forged_posts_are_refused(
    company: WebCompany,
) -> None:
    amal = member(company, "Amal", 1000)
    coffee = reward(company, "Free coffee", 100)
    sales = company.browser(Role.SALES)
    page = sales.page(f"/loyalty/members/{amal}").text
    assert "/redeem" in page and "/adjust" not in page
    assert (
        sales.submit(f"/loyalty/members/{amal}/adjust", {"points": "5", "reason": "x"}).status_code
        == 403
    )
    analyst = company.browser(Role.ANALYST)
    page = analyst.page(f"/loyalty/members/{amal}").text
    assert "/redeem" not in page and "/adjust" not in page
    forged = analyst.submit(f"/loyalty/members/{amal}/redeem", {"reward_id": str(coffee)})
    assert forged.status_code == 403
    assert analyst.submit(f"/loyalty/members/{amal}/adjust", {"points": "5"}).status_code == 403
    manager = company.browser(Role.MANAGER)
    assert "/adjust" in manager.page(f"/loyalty/members/{amal}").text
    assert balance(company, amal) == 1000


def test_csrf_is_required(company: WebCompany, browser: Browser) -> None:
    amal = member(company, "Amal", 1000)
    coffee = reward(company, "Free coffee", 100)
    browser.page(f"/loyalty/members/{amal}")
    for path, data in (
        ("redeem", {"reward_id": str(coffee)}),
        ("adjust", {"points": "5", "reason": "x"}),
    ):
        response = browser.post(f"/loyalty/members/{amal}/{path}", data=data)
        assert response.status_code == 403 and "This form has expired" in response.text
    assert balance(company, amal) == 1000


def test_another_companys_member_is_not_found(
    make_company: Callable[..., WebCompany],
) -> None:
    a, b = make_company(), make_company()
    amal = member(a, "Amal", 1000)
    coffee = reward(a, "Free coffee", 100)
    other = b.browser()
    assert other.page(f"/loyalty/members/{amal}").status_code == 404
    other.page("/loyalty")
    for path, data in (
        ("redeem", {"reward_id": str(coffee)}),
        ("adjust", {"points": "5", "reason": "x"}),
    ):
        assert other.submit(f"/loyalty/members/{amal}/{path}", data).status_code == 404
    assert "Amal" not in other.page("/loyalty").text
    assert other.page(f"/loyalty/members/{uuid.uuid4()}").status_code == 404
    assert balance(a, amal) == 1000


def test_member_names_are_escaped(company: WebCompany, browser: Browser) -> None:
    hostile = member(company, HOSTILE, name_ar="\u202eأمل\u202c")
    for lang in ("en", "ar"):
        page = company.browser(Role.SALES, **{"Accept-Language": lang}).page(
            f"/loyalty/members/{hostile}"
        )
        assert page.status_code == 200 and HOSTILE not in page.text
    # The Arabic name (the service drops its bidi overrides) is isolated inside <bdi>.
    assert "<h1><bdi>أمل</bdi></h1>" in page.text


def test_members_by_tier_past_the_cap_read_as_cap_plus(
    company: WebCompany, browser: Browser, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Tier counts stop at the cap (no page counts every member): "2+" with a cap of 2."""
    for name in ("Badr", "Dana", "Faris"):
        member(company, name, 10)
    member(company, "Huda", 1500)
    monkeypatch.setattr(loyalty, "COUNT_CAP", 2)
    page = browser.page("/loyalty").text
    chart = re.search(r'<svg id="chart-members-by-tier".*?</svg>', page, re.S)[0]
    assert "<title>Bronze: 2+</title>" in chart and "<title>Silver: 1</title>" in chart
    assert "<title>Gold: 0</title>" in chart
