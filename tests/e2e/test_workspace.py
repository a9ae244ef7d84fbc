"""The workspace in headless Chromium: sign in, search, create, conflicting edits, Arabic, phone.

Every page visited is checked with axe-core (no serious or critical
violations) and saved as a screenshot under `test-artifacts/e2e/`.
"""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect
from sqlalchemy import Engine
from tests.e2e.conftest import Tab
from tests.web.conftest import WebCompany

from majlis.core.permissions import Role
from majlis.demo import AL_NOOR, DEMO_PASSWORD, load_demo
from majlis.web.customer_pages import PAGE_SIZE

pytestmark = pytest.mark.e2e


def test_sign_in_and_search(company: WebCompany, tab: Tab) -> None:
    company.customer(name="Fatima Hassan", name_ar="فاطمة حسن", email="fatima@example.ae")
    company.customer(name="Zed Unrelated", source="chat")
    page = tab.open("/")
    expect(page).to_have_url(f"{tab.base_url}/sign-in")
    tab.check_accessibility("sign-in")
    page.get_by_label("Email").fill(company.member())
    page.get_by_label("Password").fill("not the password")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("alert")).to_have_text("Email or password is wrong.")

    tab.sign_in(company.member())
    cards = page.locator(".card")
    expect(cards).to_have_count(2)
    tab.check_accessibility("customers")

    # Typing searches as you type (HTMX swaps only the results and keeps the address current).
    page.get_by_label("Search").fill("fatima@example.ae")
    expect(cards).to_have_count(1)
    expect(cards.first).to_contain_text("Fatima Hassan")
    expect(page).to_have_url(re.compile(r"/customers\?q=fatima%40example\.ae&"))
    # The bilingual fuzzy search: Arabic with ة typed as ه, and a Latin typo, word order free.
    for typed in ("فاطمه حسن", "Hasan Fatma"):
        page.get_by_label("Search").fill(typed)
        expect(cards).to_have_count(1)
        expect(cards.first).to_contain_text("Fatima Hassan")
    page.get_by_label("Search").fill("")
    page.get_by_label("Source").select_option("chat")
    expect(cards).to_have_count(1)
    expect(cards.first).to_contain_text("Zed Unrelated")
    tab.check_accessibility("customers-filtered")

    page.get_by_role("button", name="Sign out").click()
    expect(page).to_have_url(f"{tab.base_url}/sign-in")
    expect(page.get_by_role("status")).to_have_text("You have signed out.")


def test_create_a_customer_with_the_wizard(company: WebCompany, tab: Tab) -> None:
    tab.sign_in(company.member(Role.SALES))
    page = tab.page
    page.get_by_role("link", name="New customer").click()
    tab.check_accessibility("wizard-basic")
    page.get_by_role("button", name="Next").click()  # nothing filled in: the name is required
    expect(page.get_by_role("textbox", name="Name", exact=True)).to_have_attribute(
        "aria-invalid", "true"
    )
    page.get_by_role("textbox", name="Name", exact=True).fill("Yousef Al Amiri")
    page.get_by_label("Name in Arabic", exact=True).fill("يوسف العامري")
    page.get_by_label("Phone").fill("٠٥٠ ٤٤٤ ٥٥٦٦")  # Arabic-Indic digits, as typed on a phone
    page.get_by_role("button", name="Next").click()
    expect(page.get_by_role("group")).to_contain_text("Step 2 of 3: Address")
    tab.check_accessibility("wizard-address")
    page.get_by_label("City").fill("Fujairah")
    page.get_by_role("button", name="Next").click()
    tab.check_accessibility("wizard-notes")
    page.get_by_label("Tags").fill("walk-in, vip")
    page.get_by_role("button", name="Create customer").click()

    expect(page.get_by_role("heading", level=1)).to_have_text("Yousef Al Amiri")
    expect(page.get_by_role("status")).to_have_text("Customer created.")
    expect(page.locator(".profile")).to_contain_text("+971504445566")
    expect(page.locator(".profile")).to_contain_text("Fujairah")
    tab.check_accessibility("customer-profile")
    page.get_by_role("link", name="Activity").click()
    expect(page.locator(".timeline")).to_contain_text("Created")
    tab.check_accessibility("customer-activity")


def test_edit_with_a_conflict_between_two_people(
    company: WebCompany, tab: Tab, second_tab: Tab
) -> None:
    customer = company.customer(name="Noura Al Suwaidi", city="Dubai")
    tab.sign_in(company.member(Role.OWNER))
    second_tab.sign_in(company.member(Role.MANAGER))
    mine, theirs = tab.page, second_tab.page
    for page in (mine, theirs):
        page.goto(f"{tab.base_url}/customers/{customer.id}")
        page.get_by_role("link", name="Edit profile").click()  # inline: HTMX swaps in the form
        expect(page.get_by_label("City")).to_be_visible()

    theirs.get_by_label("City").fill("Abu Dhabi")
    theirs.get_by_role("button", name="Save").click()
    expect(theirs.locator("#profile")).to_contain_text("Changes saved.")

    mine.get_by_label("City").fill("Sharjah")
    mine.get_by_role("button", name="Save").click()
    conflict = mine.get_by_role("alert")
    expect(conflict).to_contain_text("changed by someone else")
    expect(mine.get_by_label("City")).to_have_value("Sharjah")  # my typing is still there
    tab.check_accessibility("edit-conflict")
    conflict.get_by_role("link", name="Reload").click()
    expect(mine.get_by_label("City")).to_have_value("Abu Dhabi")
    mine.get_by_label("City").fill("Abu Dhabi, Khalifa City")
    mine.get_by_role("button", name="Save").click()
    expect(mine.locator(".profile")).to_contain_text("Abu Dhabi, Khalifa City")


def test_arabic_is_right_to_left_and_mirrored(company: WebCompany, tab: Tab) -> None:
    customer = company.customer(name="Mohammed Al Mansouri", name_ar="محمد المنصوري")
    tab.sign_in(company.member())
    page = tab.page
    tab.screenshot("customers-en")
    page.get_by_role("button", name="العربية").click()
    html = page.locator("html")
    expect(html).to_have_attribute("dir", "rtl")
    expect(html).to_have_attribute("lang", "ar")
    expect(page.get_by_role("heading", level=1)).to_have_text("العملاء")
    # Mirrored: the brand sits at the right edge, the sign-out button at the left.
    brand = page.locator(".brand").bounding_box()
    sign_out = page.get_by_role("button", name="تسجيل الخروج").bounding_box()
    assert brand and sign_out and brand["x"] > sign_out["x"]
    direction = page.evaluate("getComputedStyle(document.querySelector('main')).direction")
    assert direction == "rtl"
    tab.check_accessibility("customers-ar")
    # The card leads with the Arabic name on Arabic pages (the English one follows it).
    page.get_by_role("link", name="محمد المنصوري", exact=True).click()
    expect(page.locator(".profile")).to_contain_text("هـ")  # the Hijri date beside the Gregorian
    tab.check_accessibility("customer-profile-ar")
    page.get_by_role("link", name="تعديل الملف").click()
    tab.check_accessibility("customer-edit-ar")
    assert customer.name_ar


def test_phone_width_has_no_sideways_scrolling(company: WebCompany, phone_tab: Tab) -> None:
    customer = company.customer(
        name="A Very Long Customer Name That Has To Wrap On A Small Phone Screen",
        email="someone.with.a.rather.long.address@example.ae",
        tags=["wholesale", "vip", "free-zone"],
    )
    phone_tab.sign_in(company.member())
    page = phone_tab.page
    for path, name in (
        ("/customers", "phone-customers"),
        (f"/customers/{customer.id}", "phone-profile"),
        (f"/customers/{customer.id}/edit", "phone-edit"),
        ("/customers/new", "phone-wizard"),
    ):
        phone_tab.open(path)
        overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 0, f"{path} scrolls sideways by {overflow}px"
        phone_tab.check_accessibility(name)


def test_keyboard_reaches_the_content_first(company: WebCompany, tab: Tab) -> None:
    tab.sign_in(company.member())
    page = tab.page
    page.keyboard.press("Tab")
    skip = page.get_by_role("link", name="Skip to content")
    expect(skip).to_be_focused()
    expect(skip).to_be_in_viewport()
    page.keyboard.press("Enter")
    expect(page).to_have_url(f"{tab.base_url}/customers#main")
    page.keyboard.press("Tab")
    expect(page.get_by_role("link", name="New customer")).to_be_focused()


def test_demo_owner_lands_in_a_populated_workspace(app_engine: Engine, tab: Tab) -> None:
    """`make demo`: the printed sign-in opens straight into Al Noor's customers."""
    load_demo(app_engine)
    page = tab.open("/")
    tab.sign_in(AL_NOOR.owner_email, DEMO_PASSWORD)
    expect(page.locator(".card")).to_have_count(PAGE_SIZE)
    expect(page.get_by_role("link", name="More customers")).to_be_visible()
    expect(page.locator(".company-name")).to_have_text(AL_NOOR.name)
    tab.check_accessibility("demo-customers-en")
    page.get_by_role("button", name="العربية").click()
    expect(page.locator("html")).to_have_attribute("dir", "rtl")
    tab.check_accessibility("demo-customers-ar")
    page.get_by_role("link", name="شركة الإمارات للتجارة", exact=True).click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Emirates Trading Company")
    tab.check_accessibility("demo-profile-ar")
    # The demo refreshes the analytics summaries, so its dashboard is full from the start.
    tab.open("/dashboard")
    expect(page.locator("#refreshed")).to_contain_text("أرقام العملاء والذمم المدينة")
