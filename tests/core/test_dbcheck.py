"""`majlis db check`: green on a healthy database, red with a clear message after corruption."""

from __future__ import annotations

import os
import subprocess
import sys

from sqlalchemy import Engine, text

from majlis.core.dbcheck import run_checks


def _majlis(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "majlis.cli", *args],
        capture_output=True,
        text=True,
        env=os.environ.copy(),
        timeout=120,
    )


def test_db_check_green_then_red_after_a_trn_is_corrupted(
    admin_engine: Engine, tenant, owner
) -> None:
    customer = owner.post(
        "/api/v1/customers", json={"name": "Checked", "trn": "100123123123123"}
    ).json()
    assert all(result.ok for result in run_checks(admin_engine)), [
        r for r in run_checks(admin_engine) if not r.ok
    ]
    healthy = _majlis("db", "check")
    assert healthy.returncode == 0, healthy.stdout + healthy.stderr
    assert "RLS enabled and forced" in healthy.stdout

    with admin_engine.begin() as conn:
        conn.execute(
            text("UPDATE customers SET trn = '12345' WHERE id = :id"), {"id": customer["id"]}
        )
    try:
        broken = _majlis("db", "check")
        assert broken.returncode == 1
        assert (
            f"company {tenant.company_id}: 1 customer TRN(s) are not exactly 15 digits"
            in broken.stderr
        )
    finally:
        with admin_engine.begin() as conn:
            conn.execute(
                text("UPDATE customers SET trn = '100123123123123' WHERE id = :id"),
                {"id": customer["id"]},
            )


def test_db_check_names_a_table_whose_rls_was_switched_off(admin_engine: Engine) -> None:
    with admin_engine.begin() as conn:
        conn.execute(text("ALTER TABLE customers NO FORCE ROW LEVEL SECURITY"))
    try:
        problems = [p for r in run_checks(admin_engine) for p in r.problems]
        assert problems == ["customers: row-level security is not forced"]
    finally:
        with admin_engine.begin() as conn:
            conn.execute(text("ALTER TABLE customers FORCE ROW LEVEL SECURITY"))
