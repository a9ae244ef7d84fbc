"""A killed import leaves whole committed batches and resumes from the last one."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from sqlalchemy import Engine, text
from tests.conftest import Tenant

ROWS = 8_000
BATCH = 250


def _write_file(path: Path) -> None:
    lines = ["name,phone,email"]
    lines += [f"Resumable {i},050{i:07d},resumable{i}@example.ae" for i in range(ROWS)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def _majlis(*args: str) -> list[str]:
    return [sys.executable, "-m", "majlis.cli", *args]


def _job_state(admin_engine: Engine, company_id: object) -> tuple[object, int, str] | None:
    with admin_engine.connect() as conn:
        row = conn.execute(
            text("SELECT id, applied_through, status FROM import_jobs WHERE company_id = :c"),
            {"c": company_id},
        ).one_or_none()
    return None if row is None else (row[0], row[1], row[2])


def _customer_count(admin_engine: Engine, company_id: object) -> int:
    with admin_engine.connect() as conn:
        return int(
            conn.execute(
                text("SELECT count(*) FROM customers WHERE company_id = :c"), {"c": company_id}
            ).scalar_one()
        )


def test_killed_import_keeps_whole_batches_and_resumes(
    tenant: Tenant, admin_engine: Engine, tmp_path: Path
) -> None:
    source = tmp_path / "big.csv"
    _write_file(source)
    company = str(tenant.company_id)
    process = subprocess.Popen(
        _majlis(
            "import", "customers", str(source), "--company", company, "--batch-size", str(BATCH)
        ),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env={**os.environ, "COLUMNS": "120"},
    )
    deadline = time.monotonic() + 120
    state = None
    while time.monotonic() < deadline:
        state = _job_state(admin_engine, tenant.company_id)
        if state is not None and state[1] > 1:
            break
        time.sleep(0.01)
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=30)
    assert state is not None and state[2] == "running", process.stderr.read()  # type: ignore[union-attr]

    job_id, applied_through, status = _job_state(admin_engine, tenant.company_id)  # type: ignore[misc]
    assert status == "running" and applied_through < ROWS + 1
    # Whole batches only: every row up to applied_through, nothing after it.
    assert _customer_count(admin_engine, tenant.company_id) == applied_through - 1
    assert applied_through % BATCH == 0

    resumed = subprocess.run(
        _majlis("import", "resume", str(job_id), "--company", company, "--batch-size", "5000"),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert resumed.returncode == 0, resumed.stderr
    assert _job_state(admin_engine, tenant.company_id) == (job_id, ROWS + 1, "completed")
    assert _customer_count(admin_engine, tenant.company_id) == ROWS
