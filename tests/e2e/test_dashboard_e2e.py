"""The dashboard and the loyalty pages in headless Chromium: charts, hover titles, Arabic, phone."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect
from sqlalchemy import Engine
from tests.e2e.conftest import Tab
from tests.web.conftest import WebCompany
from tests.web.test_dashboard_pages import planted
from tests.web.test_loyalty_pages import member, reward

pytestmark = pytest.mark.e2e

HOVERED_TITLE = """() => {
  const hovered = [...document.querySelectorAll(':hover')].pop();
  const mark = hovered && hovered.closest('g.mark');
  return mark ? mark.querySelector('title').textContent : null;
}"""


def test_dashboard_in_english_and_arabic(
    company: WebCompany, tab: Tab, admin_engine: Engine
) -> None:
    planted(company, company.browser(), admin_engine)
    tab.sign_in(company.member())
    page = tab.page
    nav = page.get_by_role("navigation", name="Main")
    expect(nav.get_by_role("link").first).to_have_text("Dashboard")
    nav.get_by_role("link", name="Dashboard").click()
    sources = page.get_by_role("img", name="Where customers come from")
    expect(sources).to_be_visible()

    # Hovering a bar shows its number: the browser's tooltip is the bar's <title>.
    sources.locator("rect.bar").first.hover()
    assert page.evaluate(HOVERED_TITLE) == "Manual: 2"
    # The same numbers as a table, one click away.
    page.locator("#sources-heading ~ details summary").click()
    expect(page.locator("#table-sources tbody tr").first).to_contain_text("Manual")
    expect(page.locator("#table-sources tbody tr").first).to_contain_text("2")
    tab.check_accessibility("dashboard-en")

    page.get_by_role("button", name="العربية").click()
    expect(page.locator("html")).to_have_attribute("dir", "rtl")
    funnel = page.get_by_role("img", name="مسار المبيعات حسب المرحلة")
    expect(funnel).to_be_visible()
    funnel.locator("rect.bar").first.hover()
    assert page.evaluate(HOVERED_TITLE) == "عميل محتمل: 3"  # the first stage, Lead
    tab.check_accessibility("dashboard-ar")


def test_dashboard_and_loyalty_fit_a_phone(
    company: WebCompany, phone_tab: Tab, admin_engine: Engine
) -> None:
    planted(company, company.browser(), admin_engine)
    amal = member(company, "Amal Al-Mansouri Trading and Contracting", 1500)
    reward(company, "Free coffee with a very long descriptive reward name", 500)
    phone_tab.sign_in(company.member())
    page = phone_tab.page
    for path, name in (
        ("/dashboard", "dashboard-phone"),
        ("/loyalty", "loyalty-program-phone"),
        (f"/loyalty/members/{amal}", "loyalty-member-phone"),
    ):
        phone_tab.open(path)
        overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 0, f"{path} scrolls sideways by {overflow}px"
        phone_tab.check_accessibility(name)
    page.get_by_role("button", name="Redeem").click()
    expect(page.get_by_role("status")).to_have_text("Reward redeemed.")
    expect(page.locator("#points-balance")).to_have_text("1,000")
