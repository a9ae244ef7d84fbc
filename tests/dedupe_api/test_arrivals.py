"""Customers arriving in bulk: chat sync links or queues, imports are flagged and indexed."""

from __future__ import annotations

import uuid

from tests.dedupe_api.conftest import MOHAMMED, check, create, pending_pairs

from majlis.core.db import get_engine
from majlis.core.pagination import encode_cursor
from majlis.core.worker import OutboxWorker
from majlis.dedupe import tasks  # noqa: F401  (registers the dedupe handlers)
from majlis.imports.service import apply_import

EXISTING = {**MOHAMMED, "address_line1": "Villa 3, Street 12, Jumeirah"}


def _chat(client, session_id: str, **customer: str) -> dict:
    body = {
        "channel": "whatsapp",
        "session_id": session_id,
        "started_at": "2026-03-01T10:00:00+04:00",
        "customer": customer,
    }
    response = client.post("/api/v1/conversations", json=body)
    assert response.status_code in (200, 201), response.text
    assert response.json()["summary"]["created"] == 1  # no exact identifier matched
    return dict(response.json()["conversation"])


def _deliver() -> None:
    OutboxWorker(get_engine("app")).run_once()


def test_chat_customer_certainly_the_same_is_linked_to_the_existing_one(owner) -> None:
    existing = create(owner, **EXISTING)
    conversation = _chat(owner, "typo-phone", name="محمد المنصوري", phone="+971501234576")
    chat_customer = conversation["customer_id"]
    _deliver()
    moved = owner.get(f"/api/v1/conversations/{conversation['id']}").json()
    assert moved["customer_id"] == existing["id"]
    redirect = owner.get(f"/api/v1/customers/{chat_customer}", follow_redirects=False)
    assert redirect.status_code == 301
    assert pending_pairs(owner) == []


def test_chat_customer_probably_the_same_goes_to_review(owner) -> None:
    existing = create(owner, **EXISTING)
    conversation = _chat(
        owner,
        "other-phone",
        name="Mohamed Mansouri",
        phone="+971509990000",
        email="m.mansouri@example.com",
        address="Flat 901, Marina Tower",
    )
    _deliver()
    pairs = pending_pairs(owner)
    assert len(pairs) == 1 and pairs[0]["source"] == "sync"
    assert {pairs[0]["customer_id_a"], pairs[0]["customer_id_b"]} == {
        existing["id"],
        conversation["customer_id"],
    }
    assert 0.85 <= pairs[0]["match_probability"] < 0.99
    kept = owner.get(f"/api/v1/conversations/{conversation['id']}").json()
    assert kept["customer_id"] == conversation["customer_id"]


def test_chat_customer_with_no_likely_match_is_only_indexed(owner) -> None:
    create(owner, **EXISTING)
    conversation = _chat(owner, "stranger", name="Somchai Jaidee", phone="+66812345678")
    _deliver()
    assert pending_pairs(owner) == []
    matches = check(owner, name="Somchai Jaidee", phone="+66812345678")
    assert [m["customer_id"] for m in matches] == [conversation["customer_id"]]


def test_import_preview_flags_fuzzy_matches_and_applied_rows_are_indexed(tenant, owner) -> None:
    existing = create(owner, **EXISTING)
    csv = (
        "Full Name,Mobile,City\nمحمد المنصوري,0501234576,Dubai\nPriya Raman,0559876543,Abu Dhabi\n"
    ).encode()
    staged = owner.post(
        "/api/v1/imports", files={"file": ("c.csv", csv)}, data={"dry_run": "true"}
    ).json()
    page = owner.get(f"/api/v1/imports/{staged['id']}/duplicates").json()
    assert [item["row"] for item in page["items"]] == [2]
    assert page["items"][0]["matches"][0]["customer_id"] == existing["id"]
    assert owner.get(f"/api/v1/imports/{page['next_cursor']}/duplicates").status_code == 422
    next_page = owner.get(
        f"/api/v1/imports/{staged['id']}/duplicates", params={"cursor": page["next_cursor"]}
    ).json()
    assert next_page == {"items": [], "next_cursor": None}
    forged = encode_cursor(["row two"])
    bad = owner.get(f"/api/v1/imports/{staged['id']}/duplicates", params={"cursor": forged})
    assert bad.status_code == 422
    # Applied here rather than in the API's background task, so the test knows when it ended.
    apply_import(get_engine("app"), tenant.actor(), uuid.UUID(staged["id"]))
    _deliver()
    matches = check(owner, name="Priya Raman", phone="+971559876543")
    assert len(matches) == 1 and uuid.UUID(matches[0]["customer_id"])
