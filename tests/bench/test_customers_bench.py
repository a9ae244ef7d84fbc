"""The customers bench at a tiny scale, against `majlis serve` in its own process."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from rich.console import Console

from majlis.bench import customers, harness
from majlis.core.embedded import EmbeddedCluster


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
