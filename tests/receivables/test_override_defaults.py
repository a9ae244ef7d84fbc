"""Without saved reminder overrides a customer inherits everything (route-table finding)."""

from __future__ import annotations

import httpx


def test_customer_without_overrides_reads_as_inheriting(owner: httpx.Client) -> None:
    customer = owner.post("/api/v1/customers", json={"name": "No overrides"}).json()
    response = owner.get(f"/api/v1/customers/{customer['id']}/reminder-settings")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["opt_out"] is False
    assert body["consolidation"] is None and body["channel"] is None
