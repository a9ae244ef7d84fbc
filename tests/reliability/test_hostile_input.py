"""Hostile input over real HTTP: each answer is a clear 4xx or a faithful round trip, never a
5xx, and a refused request writes nothing."""

from __future__ import annotations

import csv
import io
import socket
import time
import zipfile
from urllib.parse import urlsplit

import httpx
import pytest
from sqlalchemy import text

from majlis.core.boundary import DEFAULT_BODY_LIMIT, QUERY_LIMIT, body_limit
from majlis.core.db import get_engine

INJECTIONS = [
    "'; DROP TABLE customers; --",
    "' OR '1'='1",
    "\\'; SELECT pg_sleep(5); --",
    "1) UNION SELECT id, company_id FROM companies --",
    "%' AND 1=1 --",
]
# Zero-width space/joiners, right-to-left mark, bidi overrides and isolates, BOM.
INVISIBLES = "\u200b\u200c\u200d\u200f\u202e\u2066\u2069\ufeff"
TEXT_FIELDS = [
    "name",
    "name_ar",
    "business_name",
    "business_name_ar",
    "address_line1",
    "address_line2",
    "city",
    "postal_code",
    "address_ar",
    "notes",
]


def _customer_count(company_id) -> int:
    with get_engine("admin").connect() as conn:
        return conn.execute(
            text("SELECT count(*) FROM customers WHERE company_id = :c"), {"c": company_id}
        ).scalar_one()


@pytest.mark.parametrize("payload", INJECTIONS)
def test_sql_injection_is_data_everywhere(owner: httpx.Client, payload: str) -> None:
    created = owner.post("/api/v1/customers", json={"name": payload, "notes": payload})
    assert created.status_code == 201, created.text
    assert created.json()["name"] == payload
    for params in ({"q": payload}, {"city": payload}, {"sort": payload}, {"cursor": payload}):
        response = owner.get("/api/v1/customers", params=params)
        assert response.status_code in (200, 422), (params, response.text)
    found = owner.get("/api/v1/customers", params={"q": payload}).json()["items"]
    assert created.json()["id"] in [item["id"] for item in found]


def test_invisible_and_bidi_characters_are_removed_from_every_text_field(
    owner: httpx.Client,
) -> None:
    """They can only spoof or hide text (a reversed name, an unfindable duplicate)."""
    body = {field: f"Ali{INVISIBLES} Hassan" for field in TEXT_FIELDS}
    created = owner.post("/api/v1/customers", json=body)
    assert created.status_code == 201, created.text
    stored = owner.get(f"/api/v1/customers/{created.json()['id']}").json()
    assert {field: stored[field] for field in TEXT_FIELDS} == dict.fromkeys(
        TEXT_FIELDS, "Ali Hassan"
    )
    hits = owner.get("/api/v1/customers", params={"q": "ali hassan"}).json()["items"]
    assert created.json()["id"] in [hit["id"] for hit in hits]
    spoofed = owner.post("/api/v1/customers", json={"name": "x", "email": f"a{INVISIBLES}@b.ae"})
    assert spoofed.status_code == 422


def test_malformed_encodings_are_refused_and_write_nothing(tenant, owner: httpx.Client) -> None:
    before = _customer_count(tenant.company_id)
    for raw in (b'{"name": "\xff\xfe broken"}', b'{"name": "\xed\xa0\x80"}', b"\x00\x00{"):
        response = owner.post(
            "/api/v1/customers", content=raw, headers={"Content-Type": "application/json"}
        )
        assert response.status_code in (400, 422), response.text
        assert response.headers["content-type"] == "application/problem+json"
    nul = owner.post("/api/v1/customers", json={"name": "nul\x00byte"})
    assert nul.status_code == 422, nul.text
    assert _customer_count(tenant.company_id) == before


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/customers/..%2F..%2Fetc%2Fpasswd",
        "/api/v1/customers/%2e%2e/%2e%2e/companies",
        "/api/v1/customers/00000000-0000-0000-0000-000000000000/../../companies",
        "/api/v1/imports/..%5c..%5cwindows",
    ],
)
def test_path_traversal_finds_nothing(owner: httpx.Client, path: str) -> None:
    response = owner.get(path)
    assert response.status_code in (404, 405, 422), response.text


def test_upload_file_name_is_never_a_path(owner: httpx.Client) -> None:
    response = owner.post(
        "/api/v1/imports",
        files={"file": ("../../../../etc/passwd.csv", b"name,email\nSara,sara@example.ae\n")},
        data={"dry_run": "true"},
    )
    assert response.status_code in (201, 202), response.text
    assert response.json()["file_name"] == "passwd.csv"


def test_oversized_json_body_is_413_and_writes_nothing(tenant, owner: httpx.Client) -> None:
    before = _customer_count(tenant.company_id)
    response = owner.post("/api/v1/customers", json={"name": "x" * (DEFAULT_BODY_LIMIT + 1)})
    assert response.status_code == 413, response.text
    assert response.json()["limit"] == DEFAULT_BODY_LIMIT
    assert _customer_count(tenant.company_id) == before


def test_oversized_chunked_body_is_cut_off_while_streaming(owner: httpx.Client) -> None:
    def chunks():
        yield b'{"name": "'
        for _ in range(DEFAULT_BODY_LIMIT // 65_536 + 2):
            yield b"x" * 65_536
        yield b'"}'

    response = owner.post(
        "/api/v1/customers", content=chunks(), headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 413, response.text


def test_a_declared_huge_upload_is_refused_before_it_is_read(base_url: str, tenant) -> None:
    """Only the headers of a 10 GiB upload are sent; the answer comes without the body."""
    address = urlsplit(base_url)
    token = tenant.tokens["owner"]
    request = (
        "POST /api/v1/imports HTTP/1.1\r\n"
        f"Host: {address.netloc}\r\nAuthorization: Bearer {token}\r\n"
        "Content-Type: multipart/form-data; boundary=x\r\n"
        f"Content-Length: {10 * 1024**3}\r\n\r\n"
    )
    with socket.create_connection((address.hostname, address.port), timeout=30) as conn:
        conn.sendall(request.encode())
        status_line = conn.recv(4096).split(b"\r\n", 1)[0]
    assert b" 413 " in status_line, status_line
    assert body_limit("/api/v1/imports") > DEFAULT_BODY_LIMIT


def test_overlong_query_string_is_414(owner: httpx.Client) -> None:
    response = owner.get("/api/v1/customers", params={"q": "a" * (QUERY_LIMIT + 1)})
    assert response.status_code == 414, response.text


def test_api_responses_carry_security_headers(owner: httpx.Client) -> None:
    response = owner.get("/api/v1/customers")
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["x-frame-options"] == "DENY"
    assert response.headers["cache-control"] == "no-store"


def _import_jobs(company_id) -> int:
    with get_engine("admin").connect() as conn:
        return conn.execute(
            text("SELECT count(*) FROM import_jobs WHERE company_id = :c"), {"c": company_id}
        ).scalar_one()


def _upload(owner: httpx.Client, name: str, content: bytes) -> httpx.Response:
    return owner.post("/api/v1/imports", files={"file": (name, content)}, data={"dry_run": "true"})


def test_xlsx_zip_bomb_is_refused_before_it_is_inflated(tenant, owner: httpx.Client) -> None:
    bomb = io.BytesIO()
    with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("xl/worksheets/sheet1.xml", b"0" * (64 * 1024 * 1024))
    response = _upload(owner, "customers.xlsx", bomb.getvalue())
    assert response.status_code == 422, response.text
    assert "inflate" in response.json()["errors"][0]["message"]
    assert _import_jobs(tenant.company_id) == 0


def test_csv_with_a_monster_cell_is_refused_whole_with_its_line(
    tenant, owner: httpx.Client
) -> None:
    content = b"name,email\nSara,sara@example.ae\n" + b'"' + b"x" * 200_000 + b'",a@b.ae\n'
    response = _upload(owner, "customers.csv", content)
    assert response.status_code == 422, response.text
    assert response.json()["errors"][0]["message"].startswith("line 3")
    assert _import_jobs(tenant.company_id) == 0


def test_formulas_imported_from_a_file_leave_in_exports_neutralised(owner: httpx.Client) -> None:
    content = b'name,email\n"=HYPERLINK(""http://evil.example"")",f@example.ae\n+SUM(A1),s@ex.ae\n'
    job = owner.post(
        "/api/v1/imports", files={"file": ("formulas.csv", content)}, data={"dry_run": "false"}
    ).json()
    _wait_until_applied(owner, job["id"])
    exported = owner.get("/api/v1/exports/customers", params={"format": "csv"}).text
    names = {row["name"] for row in csv.DictReader(io.StringIO(exported.lstrip("\ufeff")))}
    assert names == {'\'=HYPERLINK("http://evil.example")', "'+SUM(A1)"}


def _wait_until_applied(owner: httpx.Client, job_id: str) -> None:
    for _ in range(600):
        if owner.get(f"/api/v1/imports/{job_id}").json()["status"] == "completed":
            return
        time.sleep(0.05)
    raise AssertionError("the import was never applied")
