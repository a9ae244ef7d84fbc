"""Conversations arrive and land on the right customer: match, link, enrich or create."""

from __future__ import annotations

import json

import httpx

from majlis.core.permissions import Role

STARTED = "2026-03-01T10:00:00+04:00"


def chat(session_id: str, channel: str = "whatsapp", **customer: object) -> dict[str, object]:
    return {
        "channel": channel,
        "session_id": session_id,
        "started_at": STARTED,
        "customer": customer,
        "messages": [{"sender": "customer", "text": "مرحبا، أريد عرض سعر"}],
    }


def ingest(client: httpx.Client, body: dict[str, object]) -> dict[str, object]:
    response = client.post("/api/v1/conversations", json=body)
    assert response.status_code in (200, 201), response.text
    return response.json()


def customer(client: httpx.Client, customer_id: object) -> dict[str, object]:
    return client.get(f"/api/v1/customers/{customer_id}").json()


def test_unknown_person_becomes_a_chat_customer_and_the_next_chat_finds_them(
    owner, conversation_count
) -> None:
    first = ingest(owner, chat("s1", name="Layla Haddad", email="Layla@Example.com"))
    conversation = first["conversation"]
    assert first["summary"]["created"] == 1
    assert conversation["link_source"] == "auto_sync"
    assert conversation["customer_linked_at"] is not None
    created = customer(owner, conversation["customer_id"])
    assert created["source"] == "chat"
    assert created["email"] == "layla@example.com"
    assert conversation_count(created["id"]) == 1

    second = ingest(
        owner, chat("s2", name="layla", email=" LAYLA@example.com ", phone="050 123 4567")
    )
    assert second["conversation"]["customer_id"] == created["id"]
    assert second["conversation"]["match_reason"] == "email"
    enriched = customer(owner, created["id"])
    assert enriched["phone"] == "+971501234567"  # filled, typed in local format
    assert conversation_count(created["id"]) == 2
    assert enriched["last_seen_at"] is not None


def test_each_identifier_finds_its_customer(owner) -> None:
    by_trn = owner.post("/api/v1/customers", json={"name": "Gulf Steel", "trn": "100111222333444"})
    by_ref = owner.post("/api/v1/customers", json={"name": "Omar", "external_ref": "CRM-9"})
    by_phone = owner.post("/api/v1/customers", json={"name": "Huda", "phone": "+971501112233"})
    by_name = owner.post("/api/v1/customers", json={"name": "أحمد المنصوري"})
    cases = [
        (chat("t1", trn="100-1112-2233-3444"), by_trn.json()["id"], "trn"),
        (chat("t2", external_ref="CRM-9"), by_ref.json()["id"], "external_ref"),
        (chat("t3", phone="971501112233"), by_phone.json()["id"], "phone"),
        (chat("t4", name="احمد  المنصوري"), by_name.json()["id"], "name"),
    ]
    for body, expected, reason in cases:
        conversation = ingest(owner, body)["conversation"]
        assert (conversation["customer_id"], conversation["match_reason"]) == (expected, reason)


def test_a_name_shared_by_two_customers_is_ambiguous_and_not_linked(owner) -> None:
    ids = {owner.post("/api/v1/customers", json={"name": "Sara Ali"}).json()["id"] for _ in "ab"}
    result = ingest(owner, chat("amb", name="sara ali"))
    conversation = result["conversation"]
    assert conversation["customer_id"] is None
    assert conversation["sync_state"] == "ambiguous"
    assert set(conversation["ambiguous_candidates"]) == ids
    assert result["summary"]["ambiguous"] == 1


def test_a_contradicting_email_stops_a_name_match(owner) -> None:
    known = owner.post("/api/v1/customers", json={"name": "Noor", "email": "noor@a.example"})
    conversation = ingest(owner, chat("n1", name="Noor", email="noor@b.example"))["conversation"]
    assert conversation["customer_id"] != known.json()["id"]
    assert conversation["match_reason"] == "created"


def test_enrichment_never_overwrites_and_appends_notes_only_when_asked(owner) -> None:
    person = owner.post(
        "/api/v1/customers", json={"name": "Khalid", "email": "k@x.example", "notes": "VIP"}
    ).json()
    quiet = chat("e1", email="k@x.example", address="Al Quoz 3, Dubai")
    quiet["summary"] = "asked about prices"
    ingest(owner, quiet)
    after_quiet = customer(owner, person["id"])
    assert after_quiet["notes"] == "VIP"
    assert after_quiet["address_line1"] == "Al Quoz 3, Dubai"

    loud = chat("e2", email="K@X.example", address="Somewhere else")
    loud["summary"] = "wants a demo"
    loud["append_summary_to_notes"] = True
    ingest(owner, loud)
    after_loud = customer(owner, person["id"])
    assert after_loud["notes"] == "VIP\nwants a demo"
    assert after_loud["address_line1"] == "Al Quoz 3, Dubai"
    assert after_loud["email"] == "k@x.example"


def test_the_same_session_twice_is_stored_once(owner, conversation_count) -> None:
    first = ingest(owner, chat("dup", email="d@x.example"))
    again = owner.post("/api/v1/conversations", json=chat("dup", email="d@x.example"))
    assert again.status_code == 200
    assert again.json()["conversation"]["id"] == first["conversation"]["id"]
    assert again.json()["summary"]["duplicates"] == 1
    assert conversation_count(first["conversation"]["customer_id"]) == 1


def test_a_chat_without_any_identity_is_stored_unlinked(owner) -> None:
    conversation = ingest(owner, chat("anon"))["conversation"]
    assert (conversation["customer_id"], conversation["sync_state"]) == (None, "anonymous")


def test_bad_input_is_refused_with_field_messages(owner) -> None:
    body = chat("bad", email="x@y.example")
    body["ended_at"] = "2026-02-01T00:00:00+04:00"
    response = owner.post("/api/v1/conversations", json=body)
    assert response.status_code == 422
    assert "ended_at must not be before started_at" in response.text
    assert owner.post("/api/v1/conversations", json={**chat("x"), "colour": 1}).status_code == 422


def test_bulk_ndjson_links_and_creates_once_per_person(owner, conversation_count) -> None:
    existing = owner.post("/api/v1/customers", json={"name": "Mariam", "phone": "+971509998877"})
    lines = [
        chat("b1", name="Mariam", phone="0509998877"),
        chat("b2", name="New Person", email="new@x.example"),
        chat("b3", name="New Person", email="NEW@x.example", phone="0501230000"),
        chat("b4", phone="0501230000"),
        chat("b5"),
    ]
    payload = "\n".join(json.dumps(line, ensure_ascii=False) for line in lines)
    response = owner.post(
        "/api/v1/conversations/bulk",
        content=payload.encode(),
        headers={"Content-Type": "application/x-ndjson"},
    )
    assert response.status_code == 200, response.text
    summary = response.json()
    assert (summary["ingested"], summary["linked"], summary["created"]) == (5, 3, 1)
    assert summary["anonymous"] == 1
    listed = owner.get("/api/v1/conversations", params={"limit": 10}).json()["items"]
    by_session = {c["session_id"]: c for c in listed}
    assert by_session["b1"]["customer_id"] == existing.json()["id"]
    new_ids = {by_session[s]["customer_id"] for s in ("b2", "b3", "b4")}
    assert len(new_ids) == 1
    assert conversation_count(new_ids.pop()) == 3


def test_bulk_with_a_bad_line_writes_nothing_and_names_the_line(owner) -> None:
    payload = json.dumps(chat("ok", email="a@b.example")) + "\n" + '{"channel": "web"}\n'
    response = owner.post("/api/v1/conversations/bulk", content=payload.encode())
    assert response.status_code == 422
    fields = [error["field"] for error in response.json()["errors"]]
    assert "line 2.session_id" in fields
    assert owner.get("/api/v1/conversations/sync-status").json()["total"] == 0


def test_analysts_may_read_but_not_ingest(tenant) -> None:
    with tenant.client(Role.ANALYST) as analyst:
        assert analyst.post("/api/v1/conversations", json=chat("r")).status_code == 403
        assert analyst.get("/api/v1/conversations").status_code == 200


def test_a_renamed_customer_is_found_by_the_new_name(owner) -> None:
    person = owner.post("/api/v1/customers", json={"name": "Old Name"}).json()
    owner.patch(f"/api/v1/customers/{person['id']}", json={"name_ar": "إيمان الشامسي"})
    conversation = ingest(owner, chat("r1", name="ايمان الشامسي"))["conversation"]
    assert (conversation["customer_id"], conversation["match_reason"]) == (person["id"], "name")
