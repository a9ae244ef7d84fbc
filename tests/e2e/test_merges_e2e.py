"""Merge and undo in headless Chromium: from the review queue to the undo, in English and Arabic."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect
from tests.e2e.conftest import Tab
from tests.web.conftest import WebCompany
from tests.web.test_merge_pages import queued_pair, stored, twins

pytestmark = pytest.mark.e2e


def test_merge_from_the_queue_then_undo(company: WebCompany, tab: Tab) -> None:
    left, right = twins(company)
    queued_pair(company, left, right, probability=0.97)
    tab.sign_in(company.member())
    page = tab.page
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Duplicates").click()
    expect(page.locator("li.pair")).to_have_count(1)
    expect(page.locator("li.pair")).to_contain_text("phone: exact")
    tab.check_accessibility("merges-queue")

    page.get_by_role("link", name="Merge…").click()
    expect(page.get_by_role("heading", name="Merge customers")).to_be_visible()
    tab.check_accessibility("merges-compare")
    # Take the name from the right-hand record; everything else as the merge would pick.
    name_row = page.get_by_role("group", name="Name")
    name_row.get_by_role("radio", name="Keep right").check()
    page.get_by_role("button", name="Preview the result").click()
    preview = page.locator(".merge-preview")
    expect(preview).to_contain_text("Mohamed Almansoori")
    expect(preview).to_contain_text("Dubai")
    expect(
        page.get_by_role("group", name="Name").get_by_role("radio", name="Keep right")
    ).to_be_checked()
    tab.check_accessibility("merges-preview")
    assert stored(company, right.id).merged_into_id is None  # a preview writes nothing

    page.get_by_role("button", name="Merge these customers").click()
    expect(page.get_by_role("status")).to_have_text("Customers merged.")
    expect(page.get_by_role("heading", name="Customers merged")).to_be_visible()
    tab.check_accessibility("merges-done")
    assert stored(company, left.id).name == "Mohamed Almansoori"
    assert stored(company, right.id).merged_into_id == left.id

    # Undo, in Arabic: the page mirrors right-to-left.
    page.get_by_role("button", name="العربية").click()
    expect(page.locator("html")).to_have_attribute("dir", "rtl")
    page.get_by_role("button", name="تراجع").click()
    expect(page.get_by_role("status")).to_have_text("تم التراجع عن الدمج.")
    tab.check_accessibility("merges-undone-ar")
    assert stored(company, right.id).merged_into_id is None
    assert stored(company, left.id).name == "Mohammed Al Mansouri"


def test_merge_pages_fit_a_phone(company: WebCompany, phone_tab: Tab) -> None:
    left, right = twins(company)
    queued_pair(company, left, right)
    phone_tab.sign_in(company.member())
    for path, name in (
        ("/duplicates", "merges-queue-phone"),
        (f"/merges/new?a={left.id}&b={right.id}", "merges-compare-phone"),
    ):
        page = phone_tab.open(path)
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= 375, f"{path} scrolls sideways: {width}px"
        phone_tab.check_accessibility(name)
