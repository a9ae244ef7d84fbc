"""The customer list: saved filters, cards, quick actions; the wizard's duplicate warning."""

from __future__ import annotations

import html
import re
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine, select, update
from tests.web.conftest import Browser, WebCompany
from tests.web.test_page_safety import counting_statements

from majlis.conversations.models import CustomerInteraction
from majlis.conversations.schemas import ConversationIn
from majlis.conversations.service import ingest_conversation
from majlis.core.audit import AuditEntry
from majlis.core.db import tenant_session
from majlis.core.errors import ValidationFailed
from majlis.core.permissions import Actor, Role
from majlis.customers import saved_filters
from majlis.customers.saved_filters import SavedFilter
from majlis.web.customer_pages import PAGE_SIZE

HTMX = {"HX-Request": "true", "HX-Target": "duplicate-warning"}
HASHIMI = {"name": "Mohammed Al Hashimi", "phone": "+971501234567"}
TYPED = {"kind": "individual", "name": "Mohamed Al Hashemi", "phone": "050 123 4567"}


def card_of(page: str, name: str) -> str:
    cards = re.findall(r'<li class="card">.*?</div>\n</li>', page, re.S)
    return next(card for card in cards if name in card)


def live_check(browser: Browser, **fields: str) -> str:
    answer = browser.submit("/customers/new/duplicates", fields, headers=HTMX)
    assert answer.status_code == 200
    return answer.text


def stored_filters(company: WebCompany) -> list[SavedFilter]:
    with tenant_session(company.engine, company.company_id) as session:
        rows = session.scalars(select(SavedFilter).order_by(SavedFilter.name))
        return [row for row in rows]


# ----- the wizard's duplicate warning ---------------------------------------------------------
def test_live_check_shows_the_match_with_score_reasons_and_a_link(
    company: WebCompany, browser: Browser
) -> None:
    existing = company.customer(**HASHIMI)
    browser.page("/customers/new")
    warning = live_check(browser, **TYPED)
    assert "<html" not in warning and "This customer may already exist" in warning
    assert f'href="/customers/{existing.id}">Open <bdi>Mohammed Al Hashimi</bdi></a>' in warning
    assert re.search(r"Match score \d+%", warning)
    assert "Phone and address" in warning  # the evidence, named in the reader's language
    # The wizard page itself carries the live region the warning is swapped into.
    start = browser.page("/customers/new").text
    assert 'id="duplicate-warning" aria-live="polite"' in start
    assert 'hx-post="/customers/new/duplicates"' in start


def test_live_check_waits_for_a_name_and_skips_half_typed_fields(
    company: WebCompany, browser: Browser
) -> None:
    company.customer(**HASHIMI)
    browser.page("/customers/new")
    assert live_check(browser, kind="individual", name="Mo").strip() == ""
    assert live_check(browser, kind="individual", name="", phone="0501234567").strip() == ""
    # An email without its domain and a phone still being typed do not hide the name's match.
    half_typed = live_check(browser, **{**TYPED, "email": "mohamed@", "phone": "050 12"})
    assert "Mohammed Al Hashimi" in half_typed
    assert "Mohammed Al Hashimi" not in live_check(browser, kind="individual", name="Zainab Farouk")


def test_live_check_never_shows_another_companys_customer(make_company) -> None:
    mine, theirs = make_company(), make_company()
    theirs.customer(**HASHIMI)
    browser = mine.browser(Role.OWNER)
    browser.page("/customers/new")
    assert "Mohammed Al Hashimi" not in live_check(browser, **TYPED)


def test_without_javascript_the_warning_shows_on_the_next_step(
    company: WebCompany, browser: Browser
) -> None:
    existing = company.customer(**HASHIMI)
    browser.page("/customers/new")
    second = browser.submit("/customers/new", {"step": "1", "go": "next", **TYPED})
    assert second.status_code == 200 and "Step 2 of 3: Address" in second.text
    assert f'href="/customers/{existing.id}">Open' in second.text
    # The warning does not block: the customer can still be created.
    created = browser.submit("/customers/new", {"step": "3", "go": "create", **TYPED})
    assert created.status_code == 303


def test_live_check_needs_create_permission_and_the_csrf_token(
    company: WebCompany, browser: Browser
) -> None:
    company.customer(**HASHIMI)
    analyst = company.browser(Role.ANALYST)
    assert analyst.submit("/customers/new/duplicates", TYPED).status_code == 403
    forged = browser.post("/customers/new/duplicates", data={**TYPED, "csrf_token": "forged"})
    assert forged.status_code == 403 and "Mohammed Al Hashimi" not in forged.text


def test_duplicate_names_are_escaped(company: WebCompany, browser: Browser) -> None:
    company.customer(name="<script>alert(1)</script> Hashimi", phone="+971501234567")
    browser.page("/customers/new")
    warning = live_check(browser, kind="individual", name="Script Hashimi", phone="0501234567")
    assert "&lt;script&gt;alert(1)&lt;/script&gt; Hashimi" in warning
    assert "<script>alert" not in warning


# ----- saved filters -----------------------------------------------------------------------
def test_save_list_and_reapply_a_filter(company: WebCompany, browser: Browser) -> None:
    company.customer(name="Amal Chat", source="chat", tags=["vip"])
    company.customer(name="Basim Manual", tags=["vip"])
    browser.page("/customers?source=chat&tag=vip&sort=-name")
    saved = browser.submit(
        "/customers/saved-filters",
        {"source": "chat", "tag": "vip", "sort": "-name", "filter_name": "VIP chats"},
    )
    assert saved.status_code == 303
    assert saved.headers["location"] == "/customers?source=chat&tag=vip&sort=-name"
    listing = browser.page("/customers").text
    assert "Filter saved." in listing
    link = re.search(r'<a href="([^"]+)"><bdi>VIP chats</bdi></a>', listing)
    assert link and html.unescape(link[1]) == "/customers?source=chat&tag=vip&sort=-name"
    reapplied = browser.page(html.unescape(link[1])).text
    assert "Amal Chat" in reapplied and "Basim Manual" not in reapplied
    [row] = stored_filters(company)
    assert row.query == {"source": "chat", "tag": "vip", "sort": "-name"} and not row.shared
    assert row.user_id == company.user_ids[Role.OWNER]
    with tenant_session(company.engine, company.company_id) as session:
        audited = session.scalars(
            select(AuditEntry.action).where(AuditEntry.entity_id == row.id)
        ).all()
    assert audited == ["saved_filter.created"]


def test_results_fragment_keeps_the_save_form_in_step(
    company: WebCompany, browser: Browser
) -> None:
    results = browser.get(
        "/customers?source=import&q=", headers={"HX-Request": "true", "HX-Target": "results"}
    ).text
    assert 'id="saved-filter-query" hx-swap-oob="true"' in results
    assert '<input type="hidden" name="source" value="import">' in results


@pytest.mark.parametrize(
    ("name", "status", "message"),
    [
        ("", 422, "Give the filter a name of 1 to 80 characters."),
        ("x" * 81, 422, "Give the filter a name of 1 to 80 characters."),
        ("Taken", 409, "You already have a saved filter with this name."),
    ],
)
def test_bad_filter_names_show_the_form_again_and_write_nothing(
    company: WebCompany, browser: Browser, name: str, status: int, message: str
) -> None:
    browser.page("/customers")
    assert browser.submit("/customers/saved-filters", {"filter_name": "Taken"}).status_code == 303
    answer = browser.submit("/customers/saved-filters", {"filter_name": name, "kind": "individual"})
    assert answer.status_code == status
    assert message in answer.text and 'aria-invalid="true"' in answer.text
    assert [row.name for row in stored_filters(company)] == ["Taken"]


def test_service_accepts_only_known_filter_keys(company: WebCompany) -> None:
    with (
        tenant_session(company.engine, company.company_id) as session,
        pytest.raises(ValidationFailed) as refused,
    ):
        saved_filters.create_saved_filter(
            session, company.actor(), "Odd", {"source": "chat", "cursor": "abc"}
        )
    assert [error.field for error in refused.value.errors] == ["query"]
    assert stored_filters(company) == []


def test_shared_filters_show_to_colleagues_who_cannot_delete_them(company: WebCompany) -> None:
    owner = company.browser(Role.OWNER)
    owner.page("/customers")
    owner.submit("/customers/saved-filters", {"filter_name": "Team view", "shared": "on"})
    owner.submit("/customers/saved-filters", {"filter_name": "Private view"})
    team, private = stored_filters(company)[1], stored_filters(company)[0]
    analyst = company.browser(Role.ANALYST)  # reading roles keep filters too
    listing = analyst.page("/customers").text
    assert "Team view" in listing and "Private view" not in listing
    assert f"/customers/saved-filters/{team.id}/delete" not in listing
    refused = analyst.submit(f"/customers/saved-filters/{team.id}/delete")
    assert refused.status_code == 404
    assert analyst.submit(f"/customers/saved-filters/{private.id}/delete").status_code == 404
    assert analyst.submit("/customers/saved-filters", {"filter_name": "Mine"}).status_code == 303
    # The owner deletes their own.
    assert owner.submit(f"/customers/saved-filters/{team.id}/delete").status_code == 303
    assert "Saved filter deleted." in owner.page("/customers").text
    assert sorted(row.name for row in stored_filters(company)) == ["Mine", "Private view"]


def test_another_companys_filter_is_not_found_and_escaping(make_company) -> None:
    mine, theirs = make_company(), make_company()
    other = theirs.browser(Role.OWNER)
    other.page("/customers")
    other.submit("/customers/saved-filters", {"filter_name": "<script>alert(1)</script>"})
    [secret] = stored_filters(theirs)
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in other.page("/customers").text
    browser = mine.browser(Role.OWNER)
    browser.page("/customers")
    assert browser.submit(f"/customers/saved-filters/{secret.id}/delete").status_code == 404
    assert browser.submit(f"/customers/saved-filters/{uuid.uuid4()}/delete").status_code == 404
    assert "alert(1)" not in browser.page("/customers").text
    assert (
        browser.post(
            "/customers/saved-filters", data={"filter_name": "Forged", "csrf_token": "forged"}
        ).status_code
        == 403
    )
    assert stored_filters(mine) == [] and len(stored_filters(theirs)) == 1


# ----- cards and quick actions -------------------------------------------------------------
def test_cards_show_source_conversations_and_recent_views(
    company: WebCompany, browser: Browser, admin_engine: Engine
) -> None:
    chat = company.customer(name="Chat Person", source="chat", email="chat@example.ae")
    company.customer(name="Manual Person")
    company.customer(name="Imported Person", source="import")
    with tenant_session(company.engine, company.company_id) as session:
        for number in range(2):
            record = {
                "channel": "web",
                "session_id": f"s-{number}",
                "customer": {"email": "chat@example.ae"},
                "started_at": datetime(2026, 11, 1, 9, number, tzinfo=UTC),
            }
            ingest_conversation(
                session, Actor.system(company.company_id), ConversationIn.model_validate(record)
            )
    listing = browser.page("/customers").text
    chat_card = card_of(listing, "Chat Person")
    assert 'class="badge source-chat">Chat<' in chat_card
    assert "<dt>Conversations</dt><dd>2</dd>" in chat_card
    assert 'source-manual">Manual<' in card_of(listing, "Manual Person")
    assert 'source-import">Import<' in card_of(listing, "Imported Person")
    assert "Recently viewed" not in listing
    # Opening a customer records a `viewed` interaction; the card shows it for this user only.
    browser.page(f"/customers/{chat.id}")
    assert "Recently viewed" in card_of(browser.page("/customers").text, "Chat Person")
    colleague = company.browser(Role.MANAGER)
    assert "Recently viewed" not in colleague.page("/customers").text
    # A view older than the window no longer marks the card.
    with admin_engine.begin() as conn:
        conn.execute(
            update(CustomerInteraction)
            .where(CustomerInteraction.customer_id == chat.id)
            .values(occurred_at=datetime.now(UTC) - timedelta(days=8))
        )
    assert "Recently viewed" not in browser.page("/customers").text


def test_search_and_later_pages_cost_a_fixed_number_of_statements(
    company: WebCompany, browser: Browser, app_engine: Engine
) -> None:
    """No per-card query, no count, no second search: a full page costs what one card does."""

    def statements(url: str) -> tuple[int, str]:
        with counting_statements(app_engine) as seen:
            answer = browser.get(url)
        assert answer.status_code == 200
        return len(seen), answer.text

    viewed = company.customer(name="Zephyr Aaa 00")
    browser.page(f"/customers/{viewed.id}")
    one_card, _ = statements("/customers?q=zephyr")
    for number in range(1, PAGE_SIZE + 6):
        company.customer(name=f"Zephyr Aaa {number:02d}")
    full, page = statements("/customers?q=zephyr")
    assert page.count('<li class="card">') == PAGE_SIZE and "Recently viewed" in page
    assert full <= one_card  # a full page stops at the tier that filled it
    later, page = statements(next_link(page))
    assert page.count('<li class="card">') == 6 and later <= one_card
    first_page, page = statements("/customers")
    later, page = statements(next_link(page))
    assert page.count('<li class="card">') == 6 and later == first_page


def next_link(page: str) -> str:
    found = re.search(r'<li class="more" id="more">\s*<a [^>]*href="([^"]+)"', page)
    assert found, "no next page"
    return html.unescape(found.group(1))


def test_cards_show_both_names_the_languages_own_first(
    company: WebCompany, browser: Browser
) -> None:
    company.customer(name="Mohammed Al Hashimi", name_ar="محمد الهاشمي")
    company.customer(name="Only English")
    english = "<bdi>Mohammed Al Hashimi</bdi>"
    arabic = '<bdi dir="rtl" lang="ar">محمد الهاشمي</bdi>'
    for lang, first, second in (
        ("en", english, arabic),
        ("th", english, arabic),
        ("ar", arabic, english),
    ):
        browser.submit("/language", {"lang": lang})
        card = card_of(browser.page("/customers").text, "محمد الهاشمي")
        assert card.index(f">{first}</a></h2>") < card.index(f'<p class="alt-name">{second}</p>')
        assert f'<span class="visually-hidden">: {first}</span>' in card  # quick actions too
    single = card_of(browser.page("/customers").text, "Only English")
    assert 'class="alt-name"' not in single and 'lang="ar"' not in single


def test_customer_tabs_follow_the_issues_order(company: WebCompany, browser: Browser) -> None:
    organization = company.customer(name="Noor Trading", kind="organization")
    header = browser.page(f"/customers/{organization.id}").text
    tabs = re.search(r'<nav class="tabs".*?</nav>', header, re.S)
    assert tabs
    assert re.findall(r">([^<>]+)</a>", tabs[0]) == [
        "Profile",
        "Contacts and projects",
        "Conversations",
        "Invoices and reminders",
        "Journey and tasks",
        "Loyalty",
        "Activity",
    ]


@pytest.mark.parametrize(
    ("role", "shown", "hidden"),
    [
        (Role.OWNER, ["View", "Edit", "Merge with…", "Delete"], []),
        (Role.MANAGER, ["View", "Edit", "Merge with…"], ["Delete"]),
        (Role.SALES, ["View"], ["Edit", "Merge with…", "Delete"]),
        (Role.ANALYST, ["View"], ["Edit", "Merge with…", "Delete"]),
    ],
)
def test_quick_actions_follow_the_role(
    company: WebCompany, role: Role, shown: list[str], hidden: list[str]
) -> None:
    customer = company.customer(name="Action Target")
    card = card_of(company.browser(role).page("/customers").text, "Action Target")
    actions = re.findall(r'>(View|Edit|Merge with…|Delete)<span class="visually-hidden">', card)
    assert actions == shown
    assert all(action not in actions for action in hidden)
    if "Merge with…" in shown:
        assert f'href="/merges/new?a={customer.id}"' in card
    if "Delete" in shown:
        assert f'action="/customers/{customer.id}/delete"' in card


def test_sales_get_edit_only_on_their_own_cards(company: WebCompany) -> None:
    company.customer(Role.SALES, name="Sales Own")
    sales = company.browser(Role.SALES)
    assert "Edit<span" in card_of(sales.page("/customers").text, "Sales Own")


def test_quick_delete_offers_the_undo(company: WebCompany, browser: Browser) -> None:
    customer = company.customer(name="Deleted From The List")
    browser.page("/customers")
    deleted = browser.submit(f"/customers/{customer.id}/delete")
    assert deleted.status_code == 200 and "Undo" in deleted.text
    assert "Deleted From The List" not in browser.page("/customers").text
