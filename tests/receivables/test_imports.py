"""CSV import of invoices and payments, over the API and the CLI, with per-row errors."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path


def _upload(client, kind: str, content: str) -> dict:
    response = client.post(
        f"/api/v1/receivables/imports/{kind}",
        files={"file": (f"{kind}.csv", content.encode(), "text/csv")},
    )
    assert response.status_code == 200, response.text
    return dict(response.json())


def test_invoice_import_keeps_good_rows_and_reports_bad_ones(owner, new_customer) -> None:
    customer = new_customer(owner, external_ref="ERP-7")
    content = (
        "number,customer_external_ref,issue_date,due_date,amount\n"
        "IMP-1,ERP-7,2026-01-01,2026-01-31,100.00\n"
        "IMP-2,ERP-404,2026-01-01,2026-01-31,50.00\n"
        "IMP-3,ERP-7,2026-02-01,2026-01-01,20.00\n"
        "IMP-4,ERP-7,2026-01-01,2026-01-31,-5\n"
        "IMP-1,ERP-7,2026-01-01,2026-01-31,10.00\n"
        "IMP-5,ERP-7,2026-01-01,2026-02-28,75.50\n"
    )
    report = _upload(owner, "invoices", content)
    assert report["imported"] == 2 and report["failed"] == 4
    errors = {(e["row"], e["field"]) for e in report["errors"]}
    assert (3, "customer_external_ref") in errors
    assert (5, "amount") in errors
    assert (6, "number") in errors
    assert any(row == 4 for row, _ in errors)
    balance = owner.get(f"/api/v1/customers/{customer['id']}/balance").json()
    assert balance["outstanding_balance"] == "175.50"


def test_payment_import_allocates_to_named_invoice_or_oldest(owner, new_customer) -> None:
    customer = new_customer(owner, external_ref="ERP-8")
    _upload(
        owner,
        "invoices",
        "number,customer_id,issue_date,due_date,amount\n"
        f"P-OLD,{customer['id']},2026-01-01,2026-01-10,100.00\n"
        f"P-NEW,{customer['id']},2026-01-01,2026-02-10,100.00\n",
    )
    report = _upload(
        owner,
        "payments",
        "customer_external_ref,amount,received_on,invoice_number,reference\n"
        "ERP-8,60.00,2026-02-01,P-NEW,bank 1\n"
        "ERP-8,50.00,2026-02-02,,bank 2\n"
        "ERP-8,abc,2026-02-02,,bank 3\n"
        "ERP-8,10.00,2026-02-02,NOPE,bank 4\n",
    )
    assert report["imported"] == 2
    assert {(e["row"], e["field"]) for e in report["errors"]} == {
        (4, "amount"),
        (5, "invoice_number"),
    }
    invoices = {
        i["number"]: i
        for i in owner.get("/api/v1/invoices", params={"customer_id": customer["id"]}).json()[
            "items"
        ]
    }
    assert invoices["P-NEW"]["amount_paid"] == "60.00"
    assert invoices["P-OLD"]["amount_paid"] == "50.00"


def test_missing_columns_are_reported_for_the_file(owner) -> None:
    response = owner.post(
        "/api/v1/receivables/imports/invoices",
        files={"file": ("x.csv", b"number,amount\nA,1\n", "text/csv")},
    )
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "file"


def _majlis(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "majlis.cli", *args],
        capture_output=True,
        text=True,
        env=os.environ.copy(),
        timeout=120,
    )


def test_cli_imports_then_dry_runs_reminders(tenant, owner, new_customer, tmp_path: Path) -> None:
    new_customer(owner, external_ref="ERP-9")
    invoices = tmp_path / "invoices.csv"
    invoices.write_text(
        "number,customer_external_ref,issue_date,due_date,amount\n"
        "CLI-1,ERP-9,2026-01-01,2026-01-31,100.00\n"
        "CLI-2,ERP-9,2026-01-01,2026-02-28,40.00\n"
        "CLI-3,NOBODY,2026-01-01,2026-02-28,40.00\n",
        encoding="utf-8",
    )
    imported = _majlis(
        "receivables", "import-invoices", str(invoices), "--company", str(tenant.company_id)
    )
    assert imported.returncode == 1  # one bad row
    assert "imported 2, failed 1" in imported.stdout
    assert "row 4: customer_external_ref" in imported.stderr

    dry = _majlis("reminders", "run", "--company", str(tenant.company_id), "--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert "would schedule 1 email(s) instead of 2 (50.00% fewer)" in dry.stdout
    assert owner.get("/api/v1/reminders").json()["items"] == []
