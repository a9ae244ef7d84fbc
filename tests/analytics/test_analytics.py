"""Analytics from the materialized summary: figures, refresh, roles and tenant isolation."""

from __future__ import annotations

from typing import Any

import httpx
import psycopg
import pytest
from sqlalchemy import Engine, text
from tests.conftest import Tenant

from majlis.core.embedded import APP_ROLE, EmbeddedCluster
from majlis.core.permissions import Role


def summary(client: httpx.Client, refresh: bool = False) -> dict[str, Any]:
    response = (
        client.post("/api/v1/analytics/customers/refresh")
        if refresh
        else client.get("/api/v1/analytics/customers")
    )
    assert response.status_code == 200, response.text
    return dict(response.json())


def buckets(body: dict[str, Any], dimension: str) -> dict[str, int]:
    return {b["bucket"]: b["customers"] for b in body["dimensions"].get(dimension, [])}


def test_summary_counts_by_dimension_after_refresh(owner: httpx.Client) -> None:
    owner.post("/api/v1/customers", json={"name": "A", "business_type": "LLC", "risk_score": 8})
    owner.post("/api/v1/customers", json={"name": "B", "business_type": "LLC", "is_active": False})
    owner.post("/api/v1/customers", json={"name": "C"})
    body = summary(owner, refresh=True)
    assert buckets(body, "total") == {"all": 3}
    assert buckets(body, "business_type") == {"LLC": 2, "unknown": 1}
    assert buckets(body, "risk_band") == {"high": 1, "unscored": 2}
    assert buckets(body, "activity") == {"inactive": 1, "dormant": 2}
    assert buckets(body, "source") == {"manual": 3}
    assert sum(p["new_customers"] for p in body["daily"]) == 3
    assert body["weekly"][-1]["cumulative_customers"] == 3
    assert body["refreshed_at"] is not None
    assert summary(owner) == body


def test_refresh_on_demand_is_for_editors(tenant: Tenant) -> None:
    for role, status in ((Role.ANALYST, 403), (Role.SALES, 403), (Role.MANAGER, 200)):
        with tenant.client(role) as client:
            assert client.post("/api/v1/analytics/customers/refresh").status_code == status
    with tenant.client(Role.ANALYST) as analyst:
        assert analyst.get("/api/v1/analytics/customers").status_code == 200


def test_company_a_cannot_read_company_b_analytics(make_tenant: Any, owner: httpx.Client) -> None:
    owner.post("/api/v1/customers", json={"name": "Counted in A"})
    summary(owner, refresh=True)
    with make_tenant().client() as other:
        body = summary(other)
        assert body["dimensions"] == {} and body["daily"] == [] and body["weekly"] == []


def test_app_role_has_no_direct_access_to_the_matview(
    cluster: EmbeddedCluster, tenant: Tenant
) -> None:
    with psycopg.connect(
        host=str(cluster.socket_dir),
        port=cluster.port,
        dbname="majlis",
        user=APP_ROLE,
        password=cluster._password(APP_ROLE),
    ) as conn:
        conn.execute("SELECT set_config('majlis.company_id', %s, false)", (str(tenant.company_id),))
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("SELECT * FROM customer_analytics_summary")


def test_summary_is_refreshed_concurrently(admin_engine: Engine) -> None:
    with admin_engine.connect() as conn:
        unique = conn.execute(
            text(
                "SELECT count(*) FROM pg_indexes WHERE tablename = 'customer_analytics_summary'"
                " AND indexdef LIKE 'CREATE UNIQUE%'"
            )
        ).scalar_one()
        definition = conn.execute(
            text("SELECT prosrc FROM pg_proc WHERE proname = 'refresh_customer_analytics'")
        ).scalar_one()
    assert unique == 1 and "CONCURRENTLY" in definition
