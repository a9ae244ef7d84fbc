"""Exports: the filtered set, formula injection neutralised, roles, tenancy."""

from __future__ import annotations

import csv
import io
from typing import Any

import httpx
import pytest
from openpyxl import load_workbook
from tests.conftest import Tenant

from majlis.core.permissions import Role
from majlis.exports.service import neutralise


def export_rows(client: httpx.Client, **params: Any) -> list[dict[str, str]]:
    response = client.get("/api/v1/exports/customers", params=params)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/csv")
    text = response.content.decode("utf-8-sig")
    return list(csv.DictReader(io.StringIO(text)))


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ('=HYPERLINK("http://evil")', '\'=HYPERLINK("http://evil")'),
        ("+cmd|' /C calc'!A0", "'+cmd|' /C calc'!A0"),
        ("-2+3+cmd|' /C calc'!A0", "'-2+3+cmd|' /C calc'!A0"),
        ("@SUM(1+1)", "'@SUM(1+1)"),
        ("\tTabbed", "'\tTabbed"),
        ("\rReturn", "'\rReturn"),
        ("+971501234567", "+971501234567"),
        ("-12.50", "-12.50"),
        ("محمد", "محمد"),
        (None, ""),
        (["vip", "=bad"], "vip; =bad"),
    ],
)
def test_formula_prefixes_are_neutralised(value: Any, expected: str) -> None:
    assert neutralise(value) == expected


def test_csv_export_of_the_filtered_set_is_escaped(owner: httpx.Client) -> None:
    owner.post("/api/v1/customers", json={"name": "=cmd|' /C calc'!A0", "emirate": "Dubai"})
    owner.post("/api/v1/customers", json={"name": "أحمد", "name_ar": "أحمد", "emirate": "Dubai"})
    owner.post("/api/v1/customers", json={"name": "Elsewhere", "emirate": "Ajman"})
    rows = export_rows(owner, emirate="Dubai")
    assert sorted(r["name"] for r in rows) == sorted(["'=cmd|' /C calc'!A0", "أحمد"])
    assert [r["name_ar"] for r in export_rows(owner, q="احمد")] == ["أحمد"]


def test_xlsx_export(owner: httpx.Client) -> None:
    owner.post("/api/v1/customers", json={"name": "@risky", "phone": "0501234567"})
    response = owner.get("/api/v1/exports/customers", params={"format": "xlsx"})
    assert response.status_code == 200
    sheet = load_workbook(io.BytesIO(response.content)).active
    rows = list(sheet.iter_rows(values_only=True))  # type: ignore[union-attr]
    header = list(rows[0])
    assert rows[1][header.index("name")] == "'@risky"
    assert rows[1][header.index("phone")] == "+971501234567"


def test_only_roles_allowed_to_export(tenant: Tenant) -> None:
    for role, status in (
        (Role.OWNER, 200),
        (Role.MANAGER, 200),
        (Role.ANALYST, 200),
        (Role.SALES, 403),
    ):
        with tenant.client(role) as client:
            assert client.get("/api/v1/exports/customers").status_code == status, role


def test_export_never_includes_another_company(make_tenant: Any, owner: httpx.Client) -> None:
    owner.post("/api/v1/customers", json={"name": "Company A Only"})
    with make_tenant().client() as other:
        assert export_rows(other) == []
