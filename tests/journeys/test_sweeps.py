"""Scheduled sweeps: time-based triggers fire once per occurrence, per company."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
from sqlalchemy import Engine, text

from majlis.core.db import get_engine, tenant_session
from majlis.journeys import tasks
from majlis.journeys.sweeps import _birthday_codes, sweep

DUBAI = ZoneInfo("Asia/Dubai")


def _rule(client: httpx.Client, trigger: str, tag: str, **extra: Any) -> dict[str, Any]:
    body = {
        "name": f"{trigger} rule",
        "trigger": trigger,
        "actions": [{"type": "add_tag", "tag": tag}],
        **extra,
    }
    response = client.post("/api/v1/automation/rules", json=body)
    assert response.status_code == 201, response.text
    return dict(response.json())


def _sweep(tenant: Any, kind: str, now: datetime | None = None) -> int:
    with tenant_session(get_engine("app"), tenant.company_id) as session:
        return sweep(session, tenant.actor(), kind, now)


def _events(client: httpx.Client, customer: str, kind: str) -> list[dict[str, Any]]:
    items = client.get("/api/v1/journeys/events", params={"customer_id": customer}).json()
    return [event for event in items["items"] if event["kind"] == kind]


def _tags(client: httpx.Client, customer: str) -> list[str]:
    return list(client.get(f"/api/v1/customers/{customer}").json()["tags"])


def _process(client: httpx.Client) -> dict[str, Any]:
    return dict(client.post("/api/v1/automation/process").json())


def _set(admin_engine: Engine, customer: str, **values: Any) -> None:
    assignments = ", ".join(f"{name} = :{name}" for name in values)
    with admin_engine.begin() as conn:
        conn.execute(
            text(f"UPDATE customers SET {assignments} WHERE id = :id"), {"id": customer, **values}
        )


def test_threshold_triggers_need_a_threshold(owner) -> None:
    silent = {
        "name": "Silent",
        "trigger": "no_contact",
        "actions": [{"type": "add_tag", "tag": "x"}],
    }
    response = owner.post("/api/v1/automation/rules", json=silent)
    assert response.status_code == 422
    assert "needs a threshold (days)" in response.text
    birthday = {**silent, "trigger": "birthday", "threshold": 3}
    assert owner.post("/api/v1/automation/rules", json=birthday).status_code == 422
    stored = _rule(owner, "points_threshold", "rich", threshold=500)
    assert owner.get(f"/api/v1/automation/rules/{stored['id']}").json()["threshold"] == 500


def test_birthday_fires_once_a_year(owner, tenant, new_customer) -> None:
    _rule(owner, "birthday", "birthday")
    today = datetime.now(DUBAI).date()
    born = today.replace(year=today.year - 28)  # 28 years back: 29 February exists too
    celebrating = new_customer(name="Born today", date_of_birth=born.isoformat())
    other_day = born - timedelta(days=3)
    not_today = new_customer(name="Another day", date_of_birth=other_day.isoformat())
    new_customer(name="No birthday known")

    assert _sweep(tenant, "birthday") == 1
    assert _sweep(tenant, "birthday") == 0  # swept twice, recorded once
    (event,) = _events(owner, celebrating, "birthday")
    assert event["payload"]["year"] == today.year
    assert _events(owner, not_today, "birthday") == []
    assert _process(owner)["firings"] == 1
    assert _process(owner)["firings"] == 0
    assert _tags(owner, celebrating) == ["birthday"] and _tags(owner, not_today) == []

    next_year = datetime.combine(_same_day_next_year(today), time(12), tzinfo=DUBAI)
    assert _sweep(tenant, "birthday", now=next_year) == 1  # a new year, a new occurrence
    assert _sweep(tenant, "birthday", now=next_year) == 0


def _same_day_next_year(today: date) -> date:
    try:
        return today.replace(year=today.year + 1)
    except ValueError:  # 29 February: celebrated on the 28th in a common year
        return date(today.year + 1, 2, 28)


def test_birthday_codes_keep_29_february_in_common_years() -> None:
    assert _birthday_codes(date(2027, 2, 28)) == [228, 229]
    assert _birthday_codes(date(2028, 2, 28)) == [228]
    assert _birthday_codes(date(2028, 2, 29)) == [229]
    assert _birthday_codes(date(2026, 11, 22)) == [1122]


def test_no_contact_fires_once_per_silent_period(owner, tenant, new_customer, admin_engine):
    month = _rule(owner, "no_contact", "silent_30", threshold=30)
    _rule(owner, "no_contact", "silent_90", threshold=90)
    quiet = new_customer(name="Quiet")
    chatty = new_customer(name="Chatty")
    now = datetime.now(UTC)
    _set(
        admin_engine,
        quiet,
        created_at=now - timedelta(days=200),
        last_seen_at=now - timedelta(days=40),
    )
    _set(admin_engine, chatty, created_at=now - timedelta(days=200), last_seen_at=now)

    assert _sweep(tenant, "no_contact") == 1
    assert _sweep(tenant, "no_contact") == 0
    (event,) = _events(owner, quiet, "no_contact")
    assert event["payload"]["threshold"] == 30 and event["payload"]["days_silent"] == 40
    report = _process(owner)
    assert report["firings"] == 1  # the 90-day rule does not hear the 30-day silence
    assert _tags(owner, quiet) == ["silent_30"] and _tags(owner, chatty) == []

    # Heard from again, then silent again: a new silent period fires again, once.
    _set(admin_engine, quiet, last_seen_at=now - timedelta(days=31))
    assert _sweep(tenant, "no_contact") == 1
    assert _sweep(tenant, "no_contact") == 0
    assert len(_events(owner, quiet, "no_contact")) == 2
    assert _process(owner)["firings"] == 1
    with admin_engine.connect() as conn:
        total = conn.execute(
            text("SELECT count(*) FROM rule_firings WHERE rule_id = :r"), {"r": month["id"]}
        ).scalar_one()
    assert total == 2

    # A stage move is contact too: the silence starts over and nothing is due.
    response = owner.post(f"/api/v1/customers/{quiet}/journey/move", json={"to_stage": "contacted"})
    assert response.status_code == 200
    assert _sweep(tenant, "no_contact") == 0


def _member(client: httpx.Client, customer: str) -> str:
    response = client.post("/api/v1/loyalty/members", json={"customer_id": customer})
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


def _adjust(client: httpx.Client, member: str, points: int) -> None:
    response = client.post(
        f"/api/v1/loyalty/members/{member}/adjust", json={"points": points, "reason": "test"}
    )
    assert response.status_code in (200, 201), response.text


def test_points_threshold_fires_once_per_crossing(owner, tenant, new_customer) -> None:
    _rule(owner, "points_threshold", "hundred_club", threshold=100)
    customer = new_customer(name="Collector")
    member = _member(owner, customer)
    _adjust(owner, member, 60)
    assert _sweep(tenant, "points_threshold") == 0
    _adjust(owner, member, 50)  # 110: crosses 100
    assert _sweep(tenant, "points_threshold") == 1
    assert _sweep(tenant, "points_threshold") == 0
    _adjust(owner, member, 20)  # 130: still above, no new crossing
    assert _sweep(tenant, "points_threshold") == 0
    (event,) = _events(owner, customer, "points_threshold")
    assert event["payload"] == {"threshold": 100, "balance": 110}
    assert _process(owner)["firings"] == 1
    assert _tags(owner, customer) == ["hundred_club"]

    _adjust(owner, member, -50)  # 80: below again
    assert _sweep(tenant, "points_threshold") == 0
    _adjust(owner, member, 30)  # 110: a second crossing
    assert _sweep(tenant, "points_threshold") == 1
    assert _sweep(tenant, "points_threshold") == 0
    assert _process(owner)["firings"] == 1


def test_overdue_invoices_and_conversations_fire_once_each(
    owner, tenant, new_customer, admin_engine
) -> None:
    _rule(owner, "invoice_overdue", "overdue")
    _rule(owner, "conversation_received", "talked")
    customer = new_customer(name="Debtor", email="debtor@x.example")
    today = datetime.now(DUBAI).date()
    for days, number in ((10, "INV-LATE"), (-5, "INV-NOT-DUE")):
        due = today - timedelta(days=days)
        invoice = {
            "customer_id": customer,
            "number": number,
            "issue_date": (due - timedelta(days=30)).isoformat(),
            "due_date": due.isoformat(),
            "amount": "1000.00",
        }
        assert owner.post("/api/v1/invoices", json=invoice).status_code == 201
    with admin_engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO conversations (company_id, id, channel, session_id, started_at,"
                " customer_id, customer_linked_at, link_source)"
                " VALUES (:c, :id, 'whatsapp', 's-1', now(), :customer, now(), 'manual')"
            ),
            {"c": tenant.company_id, "id": uuid.uuid4(), "customer": customer},
        )
    assert _sweep(tenant, "invoice_overdue") == 1
    assert _sweep(tenant, "invoice_overdue") == 0
    (overdue,) = _events(owner, customer, "invoice_overdue")
    assert overdue["payload"]["number"] == "INV-LATE" and overdue["payload"]["days_overdue"] == 10
    assert _sweep(tenant, "conversation_received") == 1
    assert _sweep(tenant, "conversation_received") == 0
    assert _process(owner)["firings"] == 2
    assert sorted(_tags(owner, customer)) == ["overdue", "talked"]


def test_completing_a_task_is_a_journey_event(owner, new_customer) -> None:
    _rule(owner, "task_completed", "served")
    customer = new_customer(name="Served")
    due = (datetime.now(UTC) + timedelta(hours=2)).isoformat()
    task = owner.post(
        "/api/v1/tasks",
        json={"kind": "call", "title": "Call", "due_at": due, "customer_id": customer},
    ).json()
    assert owner.post(f"/api/v1/tasks/{task['id']}/complete").status_code == 200
    (event,) = _events(owner, customer, "task_completed")
    assert event["payload"]["task_id"] == task["id"]
    assert _process(owner)["firings"] == 1
    assert _tags(owner, customer) == ["served"]


def test_sweep_tasks_stay_within_each_company(make_tenant, admin_engine) -> None:
    """The worker's periodic sweep covers every company with a rule, each only its own."""
    today = datetime.now(DUBAI).date()
    born = today.replace(year=today.year - 40)  # 40 years back: 29 February exists too
    tenants, customers = [], []
    for _ in range(2):
        tenant = make_tenant()
        with tenant.client() as client:
            _rule(client, "birthday", "birthday")
            body = {"name": "Twin", "date_of_birth": born.isoformat()}
            customers.append(client.post("/api/v1/customers", json=body).json()["id"])
        tenants.append(tenant)
    without_rule = make_tenant()
    with without_rule.client() as client:
        body = {"name": "Nobody listens", "date_of_birth": born.isoformat()}
        ignored = client.post("/api/v1/customers", json=body).json()["id"]

    tasks.SWEEP_TASKS["birthday"](get_engine("app"))
    tasks.SWEEP_TASKS["birthday"](get_engine("app"))
    with admin_engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT company_id, customer_id FROM workflow_events"
                " WHERE kind = 'birthday' AND customer_id = ANY(:ids)"
            ),
            {"ids": [uuid.UUID(c) for c in (*customers, ignored)]},
        ).all()
    assert sorted((str(c), str(k)) for c, k in rows) == sorted(
        (str(t.company_id), c) for t, c in zip(tenants, customers, strict=True)
    )
    # One company's sweep never sees another's customers, even when asked directly.
    assert _sweep(tenants[0], "birthday") == 0
