"""Health, metrics, request ids and the CLI contract."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid

import httpx


def _majlis(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "majlis.cli", *args],
        capture_output=True,
        text=True,
        env=os.environ.copy(),
        timeout=120,
    )


def test_healthz_reports_database_and_migrations(base_url: str) -> None:
    response = httpx.get(f"{base_url}/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "ok", "migrations_at_head": True}


def test_metrics_and_request_ids(base_url: str) -> None:
    response = httpx.get(f"{base_url}/healthz", headers={"X-Request-ID": "trace-me-42"})
    assert response.headers["x-request-id"] == "trace-me-42"
    assert httpx.get(f"{base_url}/healthz").headers["x-request-id"]
    metrics = httpx.get(f"{base_url}/metrics").text
    assert 'majlis_http_requests_total{method="GET",route="/healthz",status="200"}' in metrics


def test_openapi_documents_the_customer_api(base_url: str) -> None:
    spec = httpx.get(f"{base_url}/openapi.json", timeout=60).json()  # a large app: seconds
    assert "/api/v1/customers/{customer_id}/history" in spec["paths"]
    assert httpx.get(f"{base_url}/docs").status_code == 200


def test_cli_company_user_token_flow(base_url: str, cluster) -> None:
    company = _majlis("company", "create", "CLI Trading", "--country", "AE")
    assert company.returncode == 0, company.stderr
    company_id = company.stdout.strip().splitlines()[-1]
    uuid.UUID(company_id)
    email = f"cli-{uuid.uuid4().hex[:6]}@example.com"
    user = _majlis("user", "create", email, "--company", company_id, "--role", "manager")
    assert user.returncode == 0, user.stderr
    token = _majlis("token", "create", "--user", email, "--company", company_id)
    assert token.returncode == 0, token.stderr
    raw = token.stdout.strip().splitlines()[-1]
    me = httpx.get(f"{base_url}/api/v1/me", headers={"Authorization": f"Bearer {raw}"}).json()
    assert me == {
        "user_id": me["user_id"],
        "company_id": company_id,
        "company_name": "CLI Trading",
        "role": "manager",
    }


def test_cli_errors_are_one_line_and_non_zero(cluster) -> None:
    bad_company = _majlis(
        "user", "create", "x@example.com", "--company", "not-a-uuid", "--role", "sales"
    )
    assert bad_company.returncode == 1
    assert (
        bad_company.stderr.strip()
        == "error: --company must be a company id (a UUID), got 'not-a-uuid'"
    )
    bad_email = _majlis("user", "create", "nope", "--company", str(uuid.uuid4()), "--role", "sales")
    assert bad_email.returncode == 1
    assert bad_email.stderr.count("\n") == 1 and bad_email.stderr.startswith("error: email:")
    bad_country = _majlis("company", "create", "X", "--country", "FR")
    assert bad_country.returncode == 1 and "country" in bad_country.stderr


def test_db_status_and_url(cluster) -> None:
    status = _majlis("db", "status")
    assert status.returncode == 0 and "running: True" in status.stdout
    url = _majlis("db", "url")
    assert url.stdout.startswith("postgresql+psycopg://majlis_app:")
