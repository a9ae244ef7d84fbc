"""The activity timeline, interaction recording, and cross-tenant refusals."""

from __future__ import annotations

import pytest

from majlis.core.permissions import Role

STARTED = "2026-03-01T10:00:00+04:00"


def test_viewing_a_customer_records_the_sensitive_identifiers_read(owner, tenant) -> None:
    person = owner.post(
        "/api/v1/customers",
        json={"name": "Hessa", "trn": "100222333444555", "date_of_birth": "1990-01-02"},
    ).json()
    with tenant.client(Role.SALES) as sales:
        assert sales.get(f"/api/v1/customers/{person['id']}").status_code == 200
    timeline = owner.get(f"/api/v1/customers/{person['id']}/timeline").json()["items"]
    views = [item for item in timeline if item["kind"] == "interaction"]
    assert views[0]["title"] == "viewed"
    assert views[0]["data"]["actor_id"] == str(tenant.user_ids[Role.SALES])
    assert set(views[0]["data"]["sensitive_fields"]) == {"trn", "date_of_birth"}


def test_editing_a_customer_records_who_edited_it(owner, tenant) -> None:
    person = owner.post("/api/v1/customers", json={"name": "Rashid"}).json()
    with tenant.client(Role.MANAGER) as manager:
        edited = manager.patch(f"/api/v1/customers/{person['id']}", json={"city": "Sharjah"})
        assert edited.status_code == 200, edited.text
    timeline = owner.get(f"/api/v1/customers/{person['id']}/timeline").json()["items"]
    edits = [item for item in timeline if item["title"] == "edited"]
    assert [(e["kind"], e["data"]["actor_id"]) for e in edits] == [
        ("interaction", str(tenant.user_ids[Role.MANAGER]))
    ]


def test_loaded_into_chat_is_recorded_by_the_client(owner) -> None:
    person = owner.post("/api/v1/customers", json={"name": "Majid"}).json()
    recorded = owner.post(
        f"/api/v1/customers/{person['id']}/interactions", json={"kind": "loaded_into_chat"}
    )
    assert recorded.status_code == 201
    assert recorded.json()["kind"] == "loaded_into_chat"
    bad = owner.post(f"/api/v1/customers/{person['id']}/interactions", json={"kind": "liked"})
    assert bad.status_code == 422


def test_timeline_merges_sources_newest_first_with_keyset_pages(owner) -> None:
    person = owner.post("/api/v1/customers", json={"name": "Dana", "email": "dana@x.example"})
    person_id = person.json()["id"]
    for index in range(3):
        owner.post(
            "/api/v1/conversations",
            json={"channel": "whatsapp", "session_id": f"t{index}",
                  "started_at": f"2030-01-0{index + 1}T09:00:00+04:00",
                  "customer": {"email": "dana@x.example"}},
        )  # fmt: skip
    owner.get(f"/api/v1/customers/{person_id}")
    owner.patch(f"/api/v1/customers/{person_id}", json={"city": "Ajman"})
    seen, cursor = [], None
    while True:
        params = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        page = owner.get(f"/api/v1/customers/{person_id}/timeline", params=params).json()
        seen.extend(page["items"])
        cursor = page["next_cursor"]
        if cursor is None:
            break
    kinds = {item["kind"] for item in seen}
    assert {"audit", "conversation", "interaction"} <= kinds
    stamps = [(item["occurred_at"], item["id"]) for item in seen]
    assert stamps == sorted(stamps, reverse=True)
    assert len({item["id"] for item in seen}) == len(seen)
    assert seen[0]["kind"] == "conversation"  # dated 2030, the newest entry


ENDPOINTS = [
    ("GET", "/api/v1/conversations/{conversation}", None),
    ("PUT", "/api/v1/conversations/{conversation}/customer", "own_customer"),
    ("PUT", "/api/v1/conversations/{own_conversation}/customer", "other_customer"),
    ("GET", "/api/v1/customers/{customer}/conversations", None),
    ("POST", "/api/v1/customers/{customer}/enrich", None),
    ("POST", "/api/v1/customers/{customer}/interactions", {"kind": "viewed"}),
    ("GET", "/api/v1/customers/{customer}/timeline", None),
]


@pytest.mark.parametrize(("method", "path", "body"), ENDPOINTS)
def test_another_companys_ids_answer_404(make_tenant, method, path, body) -> None:
    a, b = make_tenant(), make_tenant()
    with a.client() as a_client, b.client() as b_client:
        b_chat = b_client.post(
            "/api/v1/conversations",
            json={"channel": "web", "session_id": "x", "started_at": STARTED,
                  "customer": {"email": "b@x.example"}},
        ).json()["conversation"]  # fmt: skip
        a_chat = a_client.post(
            "/api/v1/conversations",
            json={"channel": "web", "session_id": "x", "started_at": STARTED,
                  "customer": {"email": "a@x.example"}},
        ).json()["conversation"]  # fmt: skip
        ids = {
            "conversation": b_chat["id"],
            "customer": b_chat["customer_id"],
            "own_conversation": a_chat["id"],
        }
        targets = {"own_customer": a_chat["customer_id"], "other_customer": b_chat["customer_id"]}
        payload = {"customer_id": targets[body]} if isinstance(body, str) else body
        response = a_client.request(method, path.format(**ids), json=payload)
        assert response.status_code == 404, response.text
        still = b_client.get(f"/api/v1/conversations/{b_chat['id']}").json()
        assert still["customer_id"] == b_chat["customer_id"]
