"""Lead scores with reasons, hot leads, and the next best action."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from majlis.core.db import get_engine, tenant_session
from majlis.insights.leads import HOT, QUIET_MAXIMUM, alert_hot_leads


def _move(client, customer: str, *stages: str) -> None:
    for stage in stages:
        client.post(f"/api/v1/customers/{customer}/journey/move", json={"to_stage": stage})


def test_lead_score_parts_and_reasons(owner) -> None:
    hot = owner.post("/api/v1/customers", json={"name": "Hot"}).json()["id"]
    owner.patch(f"/api/v1/customers/{hot}/journey", json={"deal_value": "99999"})
    _move(owner, hot, "contacted", "consultation", "proposal")
    cold = owner.post("/api/v1/customers", json={"name": "Cold"}).json()["id"]
    score = owner.get(f"/api/v1/insights/customers/{hot}/lead-score").json()
    # 3 events × 3, 3 moves × 5, proposal is stage 3 of 0..7 → 20·3/7, log10(100000) × 4.
    assert score["parts"] == {
        "engagement": 9,
        "velocity": 15,
        "progress": 8,
        "value": 20,
        "recency": 0,
    }
    assert score["score"] == 52
    assert score["reasons"][0] == "deal worth 99999.00"
    assert "moving fast: 3 stage changes in 30 days" in score["reasons"]
    assert owner.get(f"/api/v1/insights/customers/{cold}/lead-score").json()["score"] == 0


def test_only_recently_active_customers_can_be_hot() -> None:
    """hot_leads scores only customers with recent journey activity; the rest cannot reach HOT."""
    assert QUIET_MAXIMUM < HOT


def test_hot_leads_and_call_as_next_action(owner) -> None:
    hot = owner.post("/api/v1/customers", json={"name": "Hottest"}).json()["id"]
    owner.patch(f"/api/v1/customers/{hot}/journey", json={"deal_value": "99999"})
    _move(owner, hot, "contacted", "lost", "lead", "contacted", "consultation")
    listed = owner.get("/api/v1/insights/hot-leads").json()
    assert [lead["name"] for lead in listed] == ["Hottest"]
    action = owner.get(f"/api/v1/insights/customers/{hot}/next-action").json()
    assert action["action"] == "call" and action["reasons"][0].startswith("hot lead")


def test_next_action_collects_overdue_and_offers_to_won(owner) -> None:
    owing = owner.post("/api/v1/customers", json={"name": "Owing"}).json()["id"]
    past = date.today() - timedelta(days=10)
    invoice = {
        "customer_id": owing,
        "number": "INV-NBA",
        "amount": "750.00",
        "issue_date": (past - timedelta(days=30)).isoformat(),
        "due_date": past.isoformat(),
    }
    assert owner.post("/api/v1/invoices", json=invoice).status_code == 201
    action = owner.get(f"/api/v1/insights/customers/{owing}/next-action").json()
    assert action == {"action": "collect", "reasons": ["750.00 overdue on unpaid invoices"]}
    won = owner.post("/api/v1/customers", json={"name": "Won"}).json()["id"]
    _move(owner, won, "contacted", "consultation", "proposal", "won", "follow_up")
    assert owner.get(f"/api/v1/insights/customers/{won}/next-action").json()["action"] == "offer"
    fresh = owner.post("/api/v1/customers", json={"name": "Fresh"}).json()["id"]
    assert owner.get(f"/api/v1/insights/customers/{fresh}/next-action").json()["action"] == (
        "follow_up"
    )


@pytest.mark.parametrize("path", ["lead-score", "next-action"])
def test_other_companys_customer_is_404(make_tenant, path) -> None:
    a, b = make_tenant(), make_tenant()
    with a.client() as a_client, b.client() as b_client:
        theirs = b_client.post("/api/v1/customers", json={"name": "B"}).json()["id"]
        assert a_client.get(f"/api/v1/insights/customers/{theirs}/{path}").status_code == 404
        assert a_client.get("/api/v1/insights/hot-leads").json() == []


def test_daily_hot_leads_alert_goes_to_owners_once(owner, tenant) -> None:
    hot = owner.post("/api/v1/customers", json={"name": "Hottest"}).json()["id"]
    owner.patch(f"/api/v1/customers/{hot}/journey", json={"deal_value": "99999"})
    _move(owner, hot, "contacted", "lost", "lead", "contacted", "consultation")
    today = date.today()
    with tenant_session(get_engine("app"), tenant.company_id) as session:
        (alerted,) = alert_hot_leads(session, tenant.actor(), today)
    assert alerted.name == "Hottest"
    with tenant_session(get_engine("app"), tenant.company_id) as session:
        assert alert_hot_leads(session, tenant.actor(), today) == []  # once per day
    (notice,) = owner.get("/api/v1/notifications").json()["items"]
    assert notice["title"] == f"Hot leads for {today:%d %b}: 1"
    assert notice["body"] == f"Hottest ({alerted.score})" and notice["priority"] == "high"
