"""Pages obey the API's roles and tenancy, escape every user value, and stay cheap."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Engine, event
from tests.web.conftest import Browser, WebCompany

from majlis.core.db import tenant_session
from majlis.core.permissions import Role
from majlis.customers.models import Customer

EDIT = {"kind": "individual", "preferred_language": "en", "name": "Changed By Post", "version": "1"}


def unchanged(company: WebCompany, customer: Customer) -> bool:
    with tenant_session(company.engine, company.company_id) as session:
        stored = session.get(Customer, (company.company_id, customer.id))
        return stored is not None and stored.version == 1 and stored.deleted_at is None


def test_analyst_sees_no_edit_controls_and_is_refused(company: WebCompany) -> None:
    customer = company.customer(name="Look But Do Not Touch")
    analyst = company.browser(Role.ANALYST)
    listing = analyst.page("/customers").text
    assert "Look But Do Not Touch" in listing
    assert "New customer" not in listing and "/edit" not in listing
    profile = analyst.page(f"/customers/{customer.id}").text
    assert "Edit profile" not in profile and "Delete" not in profile
    assert analyst.get("/customers/new").status_code == 403
    assert analyst.get(f"/customers/{customer.id}/edit").status_code == 403
    for url, data in (
        (f"/customers/{customer.id}", EDIT),
        (f"/customers/{customer.id}/delete", {}),
        ("/customers/new", {"step": "3", "go": "create", "kind": "individual", "name": "No"}),
    ):
        refused = analyst.submit(url, data)
        assert refused.status_code == 403
        assert "You do not have permission to do that." in refused.text
    assert unchanged(company, customer)


def test_sales_edits_only_their_own_customers(company: WebCompany) -> None:
    theirs = company.customer(Role.SALES, name="Sales Own")
    others = company.customer(Role.OWNER, name="Owner Own")
    sales = company.browser(Role.SALES)
    assert "Edit profile" in sales.page(f"/customers/{theirs.id}").text
    assert "Edit profile" not in sales.page(f"/customers/{others.id}").text
    assert sales.submit(f"/customers/{others.id}", EDIT).status_code == 403
    assert sales.submit(f"/customers/{theirs.id}", EDIT).status_code == 303
    assert unchanged(company, others)


def test_another_companys_customer_is_not_found(make_company) -> None:
    mine, theirs = make_company(), make_company()
    secret = theirs.customer(name="Their Secret Customer")
    browser = mine.browser(Role.OWNER)
    for path in ("", "/edit", "/activity"):
        answer = browser.get(f"/customers/{secret.id}{path}")
        assert answer.status_code == 404
        assert "Their Secret Customer" not in answer.text
    browser.page("/customers")
    for path, data in (("", EDIT), ("/delete", {}), ("/restore", {})):
        assert browser.submit(f"/customers/{secret.id}{path}", data).status_code == 404
    assert unchanged(theirs, secret)
    assert browser.get("/customers/not-a-uuid").status_code == 404


def test_user_values_are_always_escaped(company: WebCompany, browser: Browser) -> None:
    script = "<script>alert(1)</script>"
    isolate_override = "\u202eevil\u202c"  # a right-to-left override pasted from a chat app
    customer = company.customer(
        name=script,
        name_ar=f"محمد {isolate_override}",
        notes=f'{script} "quoted" & {isolate_override}',
        tags=['"><img src=x onerror=alert(1)>'],
        city="' onmouseover='alert(1)",
    )
    pages = [
        browser.page("/customers").text,
        browser.page(f"/customers/{customer.id}").text,
        browser.page(f"/customers/{customer.id}/edit").text,
        browser.page(f"/customers/{customer.id}/activity").text,
    ]
    for page in pages:
        assert script not in page and "<img src=x" not in page
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    profile, form = pages[1], pages[2]
    assert "onmouseover=&#39;alert(1)" in profile
    assert 'value="&#39; onmouseover=&#39;alert(1)"' in form
    # Bidi controls are stripped from every text field by the schema, notes included, and
    # every value still sits in its own <bdi> so no text can reorder what surrounds it.
    assert "\u202e" not in profile
    assert '<bdi class="notes">&lt;script&gt;' in profile and "evil" in profile


@contextmanager
def counting_statements(engine: Engine) -> Iterator[list[str]]:
    """SQL statements the server runs while the block runs (it shares this process's engine)."""
    statements: list[str] = []
    lock = threading.Lock()

    def count(conn, cursor, statement, parameters, context, executemany) -> None:
        with lock:
            statements.append(statement)

    event.listen(engine, "before_cursor_execute", count)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", count)


PAGES = ("/customers", "/customers/{id}", "/customers/{id}/edit", "/customers/{id}/activity")


def statements_per_page(browser: Browser, engine: Engine, customer_id: object) -> list[int]:
    counts = []
    for path in PAGES:
        with counting_statements(engine) as statements:
            assert browser.get(path.format(id=customer_id)).status_code == 200
        counts.append(len(statements))
    return counts


def test_page_queries_do_not_grow_with_the_data(
    company: WebCompany, browser: Browser, app_engine: Engine
) -> None:
    """No N+1: each page costs the same statements for 1 customer or 25 with a history."""
    first = company.customer(name="Aaa First", tags=["a"])
    few = statements_per_page(browser, app_engine, first.id)
    for number in range(24):
        company.customer(name=f"More {number:02d}", tags=["b"])
    browser.page(f"/customers/{first.id}/edit")
    for version in (1, 2, 3):
        edit = {**EDIT, "name": "Aaa First", "city": f"City {version}", "version": str(version)}
        assert browser.submit(f"/customers/{first.id}", edit).status_code == 303
    assert statements_per_page(browser, app_engine, first.id) == few
