"""The import wizard and the list's export over the real server: each step, roles, tenancy."""

from __future__ import annotations

import html
import io
import re
import time
import uuid
import zipfile

import httpx
import pytest
from openpyxl import load_workbook
from sqlalchemy import Engine, func, select
from tests.web.conftest import Browser, WebCompany
from tests.web.test_page_safety import counting_statements

from majlis.core.db import tenant_session
from majlis.core.permissions import Role
from majlis.customers.models import Customer
from majlis.imports.models import ImportJob
from majlis.web import import_pages

HEADER = "Full Name,E-mail,Mobile,Notes\n"
GOOD = "Layla Haddad,layla@example.ae,0501112233,walk-in\n"
BAD_EMAIL = "Omar Bad,not-an-email,,\n"
POLL_ATTEMPTS = 400


def zipped(member: str, text: str) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr(member, text)
    return buffer.getvalue()


def upload(browser: Browser, content: str | bytes, name: str = "customers.csv") -> httpx.Response:
    browser.page("/imports/new")
    body = content.encode() if isinstance(content, str) else content
    return browser.post(
        "/imports/new",
        data={"csrf_token": browser.csrf},
        files={"file": (name, body, "text/csv")},
    )


def mapping_url(browser: Browser, content: str, name: str = "customers.csv") -> str:
    response = upload(browser, content, name)
    assert response.status_code == 303, response.text
    return response.headers["location"]


def preview(browser: Browser, content: str, policy: str = "skip", **columns: str) -> str:
    """Upload, accept the suggested mapping (changed by `columns`), and stage: the preview URL."""
    url = mapping_url(browser, content)
    form = browser.page(url).text
    chosen: dict[str, str] = {}
    for choice in re.finditer(r'<select id="(column-\d+)"[^>]*>(.*?)</select>', form, re.S):
        picked = re.search(r'<option value="([^"]*)" selected>', choice[2])
        chosen[choice[1]] = picked[1] if picked else ""
    response = browser.submit(url, {**chosen, **columns, "policy": policy})
    assert response.status_code == 303, response.text
    return response.headers["location"]


def run(browser: Browser, preview_url: str) -> str:
    """Run the previewed job and follow its progress until the summary; the summary's HTML."""
    job_id = preview_url.split("/")[2].split("?")[0]
    page = browser.page(preview_url).text
    upload_id = re.search(r'name="upload" value="([^"]+)"', page)
    response = browser.submit(f"/imports/{job_id}/run", {"upload": upload_id[1]})
    assert response.status_code == 303
    assert response.headers["location"] == f"/imports/{job_id}/progress"
    for _ in range(POLL_ATTEMPTS):
        progress = browser.get(f"/imports/{job_id}/progress")
        if progress.status_code == 303:
            assert progress.headers["location"] == f"/imports/{job_id}"
            return browser.page(f"/imports/{job_id}").text
        assert "<progress" in progress.text
        time.sleep(0.05)
    raise AssertionError("the import did not finish")


def customer_names(company: WebCompany) -> list[str]:
    with tenant_session(company.engine, company.company_id) as session:
        return sorted(session.scalars(select(Customer.name)))


def job_count(company: WebCompany) -> int:
    with tenant_session(company.engine, company.company_id) as session:
        return session.scalar(select(func.count()).select_from(ImportJob)) or 0


def figure(page: str, label: str) -> str:
    return re.search(rf"<dt>{label}</dt><dd>([^<]*)</dd>", page)[1]


# ----- the wizard ---------------------------------------------------------------------------------
def test_wizard_previews_errors_and_duplicates_then_imports(
    company: WebCompany, browser: Browser
) -> None:
    existing = company.customer(name="Existing Dup", email="dup@example.ae")
    content = HEADER + GOOD + BAD_EMAIL + "Dup Again,dup@example.ae,,\n"

    # Column mapping, pre-filled by the service's aliases.
    url = mapping_url(browser, content)
    form = browser.page(url).text
    assert re.search(r'id="column-0".*?<option value="name" selected>', form, re.S)
    assert re.search(r'id="column-1".*?<option value="email" selected>', form, re.S)
    assert re.search(r'id="column-2".*?<option value="phone" selected>', form, re.S)
    assert "Ignore this column" in form

    # Preview: the dry run shows row errors and duplicates, and writes no customer.
    preview_url = preview(browser, content)
    page = browser.page(preview_url).text
    assert customer_names(company) == ["Existing Dup"]
    assert figure(page, "Rows") == "3"
    assert figure(page, "Rows with errors") == "1"
    assert figure(page, "Match existing customers") == "1"
    error_row = re.search(r'<tr class="row-error">(.*?)</tr>', page, re.S)[1]
    assert ">3</td>" in error_row and "Omar Bad" in error_row
    assert "Email</span>: <bdi>is not an e-mail address</bdi>" in error_row
    match_row = re.search(r'<tr class="row-match">(.*?)</tr>', page, re.S)[1]
    assert f'href="/customers/{existing.id}"><bdi>Existing Dup</bdi>' in match_row
    assert "it will be skipped" in match_row

    summary = run(browser, preview_url)
    assert [figure(summary, label) for label in ("Created", "Updated", "Skipped", "Failed")] == [
        "1",
        "0",
        "1",
        "1",
    ]
    assert customer_names(company) == ["Existing Dup", "Layla Haddad"]  # the error row was not
    assert '<td class="num">3</td><td>Email</td><td><bdi>is not an e-mail address</bdi>' in summary
    assert 'href="/customers?source=import&amp;sort=-created_at"' in summary

    job_id = preview_url.split("/")[2].split("?")[0]
    report = browser.get(f"/imports/{job_id}/errors.csv")
    assert report.status_code == 200
    assert report.headers["content-type"].startswith("text/csv")
    assert "attachment" in report.headers["content-disposition"]
    assert report.content.decode("utf-8-sig").splitlines() == [
        "row,column,message",
        "3,email,is not an e-mail address",
    ]
    # The recent imports list names the job; running it again is refused.
    listing = browser.page("/imports").text
    assert f'href="/imports/{job_id}"><bdi>customers.csv</bdi>' in listing
    assert browser.submit(f"/imports/{job_id}/run").status_code == 422


@pytest.mark.parametrize(
    ("policy", "names"),
    [
        ("update", ["Renamed By Import"]),
        ("create", ["Existing Dup", "Renamed By Import"]),
    ],
)
def test_duplicate_policy_is_honoured(
    company: WebCompany, browser: Browser, policy: str, names: list[str]
) -> None:
    company.customer(name="Existing Dup", email="dup@example.ae")
    preview_url = preview(browser, HEADER + "Renamed By Import,dup@example.ae,,\n", policy)
    assert customer_names(company) == ["Existing Dup"]
    run(browser, preview_url)
    assert customer_names(company) == names


def test_mapping_can_ignore_or_choose_a_column(company: WebCompany, browser: Browser) -> None:
    content = "Client,Secret,E-mail\nHind Saleh,hidden note,hind@example.ae\n"
    url = mapping_url(browser, content)
    form = browser.page(url).text
    assert not re.search(r'id="column-0".*?selected>.*?id="column-1"', form, re.S)
    # No column maps to the name: the form again, with the service's message.
    refused = browser.submit(url, {"column-0": "", "column-1": "", "column-2": "email"})
    assert refused.status_code == 422
    assert "no column maps to &#39;name&#39;" in refused.text
    twice = browser.submit(url, {"column-0": "name", "column-1": "name", "column-2": "email"})
    assert twice.status_code == 422 and "Two columns are mapped to the same field." in twice.text
    assert job_count(company) == 0
    staged = browser.submit(url, {"column-0": "name", "column-1": "", "column-2": "email"})
    assert staged.status_code == 303
    run(browser, staged.headers["location"])
    with tenant_session(company.engine, company.company_id) as session:
        hind = session.scalar(select(Customer).where(Customer.name == "Hind Saleh"))
        assert hind is not None and hind.notes is None and hind.source.value == "import"


@pytest.mark.parametrize(
    ("content", "name", "message"),
    [
        ("", "customers.csv", "The file is empty."),
        ("%PDF-1.4", "customers.pdf", "Only CSV and XLSX files can be imported."),
        ("not a zip", "customers.xlsx", "not a valid XLSX file"),
        (zipped("notes.txt", "a zip, but not a workbook"), "customers.xlsx", "not a valid XLSX"),
        ("\n\n", "customers.csv", "The file has no header row."),
    ],
)
def test_unusable_files_are_refused_clearly(
    company: WebCompany, browser: Browser, content: str | bytes, name: str, message: str
) -> None:
    response = upload(browser, content, name)
    assert response.status_code == 422
    assert message in response.text and 'aria-invalid="true"' in response.text
    assert job_count(company) == 0


def test_missing_and_oversized_files_are_refused(
    company: WebCompany, browser: Browser, monkeypatch: pytest.MonkeyPatch
) -> None:
    browser.page("/imports/new")
    missing = browser.post("/imports/new", data={"csrf_token": browser.csrf})
    assert missing.status_code == 422 and "Choose a CSV or XLSX file to import." in missing.text
    # The test server runs in this process: a small limit stands in for the API's 256 MiB.
    monkeypatch.setattr(import_pages, "UPLOAD_MAX_BYTES", len(HEADER + GOOD) - 1)
    response = upload(browser, HEADER + GOOD)
    assert response.status_code == 422
    assert "The file is larger than the upload limit." in response.text
    assert job_count(company) == 0


# ----- roles, tenancy, CSRF, escaping ---------------------------------------------------------
@pytest.mark.parametrize("role", [Role.SALES, Role.ANALYST])
def test_roles_without_imports_see_no_link_and_are_refused(company: WebCompany, role: Role) -> None:
    owner = company.browser(Role.OWNER)
    preview_url = preview(owner, HEADER + GOOD)
    job_id = preview_url.split("/")[2].split("?")[0]
    other = company.browser(role)
    assert 'href="/imports"' not in other.page("/customers").text
    for path in ("/imports", "/imports/new", f"/imports/{job_id}", f"/imports/{job_id}/progress"):
        assert other.page(path).status_code == 403, path
    assert upload(other, HEADER + GOOD).status_code == 403
    assert other.submit(f"/imports/{job_id}/run").status_code == 403
    assert customer_names(company) == []


def test_manager_may_import(company: WebCompany) -> None:
    manager = company.browser(Role.MANAGER)
    assert 'href="/imports"' in manager.page("/customers").text
    run(manager, preview(manager, HEADER + GOOD))
    assert customer_names(company) == ["Layla Haddad"]


def test_another_companys_job_and_upload_are_not_found(
    company: WebCompany, make_company, browser: Browser
) -> None:
    url = mapping_url(browser, HEADER + GOOD)
    preview_url = preview(browser, HEADER + GOOD)
    job_id = preview_url.split("/")[2].split("?")[0]
    stranger = make_company().browser(Role.OWNER)
    for path in (
        url,
        f"/imports/{job_id}",
        f"/imports/{job_id}/progress",
        f"/imports/{job_id}/errors.csv",
        f"/imports/{uuid.uuid4()}",
    ):
        assert stranger.page(path).status_code == 404, path
    stranger.page("/imports")
    assert stranger.submit(url, {"column-0": "name"}).status_code == 404
    assert stranger.submit(f"/imports/{job_id}/run").status_code == 404
    assert customer_names(company) == []


def test_forms_without_the_csrf_token_are_refused(company: WebCompany, browser: Browser) -> None:
    preview_url = preview(browser, HEADER + GOOD)
    job_id = preview_url.split("/")[2].split("?")[0]
    files = {"file": ("customers.csv", (HEADER + GOOD).encode(), "text/csv")}
    assert browser.post("/imports/new", files=files).status_code == 403
    assert browser.post(f"/imports/{job_id}/run", data={}).status_code == 403
    assert customer_names(company) == []


def test_names_and_file_names_are_escaped(company: WebCompany, browser: Browser) -> None:
    hostile = "<script>alert(1)</script>"
    content = f'Full Name,E-mail\n"{hostile}",bad\n'
    url = mapping_url(browser, content, name=f"{hostile}.csv")
    for page in (browser.page(url).text, browser.page(preview(browser, content)).text):
        assert hostile not in page
        assert html.escape(hostile, quote=False) in page.replace("&#34;", '"')


# ----- export of the list -----------------------------------------------------------------
FORMULA = "=cmd|' /C calc'!A0"


def test_export_streams_the_filtered_list_with_formulas_neutralised(
    company: WebCompany, browser: Browser
) -> None:
    company.customer(name=FORMULA, email="formula@example.ae")
    company.customer(name="Chat Only", source="chat")
    listing = browser.page("/customers?source=manual").text
    links = re.findall(r'href="(/customers/export\?[^"]+)"', listing)
    assert [html.unescape(link) for link in links] == [
        "/customers/export?format=csv&source=manual",
        "/customers/export?format=xlsx&source=manual",
    ]
    response = browser.get(html.unescape(links[0]))
    assert response.status_code == 200
    assert re.match(
        r'attachment; filename="customers-\d{8}-\d{6}\.csv"',
        response.headers["content-disposition"],
    )
    text = response.content.decode("utf-8-sig")
    assert "'=cmd|' /C calc'!A0" in text and "Chat Only" not in text
    workbook = load_workbook(io.BytesIO(browser.get(html.unescape(links[1])).content))
    names = [row[2] for row in workbook.active.iter_rows(values_only=True)]
    assert names == ["name", "'" + FORMULA]


def test_export_follows_the_export_permission(company: WebCompany) -> None:
    company.customer(name="Someone")
    analyst, sales = company.browser(Role.ANALYST), company.browser(Role.SALES)
    assert "Export CSV" in analyst.page("/customers").text
    assert analyst.get("/customers/export?format=csv").status_code == 200
    assert "Export CSV" not in sales.page("/customers").text
    assert sales.get("/customers/export?format=csv").status_code == 403
    assert analyst.get("/customers/export?format=pdf").status_code == 404


def test_preview_and_list_cost_the_same_statements_whatever_the_file(
    company: WebCompany, browser: Browser, app_engine: Engine
) -> None:
    """No N+1: matched names come with the rows, and the list is one query."""
    company.customer(name="Existing Dup", email="dup@example.ae")

    def statements(rows: int) -> list[int]:
        body = "".join(f"Person {n},dup@example.ae,,\n" for n in range(rows)) + BAD_EMAIL
        preview_url = preview(browser, HEADER + body)
        counts = []
        for path in (preview_url, "/imports"):
            with counting_statements(app_engine) as seen:
                assert browser.get(path).status_code == 200
            counts.append(len(seen))
        return counts

    assert statements(1) == statements(import_pages.PREVIEW_ROWS + 5)
