"""Creating a customer: duplicate warnings, or 409 with nothing written when asked to block."""

from __future__ import annotations

from tests.dedupe_api.conftest import MOHAMMED, create

ARABIC = {"name": "محمد المنصوري", "phone": "050 123 4567", "city": "دبي"}


def _count(client) -> int:
    return len(client.get("/api/v1/customers", params={"limit": 200}).json()["items"])


def test_create_returns_duplicate_warnings_without_blocking(owner) -> None:
    existing = create(owner, **MOHAMMED)
    first_warnings = existing["duplicate_warnings"]
    second = create(owner, **ARABIC)
    assert first_warnings == []
    assert [w["customer_id"] for w in second["duplicate_warnings"]] == [existing["id"]]
    assert second["duplicate_warnings"][0]["reasons"]


def test_block_on_duplicate_query_param_refuses_and_writes_nothing(owner) -> None:
    existing = create(owner, **MOHAMMED)
    before = _count(owner)
    response = owner.post("/api/v1/customers", params={"block_on_duplicate": "true"}, json=ARABIC)
    assert response.status_code == 409
    assert response.headers["content-type"].startswith("application/problem+json")
    problem = response.json()
    assert [m["customer_id"] for m in problem["matches"]] == [existing["id"]]
    assert "nothing was written" in problem["detail"]
    assert _count(owner) == before


def test_block_on_duplicate_body_field_refuses_too(owner) -> None:
    create(owner, **MOHAMMED)
    response = owner.post("/api/v1/customers", json={**ARABIC, "block_on_duplicate": True})
    assert response.status_code == 409


def test_block_on_duplicate_creates_when_nothing_matches(owner) -> None:
    create(owner, **MOHAMMED)
    response = owner.post(
        "/api/v1/customers", json={"name": "Priya Raman", "block_on_duplicate": True}
    )
    assert response.status_code == 201, response.text
    assert response.json()["duplicate_warnings"] == []
    assert "block_on_duplicate" not in response.json()


def test_new_customers_are_found_and_deleted_ones_are_not(owner) -> None:
    existing = create(owner, **MOHAMMED)
    url = "/api/v1/customers/duplicates/check"
    assert owner.post(url, json=ARABIC).json()["matches"]
    assert owner.delete(f"/api/v1/customers/{existing['id']}").status_code == 204
    assert owner.post(url, json=ARABIC).json()["matches"] == []
    assert owner.post(f"/api/v1/customers/{existing['id']}/restore").status_code == 200
    assert owner.post(url, json=ARABIC).json()["matches"]


def test_edited_customer_is_matched_on_its_new_details(owner) -> None:
    existing = create(owner, kind="organization", name="Blue Dune Trading")
    url = "/api/v1/customers/duplicates/check"
    draft = {"kind": "organization", "name": "Red Sea Marine", "trn": "100222333444555"}
    assert owner.post(url, json=draft).json()["matches"] == []
    patched = owner.patch(f"/api/v1/customers/{existing['id']}", json={"trn": draft["trn"]})
    assert patched.status_code == 200
    matches = owner.post(url, json=draft).json()["matches"]
    assert [m["customer_id"] for m in matches] == [existing["id"]]
