"""Keyset pages on (moment, id), through real HTTP: walking them, and foreign cursors refused."""

from __future__ import annotations

import httpx

from majlis.core.pagination import encode_cursor


def _history(owner: httpx.Client, customer_id: str, **params: object) -> httpx.Response:
    return owner.get(f"/api/v1/customers/{customer_id}/history", params=params)


def test_an_audit_trail_walks_newest_first_one_page_at_a_time(owner: httpx.Client) -> None:
    customer = owner.post("/api/v1/customers", json={"name": "Paged Trail"}).json()
    url = f"/api/v1/customers/{customer['id']}"
    for city in ("Dubai", "Sharjah", "Ajman"):
        etag = owner.get(url).headers["ETag"]
        assert owner.patch(url, json={"city": city}, headers={"If-Match": etag}).is_success

    seen, cursor = [], None
    while True:
        page = _history(owner, customer["id"], limit=2, **({"cursor": cursor} if cursor else {}))
        body = page.json()
        seen += [entry["action"] for entry in body["items"]]
        cursor = body["next_cursor"]
        if not cursor:
            break
    assert seen == ["customer.updated"] * 3 + ["customer.created"]


def test_a_cursor_that_decodes_but_names_no_moment_is_refused_not_a_server_error(
    owner: httpx.Client,
) -> None:
    customer = owner.post("/api/v1/customers", json={"name": "Foreign Cursor"}).json()
    for cursor in (encode_cursor(["yesterday", "not-an-id"]), encode_cursor([1, 2])):
        refused = _history(owner, customer["id"], cursor=cursor)
        assert refused.status_code == 422, refused.text
        assert refused.headers["content-type"].startswith("application/problem+json")
    tasks = owner.get("/api/v1/tasks", params={"cursor": encode_cursor(["soon", "x"])})
    assert tasks.status_code == 422
