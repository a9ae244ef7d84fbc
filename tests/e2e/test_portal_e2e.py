"""The customer portal on a 375 px phone: the emailed link, the card, a redemption, Arabic."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect
from sqlalchemy import Engine
from tests.e2e.conftest import Tab
from tests.web.conftest import WebCompany
from tests.web.test_portal_pages import add_reward, enrol, sign_in_link

pytestmark = pytest.mark.e2e


def fits_the_phone(tab: Tab) -> bool:
    """No sideways scrolling: the page is no wider than the 375 px viewport."""
    return bool(tab.page.evaluate("document.documentElement.scrollWidth <= window.innerWidth"))


def test_open_the_link_see_the_card_redeem_and_switch_to_arabic(
    company: WebCompany, phone_tab: Tab, admin_engine: Engine
) -> None:
    mariam = enrol(company, "Mariam Al Noor", 1_200)
    add_reward(company, "Arabic Coffee", 200)
    page = phone_tab.page
    home = f"/portal/{company.company_id}"

    phone_tab.open(f"{home}/sign-in")
    page.get_by_label("Email or phone").fill(mariam.email)
    page.get_by_role("button", name="Send me a link").click()
    expect(page.get_by_role("status")).to_contain_text("If we know you")
    phone_tab.check_accessibility("portal-sign-in")

    # The link only shows a "Sign in" button (a mail scanner's fetch spends nothing).
    phone_tab.open(sign_in_link(admin_engine, mariam.customer_id) or "")
    assert fits_the_phone(phone_tab)
    phone_tab.check_accessibility("portal-open-link")
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"**{home}/card")
    expect(page.locator(".card-holder")).to_have_text("Mariam Al Noor")
    expect(page.locator(".card-points")).to_have_text("1,200")
    expect(page.locator(".card-tier")).to_have_text("Silver member")
    assert fits_the_phone(phone_tab)
    phone_tab.check_accessibility("portal-card")

    page.get_by_role("link", name="See rewards").click()
    page.get_by_role("link", name=re.compile(r"^Redeem\W+Arabic Coffee$")).click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Redeem Arabic Coffee?")
    phone_tab.check_accessibility("portal-redeem")
    page.get_by_role("button", name="Yes, redeem").click()
    expect(page.get_by_role("status")).to_contain_text("Reward redeemed.")
    expect(page.locator(".portal-balance")).to_have_text("You have 1,000 points.")
    assert fits_the_phone(phone_tab)
    phone_tab.check_accessibility("portal-rewards")

    nav = page.get_by_role("navigation", name="My account")
    nav.get_by_role("link", name="My points").click()
    expect(page.locator(".ledger-entry").first).to_contain_text("reward Arabic Coffee")
    phone_tab.check_accessibility("portal-points")
    nav.get_by_role("link", name="My preferences").click()
    phone_tab.check_accessibility("portal-preferences")
    nav.get_by_role("link", name="My data").click()
    phone_tab.check_accessibility("portal-data")

    page.get_by_role("button", name="العربية").click()
    expect(page.locator("html")).to_have_attribute("dir", "rtl")
    expect(page.get_by_role("heading", level=1)).to_have_text("بياناتي")
    page.get_by_role("navigation", name="حسابي").get_by_role("link", name="بطاقتي").click()
    expect(page.locator(".card-tier")).to_have_text("عضو فضي")
    assert fits_the_phone(phone_tab)
    phone_tab.check_accessibility("portal-card-ar")
