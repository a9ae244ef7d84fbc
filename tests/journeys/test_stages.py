"""Workflow stages: the default journey, editing it, and validated stage transitions."""

from __future__ import annotations

from majlis.core.permissions import Role

DEFAULT_KEYS = [
    "lead",
    "contacted",
    "consultation",
    "proposal",
    "won",
    "lost",
    "follow_up",
    "loyal",
]


def _move(client, customer_id: str, to_stage: str, reason: str | None = None):
    return client.post(
        f"/api/v1/customers/{customer_id}/journey/move",
        json={"to_stage": to_stage, "reason": reason},
    )


def test_default_workflow_is_created_on_first_use(owner) -> None:
    stages = owner.get("/api/v1/journeys/workflow").json()["stages"]
    assert [s["key"] for s in stages] == DEFAULT_KEYS
    assert [s["position"] for s in stages] == list(range(len(DEFAULT_KEYS)))
    assert stages[0]["name_ar"] == "عميل محتمل"
    # A second read finds the same stages rather than creating more.
    assert owner.get("/api/v1/journeys/workflow").json()["stages"] == stages


def test_new_customer_stands_in_first_stage_until_moved(owner, new_customer) -> None:
    customer_id = new_customer()
    journey = owner.get(f"/api/v1/customers/{customer_id}/journey").json()
    assert journey["state"]["stage_key"] == "lead"
    assert journey["state"]["version"] == 0
    assert journey["actions"] == []


def test_allowed_transition_records_action_event_and_timeline(owner, new_customer, tenant) -> None:
    customer_id = new_customer()
    response = _move(owner, customer_id, "contacted", "called back")
    assert response.status_code == 200, response.text
    journey = response.json()
    assert journey["state"]["stage_key"] == "contacted"
    (action,) = journey["actions"]
    assert (action["from_stage"], action["to_stage"], action["reason"]) == (
        "lead",
        "contacted",
        "called back",
    )
    assert action["actor_id"] == str(tenant.user_ids[Role.OWNER])
    events = owner.get("/api/v1/journeys/events", params={"customer_id": customer_id}).json()
    assert [e["kind"] for e in events["items"]] == ["stage_changed"]
    assert events["items"][0]["payload"] == {
        "from": "lead",
        "to": "contacted",
        "reason": "called back",
    }

    from majlis.core.db import get_engine, tenant_session
    from majlis.core.timeline import customer_timeline

    with tenant_session(get_engine("app"), tenant.company_id) as session:
        import uuid

        page = customer_timeline(session, tenant.actor(), uuid.UUID(customer_id))
    assert "journey" in {entry.kind for entry in page.items}


def test_disallowed_transitions_are_refused_and_change_nothing(owner, new_customer) -> None:
    customer_id = new_customer()
    skip_ahead = _move(owner, customer_id, "won")
    assert skip_ahead.status_code == 422
    assert skip_ahead.json()["errors"][0]["field"] == "to_stage"
    assert "allowed: contacted, lost" in skip_ahead.json()["errors"][0]["message"]
    assert _move(owner, customer_id, "nowhere").status_code == 422
    assert _move(owner, customer_id, "lead").status_code == 422  # not to itself
    journey = owner.get(f"/api/v1/customers/{customer_id}/journey").json()
    assert journey["state"]["stage_key"] == "lead"
    assert journey["actions"] == []


def test_full_path_lead_to_loyal_and_back_from_lost(owner, new_customer) -> None:
    customer_id = new_customer()
    for stage in ("contacted", "consultation", "proposal", "won", "follow_up", "loyal"):
        assert _move(owner, customer_id, stage).status_code == 200, stage
    other = new_customer(name="Lost then found")
    assert _move(owner, other, "lost").status_code == 200
    assert _move(owner, other, "contacted").status_code == 422
    assert _move(owner, other, "lead").status_code == 200


def test_workflow_can_be_edited_but_not_drop_stages_in_use(owner, new_customer) -> None:
    customer_id = new_customer()
    assert _move(owner, customer_id, "contacted").status_code == 200
    simple = {
        "stages": [
            {"key": "lead", "name": "Lead", "next_stages": ["contacted"]},
            {"key": "contacted", "name": "Contacted", "next_stages": ["booked"]},
            {"key": "booked", "name": "Booked", "name_ar": "محجوز", "next_stages": []},
        ]
    }
    response = owner.put("/api/v1/journeys/workflow", json=simple)
    assert response.status_code == 200, response.text
    assert [s["key"] for s in response.json()["stages"]] == ["lead", "contacted", "booked"]
    assert _move(owner, customer_id, "booked").status_code == 200
    # "booked" now holds a customer, so a definition without it is refused.
    without_booked = {
        "stages": [
            {"key": "lead", "name": "Lead", "next_stages": ["contacted"]},
            {"key": "contacted", "name": "Contacted"},
        ]
    }
    refused = owner.put("/api/v1/journeys/workflow", json=without_booked)
    assert refused.status_code == 409
    assert refused.json()["stages"] == ["booked"]


def test_invalid_workflow_definitions_name_the_field(owner) -> None:
    bad = {
        "stages": [
            {"key": "lead", "name": "Lead", "next_stages": ["ghost", "lead"]},
            {"key": "lead", "name": "Again"},
        ]
    }
    response = owner.put("/api/v1/journeys/workflow", json=bad)
    assert response.status_code == 422
    fields = {(e["field"], e["message"]) for e in response.json()["errors"]}
    assert ("stages.0.next_stages", "no stage 'ghost'") in fields
    assert ("stages.0.next_stages", "a stage cannot lead to itself") in fields
    assert ("stages.1.key", "stage 'lead' appears more than once") in fields
    bad_key = {"stages": [{"key": "Bad Key", "name": "x"}, {"key": "b", "name": "b"}]}
    assert owner.put("/api/v1/journeys/workflow", json=bad_key).status_code == 422
    unknown_field = {"stages": [{"key": "a", "name": "A"}, {"key": "b", "name": "B"}], "x": 1}
    assert owner.put("/api/v1/journeys/workflow", json=unknown_field).status_code == 422


def test_roles_on_journeys(tenant, new_customer) -> None:
    customer_id = new_customer()
    with tenant.client(Role.ANALYST) as analyst, tenant.client(Role.SALES) as sales:
        assert analyst.get(f"/api/v1/customers/{customer_id}/journey").status_code == 200
        assert _move(analyst, customer_id, "contacted").status_code == 403
        assert _move(sales, customer_id, "contacted").status_code == 200
        workflow = sales.get("/api/v1/journeys/workflow").json()
        assert sales.put("/api/v1/journeys/workflow", json=workflow).status_code in (403, 422)
        stages = {"stages": [{"key": "a", "name": "A"}, {"key": "b", "name": "B"}]}
        assert sales.put("/api/v1/journeys/workflow", json=stages).status_code == 403


def test_deal_value_and_assignee(owner, new_customer, tenant) -> None:
    customer_id = new_customer()
    sales_id = str(tenant.user_ids[Role.SALES])
    response = owner.patch(
        f"/api/v1/customers/{customer_id}/journey",
        json={"deal_value": "12500.50", "assigned_to": sales_id},
    )
    assert response.status_code == 200, response.text
    state = response.json()["state"]
    assert (state["deal_value"], state["assigned_to"]) == ("12500.50", sales_id)
    stranger = owner.patch(
        f"/api/v1/customers/{customer_id}/journey",
        json={"assigned_to": "00000000-0000-7000-8000-000000000000"},
    )
    assert stranger.status_code == 422
    negative = owner.patch(f"/api/v1/customers/{customer_id}/journey", json={"deal_value": -1})
    assert negative.status_code == 422
