"""Task queue: documented priority, next task, claiming under concurrency, assignment."""

from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from majlis.core.db import get_engine, tenant_session
from majlis.core.permissions import Role
from majlis.journeys import queue
from majlis.journeys.queue import PrioritySignals, priority_boost, priority_of
from majlis.journeys.schemas import TaskCreate

SOON = datetime(2030, 1, 10, 9, tzinfo=UTC)


def _task(client, **fields):
    body = {"kind": "call", "title": "Call back", "due_at": SOON.isoformat(), **fields}
    response = client.post("/api/v1/tasks", json=body)
    assert response.status_code == 201, response.text
    return response.json()


def test_priority_formula_is_the_documented_one() -> None:
    nothing = PrioritySignals(Decimal("0"), None, 0)
    assert priority_boost(nothing) == timedelta(0)
    everything = PrioritySignals(Decimal("999999"), Decimal("10"), 10)
    assert priority_boost(everything) == timedelta(hours=96)
    assert priority_of(priority_boost(everything)) == 100
    assert priority_of(priority_boost(PrioritySignals(Decimal("999999"), None, 0))) == 50
    assert priority_of(priority_boost(PrioritySignals(Decimal("0"), Decimal("10"), 0))) == 25
    assert priority_of(priority_boost(PrioritySignals(Decimal("0"), None, 10))) == 25
    # Engagement saturates at ten events in thirty days.
    assert priority_boost(PrioritySignals(Decimal("0"), None, 50)) == timedelta(hours=24)


def test_priority_uses_due_time_value_risk_and_engagement(owner, new_customer) -> None:
    risky = new_customer(name="Risky", risk_score="8")
    engaged = new_customer(name="Engaged")
    for stage in ("contacted", "consultation", "proposal"):
        owner.post(f"/api/v1/customers/{engaged}/journey/move", json={"to_stage": stage})
    plain = _task(owner, title="plain")
    valuable = _task(owner, title="valuable", deal_value="50000")
    risk = _task(owner, title="risky", customer_id=risky)
    engagement = _task(owner, title="engaged", customer_id=engaged)
    _task(owner, title="earlier", due_at=(SOON - timedelta(days=10)).isoformat())
    assert plain["priority"] == 0 and plain["rank_at"] == plain["due_at"]
    assert valuable["priority"] == 39  # 48 h * log10(50001)/6 = 37.6 h of 96
    assert risk["priority"] == 20  # 24 h * 0.8
    assert engagement["priority"] == 8  # 3 journey events -> 24 h * 0.3
    listed = owner.get("/api/v1/tasks", params={"status": "open"}).json()["items"]
    assert [t["title"] for t in listed] == ["earlier", "valuable", "risky", "engaged", "plain"]


def test_deal_value_defaults_to_the_journey_deal_value(owner, new_customer) -> None:
    customer_id = new_customer()
    owner.patch(f"/api/v1/customers/{customer_id}/journey", json={"deal_value": "999999"})
    task = _task(owner, customer_id=customer_id)
    assert (task["deal_value"], task["priority"]) == ("999999.00", 50)


def test_next_task_is_the_best_of_own_queue_and_pool(tenant) -> None:
    with tenant.client(Role.SALES) as sales, tenant.client(Role.MANAGER) as manager:
        sales_id = str(tenant.user_ids[Role.SALES])
        assert sales.get("/api/v1/tasks/next").json() == {"task": None, "coach": None}
        own = _task(manager, title="own", assigned_to=sales_id)
        _task(
            manager,
            title="someone else's",
            assigned_to=str(tenant.user_ids[Role.MANAGER]),
            due_at=(SOON - timedelta(days=30)).isoformat(),
        )
        assert sales.get("/api/v1/tasks/next").json()["task"]["id"] == own["id"]
        pool = _task(
            manager,
            title="pool, due earlier",
            assign="pool",
            due_at=(SOON - timedelta(days=1)).isoformat(),
        )
        assert pool["assigned_to"] is None
        assert sales.get("/api/v1/tasks/next").json()["task"]["id"] == pool["id"]
        claimed = sales.post("/api/v1/tasks/next/claim").json()["task"]
        assert (claimed["id"], claimed["status"]) == (pool["id"], "claimed")
        assert claimed["assigned_to"] == sales_id
        assert sales.get("/api/v1/tasks/next").json()["task"]["id"] == own["id"]
        done = sales.post(f"/api/v1/tasks/{own['id']}/complete")
        assert done.json()["status"] == "done"
        assert sales.get("/api/v1/tasks/next").json() == {"task": None, "coach": None}


def test_next_task_comes_with_the_sales_coachs_advice(owner) -> None:
    customer = owner.post("/api/v1/customers", json={"name": "Won over"}).json()["id"]
    for stage in ("contacted", "consultation", "proposal", "won"):
        owner.post(f"/api/v1/customers/{customer}/journey/move", json={"to_stage": stage})
    _task(owner, title="Thank them", customer_id=customer, assigned_to=None, assign="pool")
    advised = owner.get("/api/v1/tasks/next").json()
    assert advised["task"]["customer_id"] == customer
    assert advised["coach"]["action"] == "offer" and advised["coach"]["reasons"]
    claimed = owner.post("/api/v1/tasks/next/claim").json()
    assert claimed["coach"] == advised["coach"]
    _task(owner, title="Paperwork", assign="pool")
    assert owner.get("/api/v1/tasks/next").json()["coach"] is None  # no customer, no advice


def test_claiming_a_claimed_task_conflicts_and_others_tasks_are_refused(tenant) -> None:
    with tenant.client(Role.SALES) as sales, tenant.client(Role.MANAGER) as manager:
        pool = _task(manager, assign="pool")
        assert manager.post(f"/api/v1/tasks/{pool['id']}/claim").status_code == 200
        again = sales.post(f"/api/v1/tasks/{pool['id']}/claim")
        assert again.status_code == 409
        theirs = _task(manager, assigned_to=str(tenant.user_ids[Role.MANAGER]))
        assert sales.post(f"/api/v1/tasks/{theirs['id']}/claim").status_code == 403
        assert sales.post(f"/api/v1/tasks/{theirs['id']}/complete").status_code == 403
    with tenant.client(Role.ANALYST) as analyst:
        assert (
            analyst.post(
                "/api/v1/tasks", json={"kind": "call", "title": "x", "due_at": SOON.isoformat()}
            ).status_code
            == 403
        )


def test_two_concurrent_claimers_never_get_the_same_task(tenant) -> None:
    with tenant.client(Role.MANAGER) as manager:
        created = {_task(manager, title=f"pool {i}", assign="pool")["id"] for i in range(30)}

    def claim_all(role: Role) -> list[str]:
        claimed = []
        with tenant.client(role) as client:
            while (task := client.post("/api/v1/tasks/next/claim").json()["task"]) is not None:
                claimed.append(task["id"])
        return claimed

    with ThreadPoolExecutor(2) as pool:
        first, second = pool.map(claim_all, (Role.SALES, Role.MANAGER))
    assert not set(first) & set(second)
    assert sorted(first + second) == sorted(created)


def test_a_locked_head_is_skipped_not_shared(tenant) -> None:
    """While one transaction holds the best task, a second claimer gets the next one."""
    engine = get_engine("app")
    manager = tenant.actor(Role.MANAGER)
    with tenant_session(engine, tenant.company_id) as session:
        for i in range(2):
            draft = TaskCreate(
                kind="call", title=f"t{i}", due_at=SOON + timedelta(hours=i), assign="pool"
            )
            queue.create_task(session, manager, draft)
    with tenant_session(engine, tenant.company_id) as first_session:
        first = queue.claim_next_task(first_session, tenant.actor(Role.SALES))
        with tenant_session(engine, tenant.company_id) as second_session:
            second = queue.claim_next_task(second_session, manager)
        assert first is not None and second is not None
        assert (first.title, second.title) == ("t0", "t1")


def test_round_robin_and_least_loaded_assignment(tenant) -> None:
    eligible = {str(tenant.user_ids[Role.SALES]), str(tenant.user_ids[Role.MANAGER])}
    with tenant.client(Role.MANAGER) as manager:
        round_robin = [_task(manager, assign="round_robin")["assigned_to"] for _ in range(4)]
        assert set(round_robin) == eligible
        assert round_robin[0] != round_robin[1] and round_robin[:2] == round_robin[2:]
        sales_id = str(tenant.user_ids[Role.SALES])
        _task(manager, assigned_to=sales_id)
        # Sales now has one open task more than the manager: least-loaded picks the manager,
        # then they are level and the tie goes by user id, then the other one.
        assert _task(manager, assign="least_loaded")["assigned_to"] != sales_id
        both = [_task(manager, assign="least_loaded")["assigned_to"] for _ in range(2)]
        assert set(both) == eligible
        invalid = manager.post(
            "/api/v1/tasks",
            json={
                "kind": "call",
                "title": "x",
                "due_at": SOON.isoformat(),
                "assign": "pool",
                "assigned_to": sales_id,
            },
        )
        assert invalid.status_code == 422


def test_task_validation(owner) -> None:
    naive_time = owner.post(
        "/api/v1/tasks", json={"kind": "call", "title": "x", "due_at": "2030-01-01T09:00:00"}
    )
    assert naive_time.status_code == 422
    unknown_kind = owner.post(
        "/api/v1/tasks", json={"kind": "dance", "title": "x", "due_at": SOON.isoformat()}
    )
    assert unknown_kind.json()["errors"][0]["field"] == "kind"
    ghost = _task_response(owner, customer_id=str(uuid.uuid4()))
    assert ghost.status_code == 422 and ghost.json()["errors"][0]["field"] == "customer_id"


def _task_response(client, **fields):
    body = {"kind": "call", "title": "x", "due_at": SOON.isoformat(), **fields}
    return client.post("/api/v1/tasks", json=body)
