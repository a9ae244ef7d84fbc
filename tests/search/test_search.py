"""Search semantics: each normalisation and ranking rule, in Latin, Arabic and Thai script."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, text
from tests.conftest import Tenant

from majlis.core.db import tenant_session
from majlis.core.i18n import normalize_text
from majlis.customers.service import CustomerFilters
from majlis.search import service as search


def create(client: httpx.Client, **fields: Any) -> str:
    response = client.post("/api/v1/customers", json=fields)
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


def hits(client: httpx.Client, q: str, **params: Any) -> list[dict[str, Any]]:
    response = client.get("/api/v1/customers", params={"q": q, **params})
    assert response.status_code == 200, response.text
    return list(response.json()["items"])


def names(client: httpx.Client, q: str, **params: Any) -> list[str]:
    return [hit["name"] for hit in hits(client, q, **params)]


# ----- the locale and the SQL normaliser ------------------------------------------------
@pytest.mark.parametrize("word", ["محمد", "สมชาย"])
def test_pg_trgm_indexes_arabic_and_thai_letters(admin_engine: Engine, word: str) -> None:
    with admin_engine.connect() as conn:
        assert conn.execute(text("SELECT show_trgm(:w)"), {"w": word}).scalar_one() != []


SCRIPTS = st.sampled_from(
    [chr(c) for c in range(0x20, 0x250)]
    + [chr(c) for c in range(0x300, 0x370)]
    + [chr(c) for c in range(0x600, 0x700)]
    + [chr(c) for c in range(0xE00, 0xE7F)]
    + ["\u200b", "\u200f", "\ufeff", "\xa0", "\u2003", "ẞ", "ς", "ﻻ"]
)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.text(SCRIPTS, max_size=20), min_size=1, max_size=30))
def test_sql_normaliser_matches_python(admin_engine: Engine, values: list[str]) -> None:
    with admin_engine.connect() as conn:
        got = conn.execute(
            text(
                "SELECT majlis_normalize_text(v) FROM unnest(CAST(:v AS text[]))"
                " WITH ORDINALITY AS u(v, i) ORDER BY i"
            ),
            {"v": values},
        ).scalars()
        assert list(got) == [normalize_text(v) for v in values]


# ----- normalisation rules ---------------------------------------------------------------
@pytest.mark.parametrize(
    ("stored", "typed", "rule"),
    [
        ("أحمد الشامسي", "احمد الشامسي", "hamza on alef"),
        ("إبراهيم خليل", "ابراهيم خليل", "hamza below alef"),
        ("آمنة سالم", "امنه سالم", "madda and taa marbuta"),
        ("فاطمة الزهراء", "فاطمه الزهراء", "taa marbuta"),
        ("مصطفى كمال", "مصطفي كمال", "alef maqsura"),
        ("مُحَمَّد عبدالله", "محمد عبدالله", "tashkeel"),
        ("مـحـمـود سعيد", "محمود سعيد", "tatweel"),
        ("José Müller", "jose muller", "case and accents"),
        ("ZOË ANDERSSON", "Zoe Andersson", "case and accents"),
        ("สมชาย ใจดี", "สมชาย", "Thai name"),
    ],
)
def test_normalisation_rules_find_the_customer(
    owner: httpx.Client, stored: str, typed: str, rule: str
) -> None:
    create(owner, name=stored)
    assert names(owner, typed)[:1] == [stored], rule


def test_arabic_name_is_found_from_the_other_spelling(owner: httpx.Client) -> None:
    create(owner, name="Ahmed Ali", name_ar="أحمد علي")
    [hit] = hits(owner, "احمد علي")
    assert (hit["name"], hit["matched_field"], hit["tier"]) == (
        "Ahmed Ali",
        "name_ar",
        "exact_name",
    )


def test_arabic_indic_and_persian_digits_find_a_phone(owner: httpx.Client) -> None:
    create(owner, name="Digits Person", phone="0501234567")
    assert names(owner, "٠٥٠١٢٣٤٥٦٧") == ["Digits Person"]
    assert names(owner, "۰۵۰۱۲۳۴۵۶۷") == ["Digits Person"]
    assert names(owner, "١٢٣٤٥٦٧") == ["Digits Person"]


# ----- forgiveness: typos, word order, phones ---------------------------------------------
@pytest.mark.parametrize(
    ("stored", "typed"),
    [
        ("Mohammed Al Farsi", "Mohamad Al Farsi"),
        ("Christopher Johnson", "Cristopher Jonson"),
        ("عبدالرحمن المنصوري", "عبدالرحمان المنصوري"),
        ("สมศักดิ์ รุ่งเรือง", "สมศักด์ รุ่งเรือง"),
    ],
)
def test_typos_are_tolerated(owner: httpx.Client, stored: str, typed: str) -> None:
    create(owner, name=stored)
    hit = hits(owner, typed)[0]
    assert (hit["name"], hit["tier"]) == (stored, "fuzzy")


@pytest.mark.parametrize(
    ("stored", "typed"),
    [("Ali Hassan", "Hassan Ali"), ("علي حسن", "حسن علي"), ("สมชาย ใจดี", "ใจดี สมชาย")],
)
def test_word_order_is_free(owner: httpx.Client, stored: str, typed: str) -> None:
    create(owner, name=stored)
    assert names(owner, typed)[:1] == [stored]


def test_phone_in_any_format_and_any_suffix_of_six_digits(owner: httpx.Client) -> None:
    create(owner, name="Phone Person", phone="+971 50 765 4321")
    for typed in ("050-765-4321", "+971507654321", "(50) 765 4321", "654321", "7654321"):
        found = hits(owner, typed)
        assert [(h["name"], h["matched_field"]) for h in found] == [("Phone Person", "phone")]
    assert hits(owner, "54321") == []


# ----- ranking -----------------------------------------------------------------------------
def test_identifiers_rank_first_and_say_what_matched(owner: httpx.Client) -> None:
    create(owner, name="Noor 100123456789012 Trading")
    by_trn = create(owner, name="Someone", trn="100123456789012")
    first = hits(owner, "100123456789012")[0]
    assert (first["id"], first["matched_field"], first["tier"]) == (by_trn, "trn", "identifier")
    by_email = create(owner, name="Mail Person", email="noor.trading@example.ae")
    create(owner, name="noor trading example")
    assert hits(owner, "Noor.Trading@example.ae")[0]["id"] == by_email
    assert hits(owner, "Noor.Trading@example.ae")[0]["matched_field"] == "email"
    by_ref = create(owner, name="Ref Person", external_ref="ERP-77")
    assert (hits(owner, "ERP-77")[0]["id"], hits(owner, "ERP-77")[0]["matched_field"]) == (
        by_ref,
        "external_ref",
    )


def test_exact_name_then_prefix_then_fuzzy(owner: httpx.Client) -> None:
    fuzzy = create(owner, name="Khaleed Omar")
    prefix = create(owner, name="Khalid Omar Trading")
    exact = create(owner, name="Khalid Omar")
    found = hits(owner, "khalid omar")
    assert [h["id"] for h in found] == [exact, prefix, fuzzy]
    assert [h["tier"] for h in found] == ["exact_name", "prefix", "fuzzy"]


def test_arabic_ranking_exact_then_prefix(owner: httpx.Client) -> None:
    prefix = create(owner, name="A", name_ar="سعيد الكعبي للتجارة")
    exact = create(owner, name="B", name_ar="سعيد الكعبي")
    assert [h["id"] for h in hits(owner, "سعيد الكعبي")] == [exact, prefix]


def test_ties_are_broken_stably_by_id(owner: httpx.Client) -> None:
    ids = [create(owner, name="Same Name") for _ in range(3)]
    assert [h["id"] for h in hits(owner, "same name")] == sorted(ids)
    assert [h["id"] for h in hits(owner, "same name")] == sorted(ids)


def test_language_hint_ranks_that_languages_names(owner: httpx.Client) -> None:
    create(owner, name="Salem", name_ar="سالم")
    [hit] = hits(owner, "سالم", lang="ar")
    assert hit["matched_field"] == "name_ar"
    assert owner.get("/api/v1/customers", params={"q": "x", "lang": "fr"}).status_code == 422


# ----- composition, paging, counts ---------------------------------------------------------
def test_filters_compose_with_search(owner: httpx.Client) -> None:
    create(owner, name="Rashid Dubai", emirate="Dubai", city="Deira", business_type="LLC")
    create(owner, name="Rashid Sharjah", emirate="Sharjah", city="Al Nahda")
    assert names(owner, "rashid", emirate="Dubai") == ["Rashid Dubai"]
    assert names(owner, "rashid", city="Al Nahda") == ["Rashid Sharjah"]
    assert names(owner, "rashid", business_type="LLC") == ["Rashid Dubai"]
    listed = owner.get("/api/v1/customers", params={"emirate": "Sharjah"}).json()["items"]
    assert [c["name"] for c in listed] == ["Rashid Sharjah"]


def test_search_pages_by_keyset(owner: httpx.Client) -> None:
    created = {create(owner, name=f"Paged Person {i}") for i in range(7)}
    seen: list[str] = []
    cursor = None
    while True:
        params = {"q": "paged person", "limit": 3, **({"cursor": cursor} if cursor else {})}
        page = owner.get("/api/v1/customers", params=params).json()
        seen += [item["id"] for item in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert len(seen) == len(set(seen)) == 7
    assert set(seen) == created


def test_counts_are_exact_below_the_threshold(owner: httpx.Client) -> None:
    for i in range(3):
        create(owner, name=f"Counted {i}")
    body = owner.get("/api/v1/customers", params={"q": "counted", "count": "true"}).json()
    assert body["count"] == {"value": 3, "estimated": False}


def test_counts_are_estimated_and_labelled_above_the_threshold(
    tenant: Tenant, owner: httpx.Client, app_engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    for i in range(4):
        create(owner, name=f"Many {i}")
    monkeypatch.setattr(search, "EXACT_COUNT_LIMIT", 2)
    with tenant_session(app_engine, tenant.company_id) as session:
        counted = search.count_customers(session, tenant.actor(), CustomerFilters())
    assert counted.estimated and counted.value >= 3


# ----- tenancy -----------------------------------------------------------------------------
def test_search_never_crosses_tenants(make_tenant: Any, owner: httpx.Client) -> None:
    create(owner, name="Tenant A Secret", phone="0509998877")
    with make_tenant().client() as other:
        assert hits(other, "Tenant A Secret") == []
        assert hits(other, "998877") == []


def test_sql_search_customers_respects_rls(
    tenant: Tenant, owner: httpx.Client, make_tenant: Any, app_engine: Engine
) -> None:
    create(owner, name="Operator Visible", business_type="LLC")
    with tenant_session(app_engine, tenant.company_id) as session:
        rows = session.execute(
            text("SELECT name, matched_field FROM search_customers(:c, 'operator visible')"),
            {"c": tenant.company_id},
        ).all()
        assert [tuple(r) for r in rows] == [("Operator Visible", "name")]
        filtered = session.execute(
            text("SELECT name FROM search_customers(:c, 'operator', 'FREE_ZONE', 'en', 5, 0)"),
            {"c": tenant.company_id},
        ).all()
        assert filtered == []
    other = make_tenant()
    with tenant_session(app_engine, other.company_id) as session:
        leaked = session.execute(
            text("SELECT name FROM search_customers(:c, 'operator visible')"),
            {"c": tenant.company_id},
        ).all()
    assert leaked == []
