"""Privacy rights over HTTP: export, erasure with its deadline, consent log, retention."""

from __future__ import annotations

import json
import uuid
from datetime import datetime, timedelta

import pytest
from sqlalchemy import text
from typer.testing import CliRunner

from majlis.cli import app as cli
from majlis.core.db import tenant_session
from majlis.core.permissions import Role

CHAT = {"channel": "whatsapp", "session_id": "p1", "started_at": "2026-02-01T10:00:00Z",
        "summary": "Asked about a villa in Al Barsha",
        "messages": [{"sender": "customer", "text": "أريد فيلا في البرشاء"}],
        "customer": {"name": "Reem Nasser", "email": "reem@x.example",
                     "phone": "0502223344"}}  # fmt: skip


def person_with_history(owner) -> str:
    customer_id = str(
        owner.post("/api/v1/conversations", json=CHAT).json()["conversation"]["customer_id"]
    )
    owner.patch(f"/api/v1/customers/{customer_id}", json={"date_of_birth": "1991-05-05"})
    owner.put(f"/api/v1/customers/{customer_id}/consents/email",
              json={"marketing_consent": True, "source": "web form"})  # fmt: skip
    return customer_id


def test_export_holds_everything_and_is_recorded(owner, tenant) -> None:
    customer_id = person_with_history(owner)
    export = owner.get(f"/api/v1/customers/{customer_id}/export")
    assert export.status_code == 200
    data = export.json()
    assert data["format"] == "majlis.customer-export/1"
    assert data["profile"]["email"] == "reem@x.example"
    assert data["conversations"][0]["messages"][0]["text"] == "أريد فيلا في البرشاء"
    assert data["consents"][0]["channel"] == "email"
    assert {"customer.created", "customer.updated"} <= {e["action"] for e in data["audit"]}
    timeline = owner.get(f"/api/v1/customers/{customer_id}/timeline").json()["items"]
    assert any(i["kind"] == "interaction" and i["title"] == "exported" for i in timeline)
    with tenant.client(Role.SALES) as sales:
        assert sales.get(f"/api/v1/customers/{customer_id}/export").status_code == 403

    result = CliRunner().invoke(
        cli, ["privacy", "export", "--company", str(tenant.company_id), "--customer", customer_id]
    )
    assert result.exit_code == 0, result.output
    # The test server shares this process, and CliRunner captures its stdout too: a request
    # finishing meanwhile (an earlier page's event stream) logs a line before the document.
    document = result.output[result.output.index("{\n") :]
    assert json.loads(document)["profile"]["id"] == customer_id


def test_consent_per_channel_with_a_log(owner) -> None:
    customer_id = person_with_history(owner)
    url = f"/api/v1/customers/{customer_id}/consents"
    owner.put(f"{url}/sms", json={"marketing_consent": False, "opted_out": True,
                                  "source": "replied STOP", "note": "SMS keyword"})  # fmt: skip
    owner.put(f"{url}/email", json={"marketing_consent": False, "source": "unsubscribe link"})
    both = owner.put(f"{url}/whatsapp", json={"marketing_consent": True, "opted_out": True,
                                             "source": "x"})  # fmt: skip
    assert both.status_code == 422
    consents = owner.get(url).json()
    current = {c["channel"]: (c["marketing_consent"], c["opted_out"]) for c in consents["current"]}
    assert current == {"email": (False, False), "sms": (False, True)}
    assert [(e["channel"], e["source"]) for e in consents["log"]] == [
        ("email", "unsubscribe link"),
        ("sms", "replied STOP"),
        ("email", "web form"),
    ]
    timeline = owner.get(f"/api/v1/customers/{customer_id}/timeline").json()["items"]
    assert any(i["kind"] == "consent" and i["title"] == "sms: opted out" for i in timeline)
    assert (
        owner.put(f"{url}/fax", json={"marketing_consent": True, "source": "x"}).status_code == 422
    )


def test_erasure_is_logged_with_a_deadline_then_anonymises_and_keeps_the_link(owner) -> None:
    customer_id = person_with_history(owner)
    requested = owner.post(
        f"/api/v1/customers/{customer_id}/erasure-requests",
        json={"reason": "Customer asked by email to be forgotten", "requested_by": "Reem Nasser"},
    )
    assert requested.status_code == 201
    request = requested.json()
    received = datetime.fromisoformat(request["received_at"])
    assert datetime.fromisoformat(request["deadline_at"]) - received == timedelta(days=30)
    assert request["status"] == "pending" and request["recorded_by"] is not None
    assert owner.get("/api/v1/erasure-requests", params={"overdue": True}).json()["items"] == []

    done = owner.post(f"/api/v1/erasure-requests/{request['id']}/carry-out")
    assert done.status_code == 200, done.text
    outcome = done.json()
    assert outcome["status"] == "completed"
    assert outcome["outcome"]["conversations_anonymised"] == 1
    assert outcome["outcome"]["audit_entries_redacted"] >= 2
    profile = owner.get(f"/api/v1/customers/{customer_id}").json()
    assert profile["name"] == outcome["pseudonym"]
    assert (profile["email"], profile["phone"], profile["date_of_birth"]) == (None, None, None)
    chat = owner.get(f"/api/v1/customers/{customer_id}/conversations").json()["items"][0]
    assert (chat["contact_name"], chat["summary"], chat["messages"]) == (None, None, [])
    export = owner.get(f"/api/v1/customers/{customer_id}/export").json()
    # Only the request log still names who asked: the law requires keeping it.
    assert export.pop("erasure_requests")[0]["requested_by"] == "Reem Nasser"
    assert "reem" not in json.dumps(export).lower()
    again = owner.post(f"/api/v1/erasure-requests/{request['id']}/carry-out")
    assert again.status_code == 409


def test_only_owners_carry_out_erasure_and_a_reason_is_required(owner, tenant) -> None:
    customer_id = person_with_history(owner)
    missing = owner.post(f"/api/v1/customers/{customer_id}/erasure-requests",
                         json={"reason": "", "requested_by": "Reem"})  # fmt: skip
    assert missing.status_code == 422
    request = owner.post(
        f"/api/v1/customers/{customer_id}/erasure-requests",
        json={"reason": "PDPL request", "requested_by": "Reem"},
    ).json()
    with tenant.client(Role.MANAGER) as manager:
        assert (
            manager.post(f"/api/v1/erasure-requests/{request['id']}/carry-out").status_code == 403
        )


def test_retention_purges_expired_data_and_is_audited(owner, tenant, app_engine) -> None:
    assert owner.get("/api/v1/privacy/retention").json() == {"retention_days": 730}
    assert owner.put("/api/v1/privacy/retention", json={"retention_days": 5}).status_code == 422
    assert owner.put("/api/v1/privacy/retention", json={"retention_days": 365}).status_code == 200
    keep = owner.post("/api/v1/customers", json={"name": "Recently deleted"}).json()
    gone = owner.post("/api/v1/customers", json={"name": "Long gone"}).json()
    owner.delete(f"/api/v1/customers/{keep['id']}")
    owner.delete(f"/api/v1/customers/{gone['id']}")
    old_chat = {**CHAT, "session_id": "old", "started_at": "2020-01-01T10:00:00Z"}
    owner.post("/api/v1/conversations", json=old_chat)
    _age(app_engine, tenant.company_id, uuid.UUID(gone["id"]), days=400)

    result = CliRunner().invoke(cli, ["privacy", "purge", "--company", str(tenant.company_id)])
    assert result.exit_code == 0, result.output
    assert "purged 1 customer(s) and 1 conversation(s)" in result.output
    assert owner.get(f"/api/v1/customers/{gone['id']}/history").status_code == 404
    assert owner.get(f"/api/v1/customers/{keep['id']}/history").status_code == 200
    with tenant_session(app_engine, tenant.company_id) as session:
        actions = session.scalars(
            text("SELECT action FROM audit_log WHERE company_id = :c ORDER BY id"),
            {"c": tenant.company_id},
        ).all()
    assert {"customer.purged", "retention.purged", "company.retention_changed"} <= set(actions)
    with tenant.client(Role.MANAGER) as manager:
        assert manager.post("/api/v1/privacy/retention/purge").status_code == 403


def _age(engine, company_id: uuid.UUID, customer_id: uuid.UUID, days: int) -> None:
    with tenant_session(engine, company_id) as session:
        session.execute(
            text("UPDATE customers SET deleted_at = now() - make_interval(days => :d)"
                 " WHERE company_id = :c AND id = :id"),
            {"d": days, "c": company_id, "id": customer_id},
        )  # fmt: skip


ENDPOINTS = [
    ("GET", "/api/v1/customers/{customer}/export", None),
    ("GET", "/api/v1/customers/{customer}/consents", None),
    (
        "PUT",
        "/api/v1/customers/{customer}/consents/email",
        {"marketing_consent": True, "source": "x"},
    ),
    (
        "POST",
        "/api/v1/customers/{customer}/erasure-requests",
        {"reason": "asked", "requested_by": "Someone"},
    ),
    ("GET", "/api/v1/erasure-requests/{request}", None),
    ("POST", "/api/v1/erasure-requests/{request}/carry-out", None),
]


@pytest.mark.parametrize(("method", "path", "body"), ENDPOINTS)
def test_another_companys_ids_answer_404(make_tenant, method, path, body) -> None:
    a, b = make_tenant(), make_tenant()
    with a.client() as a_client, b.client() as b_client:
        customer = b_client.post("/api/v1/customers", json={"name": "Private B"}).json()
        request = b_client.post(
            f"/api/v1/customers/{customer['id']}/erasure-requests",
            json={"reason": "asked", "requested_by": "Private B"},
        ).json()
        ids = {"customer": customer["id"], "request": request["id"]}
        response = a_client.request(method, path.format(**ids), json=body)
        assert response.status_code == 404, response.text
        assert (
            b_client.get(f"/api/v1/erasure-requests/{request['id']}").json()["status"] == "pending"
        )
        assert a_client.get("/api/v1/erasure-requests").json()["items"] == []
