"""The customer documents PostgreSQL writes say exactly what `CustomerHitOut` would.

The list, lookups and search pages return JSON built in SQL (`customers.documents`);
every other customer answer is serialised by Pydantic. A customer must look the
same both ways, whatever its values: timestamps with and without microseconds,
numerics, nulls, empty and non-empty arrays, Arabic and Thai text, quotes,
backslashes and control characters.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import select, text

from majlis.core.db import tenant_session
from majlis.core.permissions import Role
from majlis.customers.models import Customer
from majlis.customers.schemas import CustomerOut
from majlis.customers.service import LISTED_DOCUMENT, CustomerFilters
from majlis.search import service as search
from majlis.search.schemas import CustomerHitOut

ODD_TEXT = 'He said "hi" \\ then\nleft\t\x01 — مرحبا ฉันชื่อ'


def _as_pydantic_writes(customer: Customer, **ranking: Any) -> Any:
    shown = CustomerOut.model_validate(customer).model_dump()
    return CustomerHitOut.model_validate({**shown, **ranking}).model_dump(mode="json")


def _make_varied_customers(owner: Any, admin_engine: Any, company_id: Any) -> None:
    bodies = [
        {"name": "Plain Person", "kind": "individual", "date_of_birth": "1980-02-29"},
        {
            "name": "أحمد الهاشمي",
            "name_ar": "أحمد الهاشمي",
            "business_name": "Hashimi Trading",
            "business_name_ar": "شركة الهاشمي للتجارة",
            "kind": "organization",
            "business_type": "LLC",
            "email": "ahmed@hashimi.example",
            "secondary_emails": ["billing@hashimi.example"],
            "phone": "0501234567",
            "secondary_phones": ["0559876543"],
            "trn": "100123456700003",
            "tags": ["vip", "جملة"],
            "notes": ODD_TEXT,
            "city": "Dubai",
            "emirate": "Dubai",
        },
        {
            "name": "สมชาย ใจดี",
            "notes": "",
            "address_line1": "ถนนสุขุมวิท",
        },
    ]
    for body in bodies:
        response = owner.post("/api/v1/customers", json=body)
        assert response.status_code == 201, response.text
    # Values the API does not set: whole-second and microsecond timestamps, numerics.
    with admin_engine.begin() as connection:
        connection.execute(
            text(
                "UPDATE customers SET created_at = :whole, last_seen_at = :micro,"
                " outstanding_balance = -1234567.5, risk_score = 8.5"
                " WHERE company_id = :company AND name = 'Plain Person'"
            ),
            {
                "whole": datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC),
                "micro": datetime(2026, 1, 2, 3, 4, 5, 60, tzinfo=UTC),
                "company": company_id,
            },
        )


def test_a_document_is_what_pydantic_writes(owner, tenant, app_engine, admin_engine) -> None:
    _make_varied_customers(owner, admin_engine, tenant.company_id)
    with tenant_session(app_engine, tenant.company_id) as session:
        rows = session.execute(select(Customer, LISTED_DOCUMENT)).all()
    assert len(rows) == 3
    for customer, document in rows:
        assert json.loads(document) == _as_pydantic_writes(
            customer, rank=None, tier=None, matched_field=None
        )
    plain = next(json.loads(doc) for customer, doc in rows if customer.name == "Plain Person")
    assert plain["created_at"] == "2026-01-02T03:04:05Z"
    assert plain["last_seen_at"] == "2026-01-02T03:04:05.000060Z"
    assert plain["outstanding_balance"] == "-1234567.50" and plain["risk_score"] == "8.5"


def test_a_search_hit_document_is_what_pydantic_writes(
    owner, tenant, app_engine, admin_engine
) -> None:
    _make_varied_customers(owner, admin_engine, tenant.company_id)
    actor = tenant.actor(Role.OWNER)
    for term in ("hashimi", "الهاشمي", "0501234567", "plain persn", "สมชาย"):
        with tenant_session(app_engine, tenant.company_id) as session:
            entities = search.search_customers(session, actor, term, CustomerFilters())
            documents = search.search_customers(
                session, actor, term, CustomerFilters(), shown=search.HIT_DOCUMENT
            )
            expected = [
                _as_pydantic_writes(
                    hit.customer,
                    rank=hit.rank_key,
                    tier=hit.tier,
                    matched_field=hit.matched_field,
                )
                for hit in entities.items
            ]
        assert expected, term
        assert [json.loads(hit.customer) for hit in documents.items] == expected, term
        assert documents.next_cursor == entities.next_cursor


def test_the_list_endpoint_shows_the_documents(owner, tenant, admin_engine) -> None:
    _make_varied_customers(owner, admin_engine, tenant.company_id)
    listed = owner.get("/api/v1/customers", params={"limit": 2, "count": True})
    assert listed.status_code == 200, listed.text
    page = listed.json()
    assert [item["name"] for item in page["items"]] == ["Plain Person", "أحمد الهاشمي"]
    assert page["count"] == {"value": 3, "estimated": False} and page["next_cursor"]
    rest = owner.get("/api/v1/customers", params={"limit": 2, "cursor": page["next_cursor"]})
    assert [item["name"] for item in rest.json()["items"]] == ["สมชาย ใจดี"]
    assert rest.json()["next_cursor"] is None
    one = owner.get(f"/api/v1/customers/{page['items'][1]['id']}").json()
    assert {**one, "rank": None, "tier": None, "matched_field": None} == page["items"][1]
    assert page["items"][1]["notes"] == ODD_TEXT
    assert Decimal(page["items"][0]["outstanding_balance"]) == Decimal("-1234567.50")
