"""Merge pages over the real server: compare, choose, preview, merge, undo; the review queue."""

from __future__ import annotations

import html
import itertools
import re
import uuid

from sqlalchemy import Engine, select
from tests.web.conftest import Browser, WebCompany
from tests.web.test_page_safety import counting_statements

from majlis.core.db import tenant_session
from majlis.core.permissions import Role
from majlis.customers.models import Customer
from majlis.dedupe.models import DuplicatePair, NotDuplicate, PairSource, PairStatus
from majlis.merges.models import CustomerMerge
from majlis.web.merge_pages import QUEUE_PAGE_SIZE


def stored(company: WebCompany, customer_id: uuid.UUID) -> Customer:
    with tenant_session(company.engine, company.company_id) as session:
        customer = session.get(Customer, (company.company_id, customer_id))
        assert customer is not None
        return customer


def merges_of(company: WebCompany) -> list[CustomerMerge]:
    with tenant_session(company.engine, company.company_id) as session:
        return list(session.scalars(select(CustomerMerge)))


def queued_pair(
    company: WebCompany, first: Customer, second: Customer, probability: float = 0.93
) -> uuid.UUID:
    """A pending pair in the review queue, as a scan would queue it."""
    low, high = sorted([first.id, second.id])
    with tenant_session(company.engine, company.company_id) as session:
        pair = DuplicatePair(
            company_id=company.company_id,
            id=uuid.uuid4(),
            customer_id_a=low,
            customer_id_b=high,
            match_probability=probability,
            evidence=[{"feature": "phone", "level": "exact", "match_weight": 9.1}],
            reasons="phone: exact (+9.1 bits)",
            source=PairSource.SCAN,
        )
        session.add(pair)
    return pair.id


def pair_status(company: WebCompany, pair_id: uuid.UUID) -> PairStatus:
    with tenant_session(company.engine, company.company_id) as session:
        pair = session.get(DuplicatePair, (company.company_id, pair_id))
        assert pair is not None
        return pair.status


def twins(company: WebCompany) -> tuple[Customer, Customer]:
    """Two records of one person: the older one (left) lacks the city the newer one has."""
    left = company.customer(
        name="Mohammed Al Mansouri", phone="+971501234567", tags=["vip"], notes="Old note"
    )
    right = company.customer(
        name="Mohamed Almansoori",
        phone="+971509999999",
        city="Dubai",
        tags=["chat"],
        email="mo@example.ae",
    )
    return left, right


def merge_form(left: Customer, right: Customer, **choices: str) -> dict[str, str]:
    return {"a": str(left.id), "b": str(right.id), "survivor": "left", **choices}


def merge_id_of(response_location: str) -> str:
    match = re.fullmatch(r"/merges/([0-9a-f-]{36})", response_location)
    assert match, response_location
    return match[1]


# ----- compare and choose -----------------------------------------------------------------------
def test_comparison_defaults_to_what_the_service_would_pick(
    company: WebCompany, browser: Browser
) -> None:
    left, right = twins(company)
    page = browser.page(f"/merges/new?a={left.id}&b={right.id}")
    assert page.status_code == 200
    text = page.text
    # The older customer stays by default; its name is kept, the empty city filled from the right.
    assert re.search(r'name="survivor" value="left" checked', text)
    assert re.search(r'name="choice_name" value="left" checked', text)
    assert re.search(r'name="choice_city" value="right" checked', text)
    # Multi-valued groups combine; single-valued ones offer no combine.
    assert re.search(r'name="choice_phones" value="combine" checked', text)
    assert re.search(r'name="choice_tags" value="combine" checked', text)
    assert 'name="choice_name" value="combine"' not in text
    # Fields empty on both sides are left out.
    assert "choice_address_line1" not in text


def test_choices_change_the_survivor_and_confirm_merges(
    company: WebCompany, browser: Browser
) -> None:
    left, right = twins(company)
    browser.page(f"/merges/new?a={left.id}&b={right.id}")
    chosen = merge_form(left, right, choice_name="right", choice_phones="right", choice_tags="left")
    response = browser.submit("/merges", chosen)
    assert response.status_code == 303
    merge_id = merge_id_of(response.headers["location"])
    survivor = stored(company, left.id)
    assert survivor.name == "Mohamed Almansoori"
    assert (survivor.phone, survivor.secondary_phones) == ("+971509999999", [])
    assert survivor.tags == ["vip"]
    assert survivor.city == "Dubai" and survivor.notes == "Old note"
    assert stored(company, right.id).merged_into_id == left.id
    done = browser.page(f"/merges/{merge_id}")
    assert "Customers merged." in done.text and 'action="/merges/' in done.text
    # The merged-away customer's old addresses open the survivor's; a form posted there is 404.
    moved = browser.get(f"/customers/{right.id}/activity?cursor=x")
    assert moved.status_code == 301
    assert moved.headers["location"] == f"/customers/{left.id}/activity?cursor=x"
    assert browser.submit(f"/customers/{right.id}/delete").status_code == 404


def test_the_right_record_can_stay(company: WebCompany, browser: Browser) -> None:
    left, right = twins(company)
    browser.page(f"/merges/new?a={left.id}&b={right.id}")
    response = browser.submit("/merges", {**merge_form(left, right), "survivor": "right"})
    assert response.status_code == 303
    assert stored(company, left.id).merged_into_id == right.id
    survivor = stored(company, right.id)
    assert survivor.name == "Mohamed Almansoori"  # the survivor's own value by default
    assert set(survivor.tags) == {"vip", "chat"}


def test_preview_shows_the_result_and_writes_nothing(company: WebCompany, browser: Browser) -> None:
    left, right = twins(company)
    browser.page(f"/merges/new?a={left.id}&b={right.id}")
    pair_id = queued_pair(company, left, right)
    preview = browser.submit("/merges/preview", merge_form(left, right, choice_name="right"))
    assert preview.status_code == 200
    section = preview.text.split('id="preview-heading"', 1)[1]
    assert "<bdi>Mohamed Almansoori</bdi>" in section and "Dubai" in section
    assert "Duplicate reviews: 1" in section  # the queued pair would move with the customer
    # The confirmation carries exactly the previewed choices.
    assert 'name="choice_name" value="right"' in section
    assert merges_of(company) == []
    assert stored(company, left.id).name == "Mohammed Al Mansouri"
    assert stored(company, right.id).merged_into_id is None
    assert pair_status(company, pair_id) is PairStatus.PENDING


def test_invalid_choice_is_refused_with_a_message_and_nothing_written(
    company: WebCompany, browser: Browser
) -> None:
    organization = company.customer(name="Noor Trading", kind="organization")
    person = company.customer(name="Noor Trading", date_of_birth="1990-01-02")
    browser.page(f"/merges/new?a={organization.id}&b={person.id}")
    form = merge_form(organization, person, choice_date_of_birth="right")
    refused = browser.submit("/merges", form)
    assert refused.status_code == 422
    assert "the survivor is an organization" in refused.text
    assert 'id="row-date_of_birth"' in refused.text
    assert merges_of(company) == []


def test_undo_restores_and_refusals_are_shown(company: WebCompany, browser: Browser) -> None:
    left, right = twins(company)
    browser.page(f"/merges/new?a={left.id}&b={right.id}")
    location = browser.submit("/merges", merge_form(left, right)).headers["location"]
    merge_id = merge_id_of(location)
    browser.page(location)
    undone = browser.submit(f"/merges/{merge_id}/undo")
    assert undone.status_code == 303
    page = browser.page(undone.headers["location"]).text
    assert "Merge undone." in page and f'href="/customers/{right.id}"' in page
    assert stored(company, right.id).merged_into_id is None
    assert stored(company, left.id).city is None
    # A second undo is refused by the service, and the page says why.
    again = browser.submit(f"/merges/{merge_id}/undo")
    assert again.status_code == 409
    assert "This merge was already undone." in again.text


def test_undo_refused_when_the_survivor_was_edited(company: WebCompany, browser: Browser) -> None:
    left, right = twins(company)
    browser.page(f"/merges/new?a={left.id}&b={right.id}")
    merge_id = merge_id_of(browser.submit("/merges", merge_form(left, right)).headers["location"])
    with tenant_session(company.engine, company.company_id) as session:
        survivor = session.get(Customer, (company.company_id, left.id))
        assert survivor is not None
        survivor.city = "Sharjah"  # the merge filled the city; someone changed it since
    browser.page(f"/merges/{merge_id}")
    refused = browser.submit(f"/merges/{merge_id}/undo")
    assert refused.status_code == 409
    assert "was edited since in a field the merge set" in refused.text
    assert stored(company, right.id).merged_into_id == left.id


def test_merging_an_already_merged_customer_is_explained(
    company: WebCompany, browser: Browser
) -> None:
    left, right = twins(company)
    third = company.customer(name="Mohammed A.")
    browser.page(f"/merges/new?a={left.id}&b={third.id}")
    assert browser.submit("/merges", merge_form(left, third)).status_code == 303
    # A form from before that merge names `third` again: refused with the reason, not merged.
    stale = browser.submit("/merges", merge_form(third, right))
    assert stale.status_code == 409
    assert "already merged" in stale.text
    assert stored(company, right.id).merged_into_id is None


def test_pick_the_second_customer_by_searching(company: WebCompany, browser: Browser) -> None:
    left, right = twins(company)
    page = browser.page(f"/merges/new?a={left.id}&q=mo@example.ae")
    assert page.status_code == 200
    assert f'href="/merges/new?a={left.id}&amp;b={right.id}"' in page.text


# ----- permissions, tenancy, CSRF ------------------------------------------------------------
def test_roles_that_may_not_merge_see_no_controls_and_get_403(company: WebCompany) -> None:
    left, right = twins(company)
    pair_id = queued_pair(company, left, right)
    owner = company.browser(Role.OWNER)
    owner.page(f"/merges/new?a={left.id}&b={right.id}")
    merge_id = merge_id_of(owner.submit("/merges", merge_form(left, right)).headers["location"])
    other_left, other_right = twins(company)
    other_pair = queued_pair(company, other_left, other_right)
    for role in (Role.SALES, Role.ANALYST):
        client = company.browser(role)
        queue = client.page("/duplicates")
        assert queue.status_code == 200 and "Possible duplicates" in queue.text
        assert "Merge…" not in queue.text and "Mark not duplicates" not in queue.text
        assert "Not a duplicate" not in queue.text
        done = client.page(f"/merges/{merge_id}")
        assert done.status_code == 200 and "/undo" not in done.text
        assert client.page(f"/merges/new?a={other_left.id}&b={other_right.id}").status_code == 403
        form = merge_form(other_left, other_right)
        assert client.submit("/merges/preview", form).status_code == 403
        assert client.submit("/merges", form).status_code == 403
        assert client.submit(f"/merges/{merge_id}/undo").status_code == 403
        assert client.submit(f"/duplicates/{other_pair}/not-duplicate").status_code == 403
        bulk = {"action": "not_duplicate", "pair": str(other_pair)}
        assert client.submit("/duplicates/bulk", bulk).status_code == 403
    assert stored(company, other_right.id).merged_into_id is None
    assert stored(company, right.id).merged_into_id == left.id
    assert pair_status(company, other_pair) is PairStatus.PENDING
    assert pair_status(company, pair_id) is PairStatus.MERGED  # the owner's merge answered it


def test_another_companys_ids_are_404(make_company, company: WebCompany) -> None:
    mine, _ = twins(company)
    elsewhere = make_company()
    theirs_left, theirs_right = twins(elsewhere)
    their_pair = queued_pair(elsewhere, theirs_left, theirs_right)
    their_browser = elsewhere.browser(Role.OWNER)
    their_browser.page(f"/merges/new?a={theirs_left.id}&b={theirs_right.id}")
    location = their_browser.submit("/merges", merge_form(theirs_left, theirs_right))
    their_merge = merge_id_of(location.headers["location"])

    browser = company.browser(Role.OWNER)
    assert browser.page(f"/merges/new?a={theirs_left.id}&b={mine.id}").status_code == 404
    assert browser.page(f"/merges/new?a={mine.id}&b={theirs_right.id}").status_code == 404
    assert browser.page(f"/merges/new?a={theirs_left.id}").status_code == 404
    assert browser.page(f"/merges/{their_merge}").status_code == 404
    for form in (
        merge_form(mine, theirs_left),
        {**merge_form(theirs_left, mine), "survivor": "right"},
    ):
        assert browser.submit("/merges/preview", form).status_code == 404
        assert browser.submit("/merges", form).status_code == 404
    assert browser.submit(f"/merges/{their_merge}/undo").status_code == 404
    assert browser.submit(f"/duplicates/{their_pair}/not-duplicate").status_code == 404
    bulk = {"action": "not_duplicate", "pair": str(their_pair)}
    assert browser.submit("/duplicates/bulk", bulk).status_code == 404
    assert pair_status(elsewhere, their_pair) is PairStatus.MERGED  # by their own merge only
    assert [m.undone_at for m in merges_of(elsewhere)] == [None]


def test_forms_without_the_csrf_token_are_refused(company: WebCompany, browser: Browser) -> None:
    left, right = twins(company)
    response = browser.post("/merges", data=merge_form(left, right))
    assert response.status_code == 403
    assert stored(company, right.id).merged_into_id is None


def test_names_are_escaped(company: WebCompany, browser: Browser) -> None:
    evil = company.customer(name="<script>alert(1)</script>", city="\u202eiabuD")
    plain = company.customer(name="Plain Name")
    queued_pair(company, evil, plain)
    for url in (f"/merges/new?a={evil.id}&b={plain.id}", "/duplicates"):
        text = browser.page(url).text
        assert "<script>alert(1)</script>" not in text
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in text


# ----- the review queue -----------------------------------------------------------------------
def test_queue_lists_pairs_most_probable_first_with_evidence(
    company: WebCompany, browser: Browser
) -> None:
    first_left, first_right = twins(company)
    second_left = company.customer(name="Fatima Zahra", email="fz@example.ae")
    second_right = company.customer(name="Fatma Zahraa", email="fz@example.ae")
    queued_pair(company, second_left, second_right, probability=0.71)
    best = queued_pair(company, first_left, first_right, probability=0.98)
    text = browser.page("/duplicates").text
    assert text.index('ltr">98%') < text.index('ltr">71%')
    assert "phone: exact (+9.1 bits)" in text and "Fatma Zahraa" in text
    assert html.escape(f"/merges/new?a={min(first_left.id, first_right.id)}") in text
    assert f"pair={best}" in text
    # The minimum probability filter, in percent (Arabic-Indic digits read as ASCII).
    filtered = browser.page("/duplicates?min=٩٠").text
    assert "Fatma Zahraa" not in filtered and "Mohamed Almansoori" in filtered
    bad = browser.page("/duplicates?min=150")
    assert bad.status_code == 422 and "Enter a number from 0 to 100." in bad.text


def test_queue_pages_by_cursor(company: WebCompany, browser: Browser) -> None:
    people = [company.customer(name=f"Person {n:02d}") for n in range(QUEUE_PAGE_SIZE + 2)]
    for number, (first, second) in enumerate(itertools.pairwise(people)):
        queued_pair(company, first, second, probability=0.99 - number / 1000)
    first_page = browser.page("/duplicates").text
    assert first_page.count('class="card pair"') == QUEUE_PAGE_SIZE
    next_url = html.unescape(
        re.search(r'<a class="button secondary" href="([^"]+)"', first_page)[1]
    )
    second_page = browser.page(next_url).text
    assert second_page.count('class="card pair"') == 1 and "More pairs" not in second_page


def test_not_a_duplicate_and_bulk_decisions(company: WebCompany, browser: Browser) -> None:
    pairs = []
    for n in range(4):
        first = company.customer(name=f"Twin {n} A")
        second = company.customer(name=f"Twin {n} B")
        pairs.append((queued_pair(company, first, second, 0.9 - n / 100), first, second))
    browser.page("/duplicates")
    single = browser.submit(f"/duplicates/{pairs[0][0]}/not-duplicate", {"back": "/duplicates"})
    assert single.status_code == 303
    assert pair_status(company, pairs[0][0]) is PairStatus.NOT_DUPLICATE
    bulk = browser.submit(
        "/duplicates/bulk",
        {"action": "not_duplicate", "pair": [str(pairs[1][0]), str(pairs[2][0])]},
    )
    assert bulk.status_code == 303
    assert "marked as not duplicates" in browser.page("/duplicates").text
    for pair_id, _, _ in pairs[1:3]:
        assert pair_status(company, pair_id) is PairStatus.NOT_DUPLICATE
    with tenant_session(company.engine, company.company_id) as session:
        assert len(list(session.scalars(select(NotDuplicate)))) == 3
    accepted = browser.submit("/duplicates/bulk", {"action": "merge", "pair": str(pairs[3][0])})
    assert accepted.status_code == 303
    assert pair_status(company, pairs[3][0]) is PairStatus.MERGED
    assert stored(company, pairs[3][2].id).merged_into_id == pairs[3][1].id
    decided = browser.page("/duplicates?status=not_duplicate").text
    assert decided.count('class="card pair"') == 3 and "Mark not duplicates" not in decided
    nothing = browser.submit("/duplicates/bulk", {"action": "merge"})
    assert nothing.status_code == 303
    assert "Select at least one pair first." in browser.page("/duplicates").text


def test_merge_from_a_pair_closes_the_pair(company: WebCompany, browser: Browser) -> None:
    left, right = twins(company)
    pair_id = queued_pair(company, left, right)
    browser.page(f"/merges/new?a={left.id}&b={right.id}&pair={pair_id}")
    form = {**merge_form(left, right, choice_city="left"), "pair": str(pair_id)}
    assert browser.submit("/merges", form).status_code == 303
    assert pair_status(company, pair_id) is PairStatus.MERGED
    assert stored(company, left.id).city is None  # the chosen (empty) value, not the default


def test_undoing_a_merge_from_the_queue_puts_the_pair_back(
    company: WebCompany, browser: Browser
) -> None:
    left, right = twins(company)
    pair_id = queued_pair(company, left, right)
    browser.page(f"/merges/new?a={left.id}&b={right.id}&pair={pair_id}")
    form = {**merge_form(left, right), "pair": str(pair_id)}
    merge_id = merge_id_of(browser.submit("/merges", form).headers["location"])
    assert 'class="card pair"' not in browser.page("/duplicates").text
    browser.page(f"/merges/{merge_id}")
    assert browser.submit(f"/merges/{merge_id}/undo").status_code == 303
    assert pair_status(company, pair_id) is PairStatus.PENDING
    queue = browser.page("/duplicates").text
    assert queue.count('class="card pair"') == 1 and "phone: exact" in queue


def test_queue_and_compare_queries_do_not_grow_with_the_data(
    company: WebCompany, browser: Browser, app_engine: Engine
) -> None:
    """No N+1: the queue costs the same statements for one pair or a full page of them."""
    left, right = twins(company)
    queued_pair(company, left, right)
    paths = ("/duplicates", f"/merges/new?a={left.id}&b={right.id}")

    def statements() -> list[int]:
        counts = []
        for path in paths:
            with counting_statements(app_engine) as seen:
                assert browser.get(path).status_code == 200
            counts.append(len(seen))
        return counts

    few = statements()
    for number in range(QUEUE_PAGE_SIZE):
        queued_pair(
            company,
            company.customer(name=f"More {number} A"),
            company.customer(name=f"More {number} B"),
            probability=0.8,
        )
    assert statements() == few
