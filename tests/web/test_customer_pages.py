"""Customer pages over the real server: the list, the wizard, the profile, the timeline."""

from __future__ import annotations

import html
import re
from zoneinfo import ZoneInfo

from sqlalchemy import select
from tests.web.conftest import Browser, WebCompany

from majlis.core.db import tenant_session
from majlis.core.permissions import Role
from majlis.customers.models import Customer
from majlis.web.customer_pages import PAGE_SIZE, ListQuery

EDIT_DEFAULTS = {"kind": "individual", "preferred_language": "en", "is_active": "on"}


def card_names(page: str) -> list[str]:
    return [
        html.unescape(name)
        for name in re.findall(r'<h2 class="card-title"><a [^>]*><bdi>(.*?)</bdi>', page)
    ]


def card_blocks(page: str) -> list[str]:
    return re.findall(r'<li class="card">.*?</li>\n', page, re.S)


def stored(company: WebCompany, customer_id) -> Customer:
    with tenant_session(company.engine, company.company_id) as session:
        customer = session.get(Customer, (company.company_id, customer_id))
        assert customer is not None
        return customer


# ----- the list -----------------------------------------------------------------------------
def test_list_filters_and_sorts(company: WebCompany, browser: Browser) -> None:
    company.customer(name="Amal Chat", source="chat", tags=["vip"])
    company.customer(name="Basim Manual", tags=["vip"])
    company.customer(name="Chadi Gone", is_active=False)
    assert card_names(browser.page("/customers").text) == [
        "Amal Chat",
        "Basim Manual",
        "Chadi Gone",
    ]
    assert card_names(browser.page("/customers?sort=-name").text)[0] == "Chadi Gone"
    assert card_names(browser.page("/customers?source=chat").text) == ["Amal Chat"]
    assert card_names(browser.page("/customers?status=inactive").text) == ["Chadi Gone"]
    assert card_names(browser.page("/customers?tag=vip&status=active").text) == [
        "Amal Chat",
        "Basim Manual",
    ]
    # Customers opened lately are marked in the list.
    basim = next(c for c in card_blocks(browser.page("/customers").text) if "Basim" in c)
    assert "Recently viewed" not in basim
    browser.page(re.search(r'href="(/customers/[^"/]+)"><bdi>Basim', basim)[1])
    marked = [c for c in card_blocks(browser.page("/customers").text) if "Recently viewed" in c]
    assert len(marked) == 1 and "Basim Manual" in marked[0]
    # Unknown filter values are ignored rather than failing the page.
    assert len(card_names(browser.page("/customers?source=fax&sort=bogus").text)) == 3


def test_list_pages_by_cursor(company: WebCompany, browser: Browser) -> None:
    names = [f"Customer {number:02d}" for number in range(PAGE_SIZE + 3)]
    for name in names:
        company.customer(name=name)
    first = browser.page("/customers").text
    assert card_names(first) == names[:PAGE_SIZE]
    next_url = html.unescape(re.search(r'<a class="button secondary" href="([^"]+)"', first)[1])
    assert "cursor=" in next_url
    second = browser.page(next_url).text
    assert card_names(second) == names[PAGE_SIZE:]
    assert "More customers" not in second and "Back to the first page" in second
    # HTMX asks for just the next cards, to append in place.
    more = browser.get(next_url, headers={"HX-Request": "true", "HX-Target": "more"}).text
    assert "<html" not in more and card_names(more) == names[PAGE_SIZE:]


def test_search_box_finds_by_email_and_htmx_gets_only_results(
    company: WebCompany, browser: Browser
) -> None:
    company.customer(name="Fatima Hassan", email="fatima.hassan@example.ae")
    company.customer(name="Zed Unrelated")
    found = browser.get(
        "/customers?q=Fatima.Hassan@example.ae",
        headers={"HX-Request": "true", "HX-Target": "results"},
    )
    assert "<html" not in found.text
    assert card_names(found.text)[0] == "Fatima Hassan"
    assert "Zed Unrelated" not in found.text


def test_search_box_uses_the_service_search(company: WebCompany, browser: Browser) -> None:
    """Phones in any digits, TRNs, and names in either script with typos: the API's search."""
    company.customer(
        name="Omar Khalid", name_ar="عمر خالد", phone="050 765 4321", trn="100333444555666"
    )
    company.customer(name="Zed Unrelated")
    for term in ("٠٥٠٧٦٥٤٣٢١", "๐๕๐๗๖๕๔๓๒๑", "100333444555666", "omar", "Khalid Omer", "عمر"):
        assert card_names(browser.page(f"/customers?q={term}").text)[0] == "Omar Khalid", term
    unreadable = browser.page("/customers?q=omar&cursor=not-a-cursor")
    assert "That search could not be read." in unreadable.text


# ----- the create wizard -------------------------------------------------------------------
def wizard(browser: Browser, step: int, go: str, **fields: str) -> str:
    response = browser.submit("/customers/new", {"step": str(step), "go": go, **fields})
    return response.text if response.status_code != 303 else response.headers["location"]


def test_wizard_walks_three_steps_and_creates(company: WebCompany, browser: Browser) -> None:
    start = browser.page("/customers/new").text
    assert "Step 1 of 3: Basic information" in start
    basic = {
        "kind": "individual",
        "name": "Salma Darwish",
        "name_ar": "سلمى درويش",
        "email": "salma@example.ae",
        "phone": "٠٥٠ ١١١ ٢٢٣٣",
        "trn": "١٠٠١٢٣١٢٣١٢٣١٢٣",
        "preferred_language": "ar",
    }
    second = wizard(browser, 1, "next", **basic)
    assert "Step 2 of 3: Address" in second
    assert 'type="hidden" name="name" value="Salma Darwish"' in second
    address = {"city": "Dubai", "emirate": "Dubai", "postal_code": "١٢٣٤٥", "country": "ae"}
    third = wizard(browser, 2, "next", **basic, **address)
    assert "Step 3 of 3: Notes and tags" in third
    back = wizard(browser, 3, "back", **basic, **address, tags="vip")
    assert "Step 2 of 3" in back and 'value="Dubai"' in back

    location = wizard(browser, 3, "create", **basic, **address, tags="vip، wholesale", notes="hi")
    assert location.startswith("/customers/")
    customer = stored(company, location.rsplit("/", 1)[1])
    assert customer.name == "Salma Darwish" and customer.phone == "+971501112233"
    assert customer.trn == "100123123123123" and customer.postal_code == "12345"
    assert customer.country == "AE" and customer.tags == ["vip", "wholesale"]
    assert customer.created_by == company.user_ids[Role.OWNER]
    assert "Customer created." in browser.page(location).text


def test_wizard_keeps_the_user_on_the_step_with_the_error(
    company: WebCompany, browser: Browser
) -> None:
    browser.page("/customers/new")
    missing_name = wizard(browser, 1, "next", kind="individual", email="not-an-email")
    assert "Step 1 of 3" in missing_name
    assert 'id="f-name" ' in missing_name and 'aria-invalid="true"' in missing_name
    assert "Please correct the fields marked below." in missing_name
    # The phone is checked by the service at the end; the error leads back to step 1.
    bad_phone = wizard(browser, 3, "create", kind="individual", name="Bad Phone", phone="12")
    assert "Step 1 of 3" in bad_phone and "not a valid phone number" in bad_phone
    with tenant_session(company.engine, company.company_id) as session:
        assert session.scalar(select(Customer).where(Customer.name == "Bad Phone")) is None


def test_wizard_duplicate_identifier_links_to_the_existing_customer(
    company: WebCompany, browser: Browser
) -> None:
    existing = company.customer(name="Holder", trn="100999888777666")
    browser.page("/customers/new")
    answer = browser.submit(
        "/customers/new",
        {
            "step": "3",
            "go": "create",
            "kind": "organization",
            "name": "Copy",
            "trn": "100999888777666",
        },
    )
    assert answer.status_code == 422
    assert "Another customer already has this value." in answer.text
    assert f'href="/customers/{existing.id}"' in answer.text


# ----- profile and inline edit --------------------------------------------------------------
def test_profile_edit_saves_through_the_service(company: WebCompany, browser: Browser) -> None:
    customer = company.customer(name="Rania Saleh", phone="0501234567")
    form = browser.page(f"/customers/{customer.id}/edit").text
    assert 'name="version" value="1"' in form
    saved = browser.submit(
        f"/customers/{customer.id}",
        {
            **EDIT_DEFAULTS,
            "name": "Rania Saleh",
            "phone": "٠٥٠٩٩٩٨٨٧٧",
            "city": "Ajman",
            "version": "1",
        },
    )
    assert saved.status_code == 303
    after = stored(company, customer.id)
    assert (after.city, after.phone, after.version) == ("Ajman", "+971509998877", 2)
    assert "Changes saved." in browser.page(f"/customers/{customer.id}").text


def test_htmx_edit_answers_with_the_profile_fragment(company: WebCompany, browser: Browser) -> None:
    customer = company.customer(name="Inline Edit")
    fragment = browser.get(f"/customers/{customer.id}/edit", headers={"HX-Request": "true"}).text
    assert fragment.lstrip().startswith('<section id="profile"')
    saved = browser.post(
        f"/customers/{customer.id}",
        data={**EDIT_DEFAULTS, "name": "Inline Edited", "version": "1"},
        headers={"HX-Request": "true", "X-CSRF-Token": browser.csrf},
    )
    assert saved.status_code == 200 and saved.text.lstrip().startswith('<section id="profile"')
    assert "Inline Edited" in saved.text and "Changes saved." in saved.text


def test_stale_version_shows_changed_by_someone_else(company: WebCompany, browser: Browser) -> None:
    customer = company.customer(name="Contested")
    other = company.browser(Role.MANAGER)
    other.page(f"/customers/{customer.id}/edit")
    browser.page(f"/customers/{customer.id}/edit")
    first = other.submit(
        f"/customers/{customer.id}",
        {**EDIT_DEFAULTS, "name": "Contested", "city": "Dubai", "version": "1"},
    )
    assert first.status_code == 303
    late = browser.submit(
        f"/customers/{customer.id}",
        {**EDIT_DEFAULTS, "name": "Contested", "city": "Sharjah", "version": "1"},
    )
    assert late.status_code == 409
    assert "changed by someone else" in late.text
    assert f'href="/customers/{customer.id}/edit"' in late.text  # the reload
    assert 'value="Sharjah"' in late.text  # the user's input is kept to copy from
    assert stored(company, customer.id).city == "Dubai"
    reloaded = browser.page(f"/customers/{customer.id}/edit").text
    assert 'name="version" value="2"' in reloaded and 'value="Dubai"' in reloaded


def test_invalid_edit_keeps_input_and_marks_the_field(
    company: WebCompany, browser: Browser
) -> None:
    customer = company.customer(name="Valid Name")
    browser.page(f"/customers/{customer.id}/edit")
    for field, value, message in (
        ("email", "x@", "something after the @-sign"),  # refused by the schema
        ("name", "", "cannot be removed"),  # refused by the service
    ):
        answer = browser.submit(
            f"/customers/{customer.id}",
            {**EDIT_DEFAULTS, "name": "Valid Name", field: value, "city": "Kept", "version": "1"},
        )
        assert answer.status_code == 422
        assert f'id="edit-{field}"' in answer.text and answer.text.count('aria-invalid="true"') == 1
        assert message in answer.text and 'value="Kept"' in answer.text
    assert stored(company, customer.id).version == 1


def test_activity_tab_shows_the_timeline(company: WebCompany, browser: Browser) -> None:
    customer = company.customer(name="Timeline Person")
    browser.page(f"/customers/{customer.id}/edit")
    browser.submit(
        f"/customers/{customer.id}",
        {**EDIT_DEFAULTS, "name": "Timeline Person", "city": "Al Ain", "version": "1"},
    )
    activity = browser.page(f"/customers/{customer.id}/activity").text
    assert activity.index("Updated") < activity.index("Created")
    assert "Changed:" in activity and "City" in activity
    assert company.emails[Role.OWNER] in activity
    tabs = re.findall(r'<nav class="tabs".*?</nav>', activity, re.S)[0]
    labels = re.findall(r">([^<>]+)</a>", tabs)
    assert labels[0] == "Profile" and labels[-1] == "Activity"  # domains add theirs between


def test_delete_and_undo(company: WebCompany, browser: Browser) -> None:
    customer = company.customer(name="Short Lived")
    browser.page(f"/customers/{customer.id}")
    deleted = browser.submit(f"/customers/{customer.id}/delete")
    assert deleted.status_code == 200 and "Undo" in deleted.text
    assert "Short Lived" not in browser.page("/customers").text
    browser.csrf = re.search(r'name="csrf_token" value="([^"]+)"', deleted.text)[1]
    restored = browser.submit(f"/customers/{customer.id}/restore")
    assert restored.headers["location"] == f"/customers/{customer.id}"
    assert "Short Lived" in browser.page("/customers").text


def test_dates_on_pages_follow_the_language(company: WebCompany, browser: Browser) -> None:
    customer = company.customer(name="Dated Person")
    year = stored(company, customer.id).created_at.astimezone(ZoneInfo("Asia/Dubai")).year
    browser.submit("/language", {"lang": "th"})
    assert f" {year + 543} " in browser.page(f"/customers/{customer.id}").text
    browser.submit("/language", {"lang": "ar"})
    arabic = browser.page(f"/customers/{customer.id}").text
    assert '<html lang="ar" dir="rtl">' in arabic and " هـ)" in arabic


def test_list_links_keep_every_filter_and_drop_defaults() -> None:
    query = ListQuery(q="name", tag="name", sort="name", cursor="abc")
    assert query.url() == "/customers?q=name&tag=name&cursor=abc"
    assert (
        query.url(cursor=None, sort="-created_at") == "/customers?q=name&tag=name&sort=-created_at"
    )
