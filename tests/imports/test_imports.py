"""Imports: encodings, header mapping, per-row errors, matching policies, roles, tenancy."""

from __future__ import annotations

import io
import json
import time
from typing import Any

import httpx
import pytest
from openpyxl import Workbook
from tests.conftest import Tenant

from majlis.core.permissions import Role

HEADER = "Full Name,الاسم,E-mail,Mobile,TRN,Reference,Emirate,Type\n"


def upload(
    client: httpx.Client,
    content: bytes,
    file_name: str = "customers.csv",
    **form: Any,
) -> httpx.Response:
    data = {k: json.dumps(v) if k == "mapping" else str(v).lower() for k, v in form.items()}
    return client.post("/api/v1/imports", files={"file": (file_name, content)}, data=data)


def wait_until_applied(client: httpx.Client, job_id: str) -> dict[str, Any]:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        job = client.get(f"/api/v1/imports/{job_id}").json()
        if job["status"] == "completed":
            return dict(job)
        time.sleep(0.05)
    raise AssertionError(f"import {job_id} did not finish: {job}")


def errors_of(client: httpx.Client, job_id: str) -> list[tuple[int, str, str]]:
    items = client.get(f"/api/v1/imports/{job_id}/errors").json()["items"]
    return [(e["row"], e["column"], e["message"]) for e in items]


def customers(client: httpx.Client, **params: Any) -> list[dict[str, Any]]:
    return list(client.get("/api/v1/customers", params={"limit": 200, **params}).json()["items"])


def test_dry_run_previews_row_errors_and_writes_no_customer(owner: httpx.Client) -> None:
    csv = (
        HEADER
        + "Omar Khalid,عمر خالد,omar@example.ae,050 765 4321,100123456789012,R-1,Dubai,LLC\n"
        + ",بدون اسم,nobody@example.ae,,,,,\n"
        + "Bad Mail,,not-an-email,12,١٢٣,R-3,,Corporation\n"
    )
    response = upload(owner, ("\ufeff" + csv).encode(), dry_run=True)
    assert response.status_code == 202, response.text
    job = response.json()
    assert (job["status"], job["total_rows"], job["invalid_rows"]) == ("staged", 3, 2)
    assert job["encoding"] == "utf-8-sig"
    assert job["mapping"] == {
        "Full Name": "name",
        "الاسم": "name_ar",
        "E-mail": "email",
        "Mobile": "phone",
        "TRN": "trn",
        "Reference": "external_ref",
        "Emirate": "emirate",
        "Type": "business_type",
    }
    assert errors_of(owner, job["id"]) == [
        (3, "name", "is required"),
        (4, "email", "is not an e-mail address"),
        (4, "trn", "a TRN is exactly 15 digits"),
        (4, "phone", "is not a valid phone number"),
        (4, "business_type", "is not a known business type"),
    ]
    assert customers(owner) == []


def test_applying_a_dry_run_imports_the_valid_rows(owner: httpx.Client) -> None:
    csv = (
        HEADER
        + "Omar Khalid,عمر خالد,Omar@Example.ae,050 765 4321,100-1234-5678-9012,R-1,Dubai,llc\n"
    )
    job = upload(owner, csv.encode(), dry_run=True).json()
    assert owner.post(f"/api/v1/imports/{job['id']}/apply").status_code == 202
    finished = wait_until_applied(owner, job["id"])
    assert (finished["inserted"], finished["progress"]) == (1, 1.0)
    [customer] = customers(owner)
    assert (customer["name_ar"], customer["email"], customer["phone"], customer["trn"]) == (
        "عمر خالد",
        "omar@example.ae",
        "+971507654321",
        "100123456789012",
    )
    assert (customer["source"], customer["business_type"]) == ("import", "LLC")
    again = owner.post(f"/api/v1/imports/{job['id']}/apply")
    assert again.status_code == 422


def test_windows_1256_arabic_file(owner: httpx.Client) -> None:
    csv = "name,name_ar,phone\nFatima,فاطمة الزهراء,0501112233\n"
    job = upload(owner, csv.encode("cp1256")).json()
    assert job["encoding"] == "cp1256"
    wait_until_applied(owner, job["id"])
    assert [c["name_ar"] for c in customers(owner)] == ["فاطمة الزهراء"]


def test_xlsx_with_excel_quirks(owner: httpx.Client) -> None:
    workbook = Workbook()
    sheet = workbook.active
    sheet.append(["Customer Name", "Phone Number", "Active", None])
    sheet.append(["Excel Person", 971501234567, "yes", None])
    sheet.append(["Text Phone", "0502223344", "no", None])
    sheet.append([None, None, None, None])
    buffer = io.BytesIO()
    workbook.save(buffer)
    job = upload(owner, buffer.getvalue(), "customers.xlsx").json()
    assert job["total_rows"] == 2
    wait_until_applied(owner, job["id"])
    found = {c["name"]: (c["phone"], c["is_active"]) for c in customers(owner)}
    assert found == {
        "Excel Person": ("+971501234567", True),
        "Text Phone": ("+971502223344", False),
    }


def test_excel_csv_quirks_semicolons_and_quoted_numbers(owner: httpx.Client) -> None:
    csv = 'Name;Phone;Tags\r\nQuoted Phone;="0502223344";vip; wholesale\r\n;;\r\n'
    job = upload(owner, csv.encode()).json()
    assert (job["encoding"], job["total_rows"]) == ("utf-8-sig", 1)
    wait_until_applied(owner, job["id"])
    [customer] = customers(owner)
    assert (customer["phone"], customer["tags"]) == ("+971502223344", ["vip"])


def test_mapping_overrides_rename_and_ignore_columns(owner: httpx.Client) -> None:
    csv = "Client,Secret,Mobile\nMapped Person,do not import,0501231234\n"
    job = upload(owner, csv.encode(), mapping={"Client": "name", "Mobile": None}).json()
    assert job["mapping"] == {"Client": "name"}
    wait_until_applied(owner, job["id"])
    [customer] = customers(owner)
    assert (customer["name"], customer["phone"], customer["notes"]) == ("Mapped Person", None, None)
    bad = upload(owner, csv.encode(), mapping={"Client": "nickname"})
    assert bad.status_code == 422
    assert "nickname" in bad.text
    assert upload(owner, b"Foo,Bar\n1,2\n").status_code == 422


def _existing(owner: httpx.Client) -> str:
    response = owner.post(
        "/api/v1/customers",
        json={"name": "Old Name", "trn": "100999888777666", "email": "keep@example.ae"},
    )
    return str(response.json()["id"])


@pytest.mark.parametrize(
    ("policy", "expected"),
    [
        ("skip", {"inserted": 1, "updated": 0, "skipped": 2}),
        ("update", {"inserted": 1, "updated": 2, "skipped": 0}),
    ],
)
def test_rows_matching_existing_customers_follow_the_policy(
    tenant: Tenant, owner: httpx.Client, policy: str, expected: dict[str, int]
) -> None:
    _existing(owner)
    other = owner.post("/api/v1/customers", json={"name": "By Mail", "email": "mail@example.ae"})
    assert other.status_code == 201
    csv = (
        "name,trn,email,city\n"
        "New Name,100999888777666,,Ajman\n"
        "Mail Match,,MAIL@example.ae,Fujairah\n"
        "Brand New,,,Dubai\n"
    )
    job = upload(owner, csv.encode(), policy=policy).json()
    assert job["matched_rows"] == 2
    finished = wait_until_applied(owner, job["id"])
    assert {k: finished[k] for k in expected} == expected
    names = sorted(c["name"] for c in customers(owner))
    if policy == "update":
        assert names == ["Brand New", "Mail Match", "New Name"]
    else:
        assert names == ["Brand New", "By Mail", "Old Name"]


def test_create_policy_refuses_a_taken_identifier_and_repeats_in_the_file(
    owner: httpx.Client,
) -> None:
    existing = _existing(owner)
    csv = "name,trn,external_ref\nTaken,100999888777666,\nFirst,,REF-1\nSecond,,REF-1\n"
    job = upload(owner, csv.encode(), policy="create", dry_run=True).json()
    assert errors_of(owner, job["id"]) == [
        (2, "trn", f"already belongs to customer {existing}"),
        (4, "external_ref", "repeats row 3"),
    ]


def test_only_owners_and_managers_import(tenant: Tenant) -> None:
    csv = b"name\nSomeone\n"
    for role, status in (
        (Role.SALES, 403),
        (Role.ANALYST, 403),
        (Role.MANAGER, 202),
    ):
        with tenant.client(role) as client:
            assert upload(client, csv, dry_run=True).status_code == status, role


def test_another_company_cannot_see_or_apply_an_import(
    make_tenant: Any, owner: httpx.Client
) -> None:
    job = upload(owner, b"name\nPrivate\n", dry_run=True).json()
    with make_tenant().client() as other:
        for method, path in (
            ("GET", f"/api/v1/imports/{job['id']}"),
            ("GET", f"/api/v1/imports/{job['id']}/errors"),
            ("POST", f"/api/v1/imports/{job['id']}/apply"),
        ):
            assert other.request(method, path).status_code == 404, path
