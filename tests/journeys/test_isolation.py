"""Company B's ids answer 404 to company A on every journeys endpoint that takes an id."""

from __future__ import annotations

import pytest

RULE = {
    "name": "r",
    "trigger": "customer_created",
    "actions": [{"type": "add_tag", "tag": "x"}],
}
ENDPOINTS = [
    ("GET", "/api/v1/customers/{customer}/journey", None),
    ("POST", "/api/v1/customers/{customer}/journey/move", {"to_stage": "contacted"}),
    ("PATCH", "/api/v1/customers/{customer}/journey", {"deal_value": "10"}),
    ("GET", "/api/v1/tasks/{task}", None),
    ("POST", "/api/v1/tasks/{task}/claim", None),
    ("POST", "/api/v1/tasks/{task}/complete", None),
    ("GET", "/api/v1/automation/rules/{rule}", None),
    ("PUT", "/api/v1/automation/rules/{rule}", RULE),
]


@pytest.mark.parametrize(("method", "path", "body"), ENDPOINTS)
def test_other_companys_ids_are_404(make_tenant, method: str, path: str, body) -> None:
    a, b = make_tenant(), make_tenant()
    with a.client() as a_client, b.client() as b_client:
        customer = b_client.post("/api/v1/customers", json={"name": "B's"}).json()["id"]
        task = b_client.post(
            "/api/v1/tasks",
            json={"kind": "call", "title": "B", "due_at": "2030-01-01T09:00:00Z"},
        ).json()["id"]
        rule = b_client.post("/api/v1/automation/rules", json=RULE).json()["id"]
        url = path.format(customer=customer, task=task, rule=rule)
        response = a_client.request(method, url, json=body)
        assert response.status_code == 404, response.text
        # B's data is untouched and A's lists never show it.
        assert b_client.get(f"/api/v1/tasks/{task}").json()["status"] == "open"
        assert a_client.get("/api/v1/tasks").json()["items"] == []
        assert a_client.get("/api/v1/automation/rules").json() == []
        assert a_client.get("/api/v1/journeys/events").json()["items"] == []
        # A cannot hang a task on B's customer either.
        foreign = a_client.post(
            "/api/v1/tasks",
            json={
                "kind": "call",
                "title": "A",
                "due_at": "2030-01-01T09:00:00Z",
                "customer_id": customer,
            },
        )
        assert foreign.status_code == 422
