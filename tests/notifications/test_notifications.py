"""Notifications: list/read/dismiss one's own, and the live SSE stream fed by LISTEN/NOTIFY."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import httpx

from majlis.core.db import get_engine, tenant_session
from majlis.core.permissions import Role
from majlis.notifications import service
from majlis.notifications.schemas import NotificationIn


def _send(client, user_id, **fields) -> dict:
    body = {"user_id": str(user_id), "title": "Call Omar back", **fields}
    response = client.post("/api/v1/notifications", json=body)
    assert response.status_code == 201, response.text
    return response.json()


def test_list_read_and_dismiss_own_notifications(tenant) -> None:
    sales_id = tenant.user_ids[Role.SALES]
    with tenant.client(Role.MANAGER) as manager, tenant.client(Role.SALES) as sales:
        first = _send(manager, sales_id, priority="high", action_url="/customers/1")
        second = _send(manager, sales_id, title="تذكير بالدفع", body="فاتورة متأخرة")
        _send(
            manager,
            sales_id,
            title="Old news",
            expires_at=(datetime.now(UTC) - timedelta(hours=1)).isoformat(),
        )
        listed = sales.get("/api/v1/notifications").json()["items"]
        assert [n["id"] for n in listed] == [second["id"], first["id"]]  # expired one hidden
        read = sales.post(f"/api/v1/notifications/{first['id']}/read").json()
        assert read["read_at"] is not None
        unread = sales.get("/api/v1/notifications", params={"unread_only": True}).json()
        assert [n["id"] for n in unread["items"]] == [second["id"]]
        assert sales.post(f"/api/v1/notifications/{second['id']}/dismiss").status_code == 204
        assert [n["id"] for n in sales.get("/api/v1/notifications").json()["items"]] == [
            first["id"]
        ]
        # Someone else's notification does not exist for you, even in your company.
        assert manager.post(f"/api/v1/notifications/{first['id']}/read").status_code == 404
        assert manager.get("/api/v1/notifications").json()["items"] == []
        # Sales people do not broadcast; unknown users are refused.
        assert (
            sales.post(
                "/api/v1/notifications", json={"user_id": str(sales_id), "title": "x"}
            ).status_code
            == 403
        )
        stranger = manager.post(
            "/api/v1/notifications",
            json={"user_id": "00000000-0000-7000-8000-000000000000", "title": "x"},
        )
        assert stranger.status_code == 422


def test_other_companys_notifications_are_404(make_tenant) -> None:
    a, b = make_tenant(), make_tenant()
    with b.client() as b_owner, a.client() as a_owner:
        theirs = _send(b_owner, b.user_ids[Role.OWNER])
        assert a_owner.post(f"/api/v1/notifications/{theirs['id']}/read").status_code == 404
        assert a_owner.post(f"/api/v1/notifications/{theirs['id']}/dismiss").status_code == 404
        assert (
            a_owner.post(
                "/api/v1/notifications", json={"user_id": str(b.user_ids[Role.OWNER]), "title": "x"}
            ).status_code
            == 422
        )


def _next_event(lines) -> dict:
    for line in lines:
        if line.startswith("data: "):
            return json.loads(line.removeprefix("data: "))
    raise AssertionError("the stream ended without an event")


def test_notification_from_another_transaction_arrives_on_open_stream(make_tenant) -> None:
    tenant, other = make_tenant(), make_tenant()
    sales_id = tenant.user_ids[Role.SALES]
    engine = get_engine("app")
    with (
        tenant.client(Role.SALES) as sales,
        sales.stream("GET", "/api/v1/notifications/stream", timeout=httpx.Timeout(60)) as response,
    ):
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        lines = response.iter_lines()
        assert next(lines) == ": listening"
        # Another company's and another user's notices are not for this stream.
        with tenant_session(engine, other.company_id) as session:
            service.notify(
                session,
                other.actor(),
                NotificationIn(user_id=other.user_ids[Role.SALES], title="not yours"),
            )
        with tenant_session(engine, tenant.company_id) as session:
            service.notify(
                session,
                tenant.actor(),
                NotificationIn(user_id=tenant.user_ids[Role.OWNER], title="for the owner"),
            )
            service.notify(
                session,
                tenant.actor(),
                NotificationIn(user_id=sales_id, title="New lead: Fatima", priority="urgent"),
            )
        event = _next_event(lines)
    assert (event["title"], event["priority"], event["user_id"]) == (
        "New lead: Fatima",
        "urgent",
        str(sales_id),
    )


def test_stream_requires_a_token(base_url) -> None:
    response = httpx.get(f"{base_url}/api/v1/notifications/stream")
    assert response.status_code == 401


def test_rule_action_notifies_the_assigned_user(tenant, owner) -> None:
    sales_id = tenant.user_ids[Role.SALES]
    customer = owner.post("/api/v1/customers", json={"name": "Hot lead"}).json()["id"]
    owner.patch(f"/api/v1/customers/{customer}/journey", json={"assigned_to": str(sales_id)})
    rule = {
        "name": "Tell the owner of the lead",
        "trigger": "stage_changed",
        "actions": [{"type": "notify_user", "title": "Your lead moved"}],
    }
    assert owner.post("/api/v1/automation/rules", json=rule).status_code == 201
    owner.post(f"/api/v1/customers/{customer}/journey/move", json={"to_stage": "contacted"})
    owner.post("/api/v1/automation/process")
    with tenant.client(Role.SALES) as sales:
        (notice,) = sales.get("/api/v1/notifications").json()["items"]
    assert (notice["title"], notice["action_url"]) == ("Your lead moved", f"/customers/{customer}")
