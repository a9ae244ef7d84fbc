"""The customers bench at a tiny scale, against `majlis serve` in its own process."""

from __future__ import annotations

import io
import time
from pathlib import Path

import pytest
from rich.console import Console
from tests.conftest import Tenant

from majlis.bench import customers, harness
from majlis.core.embedded import EmbeddedCluster
from majlis.core.permissions import Role

# uvicorn's default, which the test session's server keeps.
SERVER_KEEP_ALIVE_S = 5


def test_the_read_scenarios_time_a_served_app_beside_its_sql(
    cluster: EmbeddedCluster, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(harness, "RESULTS_DIR", tmp_path)  # the server's log
    only = ("listing", "lookups", "detail")
    results = customers.run(scale=200, console=Console(file=io.StringIO()), only=only)

    assert [result.name for result in results] == [
        "list page 1 (50 rows)",
        "list page 2 (keyset vs OFFSET)",
        "exact trn lookup",
        "exact email lookup",
        "exact phone lookup",
        "customer detail + last 50 history",
    ]
    for result in results:
        assert result.ours.count == customers.REPEAT, result.name
        # The HTTP time holds the SQL statement's time and the server's own work.
        assert result.ours.p50_ms > result.extra["sql_p50_ms"] > 0, result.name
        assert result.naive is not None and result.naive.count == customers.NAIVE_REPEAT


def test_the_bench_client_renews_a_connection_the_server_closed_as_idle(
    tenant: Tenant, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(harness, "IDLE_CONNECTION_S", 1.0)
    client = harness.KeepAliveClient(tenant.base_url, tenant.tokens[Role.OWNER])
    try:
        assert client.get("/api/v1/customers", limit=1)["items"] == []
        time.sleep(SERVER_KEEP_ALIVE_S + 0.5)  # the test server has closed it by now
        assert client.get("/api/v1/customers", limit=1)["items"] == []
    finally:
        client.close()
