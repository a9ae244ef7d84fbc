"""The customer tabs in headless Chromium: an organization's contacts, conversations, journey.

Every tab opened is checked with axe-core (and saved as a screenshot); the
tab fixture fails on any CSP violation or script error.
"""

from __future__ import annotations

import pytest
from playwright.sync_api import expect
from tests.e2e.conftest import Tab
from tests.web.conftest import WebCompany
from tests.web.test_customer_tab_pages import add_conversations, add_task, organization

pytestmark = pytest.mark.e2e


def test_an_organizations_tabs_add_a_contact_and_move_the_stage(
    company: WebCompany, tab: Tab
) -> None:
    org = organization(company, name_ar="النور للتجارة", email="office@noor.example")
    add_conversations(company, org.email, org.name, 1)
    add_task(company, org, "Send the fit-out quote")
    tab.sign_in(company.member())
    page = tab.page
    tab.open(f"/customers/{org.id}")
    sections = page.get_by_role("navigation", name="Customer sections")

    sections.get_by_role("link", name="Contacts and projects").click()
    expect(page.get_by_text("No contacts yet.")).to_be_visible()
    page.get_by_text("Add a contact", exact=True).click()
    page.locator("#contact-name").fill("Layla Nasser")
    page.get_by_label("Phone").fill("٠٥٠ ١٢٣ ٤٥٦٧")
    page.get_by_label("Primary contact").check()
    page.get_by_role("button", name="Add contact").click()
    expect(page.get_by_role("status")).to_have_text("Contact added.")
    expect(page.locator("#contacts tbody tr")).to_have_count(1)
    expect(page.locator("#contacts")).to_contain_text("+971501234567")
    tab.check_accessibility("customer_tabs-relationships")

    sections.get_by_role("link", name="Conversations").click()
    expect(page.locator("li.tab-conversation")).to_have_count(1)
    expect(page.locator("li.tab-conversation")).to_contain_text("whatsapp")
    tab.check_accessibility("customer_tabs-conversations")

    sections.get_by_role("link", name="Journey and tasks").click()
    expect(page.locator("#current-stage")).to_have_text("Lead")
    expect(page.locator("#tasks")).to_contain_text("Send the fit-out quote")
    expect(page.locator("#next-action")).to_have_text("Follow up")
    page.get_by_label("Move to stage").select_option("contacted")
    page.get_by_label("Reason").fill("Called the office")
    page.get_by_role("button", name="Move", exact=True).click()
    expect(page.get_by_role("status")).to_have_text("Stage changed.")
    expect(page.locator("#current-stage")).to_have_text("Contacted")
    expect(page.locator("#stage-history")).to_contain_text("Called the office")
    tab.check_accessibility("customer_tabs-journey")

    sections.get_by_role("link", name="Loyalty").click()
    expect(page.get_by_text("Not a member of the loyalty program.")).to_be_visible()
    page.get_by_role("button", name="Enrol").click()
    expect(page.locator("#tier")).to_have_text("Bronze")
    tab.check_accessibility("customer_tabs-loyalty")

    # The journey in Arabic: right-to-left, stage names in Arabic.
    page.get_by_role("button", name="العربية").click()
    expect(page.locator("html")).to_have_attribute("dir", "rtl")
    page.get_by_role("navigation", name="أقسام العميل").get_by_role(
        "link", name="الرحلة والمهام"
    ).click()
    expect(page.locator("#current-stage")).to_have_text("تم التواصل")
    tab.check_accessibility("customer_tabs-journey-ar")


def test_the_tabs_fit_a_phone(company: WebCompany, phone_tab: Tab) -> None:
    org = organization(company, email="office@noor.example")
    add_conversations(company, org.email, org.name, 2)
    phone_tab.sign_in(company.member())
    for name in ("relationships", "conversations", "journey", "loyalty"):
        page = phone_tab.open(f"/customers/{org.id}/{name}")
        overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 0, f"{name} scrolls sideways by {overflow}px"
    phone_tab.check_accessibility("customer_tabs-phone-loyalty")
