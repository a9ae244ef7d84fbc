"""Manual links survive automatic sync; the backfill links history idempotently."""

from __future__ import annotations

import uuid

from sqlalchemy import text
from typer.testing import CliRunner

from majlis.cli import app as cli
from majlis.core.db import tenant_session
from majlis.core.i18n import normalize_text

STARTED = "2026-03-01T10:00:00+04:00"


def chat(session_id: str, **customer: object) -> dict[str, object]:
    return {"channel": "web_chat", "session_id": session_id, "started_at": STARTED,
            "customer": customer}  # fmt: skip


def test_a_manual_relink_is_never_undone_by_sync(owner, conversation_count) -> None:
    auto = owner.post("/api/v1/conversations", json=chat("m1", email="amal@x.example")).json()
    right = owner.post("/api/v1/customers", json={"name": "Amal (the right one)"}).json()
    conversation_id = auto["conversation"]["id"]
    relinked = owner.put(
        f"/api/v1/conversations/{conversation_id}/customer", json={"customer_id": right["id"]}
    )
    assert relinked.status_code == 200
    assert relinked.json()["link_source"] == "manual"
    assert conversation_count(right["id"]) == 1
    assert conversation_count(auto["conversation"]["customer_id"]) == 0

    # Re-sending the chat and running the backfill leave the manual link alone.
    again = owner.post("/api/v1/conversations", json=chat("m1", email="amal@x.example"))
    assert again.json()["conversation"]["customer_id"] == right["id"]
    result = CliRunner().invoke(cli, ["conversations", "backfill", "--company", _company(owner)])
    assert result.exit_code == 0, result.output
    stored = owner.get(f"/api/v1/conversations/{conversation_id}").json()
    assert (stored["customer_id"], stored["link_source"]) == (right["id"], "manual")
    history = owner.get(f"/api/v1/customers/{right['id']}/timeline").json()["items"]
    assert any(item["kind"] == "conversation" for item in history)


def _company(client) -> str:
    return str(client.get("/api/v1/me").json()["company_id"])


def test_backfill_links_history_resumably_and_reports_a_summary(owner, tenant, app_engine) -> None:
    twins = [owner.post("/api/v1/customers", json={"name": "Yousef Saleh"}).json() for _ in "ab"]
    owner.post("/api/v1/conversations", json=chat("h1", name="Yousef Saleh"))
    owner.post("/api/v1/conversations", json=chat("h2", name="Brand New", email="bn@x.example"))
    _insert_unlinked_history(app_engine, tenant.company_id, count=3)
    assert owner.get("/api/v1/conversations/sync-status").json()["unlinked"] == 4
    owner.delete(f"/api/v1/customers/{twins[1]['id']}")  # the name is no longer ambiguous

    runner = CliRunner()
    company = str(tenant.company_id)
    first = runner.invoke(
        cli, ["conversations", "backfill", "--company", company, "--batch-size", "100"]
    )
    assert first.exit_code == 0, first.output
    assert "backfill summary" in first.output
    status = owner.get("/api/v1/conversations/sync-status").json()
    assert status["unlinked"] == 0
    assert status["by_source"]["migration"] == 4
    history = owner.get("/api/v1/conversations", params={"link_source": "migration"}).json()
    linked_to = {item["customer_id"] for item in history["items"]}
    assert twins[0]["id"] in linked_to

    second = runner.invoke(cli, ["conversations", "backfill", "--company", company])
    assert second.exit_code == 0
    assert owner.get("/api/v1/conversations/sync-status").json() == status


def _insert_unlinked_history(engine, company_id: uuid.UUID, count: int) -> None:
    """Historical chats loaded as-is (the situation the one-time backfill is for)."""
    with tenant_session(engine, company_id) as session:
        for index in range(count):
            session.execute(
                text(
                    "INSERT INTO conversations (company_id, id, channel, session_id,"
                    " contact_name, match_name, contact_email, match_email, started_at)"
                    " VALUES (:c, :id, 'legacy', :s, 'Old Friend', :n, :e, :e, now())"
                ),
                {"c": company_id, "id": uuid.uuid4(), "s": f"legacy-{index}",
                 "n": normalize_text("Old Friend"), "e": "old.friend@x.example"},
            )  # fmt: skip


def test_sync_status_counts_by_state_and_source(owner) -> None:
    owner.post("/api/v1/conversations", json=chat("c1", email="a@x.example"))
    owner.post("/api/v1/conversations", json=chat("c2"))
    status = owner.get("/api/v1/conversations/sync-status").json()
    assert (status["total"], status["linked"], status["unlinked"]) == (2, 1, 1)
    assert status["anonymous"] == 1
    assert status["by_source"] == {"auto_sync": 1, "manual": 0, "migration": 0}


def test_customer_conversations_page_and_enrich_on_demand(owner) -> None:
    person = owner.post("/api/v1/customers", json={"name": "Rana", "email": "rana@x.example"})
    person_id = person.json()["id"]
    for index in range(3):
        body = chat(f"p{index}", email="rana@x.example", phone=f"05012300{index}0")
        body["started_at"] = f"2026-03-0{index + 1}T10:00:00+04:00"
        owner.post("/api/v1/conversations", json=body)
    first = owner.get(f"/api/v1/customers/{person_id}/conversations", params={"limit": 2}).json()
    assert [c["session_id"] for c in first["items"]] == ["p2", "p1"]
    rest = owner.get(
        f"/api/v1/customers/{person_id}/conversations", params={"cursor": first["next_cursor"]}
    ).json()
    assert [c["session_id"] for c in rest["items"]] == ["p0"]

    owner.patch(f"/api/v1/customers/{person_id}", json={"phone": None})
    enriched = owner.post(f"/api/v1/customers/{person_id}/enrich")
    assert enriched.status_code == 200
    assert enriched.json()["phone"] == "+971501230020"  # from the newest conversation
    actions = [
        e["action"] for e in owner.get(f"/api/v1/customers/{person_id}/history").json()["items"]
    ]
    assert "customer.enriched" in actions


def test_sql_name_key_agrees_with_python_normalisation(app_engine, tenant) -> None:
    samples = ["  أحمد   المنصوري ", "إبراهيم", "مُحَمَّد", "Zoë ÉLAN", "٠٥٠ Ali", "Somchai ๑๒"]
    with tenant_session(app_engine, tenant.company_id) as session:
        for sample in samples:
            sql = session.scalar(text("SELECT majlis_match_name(:v)"), {"v": sample})
            assert sql == normalize_text(sample), sample
