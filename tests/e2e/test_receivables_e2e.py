"""Receivables in headless Chromium: overdue invoices, a run, the queued reminders previewed
in both languages.

The email preview is a sandboxed iframe served with its own policy; the tab's
checks fail on any CSP violation or script error, in the page or the frame.
"""

from __future__ import annotations

import pytest
from playwright.sync_api import expect
from tests.e2e.conftest import Tab
from tests.web.conftest import WebCompany
from tests.web.test_receivables_pages import debtors

pytestmark = pytest.mark.e2e


def test_run_then_preview_the_queued_reminders_in_both_languages(
    company: WebCompany, tab: Tab
) -> None:
    amal, _ = debtors(company)
    tab.sign_in(company.member())
    page = tab.page
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Receivables").click()
    rows = page.locator("table.data tbody tr")
    expect(rows).to_have_count(3)
    expect(rows.first).to_contain_text("INV-A1")
    tab.check_accessibility("receivables-overdue")

    page.get_by_role("link", name="Reminder queue").click()
    expect(page.locator("p.empty")).to_have_text("No reminder is waiting to be sent.")
    page.get_by_role("button", name="Run now").click()
    expect(page.get_by_role("status")).to_have_text("The reminder run was scheduled.")
    expect(page.locator("#queue-summary")).to_contain_text("2 reminder(s) waiting")
    tab.check_accessibility("receivables-queue")

    page.get_by_role("link", name="English · Amal Trading").click()
    frame = page.frame_locator("iframe.email-frame")
    expect(frame.locator("html")).to_have_attribute("dir", "ltr")
    expect(frame.locator("body")).to_contain_text("Dear Amal Trading")
    tab.check_accessibility("receivables-preview-en")

    page.get_by_role("navigation", name="Email language").get_by_role("link", name="Arabic").click()
    expect(page.locator("iframe.email-frame")).to_have_attribute(
        "title", "Reminder email in Arabic"
    )
    expect(frame.locator("html")).to_have_attribute("dir", "rtl")
    expect(frame.locator("html")).to_have_attribute("lang", "ar")
    expect(frame.locator("body")).to_contain_text("أمل للتجارة")
    direction = frame.locator("body").evaluate("body => getComputedStyle(body).direction")
    assert direction == "rtl"
    tab.check_accessibility("receivables-preview-ar")

    # Switch the whole workspace to Arabic: the page mirrors, the email stays Arabic.
    page.get_by_role("button", name="العربية").click()
    expect(page.locator("html")).to_have_attribute("dir", "rtl")
    expect(frame.locator("html")).to_have_attribute("dir", "rtl")
    tab.check_accessibility("receivables-preview-ar-rtl")

    page.get_by_role("link", name="قائمة التذكيرات").first.click()
    expect(page.locator("table.data tbody tr")).to_have_count(2)
    expect(page.locator("#queue-summary")).to_contain_text("بانتظار الإرسال")
    tab.check_accessibility("receivables-queue-ar")
    assert amal.name == "Amal Trading"
