"""The timeline merges registered sources newest first, with keyset pages."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from majlis.core.db import get_engine, tenant_session
from majlis.core.timeline import TimelineEntry, customer_timeline, older_than, timeline_source

BASE = datetime(2026, 1, 1, tzinfo=UTC)


def test_sources_merge_newest_first_across_pages(tenant, owner) -> None:
    customer_id = owner.post("/api/v1/customers", json={"name": "Timeline"}).json()["id"]
    owner.patch(f"/api/v1/customers/{customer_id}", json={"city": "Dubai"})
    synthetic = [
        TimelineEntry(BASE + timedelta(days=i), str(uuid.UUID(int=i + 1)), "test", f"event {i}")
        for i in range(5)
    ]

    @timeline_source("test-synthetic")
    def synthetic_source(session, actor, cid, before, limit):  # type: ignore[no-untyped-def]
        older = [e for e in synthetic if before is None or e.position < before]
        return sorted(older, key=lambda e: e.position, reverse=True)[:limit]

    try:
        with tenant_session(get_engine("app"), tenant.company_id) as session:
            actor = tenant.actor()
            seen, cursor = [], None
            while True:
                page = customer_timeline(
                    session, actor, uuid.UUID(customer_id), cursor=cursor, limit=3
                )
                seen += page.items
                cursor = page.next_cursor
                if cursor is None:
                    break
    finally:
        from majlis.core import timeline

        timeline._sources.pop("test-synthetic")
    # the real entries, newest: customer created and updated (audit), and the edit interaction
    assert sorted(e.kind for e in seen[:3]) == ["audit", "audit", "interaction"]
    assert [e.title for e in seen[3:]] == [f"event {i}" for i in range(4, -1, -1)]
    positions = [e.position for e in seen]
    assert positions == sorted(positions, reverse=True)


def test_older_than_without_position_is_always_true() -> None:
    from majlis.core.audit import AuditEntry

    assert str(older_than(AuditEntry.occurred_at, AuditEntry.id, None)) == "true"
