"""Settings: with DATABASE_URL Majlis starts nothing; without it, the embedded cluster."""

from __future__ import annotations

from pathlib import Path

import pytest

from majlis.core.config import load_settings
from majlis.core.db import database_urls


def test_external_database_url_starts_nothing(monkeypatch, tmp_path: Path) -> None:
    home = tmp_path / "never-created"
    monkeypatch.setenv("MAJLIS_HOME", str(home))
    monkeypatch.setenv("DATABASE_URL", "postgresql+psycopg://majlis_app:x@db.example/majlis")
    monkeypatch.setenv(
        "MAJLIS_ADMIN_DATABASE_URL", "postgresql+psycopg://owner:y@db.example/majlis"
    )
    monkeypatch.setenv("MAJLIS_DB_POOL_SIZE", "3")
    settings = load_settings()
    assert not settings.embedded
    assert database_urls(settings) == (
        "postgresql+psycopg://majlis_app:x@db.example/majlis",
        "postgresql+psycopg://owner:y@db.example/majlis",
    )
    assert settings.pool_size == 3
    assert not home.exists()  # no cluster was initialised or started


def test_admin_url_defaults_to_database_url_and_bad_numbers_are_refused(monkeypatch) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgresql+psycopg://app@db/majlis")
    monkeypatch.delenv("MAJLIS_ADMIN_DATABASE_URL", raising=False)
    assert load_settings().admin_database_url == "postgresql+psycopg://app@db/majlis"
    monkeypatch.setenv("MAJLIS_DB_STATEMENT_TIMEOUT_MS", "soon")
    with pytest.raises(SystemExit, match="MAJLIS_DB_STATEMENT_TIMEOUT_MS must be an integer"):
        load_settings()
