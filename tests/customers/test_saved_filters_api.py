"""`/api/v1/saved-filters`: the customer list's named filters over the JSON API."""

from __future__ import annotations

import uuid
from collections.abc import Callable

import httpx
from tests.conftest import Tenant

from majlis.core.permissions import Role


def test_save_list_and_delete_your_own(tenant: Tenant, owner: httpx.Client) -> None:
    body = {"name": " VIP chats ", "query": {"source": "chat", "tag": "vip"}, "shared": True}
    created = owner.post("/api/v1/saved-filters", json=body)
    assert created.status_code == 201, created.text
    saved = created.json()
    assert saved["name"] == "VIP chats" and saved["query"] == {"source": "chat", "tag": "vip"}
    assert saved["user_id"] == str(tenant.user_ids[Role.OWNER])
    private = owner.post("/api/v1/saved-filters", json={"name": "Mine only"}).json()
    with tenant.client(Role.ANALYST) as analyst:
        # Colleagues see shared filters, not private ones, and cannot delete either.
        names = [item["name"] for item in analyst.get("/api/v1/saved-filters").json()["items"]]
        assert names == ["VIP chats"]
        assert analyst.delete(f"/api/v1/saved-filters/{saved['id']}").status_code == 404
    assert [item["name"] for item in owner.get("/api/v1/saved-filters").json()["items"]] == [
        "Mine only",
        "VIP chats",
    ]
    assert owner.delete(f"/api/v1/saved-filters/{private['id']}").status_code == 204
    assert owner.delete(f"/api/v1/saved-filters/{private['id']}").status_code == 404


def test_bad_input_is_refused_with_field_messages(owner: httpx.Client) -> None:
    assert owner.post("/api/v1/saved-filters", json={"name": "Taken"}).status_code == 201
    taken = owner.post("/api/v1/saved-filters", json={"name": "Taken"})
    assert taken.status_code == 409
    for body in (
        {"name": ""},
        {"name": "x" * 81},
        {"name": "Odd keys", "query": {"cursor": "abc"}},
        {"name": "Odd values", "query": {"source": 5}},
        {"name": "Extra", "colour": "red"},
    ):
        refused = owner.post("/api/v1/saved-filters", json=body)
        assert refused.status_code == 422, body
    assert [item["name"] for item in owner.get("/api/v1/saved-filters").json()["items"]] == [
        "Taken"
    ]


def test_another_companys_filter_is_not_found(
    make_tenant: Callable[..., Tenant], owner: httpx.Client
) -> None:
    theirs = owner.post("/api/v1/saved-filters", json={"name": "Shared", "shared": True}).json()
    with make_tenant().client(Role.OWNER) as other:
        assert other.get("/api/v1/saved-filters").json()["items"] == []
        assert other.delete(f"/api/v1/saved-filters/{theirs['id']}").status_code == 404
        assert other.delete(f"/api/v1/saved-filters/{uuid.uuid4()}").status_code == 404
    assert len(owner.get("/api/v1/saved-filters").json()["items"]) == 1
