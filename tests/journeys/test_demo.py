"""The journeys demo loads once and leaves customers at several stages."""

from __future__ import annotations

from majlis.core.db import get_engine, tenant_session
from majlis.journeys.demo import load_demo_data


def test_demo_data_loads_idempotently(tenant, owner) -> None:
    for i in range(8):
        owner.post("/api/v1/customers", json={"name": f"Demo {i}", "email": f"d{i}@x.example"})
    with tenant_session(get_engine("app"), tenant.company_id) as session:
        lines = load_demo_data(session, tenant.actor())
    assert len(lines) == 3 and "fired 3 time(s)" in lines[1]
    with tenant_session(get_engine("app"), tenant.company_id) as session:
        assert load_demo_data(session, tenant.actor()) == ["journeys: demo data already loaded"]
    tasks = owner.get("/api/v1/tasks").json()["items"]
    assert len(tasks) == 8  # five queued plus three the proposal rule created
    assert len(owner.get("/api/v1/loyalty/rewards").json()) == 2
