"""Tiered search execution: lookup keys, tier order across pages, tenancy and index use."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session
from tests.conftest import Tenant
from tests.search.test_search import create, hits, names

from majlis.core.db import tenant_session


def _search_sql(
    app_engine: Engine, session_company: uuid.UUID, asked_company: uuid.UUID, term: str
) -> list[str]:
    with tenant_session(app_engine, session_company) as session:
        return list(
            session.execute(
                text("SELECT name FROM search_customers(:c, :t, NULL, NULL, 50, 0)"),
                {"c": asked_company, "t": term},
            ).scalars()
        )


def _explain(app_engine: Engine, company_id: uuid.UUID, sql: str, **params: Any) -> str:
    with tenant_session(app_engine, company_id) as session:
        plan = session.execute(text(f"EXPLAIN (FORMAT TEXT) {sql}"), params).scalars()
        return "\n".join(plan)


# ----- lookup keys follow the customer ------------------------------------------------------
def test_renamed_customer_is_found_by_the_new_name_only(owner: httpx.Client) -> None:
    customer = create(owner, name="Old Name Trading")
    owner.patch(f"/api/v1/customers/{customer}", json={"name": "Fresh Label Trading"})
    assert names(owner, "fresh label") == ["Fresh Label Trading"]
    assert [h["tier"] for h in hits(owner, "old name trading")] != ["exact_name"]


def _search_keys_touched(session: Session, statement: str, **params: Any) -> dict[str, int]:
    """What `statement` did to `customer_search_keys`.

    The counters are read before and after inside one transaction: since PostgreSQL 15
    `pg_stat_xact_*` also holds this backend's earlier, not yet flushed transactions.
    """
    counters = text(
        "SELECT seq_scan, coalesce(idx_scan, 0) AS idx_scan, n_tup_ins, n_tup_del"
        " FROM pg_stat_xact_user_tables WHERE relname = 'customer_search_keys'"
    )
    before = session.execute(counters).one()._mapping
    session.execute(text(statement), params)
    after = session.execute(counters).one()._mapping
    return {name: after[name] - before[name] for name in after}


def test_an_update_of_unkeyed_columns_never_reads_the_keys(
    owner: httpx.Client, tenant: Tenant, app_engine: Engine
) -> None:
    # Tags, risk scores and balances change in bulk (automation rules, payment runs); the
    # keys table must not be planned against at all then: under stale statistics for a
    # new company that plan was a nested loop over every key of the company.
    customer = create(owner, name="Untouched Keys Trading", tags=["lead"])
    with tenant_session(app_engine, tenant.company_id) as session:
        retagged = _search_keys_touched(
            session,
            "UPDATE customers SET tags = array_append(tags, 'won'), risk_score = 7 WHERE id = :id",
            id=customer,
        )
        assert retagged == {"seq_scan": 0, "idx_scan": 0, "n_tup_ins": 0, "n_tup_del": 0}
        renamed = _search_keys_touched(
            session,
            "UPDATE customers SET name = 'Touched Keys Trading' WHERE id = :id",
            id=customer,
        )
        assert renamed["n_tup_del"] > 0 and renamed["n_tup_ins"] > 0


def test_a_word_inside_the_name_is_a_prefix_match(owner: httpx.Client) -> None:
    create(owner, name="Khalid Omar Trading", name_ar="خالد عمر للتجارة")
    [by_word] = hits(owner, "omar tra")
    assert (by_word["tier"], by_word["matched_field"]) == ("prefix", "name")
    [by_arabic_word] = hits(owner, "عمر")
    assert (by_arabic_word["tier"], by_arabic_word["matched_field"]) == ("prefix", "name_ar")


def test_secondary_email_is_an_identifier(owner: httpx.Client) -> None:
    create(owner, name="Second Mail", secondary_emails=["second.mail@example.ae"])
    [hit] = hits(owner, "Second.Mail@example.ae")
    assert (hit["name"], hit["tier"], hit["matched_field"]) == (
        "Second Mail",
        "identifier",
        "email",
    )


def test_deleted_and_merged_customers_are_not_found(
    tenant: Tenant, owner: httpx.Client, admin_engine: Engine
) -> None:
    deleted = create(owner, name="Gone Person")
    assert owner.delete(f"/api/v1/customers/{deleted}").status_code == 204
    survivor = create(owner, name="Merged Survivor")
    merged = create(owner, name="Merged Duplicate")
    with admin_engine.begin() as conn:
        conn.execute(
            text("UPDATE customers SET merged_into_id = :s WHERE company_id = :c AND id = :m"),
            {"s": survivor, "c": tenant.company_id, "m": merged},
        )
    assert hits(owner, "gone person") == []
    assert names(owner, "merged") == ["Merged Survivor"]
    with admin_engine.connect() as conn:
        keyed = conn.execute(
            text(
                "SELECT DISTINCT customer_id FROM customer_search_keys"
                " WHERE company_id = :c AND customer_id IN (:d, :m, :s)"
            ),
            {"c": tenant.company_id, "d": deleted, "m": merged, "s": survivor},
        ).scalars()
        assert [str(customer) for customer in keyed] == [survivor]


def test_wildcards_in_the_term_are_plain_characters(owner: httpx.Client) -> None:
    create(owner, name="Percent Shop")
    assert [h["tier"] for h in hits(owner, "percent")] == ["prefix"]
    for pattern in ("per%", "perc_nt"):
        assert "prefix" not in [h["tier"] for h in hits(owner, pattern)], pattern


# ----- tiers concatenate into one order -----------------------------------------------------
def test_pages_of_one_row_walk_every_tier_in_order(owner: httpx.Client) -> None:
    exact = create(owner, name="Tier Walker")
    prefix = create(owner, name="Tier Walker Holdings")
    fuzzy = create(owner, name="Tyer Walkers")
    seen: list[tuple[str, str]] = []
    params: dict[str, Any] = {"q": "tier walker", "limit": 1}
    while True:
        page = owner.get("/api/v1/customers", params=params).json()
        seen += [(item["id"], item["tier"]) for item in page["items"]]
        if page["next_cursor"] is None:
            break
        params["cursor"] = page["next_cursor"]
    assert seen == [(exact, "exact_name"), (prefix, "prefix"), (fuzzy, "fuzzy")]


def test_a_large_prefix_tier_pages_completely_in_rank_order(owner: httpx.Client) -> None:
    created = {create(owner, name=f"Zubair Family {i:02d}") for i in range(12)}
    created.add(create(owner, name="Zubair"))  # exact name, ranked first
    seen: list[dict[str, Any]] = []
    params: dict[str, Any] = {"q": "zubair", "limit": 5}
    while True:
        page = owner.get("/api/v1/customers", params=params).json()
        seen += page["items"]
        if page["next_cursor"] is None:
            break
        params["cursor"] = page["next_cursor"]
    assert {item["id"] for item in seen} == created and len(seen) == len(created)
    keys = [(item["rank"], item["id"]) for item in seen]
    assert keys == sorted(keys)
    assert seen[0]["tier"] == "exact_name"


def test_filters_apply_within_every_tier(owner: httpx.Client) -> None:
    create(owner, name="Filter Falcon", emirate="Dubai")
    create(owner, name="Filter Falcon Group", emirate="Dubai")
    create(owner, name="Filter Falcon", emirate="Ajman")
    create(owner, name="Filtr Falcons", emirate="Dubai")
    found = hits(owner, "filter falcon", emirate="Dubai")
    assert [h["tier"] for h in found] == ["exact_name", "prefix", "fuzzy"]


def test_a_malformed_cursor_is_a_clear_422(owner: httpx.Client) -> None:
    response = owner.get("/api/v1/customers", params={"q": "anything", "cursor": "bm90LWpzb24"})
    assert response.status_code == 422


# ----- tenancy and indexes under row-level security -----------------------------------------
def test_sql_search_never_returns_another_companys_rows(
    tenant: Tenant, owner: httpx.Client, make_tenant: Any, app_engine: Engine
) -> None:
    create(owner, name="Hidden Hawk", phone="0501112233", trn="100555666777888")
    other = make_tenant()
    for term in ("hidden hawk", "hidden", "hiden hawk", "112233", "100555666777888"):
        assert _search_sql(app_engine, tenant.company_id, tenant.company_id, term) != [], term
        assert _search_sql(app_engine, other.company_id, tenant.company_id, term) == [], term
    with tenant_session(app_engine, other.company_id) as session:
        for tier in range(4):
            leaked = session.execute(
                text("SELECT count(*) FROM majlis_search_tier(:c, 'hidden hawk', NULL, :t, 50)"),
                {"c": tenant.company_id, "t": tier},
            ).scalar_one()
            assert leaked == 0
        keys = session.execute(
            text("SELECT count(*) FROM customer_search_keys WHERE company_id = :c"),
            {"c": tenant.company_id},
        ).scalar_one()
        assert keys == 0


def planner_sized_company(admin_engine: Engine, company_id: uuid.UUID, tables: str) -> None:
    """3,000 customers named "Customer n", then fresh statistics on `tables`: enough that
    the planner's choice is the one it makes in production (with a handful of rows any
    index, or none, costs the same)."""
    with admin_engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO customers (company_id, id, kind, name)"
                " SELECT :c, majlis_new_id(), 'individual', 'Customer ' || n"
                " FROM generate_series(1, 3000) n"
            ),
            {"c": company_id},
        )
        conn.execute(text(f"ANALYZE {tables}"))


def test_tier_lookups_use_their_indexes_as_the_app_role(
    tenant: Tenant, app_engine: Engine, admin_engine: Engine
) -> None:
    company = tenant.company_id
    planner_sized_company(admin_engine, company, "customer_search_keys, customers")
    prefix = _explain(
        app_engine,
        company,
        "SELECT customer_id FROM customer_search_keys"
        " WHERE company_id = :c AND starts_with(key, 'khal') AND field = 'name'",
        c=company,
    )
    assert "ix_customer_search_keys_lookup" in prefix and "~>=~" in prefix
    for script, index in (
        ("false", "ix_customers_search_knn"),
        ("true", "ix_customers_search_knn_arabic"),
    ):
        nearest = _explain(
            app_engine,
            company,
            "SELECT id FROM customers c WHERE company_id = :c AND deleted_at IS NULL"
            " ORDER BY majlis_search_words(c.name_norm, c.name_ar_norm, c.business_name_norm,"
            f" c.business_name_ar_norm, c.email, {script}) <->> 'khalid' LIMIT 20",
            c=company,
        )
        assert index in nearest and "Order By" in nearest


def test_digits_match_phones_and_identifiers_only(owner: httpx.Client) -> None:
    create(owner, name="Numbered Mail", email="numbered.198455@example.ae")
    create(owner, name="Phone Owner", phone="0504198455")
    assert [(h["name"], h["matched_field"]) for h in hits(owner, "198455")] == [
        ("Phone Owner", "phone")
    ]


def test_a_typed_suffix_with_leading_zeros_finds_the_phone(owner: httpx.Client) -> None:
    create(owner, name="Zeros Inside", phone="+971 50 009 1380")
    assert [(h["name"], h["tier"]) for h in hits(owner, "0091380")] == [("Zeros Inside", "prefix")]


def test_fuzzy_documents_hold_no_digits_and_split_by_script(admin_engine: Engine) -> None:
    def words(arabic: bool) -> list[str]:
        with admin_engine.connect() as conn:
            document = conn.execute(
                text(
                    "SELECT majlis_search_words('noor 2024', 'نور الهدى', 'shop 7', NULL,"
                    " 'Noor.1984@Example.ae', :arabic)"
                ),
                {"arabic": arabic},
            ).scalar_one()
        return str(document).split()

    assert words(arabic=False) == ["noor", "shop", "noor.", "@example.ae"]
    assert words(arabic=True) == ["نور", "الهدى"]


def test_arabic_typo_is_found_through_the_arabic_index(owner: httpx.Client) -> None:
    create(owner, name="Latin Name", name_ar="عبدالرحمن المنصوري")
    [hit] = hits(owner, "عبدالرحمان المنصوري")
    assert (hit["tier"], hit["matched_field"]) == ("fuzzy", "name_ar")
