"""Word postings: a one-word term's prefix page read by id, the same ranking as before."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
from sqlalchemy import Engine, text
from tests.conftest import Tenant
from tests.search.test_search import create, hits
from tests.search.test_tiers import _explain, planner_sized_company


def _words(admin_engine: Engine, customer_id: str) -> set[tuple[str, int, str]]:
    with admin_engine.connect() as conn:
        rows = conn.execute(
            text(
                'SELECT field, "position", word FROM customer_search_words WHERE customer_id = :id'
            ),
            {"id": customer_id},
        )
        return {(field, position, word) for field, position, word in rows}


def _walk(client: httpx.Client, q: str, limit: int, **params: Any) -> list[dict[str, Any]]:
    """Every hit for `q`, page by page."""
    seen: list[dict[str, Any]] = []
    query: dict[str, Any] = {"q": q, "limit": limit, **params}
    while True:
        page = client.get("/api/v1/customers", params=query).json()
        seen += page["items"]
        if page["next_cursor"] is None:
            return seen
        query["cursor"] = page["next_cursor"]


def test_words_follow_the_names(owner: httpx.Client, admin_engine: Engine) -> None:
    customer = create(owner, name="Layla Noor Trading", name_ar="ليلى نور")
    assert _words(admin_engine, customer) == {
        ("name", 0, "layla"),
        ("name", 1, "noor"),
        ("name", 2, "trading"),
        ("name_ar", 0, "ليلي"),  # normalised: ى → ي
        ("name_ar", 1, "نور"),
    }
    owner.patch(f"/api/v1/customers/{customer}", json={"name": "Layla Stores", "name_ar": None})
    assert _words(admin_engine, customer) == {("name", 0, "layla"), ("name", 1, "stores")}
    assert owner.delete(f"/api/v1/customers/{customer}").status_code == 204
    assert _words(admin_engine, customer) == set()


def test_a_one_word_prefix_pages_whole_words_by_id_then_longer_words(
    owner: httpx.Client,
) -> None:
    exact = create(owner, name="Nasser")
    whole = {create(owner, name=f"Nasser Family {i}") for i in range(5)}
    whole.add(create(owner, name="Nasseri Nasser"))  # a whole word anywhere is a whole word
    longer = {create(owner, name=f"Nasseri Group {i}") for i in range(4)}
    seen = _walk(owner, "nasser", limit=2)
    assert seen[0]["id"] == exact
    assert len(seen) == 1 + len(whole) + len(longer)
    prefix = seen[1:]
    assert {item["tier"] for item in prefix} == {"prefix"}
    assert [item["id"] for item in prefix[: len(whole)]] == sorted(whole)
    assert {item["id"] for item in prefix[len(whole) :]} == longer
    keys = [(item["rank"], item["id"]) for item in seen]
    assert keys == sorted(keys)


def test_the_language_hint_limits_the_words_to_its_names(owner: httpx.Client) -> None:
    arabic = create(owner, name="Salim Trading", name_ar="سالم للتجارة")
    english = create(owner, name="Salmeen", name_ar="سلمين")

    def prefix_hits(q: str, lang: str) -> list[tuple[str, str]]:
        found = hits(owner, q, lang=lang)
        return [(h["id"], h["matched_field"]) for h in found if h["tier"] == "prefix"]

    assert prefix_hits("سال", "ar") == [(arabic, "name_ar")]
    assert prefix_hits("salm", "ar") == []
    assert prefix_hits("salm", "en") == [(english, "name")]


def test_another_companys_words_are_never_read(
    tenant: Tenant, owner: httpx.Client, make_tenant: Any, app_engine: Engine
) -> None:
    create(owner, name="Private Pelican")
    other = make_tenant()
    with app_engine.connect() as conn, conn.begin():
        conn.execute(
            text("SELECT set_config('majlis.company_id', :c, true)"),
            {"c": str(other.company_id)},
        )
        found = conn.execute(
            text(
                "SELECT count(*)"
                " FROM majlis_search_candidates(:c, 'pelican', NULL, 2, 20, NULL, NULL)"
            ),
            {"c": tenant.company_id},
        ).scalar_one()
        words = conn.execute(text("SELECT count(*) FROM customer_search_words")).scalar_one()
    assert found == 0 and words == 0


def test_word_postings_are_read_in_id_order_as_the_app_role(
    tenant: Tenant, app_engine: Engine, admin_engine: Engine
) -> None:
    company = tenant.company_id
    planner_sized_company(admin_engine, company, "customer_search_words")
    page = _explain(
        app_engine,
        company,
        "SELECT customer_id FROM customer_search_words WHERE company_id = :c"
        " AND word = 'customer' AND field = ANY(ARRAY['name']) AND customer_id > :after"
        " ORDER BY customer_id LIMIT 26",
        c=company,
        after=uuid.UUID(int=0),
    )
    assert "pk_customer_search_words" in page and "Sort" not in page
    vocabulary = _explain(
        app_engine,
        company,
        "SELECT word FROM customer_search_words WHERE company_id = :c"
        " AND starts_with(word, 'cust') AND word > 'cust' ORDER BY word LIMIT 1",
        c=company,
    )
    assert "pk_customer_search_words" in vocabulary and "word >= 'cust'" in vocabulary
