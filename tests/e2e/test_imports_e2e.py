"""The import wizard and the list's export in headless Chromium.

Every page visited is checked with axe-core and saved as a screenshot under
`test-artifacts/e2e/`.
"""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect
from tests.e2e.conftest import Tab
from tests.web.conftest import WebCompany

from majlis.core.permissions import Role

pytestmark = pytest.mark.e2e

CSV = (
    "Full Name,E-mail,Mobile,Arabic Name\n"
    "Layla Haddad,layla@example.ae,0501112233,ليلى حداد\n"
    "Omar Bad,not-an-email,,عمر\n"
    "Dup Again,dup@example.ae,,\n"
)


def upload(tab: Tab) -> None:
    tab.page.get_by_label(re.compile("Customer file|ملف العملاء")).set_input_files(
        {"name": "customers.csv", "mimeType": "text/csv", "buffer": CSV.encode()}
    )


def test_import_a_csv_with_an_error_row(company: WebCompany, tab: Tab) -> None:
    existing = company.customer(name="Existing Dup", email="dup@example.ae")
    tab.sign_in(company.member(Role.OWNER))
    page = tab.page
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Imports").click()
    tab.check_accessibility("imports-list-empty")
    page.get_by_role("link", name="New import").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("New import")
    tab.check_accessibility("imports-upload")
    upload(tab)
    page.get_by_role("button", name="Upload").click()

    expect(page.get_by_role("heading", level=1)).to_have_text("Match the columns")
    expect(page.get_by_label("Field for column Full Name")).to_have_value("name")
    expect(page.get_by_label("Field for column Arabic Name")).to_have_value("name_ar")
    page.get_by_label("Field for column Mobile").select_option("")  # ignore the phones
    tab.check_accessibility("imports-mapping")
    page.get_by_role("button", name="Preview").click()

    expect(page.get_by_role("heading", level=1)).to_have_text("Preview of the import")
    flagged = page.get_by_role("table", name="The first rows with errors or matching")
    error_row = flagged.locator("tr.row-error")
    expect(error_row).to_contain_text("Omar Bad")
    expect(error_row).to_contain_text("Email: is not an e-mail address")
    expect(error_row.locator("td").first).to_have_text("3")
    expect(flagged.locator("tr.row-match")).to_contain_text("Existing Dup")
    tab.check_accessibility("imports-preview")
    flagged.get_by_role("link", name="Existing Dup").click()
    expect(page).to_have_url(f"{tab.base_url}/customers/{existing.id}")
    page.go_back()

    page.get_by_role("button", name="Run import").click()
    # HTMX polls the progress bar and moves on to the summary when the job completes.
    expect(page.get_by_role("heading", level=1)).to_have_text("Import summary")
    summary = page.locator(".figures")
    expect(summary).to_contain_text(re.compile(r"Created\s*1\s*Updated\s*0\s*Skipped\s*1"))
    expect(summary).to_contain_text(re.compile(r"Failed\s*1"))
    expect(page.get_by_role("table", name="Rows with errors")).to_contain_text(
        "is not an e-mail address"
    )
    tab.check_accessibility("imports-summary")
    with page.expect_download() as download:
        page.get_by_role("link", name="Download the rows with errors (CSV)").click()
    assert download.value.suggested_filename.startswith("import-errors-")
    page.get_by_role("link", name="Imported customers").click()
    expect(page.locator(".card")).to_have_count(1)
    expect(page.locator(".card")).to_contain_text("Layla Haddad")


def test_import_wizard_in_arabic_on_a_phone(company: WebCompany, phone_tab: Tab) -> None:
    phone_tab.sign_in(company.member(Role.MANAGER))
    page = phone_tab.open("/imports/new")
    page.get_by_role("button", name="العربية").click()
    expect(page.locator("html")).to_have_attribute("dir", "rtl")
    phone_tab.check_accessibility("imports-upload-ar-phone")
    upload(phone_tab)
    page.get_by_role("button", name="رفع").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("مطابقة الأعمدة")
    phone_tab.check_accessibility("imports-mapping-ar-phone")
    page.get_by_role("button", name="معاينة").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("معاينة الاستيراد")
    expect(page.locator("tr.row-error").first).to_contain_text("عمر")
    phone_tab.check_accessibility("imports-preview-ar-phone")
    overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 0


def test_export_links_follow_the_filters(company: WebCompany, tab: Tab) -> None:
    company.customer(name="Chat Person", source="chat")
    tab.sign_in(company.member(Role.ANALYST))
    page = tab.page
    export = page.get_by_role("link", name="Export CSV")
    expect(export).to_have_attribute("href", "/customers/export?format=csv")
    page.get_by_label("Source").select_option("chat")
    expect(export).to_have_attribute("href", re.compile(r"source=chat"))
    with page.expect_download() as download:
        export.click()
    assert re.fullmatch(r"customers-\d{8}-\d{6}\.csv", download.value.suggested_filename)
