"""The journey board, my tasks and the live notifications bell in headless Chromium."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect
from tests.e2e.conftest import Tab
from tests.web.conftest import WebCompany
from tests.web.test_journey_pages import move, stage_of, task
from tests.web.test_notification_pages import notify

from majlis.core.permissions import Role

pytestmark = pytest.mark.e2e


def test_drag_a_card_to_move_it_and_a_refused_drop_explains(company: WebCompany, tab: Tab) -> None:
    customer = company.customer(name="Drag Me")
    company.customer(name="Another Lead")
    tab.sign_in(company.member(Role.SALES))
    page = tab.page
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Journeys").click()
    card = page.locator(f"#card-{customer.id}")
    expect(page.locator('[data-stage="lead"]').locator(card)).to_be_visible()
    tab.check_accessibility("journeys-board")

    card.drag_to(page.locator('[data-stage="contacted"]'))
    expect(page.locator(".flash")).to_have_text("The customer was moved.")
    page.reload()
    expect(page.locator('[data-stage="contacted"]').locator(f"#card-{customer.id}")).to_be_visible()
    assert stage_of(company, customer.id) == "contacted"

    # contacted may go on to consultation or lost, not back to lead
    page.locator(f"#card-{customer.id}").drag_to(page.locator('[data-stage="lead"]'))
    expect(page.get_by_role("alert")).to_contain_text("That move was refused.")
    expect(page.get_by_role("alert")).to_contain_text("allowed: consultation, lost")
    expect(page.locator('[data-stage="contacted"]').locator(f"#card-{customer.id}")).to_be_visible()
    assert stage_of(company, customer.id) == "contacted"


def test_board_in_arabic_on_a_phone_mirrors_and_scrolls_inside(
    company: WebCompany, phone_tab: Tab
) -> None:
    moved = company.customer(name="Mirrored", name_ar="معكوس")
    move(company, moved, "contacted")
    phone_tab.sign_in(company.member())
    page = phone_tab.page
    page.get_by_role("button", name="العربية").click()
    phone_tab.open("/journeys")
    expect(page.locator("html")).to_have_attribute("dir", "rtl")
    expect(page.get_by_role("heading", level=1)).to_have_text("لوحة رحلة العملاء")
    lead, contacted = page.locator('[data-stage="lead"]'), page.locator('[data-stage="contacted"]')
    expect(lead.get_by_role("heading", level=2)).to_contain_text("عميل محتمل")
    lead_box, contacted_box = lead.bounding_box(), contacted.bounding_box()
    assert lead_box and contacted_box and lead_box["x"] > contacted_box["x"]  # first on the right
    overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 0, f"the page scrolls sideways by {overflow}px"
    inside = page.locator(".board").evaluate("board => board.scrollWidth - board.clientWidth")
    assert inside > 0  # the columns scroll inside the board
    phone_tab.check_accessibility("journeys-board-ar-phone")


def test_tasks_page_claim(company: WebCompany, tab: Tab) -> None:
    task(company, "Call Fatima back", due_in_hours=-2)
    tab.sign_in(company.member(Role.SALES))
    page = tab.page
    page.get_by_role("navigation", name="Main").get_by_role("link", name="My tasks").click()
    next_task = page.locator(".next-task")
    expect(next_task).to_contain_text("Call Fatima back")
    expect(next_task.locator(".badge.overdue")).to_be_visible()
    tab.check_accessibility("journeys-tasks")
    next_task.get_by_role("button", name="Claim").click()
    expect(page.locator(".next-task")).to_contain_text("Nothing to do right now.")
    expect(page.locator("#mine-heading + .task-list")).to_contain_text("Claimed")


def test_a_live_notification_updates_the_bell_and_shows_a_toast(
    company: WebCompany, tab: Tab
) -> None:
    tab.sign_in(company.member(Role.SALES))
    page = tab.page
    bell = page.locator("#notification-bell")
    expect(bell).to_have_attribute("data-live", "open")  # the stream is listening
    expect(bell.locator(".bell-count")).to_be_hidden()

    notify(company, Role.SALES, "Call Fatima back", action_url="/tasks")
    expect(bell.locator(".bell-number")).to_have_text("1")
    expect(page.locator(".toast")).to_have_text("New notification: Call Fatima back")
    expect(page.locator(".toast")).to_have_attribute("role", "status")
    notify(company, Role.SALES, "Second")
    expect(bell.locator(".bell-number")).to_have_text("2")
    tab.check_accessibility("notifications-toast")

    bell.click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Notifications")
    expect(page.locator(".notification.unread")).to_have_count(2)
    page.get_by_role("button", name="Mark all read").click()
    expect(page.locator(".notification.unread")).to_have_count(0)
    expect(bell.locator(".bell-count")).to_be_hidden()
    tab.check_accessibility("notifications-inbox")
