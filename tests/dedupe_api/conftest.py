"""Helpers for the duplicate workflow tests: customers, scans, the review queue."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from majlis.core.audit import AuditEntry
from majlis.core.db import get_engine, tenant_session
from majlis.core.permissions import Actor
from majlis.dedupe import review, scan

MOHAMMED = {
    "name": "Mohammed Al Mansouri",
    "phone": "+971501234567",
    "email": "mohammed.mansouri@example.ae",
    "city": "Dubai",
    "date_of_birth": "1985-03-07",
}


def create(client: httpx.Client, **fields: Any) -> dict[str, Any]:
    response = client.post("/api/v1/customers", json=fields)
    assert response.status_code == 201, response.text
    return dict(response.json())


def check(client: httpx.Client, **fields: Any) -> list[dict[str, Any]]:
    response = client.post("/api/v1/customers/duplicates/check", json=fields)
    assert response.status_code == 200, response.text
    return list(response.json()["matches"])


def run_scan(company_id: uuid.UUID) -> scan.ScanResult:
    """A scan run the way the CLI runs it (scan row, audit, then the work)."""
    engine = get_engine("app")
    with tenant_session(engine, company_id) as session:
        scan_id = review.request_scan(session, Actor.system(company_id), in_worker=False).id
    return scan.run_scan(engine, company_id, scan_id)


def audit_actions(company_id: uuid.UUID, entity_id: str) -> list[str]:
    """Audit actions recorded on one entity, oldest first."""
    with tenant_session(get_engine("app"), company_id) as session:
        return list(
            session.scalars(
                select(AuditEntry.action)
                .where(AuditEntry.entity_id == uuid.UUID(entity_id))
                .order_by(AuditEntry.id)
            )
        )


def pending_pairs(client: httpx.Client, **params: Any) -> list[dict[str, Any]]:
    response = client.get("/api/v1/dedupe/pairs", params=params)
    assert response.status_code == 200, response.text
    return list(response.json()["items"])


@pytest.fixture
def duplicates(tenant, owner) -> dict[str, str]:
    """Two spellings of one person, one unrelated customer; ids by label."""
    return {
        "latin": create(owner, **MOHAMMED)["id"],
        "arabic": create(
            owner,
            name="محمد المنصوري",
            phone="050 123 4567",
            city="دبي",
            date_of_birth="1985-03-07",
        )["id"],
        "other": create(owner, name="Priya Raman", phone="+971559876543", city="Abu Dhabi")["id"],
    }
