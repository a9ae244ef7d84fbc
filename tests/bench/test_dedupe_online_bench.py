"""The online duplicate-check bench, and `--reuse` measuring the company it loaded before."""

from __future__ import annotations

import io

import pytest
from rich.console import Console
from sqlalchemy import Engine, text

from majlis.bench import dedupe_online
from majlis.core.embedded import EmbeddedCluster

SCALE = 150


def _companies(admin_engine: Engine) -> int:
    with admin_engine.connect() as connection:
        return int(
            connection.scalar(
                text("SELECT count(*) FROM companies WHERE name LIKE :name"),
                {"name": dedupe_online.COMPANY_NAME + " %"},
            )
        )


def test_a_reuse_run_measures_the_company_loaded_before(
    cluster: EmbeddedCluster, admin_engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(dedupe_online, "DRAFTS", 12)
    monkeypatch.setattr(dedupe_online, "NAIVE_DRAFTS", 3)
    quiet = Console(file=io.StringIO())
    before = _companies(admin_engine)

    first = dedupe_online.online_check_scenario(SCALE, quiet)
    loaded = _companies(admin_engine)
    again = dedupe_online.online_check_scenario(SCALE, quiet, reuse=True)

    assert loaded == before + 1
    assert _companies(admin_engine) == loaded  # nothing loaded the second time
    assert again.extra["match_keys"] == first.extra["match_keys"] > SCALE
    for result in (first, again):
        assert result.ours.count == 12 and result.naive is not None and result.naive.count == 3
