"""The owner's settings in headless Chromium: the working week, a named holiday, a token shown
once (and not again on a refresh), the template preview following the typing, Arabic
right-to-left, and a 375 px phone."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect
from tests.e2e.conftest import Tab
from tests.web.conftest import WebCompany

pytestmark = pytest.mark.e2e


def test_owner_changes_the_working_week_and_creates_a_token(company: WebCompany, tab: Tab) -> None:
    tab.sign_in(company.member())
    page = tab.page
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Settings").click()
    expect(page.get_by_role("heading", name="Users and roles")).to_be_visible()
    tab.check_accessibility("settings-users")

    page.get_by_role("navigation", name="Settings sections").get_by_role(
        "link", name="Working time"
    ).click()
    page.get_by_label("Friday").uncheck()
    page.get_by_label("Sunday").check()
    page.get_by_label("Opens at").fill("08:00")
    page.get_by_label("Time zone").fill("Asia/Riyadh")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_role("status")).to_have_text("Settings saved.")
    expect(page.get_by_label("Friday")).not_to_be_checked()
    expect(page.get_by_label("Sunday")).to_be_checked()
    expect(page.get_by_label("Time zone")).to_have_value("Asia/Riyadh")
    page.get_by_label("Date", exact=True).fill("2026-12-03")
    page.get_by_label("Name (optional)").fill("Founding of the company")
    page.get_by_role("button", name="Add date").click()
    expect(page.get_by_role("status")).to_have_text("Settings saved.")
    expect(page.locator(".holiday-list li")).to_contain_text(
        "Dec 3, 2026 · Founding of the company"
    )
    tab.check_accessibility("settings-calendar")

    page.get_by_role("link", name="API tokens").click()
    page.get_by_label("Name").fill("Accounting sync")
    page.get_by_role("button", name="Create token").click()
    secret = page.get_by_role("textbox", name="Your new token").input_value()
    assert re.fullmatch(r"mjl_[0-9a-f]{32}_[\w-]+", secret)
    tab.check_accessibility("settings-tokens")
    page.reload()  # the page came from a redirect: a refresh neither re-posts nor re-shows
    expect(page.get_by_role("textbox", name="Your new token")).to_have_count(0)
    assert secret not in page.content()
    expect(page.get_by_role("button", name="Revoke Accounting sync")).to_have_count(1)
    page.get_by_role("button", name="Revoke Accounting sync").click()
    expect(page.get_by_role("status")).to_have_text("The token was revoked.")


def test_template_preview_follows_the_typing_and_arabic_mirrors(
    company: WebCompany, tab: Tab
) -> None:
    tab.sign_in(company.member())
    page = tab.page
    tab.open("/settings/reminders")
    tab.check_accessibility("settings-reminders")
    page.get_by_role("link", name="Customize · Firm · Arabic").click()
    live = page.frame_locator("iframe[name=template-preview]")
    expect(live.locator("html")).to_have_attribute("dir", "rtl")
    page.get_by_label("Body (HTML)").fill("<p>مرحباً {{ customer_name }} — {{ invoice_count }}</p>")
    # No click: the preview follows the typing (settings.js submits the draft to the frame).
    expect(live.locator("body")).to_contain_text("مرحباً Sample — 2")
    tab.check_accessibility("settings-template")

    page.get_by_role("button", name="Save").click()
    expect(page.get_by_role("status")).to_have_text("Settings saved.")
    page.get_by_role("button", name="العربية").click()
    expect(page.locator("html")).to_have_attribute("dir", "rtl")
    expect(page.get_by_role("heading", name="الإعدادات")).to_be_visible()
    tab.check_accessibility("settings-reminders-ar")


def test_settings_fit_a_phone(company: WebCompany, phone_tab: Tab) -> None:
    phone_tab.sign_in(company.member())
    page = phone_tab.page
    for path, name in (
        ("/settings/users", "phone-settings-users"),
        ("/settings/calendar", "phone-settings-calendar"),
        ("/settings/loyalty", "phone-settings-loyalty"),
        ("/settings/reminders/templates/new?language=en&level=POLITE", "phone-settings-template"),
    ):
        phone_tab.open(path)
        overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 0, f"{path} scrolls sideways by {overflow}px"
        phone_tab.check_accessibility(name)
