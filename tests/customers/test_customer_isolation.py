"""Company B's ids answer 404 to company A's users on every customer endpoint."""

from __future__ import annotations

import pytest

ENDPOINTS = [
    ("GET", "/api/v1/customers/{id}", None),
    ("PATCH", "/api/v1/customers/{id}", {"city": "Dubai"}),
    ("DELETE", "/api/v1/customers/{id}", None),
    ("POST", "/api/v1/customers/{id}/restore", None),
    ("GET", "/api/v1/customers/{id}/history", None),
]


@pytest.mark.parametrize(("method", "path", "body"), ENDPOINTS)
def test_other_companys_customer_is_404(make_tenant, method: str, path: str, body) -> None:
    a, b = make_tenant(), make_tenant()
    with a.client() as a_client, b.client() as b_client:
        b_customer = b_client.post(
            "/api/v1/customers", json={"name": "Private", "trn": "100999888777666"}
        ).json()
        response = a_client.request(method, path.format(id=b_customer["id"]), json=body)
        assert response.status_code == 404, response.text
        assert b_client.get(f"/api/v1/customers/{b_customer['id']}").json()["name"] == "Private"
        # Lookups and lists never reveal B's rows either.
        assert (
            a_client.get("/api/v1/customers", params={"trn": "100999888777666"}).json()["items"]
            == []
        )
        # The same TRN is free in A: uniqueness is per company.
        assert (
            a_client.post(
                "/api/v1/customers", json={"name": "A's", "trn": "100999888777666"}
            ).status_code
            == 201
        )
