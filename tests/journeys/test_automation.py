"""Automation rules: validated JSON, dry runs, event evaluation, idempotency, no loops."""

from __future__ import annotations

import uuid

from sqlalchemy import text

from majlis.core.db import get_engine, tenant_session
from majlis.core.permissions import Role
from majlis.journeys.automation import MAX_DEPTH, CompiledRule, PendingEvent, _may_fire

PROPOSAL_RULE = {
    "name": "Big proposals get a quote task",
    "trigger": "stage_changed",
    "conditions": {
        "mode": "all",
        "conditions": [
            {"field": "event.to", "op": "eq", "value": "proposal"},
            {"field": "journey.deal_value", "op": "gte", "value": 1000},
        ],
    },
    "actions": [
        {"type": "create_task", "kind": "send_quote", "title": "Send the quote", "due_in_hours": 4},
        {"type": "add_tag", "tag": "hot"},
        {"type": "send_follow_up", "template": "proposal_sent", "channel": "whatsapp"},
    ],
}


def _move(client, customer_id: str, *stages: str) -> None:
    for stage in stages:
        response = client.post(
            f"/api/v1/customers/{customer_id}/journey/move", json={"to_stage": stage}
        )
        assert response.status_code == 200, response.text


TEMPLATE = {
    "key": "proposal_sent",
    "body_en": "Dear {{ name }}, your proposal is ready.",
    "body_ar": "عزيزي {{ name }}، عرضك جاهز.",
}


def _rule(client, rule: dict) -> dict:
    client.post("/api/v1/followups/templates", json=TEMPLATE)
    response = client.post("/api/v1/automation/rules", json=rule)
    assert response.status_code == 201, response.text
    return response.json()


def test_rules_are_validated_data(owner, tenant) -> None:
    stored = _rule(owner, PROPOSAL_RULE)
    assert stored["conditions"] == PROPOSAL_RULE["conditions"]
    assert owner.get(f"/api/v1/automation/rules/{stored['id']}").json() == stored
    bad_action = {**PROPOSAL_RULE, "actions": [{"type": "run_python", "code": "import os"}]}
    assert owner.post("/api/v1/automation/rules", json=bad_action).status_code == 422
    bad_field = {
        **PROPOSAL_RULE,
        "conditions": {"conditions": [{"field": "customer.password", "op": "eq", "value": 1}]},
    }
    response = owner.post("/api/v1/automation/rules", json=bad_field)
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"].startswith("conditions.conditions.0")
    bad_op = {**PROPOSAL_RULE, "conditions": {"conditions": [{"field": "event.to", "op": "like"}]}}
    assert owner.post("/api/v1/automation/rules", json=bad_op).status_code == 422
    bad_stage = {**PROPOSAL_RULE, "actions": [{"type": "move_stage", "to_stage": "mars"}]}
    response = owner.post("/api/v1/automation/rules", json=bad_stage)
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "actions.0.to_stage"
    no_template = {**PROPOSAL_RULE, "actions": [{"type": "send_follow_up", "template": "nope"}]}
    response = owner.post("/api/v1/automation/rules", json=no_template)
    assert response.json()["errors"][0]["field"] == "actions.0.template"
    assert owner.post("/api/v1/automation/rules", json={**PROPOSAL_RULE, "x": 1}).status_code == 422
    with tenant.client(Role.SALES) as sales:
        assert sales.post("/api/v1/automation/rules", json=PROPOSAL_RULE).status_code == 403
        assert sales.get("/api/v1/automation/rules").status_code == 200


def test_dry_run_shows_which_customers_a_rule_hits(owner, new_customer) -> None:
    hit = new_customer(name="Dubai risky", city="Dubai", risk_score="7", tags=["vip"])
    new_customer(name="Dubai safe", city="Dubai", risk_score="2")
    new_customer(name="Sharjah risky", city="Sharjah", risk_score="9")
    also_hit = new_customer(name="Tagged", city="Ajman", tags=["vip"])
    rule = {
        "name": "dry",
        "trigger": "customer_created",
        "conditions": {
            "mode": "any",
            "conditions": [
                {
                    "mode": "all",
                    "conditions": [
                        {"field": "customer.city", "op": "eq", "value": "Dubai"},
                        {"field": "customer.risk_score", "op": "gte", "value": 5},
                    ],
                },
                {"field": "customer.tags", "op": "contains", "value": "vip"},
            ],
        },
        "actions": [{"type": "add_tag", "tag": "review"}],
    }
    result = owner.post("/api/v1/automation/rules/dry-run", json=rule).json()
    assert result["matched"] == 2
    assert {c["id"] for c in result["sample"]} == {hit, also_hit}
    # A dry run writes nothing.
    assert owner.get("/api/v1/automation/rules").json() == []
    assert "review" not in owner.get(f"/api/v1/customers/{hit}").json()["tags"]


def test_events_fire_matching_rules_and_their_actions(owner, new_customer, admin_engine) -> None:
    rule = _rule(owner, PROPOSAL_RULE)
    big, small = new_customer(name="Big", phone="0501234567"), new_customer(name="Small")
    owner.patch(f"/api/v1/customers/{big}/journey", json={"deal_value": "25000"})
    _move(owner, big, "contacted", "consultation", "proposal")
    _move(owner, small, "contacted", "consultation", "proposal")
    report = owner.post("/api/v1/automation/process").json()
    assert report["events"] == 7  # six moves, then the follow_up_sent event the rule caused
    assert report["firings"] == 1
    assert report["actions"] == {"create_task": 1, "add_tag": 1, "send_follow_up": 1}
    (task,) = owner.get("/api/v1/tasks", params={"customer_id": big}).json()["items"]
    assert (task["kind"], task["rule_id"]) == ("send_quote", rule["id"])
    assert owner.get("/api/v1/tasks", params={"customer_id": small}).json()["items"] == []
    assert "hot" in owner.get(f"/api/v1/customers/{big}").json()["tags"]
    with admin_engine.connect() as conn:
        topics = conn.execute(
            text(
                "SELECT topic, payload->>'body' FROM outbox_events"
                " WHERE payload->>'customer_id' = :c AND topic LIKE 'followup.%'"
            ),
            {"c": big},
        ).all()
    assert topics == [("followup.whatsapp", "Dear Big, your proposal is ready.")]
    # Nothing left to do: a second pass processes nothing.
    assert owner.post("/api/v1/automation/process").json()["events"] == 0


def test_an_event_fires_a_rule_at_most_once(owner, new_customer, admin_engine, tenant) -> None:
    _rule(owner, PROPOSAL_RULE)
    big = new_customer(name="Big")
    owner.patch(f"/api/v1/customers/{big}/journey", json={"deal_value": "25000"})
    _move(owner, big, "contacted", "consultation", "proposal")
    assert owner.post("/api/v1/automation/process").json()["firings"] == 1
    # Replay the whole stream, as a crashed worker restarting from scratch would.
    with admin_engine.begin() as conn:
        conn.execute(
            text("UPDATE workflow_events SET processed_at = NULL WHERE company_id = :c"),
            {"c": tenant.company_id},
        )
    replay = owner.post("/api/v1/automation/process").json()
    assert (replay["events"], replay["firings"]) == (4, 0)  # three moves and a follow-up
    assert len(owner.get("/api/v1/tasks", params={"customer_id": big}).json()["items"]) == 1
    with admin_engine.connect() as conn:
        firings = conn.execute(
            text("SELECT count(*) FROM rule_firings WHERE company_id = :c"),
            {"c": tenant.company_id},
        ).scalar_one()
    assert firings == 1


def test_rules_cannot_retrigger_themselves_endlessly(owner, new_customer) -> None:
    """Two rules that undo each other stop once the chain would repeat a rule."""
    back_to_lead = {
        "name": "Reopen lost leads",
        "trigger": "stage_changed",
        "conditions": {"conditions": [{"field": "event.to", "op": "eq", "value": "lost"}]},
        "actions": [{"type": "move_stage", "to_stage": "lead"}],
    }
    back_to_lost = {
        "name": "Reopened leads are lost",
        "trigger": "stage_changed",
        "conditions": {"conditions": [{"field": "event.to", "op": "eq", "value": "lead"}]},
        "actions": [{"type": "move_stage", "to_stage": "lost"}],
    }
    _rule(owner, back_to_lead)
    _rule(owner, back_to_lost)
    customer_id = new_customer()
    _move(owner, customer_id, "lost")
    report = owner.post("/api/v1/automation/process").json()
    assert report["firings"] == 2  # reopen, then lose again — then the chain stops
    assert report["skipped_loops"] >= 1
    journey = owner.get(f"/api/v1/customers/{customer_id}/journey").json()
    assert journey["state"]["stage_key"] == "lost"
    assert [a["to_stage"] for a in journey["actions"]] == ["lost", "lead", "lost"]
    assert [a["reason"] for a in journey["actions"][:2]] == ["automation rule"] * 2


def test_depth_limit_stops_long_chains() -> None:
    rule = CompiledRule(uuid.uuid4(), "stage_changed", lambda facts: True, [])
    shallow = PendingEvent(uuid.uuid4(), None, "stage_changed", {}, MAX_DEPTH - 1, [])
    deep = PendingEvent(uuid.uuid4(), None, "stage_changed", {}, MAX_DEPTH, [])
    own = PendingEvent(uuid.uuid4(), None, "stage_changed", {}, 1, [rule.id])
    assert _may_fire(rule, shallow)
    assert not _may_fire(rule, deep)
    assert not _may_fire(rule, own)


def test_inactive_rules_and_other_triggers_do_not_fire(owner, new_customer, tenant) -> None:
    stored = _rule(owner, {**PROPOSAL_RULE, "conditions": {"conditions": []}})
    assert (
        owner.put(
            f"/api/v1/automation/rules/{stored['id']}", json={**PROPOSAL_RULE, "is_active": False}
        ).json()["version"]
        == 2
    )
    customer_id = new_customer()
    _move(owner, customer_id, "contacted")
    with tenant_session(get_engine("app"), tenant.company_id) as session:
        from majlis.journeys.service import record_event

        record_event(session, tenant.actor(), "birthday", uuid.UUID(customer_id))
    assert owner.post("/api/v1/automation/process").json() == {
        "events": 2,
        "firings": 0,
        "skipped_loops": 0,
        "actions": {},
    }
