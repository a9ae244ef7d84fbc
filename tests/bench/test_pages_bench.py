"""The pages bench at a tiny scale: every page answers 200 and is timed by the server."""

from __future__ import annotations

import io

from rich.console import Console

from majlis.bench import cli, pages
from majlis.core.embedded import EmbeddedCluster


def test_every_page_answers_and_carries_its_server_time(cluster: EmbeddedCluster) -> None:
    results = pages.run(scale=300, console=Console(file=io.StringIO()), repeat=2)

    names = [result.name for result in results]
    assert len(names) == len(set(names))
    for expected in ("customers list, page 1", "journey board", "dashboard", "portal card"):
        assert expected in names
    assert any(name.startswith("customers list, page ") and "cursor" in name for name in names)
    assert sum(name.startswith("settings: ") for name in names) == 6
    for result in results:
        assert result.extra["statuses"] == {200: 2}, (result.name, result.extra)
        assert result.ours.count == 2 and result.ours.p50_ms > 0, result.name
        assert result.extra["client_p50_ms"] >= result.ours.p50_ms, result.name
        assert result.target == "≤ 50 ms"
    naive = {result.name for result in results if result.naive is not None}
    assert naive == {name for name in names if name.startswith("customers list")}


def test_the_suite_is_registered() -> None:
    assert "pages" in cli.SUITES
