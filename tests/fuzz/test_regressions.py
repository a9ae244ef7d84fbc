"""Findings of the API fuzzer, kept as plain regression tests."""

from __future__ import annotations

import httpx


def test_utc_offset_beyond_postgres_range_is_422_not_500(owner: httpx.Client) -> None:
    """Python accepts offsets up to ±23:59, PostgreSQL only ±15:59 (found by schemathesis)."""
    body = {
        "session_id": "fuzz-offset",
        "channel": "web",
        "started_at": "0308-05-30T03:57:35.85080+19:59",
        "customer": {"name": "Offset"},
        "messages": [{"sender": "customer", "text": "hi"}],
    }
    response = owner.post("/api/v1/conversations", json=body)
    assert response.status_code == 422, response.text
    assert "time zone displacement out of range" in response.json()["errors"][0]["message"]
    assert owner.get("/api/v1/conversations").json()["items"] == []


def test_garbled_invoice_csv_is_422_not_500(owner: httpx.Client) -> None:
    """A lone carriage return inside an upload broke the CSV reader (found by schemathesis)."""
    garbled = b"0\r\xc2\xbb\xf1\x88\x85\x81"
    for kind in ("invoices", "payments"):
        response = owner.post(
            f"/api/v1/receivables/imports/{kind}", files={"file": ("f.csv", garbled)}
        )
        assert response.status_code == 422, response.text


def test_export_with_an_invalid_filter_is_422_before_streaming(owner: httpx.Client) -> None:
    """Filters were checked inside the stream, after the 200 had started (found by schemathesis)."""
    response = owner.get("/api/v1/exports/customers", params={"phone": "not-a-phone"})
    assert response.status_code == 422, response.text
    assert response.json()["errors"][0]["field"] == "phone"
