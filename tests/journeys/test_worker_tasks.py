"""The worker's journey handlers: customer.created events and points from payments."""

from __future__ import annotations

import uuid

from majlis.core.db import get_engine
from majlis.core.worker import Delivery
from majlis.journeys.tasks import customer_created, points_for_payment


def _delivery(tenant, topic: str, payload: dict) -> Delivery:
    return Delivery(get_engine("app"), tenant.company_id, uuid.uuid4(), topic, payload, 1, 8)


def test_customer_created_starts_the_journey_stream_once(tenant, owner) -> None:
    customer = owner.post("/api/v1/customers", json={"name": "New"}).json()["id"]
    delivery = _delivery(tenant, "customer.created", {"customer_id": customer})
    customer_created(delivery)
    customer_created(delivery)  # at-least-once delivery: the second changes nothing
    events = owner.get("/api/v1/journeys/events", params={"customer_id": customer}).json()
    assert [e["kind"] for e in events["items"]] == ["customer_created"]


def test_payments_earn_points_once(tenant, owner) -> None:
    customer = owner.post("/api/v1/customers", json={"name": "Payer"}).json()["id"]
    member = owner.post("/api/v1/loyalty/members", json={"customer_id": customer}).json()
    payment = owner.post(
        "/api/v1/payments",
        json={"customer_id": customer, "amount": "420.50", "received_on": "2026-01-10"},
    )
    assert payment.status_code == 201, payment.text
    payload = {"payment_id": payment.json()["id"], "customer_id": customer}
    points_for_payment(_delivery(tenant, "payment.recorded", payload))
    points_for_payment(_delivery(tenant, "payment.recorded", payload))
    assert owner.get(f"/api/v1/loyalty/members/{member['id']}").json()["balance"] == 420


def test_periodic_jobs_run_for_companies_with_work(tenant, owner) -> None:
    from majlis.journeys.tasks import expire_loyalty_points, run_automation_rules

    customer = owner.post("/api/v1/customers", json={"name": "Moved"}).json()["id"]
    rule = {
        "name": "Tag movers",
        "trigger": "stage_changed",
        "actions": [{"type": "add_tag", "tag": "moving"}],
    }
    owner.post("/api/v1/automation/rules", json=rule)
    owner.post(f"/api/v1/customers/{customer}/journey/move", json={"to_stage": "contacted"})
    owner.get("/api/v1/loyalty/program")
    run_automation_rules(get_engine("app"))
    expire_loyalty_points(get_engine("app"))
    assert "moving" in owner.get(f"/api/v1/customers/{customer}").json()["tags"]
