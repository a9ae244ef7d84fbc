"""Email follow-ups really leave over SMTP: once, in the customer's language, when allowed."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
from sqlalchemy import text

from majlis.core.db import get_engine
from majlis.core.embedded import free_loopback_port
from majlis.core.worker import DEFAULT_MAX_ATTEMPTS, OutboxWorker, WorkerStats
from majlis.journeys import tasks  # noqa: F401 - registers the followup.email handler

TEMPLATE = {
    "key": "checkup",
    "subject_en": "Time for your check-up",
    "body_en": "Hello {{ name }}, your check-up is due.",
    "subject_ar": "موعد الفحص",
    "body_ar": "مرحباً {{ name }}، حان موعد فحصك.",
}


def _deliver() -> WorkerStats:
    """The real outbox worker, once, as `majlis worker --once` runs it."""
    return OutboxWorker(get_engine("app")).run_once()


def _queue_email(client: httpx.Client, customer: str) -> dict[str, Any]:
    client.post("/api/v1/followups/templates", json=TEMPLATE)
    response = client.post(
        f"/api/v1/customers/{customer}/followups", json={"template": "checkup", "channel": "email"}
    )
    assert response.status_code == 201, response.text
    execution = dict(response.json())
    assert (execution["status"], execution["result"]) == (
        "scheduled",
        "queued for sending by email",
    )
    return execution


def _execution(client: httpx.Client, customer: str) -> dict[str, Any]:
    (execution,) = client.get(f"/api/v1/customers/{customer}/followups").json()
    return dict(execution)


def _outbox(execution: dict[str, Any], sql: str) -> None:
    with get_engine("admin").begin() as conn:
        conn.execute(text(sql), {"k": f"followup:{execution['id']}"})


def test_email_arrives_once_in_arabic_and_in_english(owner, new_customer, inbox) -> None:
    arabic = new_customer(name="Omar", name_ar="عمر", email="omar@x.example")
    owner.put(f"/api/v1/customers/{arabic}/preferences", json={"language": "ar"})
    english = new_customer(name="Sara", email="sara@x.example")
    _queue_email(owner, arabic)
    _queue_email(owner, english)

    _deliver()
    _deliver()  # a second run sends nothing more

    (message,) = inbox.to("omar@x.example")
    assert message["Subject"] == "موعد الفحص"
    assert message.get_content().strip() == "مرحباً عمر، حان موعد فحصك."
    assert message["Content-Language"] == "ar"
    assert message["Message-ID"] == f"<followup.{_execution(owner, arabic)['id']}@majlis>"
    (message,) = inbox.to("sara@x.example")
    assert message["Subject"] == "Time for your check-up"
    assert message.get_content().strip() == "Hello Sara, your check-up is due."
    assert message["Content-Language"] == "en"

    sent = _execution(owner, arabic)
    assert (sent["status"], sent["result"]) == ("sent", "sent by email to omar@x.example")
    events = owner.get("/api/v1/journeys/events", params={"customer_id": arabic}).json()
    kinds = [e["kind"] for e in events["items"] if e["kind"].startswith("follow_up")]
    assert kinds == ["follow_up_sent", "follow_up_scheduled"]  # newest first, on the timeline


def test_smtp_refusal_is_retried_then_fails_with_the_error(
    owner, new_customer, inbox, monkeypatch
) -> None:
    customer = new_customer(name="Unlucky", email="unlucky@x.example")
    execution = _queue_email(owner, customer)
    monkeypatch.setenv("MAJLIS_SMTP_PORT", str(free_loopback_port()))  # nothing listens

    _deliver()
    retrying = _execution(owner, customer)
    assert retrying["status"] == "scheduled" and retrying["result"].endswith("will retry")
    _outbox(
        execution,
        f"UPDATE outbox_events SET available_at = now(), attempts = {DEFAULT_MAX_ATTEMPTS - 1}"
        " WHERE dedupe_key = :k",
    )
    _deliver()
    failed = _execution(owner, customer)
    assert failed["status"] == "failed" and failed["result"].startswith("SMTP: ")
    assert inbox.to("unlucky@x.example") == []


def test_opting_out_after_queueing_is_honoured(owner, new_customer, inbox) -> None:
    customer = new_customer(name="Changed mind", email="changed@x.example")
    _queue_email(owner, customer)
    owner.put(f"/api/v1/customers/{customer}/preferences", json={"opted_out": True})
    _deliver()
    skipped = _execution(owner, customer)
    assert (skipped["status"], skipped["result"]) == ("skipped", "customer opted out of follow-ups")
    assert inbox.to("changed@x.example") == []


def test_quiet_hours_that_begin_after_queueing_hold_the_email(owner, new_customer, inbox):
    customer = new_customer(name="Sleeper", email="sleeper@x.example")
    execution = _queue_email(owner, customer)
    local_now = datetime.now(ZoneInfo("Asia/Dubai"))
    start = (local_now - timedelta(hours=1)).time().replace(second=0, microsecond=0)
    end = (local_now + timedelta(hours=1)).time().replace(second=0, microsecond=0)
    prefs = {"quiet_start": start.isoformat(), "quiet_end": end.isoformat()}
    assert owner.put(f"/api/v1/customers/{customer}/preferences", json=prefs).status_code == 200

    assert _deliver().retried >= 1
    held = _execution(owner, customer)
    assert held["status"] == "scheduled" and held["scheduled_for"] > execution["scheduled_for"]
    assert inbox.to("sleeper@x.example") == []


def test_a_send_interrupted_mid_way_is_not_repeated(owner, new_customer, inbox) -> None:
    """A worker that died after claiming may have sent: the retry does not send again."""
    customer = new_customer(name="Once only", email="once@x.example")
    execution = _queue_email(owner, customer)
    with get_engine("admin").begin() as conn:
        conn.execute(
            text("UPDATE followup_executions SET sending_started_at = now() WHERE id = :id"),
            {"id": execution["id"]},
        )
    _deliver()
    final = _execution(owner, customer)
    assert final["status"] == "failed" and final["result"].startswith("unconfirmed")
    assert inbox.to("once@x.example") == []


def test_email_follow_ups_stay_within_their_company(make_tenant, inbox) -> None:
    first, second = make_tenant(), make_tenant()
    with first.client() as a, second.client() as b:
        theirs = b.post("/api/v1/customers", json={"name": "B", "email": "b@x.example"}).json()
        a.post("/api/v1/followups/templates", json=TEMPLATE)
        response = a.post(
            f"/api/v1/customers/{theirs['id']}/followups", json={"template": "checkup"}
        )
        assert response.status_code == 404
        assert b.get(f"/api/v1/customers/{theirs['id']}/followups").json() == []
