"""`majlis db health` reads every section from a live cluster."""

from __future__ import annotations

from sqlalchemy import Engine

from majlis.core.dbhealth import database_health


def test_health_report_has_every_section(admin_engine: Engine) -> None:
    sections = {s.title: s for s in database_health(admin_engine, limit=5)}
    assert set(sections) == {
        "slowest statements (mean ms)",
        "index usage by table",
        "unused indexes (never scanned, not unique)",
        "largest tables and indexes",
        "last analyze / vacuum",
    }
    assert "customers" in {row[0] for row in sections["largest tables and indexes"].rows}
    assert sections["slowest statements (mean ms)"].columns[:2] == ["statement", "calls"]
