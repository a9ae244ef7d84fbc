"""The customer list and wizard in headless Chromium: the live duplicate warning, saved filters.

Every page visited is checked with axe-core and saved as a screenshot under
`test-artifacts/e2e/` (names start with `customer_list-`).
"""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect
from tests.e2e.conftest import Tab
from tests.web.conftest import WebCompany

pytestmark = pytest.mark.e2e


def test_create_with_the_live_duplicate_warning(company: WebCompany, tab: Tab) -> None:
    existing = company.customer(name="Mohammed Al Hashimi", phone="+971501234567")
    tab.sign_in(company.member())
    page = tab.open("/customers/new")
    warning = page.locator("#duplicate-warning")
    expect(warning).to_have_attribute("aria-live", "polite")
    page.get_by_role("textbox", name="Name", exact=True).fill("Mohamed Al Hashemi")
    page.get_by_label("Phone").fill("050 123 4567")
    # The warning arrives as the user types, without submitting the step.
    expect(warning).to_contain_text("This customer may already exist")
    expect(warning).to_contain_text("Mohammed Al Hashimi")
    expect(warning).to_contain_text(re.compile(r"Match score \d+%"))
    tab.check_accessibility("customer_list-duplicate-warning")
    warning.get_by_role("link", name="Open Mohammed Al Hashimi").click()
    expect(page).to_have_url(f"{tab.base_url}/customers/{existing.id}")
    expect(page.get_by_role("heading", level=1)).to_have_text("Mohammed Al Hashimi")


def test_save_and_reapply_a_filter_in_arabic_on_a_phone(
    company: WebCompany, phone_tab: Tab
) -> None:
    company.customer(name="Amal Chat", name_ar="أمل", source="chat")
    company.customer(name="Basim Manual")
    phone_tab.sign_in(company.member())
    page = phone_tab.page
    page.get_by_role("button", name="العربية").click()
    expect(page.locator("html")).to_have_attribute("dir", "rtl")
    cards = page.locator(".card")
    expect(cards).to_have_count(2)

    # Filter with HTMX (no reload): the save form follows the filters shown.
    page.locator("#filter-source").select_option("chat")
    expect(cards).to_have_count(1)
    page.locator(".save-filter summary").click()
    page.locator("#filter-name").fill("محادثات")
    page.locator(".save-filter button[type=submit]").click()
    expect(page).to_have_url(re.compile(r"/customers\?source=chat$"))
    expect(page.get_by_role("status")).to_have_text("تم حفظ عامل التصفية.")
    overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 0, f"{overflow}px of sideways scrolling"
    phone_tab.check_accessibility("customer_list-saved-filters-ar-phone")

    # Back to everyone, then the saved filter applies its filters again.
    phone_tab.open("/customers")
    expect(cards).to_have_count(2)
    page.locator(".saved-filter-list").get_by_role("link", name="محادثات").click()
    expect(cards).to_have_count(1)
    expect(cards.first).to_contain_text("Amal Chat")
    expect(page.locator("#filter-source")).to_have_value("chat")
