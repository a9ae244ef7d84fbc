"""Follow-ups: bilingual templates, preferences (channel, language, opt-out), quiet hours."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import text

from majlis.core.db import get_engine, tenant_session
from majlis.journeys.followups import deliver_due_follow_ups, end_of_quiet_hours

TEMPLATE = {
    "key": "checkup",
    "subject_en": "Time for your check-up",
    "body_en": "Hello {{ name }}, your check-up is due.",
    "subject_ar": "موعد الفحص",
    "body_ar": "مرحباً {{ name }}، حان موعد فحصك.",
}
DUBAI = "Asia/Dubai"


def _at(hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 3, 10, hour, minute, tzinfo=ZoneInfo(DUBAI)).astimezone(UTC)


@pytest.mark.parametrize(
    ("now", "start", "end", "expected"),
    [
        (_at(12), time(13), time(15), _at(12)),  # before the quiet hours
        (_at(14), time(13), time(15), _at(15)),  # inside: wait for the end
        (_at(15), time(13), time(15), _at(15)),  # the end itself is allowed
        (_at(23), time(22), time(8), _at(8) + timedelta(days=1)),  # wraps midnight
        (_at(3), time(22), time(8), _at(8)),  # after midnight, same night
        (_at(9), time(22), time(8), _at(9)),
        (_at(3), None, None, _at(3)),
    ],
)
def test_quiet_hours_in_the_company_time_zone(now, start, end, expected) -> None:
    assert end_of_quiet_hours(now, DUBAI, start, end) == expected


@pytest.fixture
def template(owner) -> dict:
    response = owner.post("/api/v1/followups/templates", json=TEMPLATE)
    assert response.status_code == 201, response.text
    return response.json()


def _follow_up(client, customer_id: str, **body):
    return client.post(
        f"/api/v1/customers/{customer_id}/followups", json={"template": "checkup", **body}
    )


def test_preferred_channel_and_language_are_used(owner, template, new_customer, admin_engine):
    customer = new_customer(name="Omar", name_ar="عمر", phone="0501234567", email="o@x.example")
    prefs = {"channel": "sms", "language": "ar"}
    assert owner.put(f"/api/v1/customers/{customer}/preferences", json=prefs).status_code == 200
    execution = _follow_up(owner, customer).json()
    assert (execution["status"], execution["channel"], execution["language"]) == (
        "sent",
        "sms",
        "ar",
    )
    assert execution["body"] == "مرحباً عمر، حان موعد فحصك."
    with admin_engine.connect() as conn:
        topic, body = conn.execute(
            text(
                "SELECT topic, payload->>'body' FROM outbox_events"
                " WHERE payload->>'execution_id' = :e"
            ),
            {"e": execution["id"]},
        ).one()
    assert (topic, body) == ("followup.sms", execution["body"])
    events = owner.get("/api/v1/journeys/events", params={"customer_id": customer}).json()
    assert [e["kind"] for e in events["items"]] == ["follow_up_sent"]
    # Without preferences: English, email when there is an address.
    other = new_customer(name="Sara", email="s@x.example")
    english = _follow_up(owner, other).json()
    assert (english["channel"], english["subject"]) == ("email", "Time for your check-up")


def test_opted_out_and_unreachable_customers_are_skipped(owner, template, new_customer) -> None:
    customer = new_customer(name="Quiet", phone="0501234567")
    owner.put(f"/api/v1/customers/{customer}/preferences", json={"opted_out": True})
    skipped = _follow_up(owner, customer).json()
    assert (skipped["status"], skipped["result"]) == ("skipped", "customer opted out of follow-ups")
    no_email = new_customer(name="No email")
    result = _follow_up(owner, no_email, channel="email").json()
    assert (result["status"], result["result"]) == ("skipped", "no email address")


def test_quiet_hours_schedule_then_deliver(owner, template, new_customer, tenant) -> None:
    customer = new_customer(name="Night owl", email="n@x.example")
    local_now = datetime.now(ZoneInfo(DUBAI))
    start = (local_now - timedelta(hours=1)).time().replace(second=0, microsecond=0)
    end = (local_now + timedelta(hours=1)).time().replace(second=0, microsecond=0)
    prefs = {"quiet_start": start.isoformat(), "quiet_end": end.isoformat()}
    assert owner.put(f"/api/v1/customers/{customer}/preferences", json=prefs).status_code == 200
    scheduled = _follow_up(owner, customer).json()
    assert scheduled["status"] == "scheduled"
    assert scheduled["result"].startswith("quiet hours: scheduled for")
    with tenant_session(get_engine("app"), tenant.company_id) as session:
        assert deliver_due_follow_ups(session, tenant.actor()) == 0
        later = datetime.fromisoformat(scheduled["scheduled_for"]) + timedelta(minutes=1)
        assert deliver_due_follow_ups(session, tenant.actor(), now=later) == 1
    (handed_over,) = owner.get(f"/api/v1/customers/{customer}/followups").json()
    # An email is now on its way to SMTP (see test_followup_email.py for the sending).
    assert (handed_over["status"], handed_over["result"]) == (
        "scheduled",
        "queued for sending by email",
    )
    with tenant_session(get_engine("app"), tenant.company_id) as session:
        assert deliver_due_follow_ups(session, tenant.actor(), now=later) == 0  # handed over once


def test_preferences_and_templates_validation(owner, template, new_customer) -> None:
    customer = new_customer()
    half = {"quiet_start": "22:00"}
    assert owner.put(f"/api/v1/customers/{customer}/preferences", json=half).status_code == 422
    assert (
        owner.put(
            f"/api/v1/customers/{customer}/preferences", json={"channel": "pigeon"}
        ).status_code
        == 422
    )
    assert owner.get(f"/api/v1/customers/{customer}/preferences").json()["opted_out"] is False
    assert owner.post("/api/v1/followups/templates", json=TEMPLATE).status_code == 409
    assert _follow_up(owner, customer, template="nope").status_code == 422


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("GET", "/api/v1/customers/{id}/preferences", None),
        ("PUT", "/api/v1/customers/{id}/preferences", {"opted_out": True}),
        ("POST", "/api/v1/customers/{id}/followups", {"template": "checkup"}),
        ("GET", "/api/v1/customers/{id}/followups", None),
    ],
)
def test_other_companys_customers_are_404(make_tenant, method, path, body) -> None:
    a, b = make_tenant(), make_tenant()
    with a.client() as a_client, b.client() as b_client:
        a_client.post("/api/v1/followups/templates", json=TEMPLATE)
        theirs = b_client.post("/api/v1/customers", json={"name": "B", "email": "b@x.example"})
        response = a_client.request(method, path.format(id=theirs.json()["id"]), json=body)
        assert response.status_code == 404, response.text
        assert str(uuid.UUID(theirs.json()["id"]))
