"""Company B's loyalty ids answer 404 to company A."""

from __future__ import annotations

import pytest

ENDPOINTS = [
    ("GET", "/api/v1/loyalty/members/{member}", None),
    ("GET", "/api/v1/loyalty/members/{member}/ledger", None),
    ("POST", "/api/v1/loyalty/members/{member}/earn", {"source": "visit"}),
    ("POST", "/api/v1/loyalty/members/{member}/adjust", {"points": 5, "reason": "x"}),
    ("POST", "/api/v1/loyalty/members/{member}/redeem", {"reward_id": "{reward}"}),
    ("POST", "/api/v1/loyalty/members/{own_member}/redeem", {"reward_id": "{reward}"}),
    ("POST", "/api/v1/loyalty/members", {"customer_id": "{customer}"}),
]


@pytest.mark.parametrize(("method", "path", "body"), ENDPOINTS)
def test_other_companys_ids_are_404(make_tenant, method: str, path: str, body) -> None:
    a, b = make_tenant(), make_tenant()
    with a.client() as a_client, b.client() as b_client:
        customer = b_client.post("/api/v1/customers", json={"name": "B's"}).json()["id"]
        member = b_client.post("/api/v1/loyalty/members", json={"customer_id": customer}).json()
        b_client.post(
            f"/api/v1/loyalty/members/{member['id']}/adjust", json={"points": 500, "reason": "seed"}
        )
        reward = b_client.post(
            "/api/v1/loyalty/rewards", json={"name": "B gift", "cost_points": 10}
        ).json()
        a_customer = a_client.post("/api/v1/customers", json={"name": "A's"}).json()["id"]
        own_member = a_client.post(
            "/api/v1/loyalty/members", json={"customer_id": a_customer}
        ).json()["id"]
        ids = {
            "member": member["id"],
            "reward": reward["id"],
            "customer": customer,
            "own_member": own_member,
        }
        filled = {k: v.format(**ids) if isinstance(v, str) else v for k, v in (body or {}).items()}
        response = a_client.request(method, path.format(**ids), json=filled)
        assert response.status_code == 404, response.text
        assert b_client.get(f"/api/v1/loyalty/members/{member['id']}").json()["balance"] == 500
        assert a_client.get("/api/v1/loyalty/rewards").json() == []
