"""Loyalty over HTTP: program and tiers, earning, tier changes, rewards, redemption, expiry."""

from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from threading import Barrier

from sqlalchemy import text

from majlis.core.db import get_engine, tenant_session
from majlis.core.permissions import Role
from majlis.loyalty import service
from majlis.loyalty.models import EntryKind

PROGRAM = {
    "name": "Noor Rewards",
    "points_per_currency_unit": "1",
    "points_per_visit": 10,
    "points_per_referral": 100,
    "expiry_days": 365,
    "tiers": [
        {"key": "bronze", "name": "Bronze", "min_points": 0},
        {"key": "silver", "name": "Silver", "min_points": 1000},
        {"key": "gold", "name": "Gold", "name_ar": "ذهبي", "min_points": 5000},
    ],
}


def _member(client, name: str = "Member", **enroll) -> dict:
    customer = client.post("/api/v1/customers", json={"name": name}).json()["id"]
    response = client.post("/api/v1/loyalty/members", json={"customer_id": customer, **enroll})
    assert response.status_code == 201, response.text
    return response.json()


def _earn(client, member_id: str, **body) -> dict:
    response = client.post(f"/api/v1/loyalty/members/{member_id}/earn", json=body)
    assert response.status_code == 200, response.text
    return response.json()


def test_default_program_has_five_tiers(owner) -> None:
    program = owner.get("/api/v1/loyalty/program").json()
    assert [(t["key"], t["min_points"]) for t in program["tiers"]] == [
        ("bronze", 0),
        ("silver", 1000),
        ("gold", 5000),
        ("platinum", 15000),
        ("diamond", 50000),
    ]
    assert program["tiers"][4]["name_ar"] == "ماسي"


def test_program_is_editable_and_validated(owner) -> None:
    assert owner.put("/api/v1/loyalty/program", json=PROGRAM).status_code == 200
    assert len(owner.get("/api/v1/loyalty/program").json()["tiers"]) == 3
    unordered = {**PROGRAM, "tiers": [PROGRAM["tiers"][1], PROGRAM["tiers"][0]]}
    assert owner.put("/api/v1/loyalty/program", json=unordered).status_code == 422
    assert (
        owner.put("/api/v1/loyalty/program", json={**PROGRAM, "expiry_days": 0}).status_code == 422
    )


def test_earning_balance_is_the_ledger_sum_and_references_are_idempotent(owner) -> None:
    owner.put("/api/v1/loyalty/program", json=PROGRAM)
    member = _member(owner)
    _earn(owner, member["id"], source="purchase", amount="250.75", reference="inv-1")
    again = _earn(owner, member["id"], source="purchase", amount="250.75", reference="inv-1")
    after_visit = _earn(owner, member["id"], source="visit")
    assert again["balance"] == 250
    assert after_visit["balance"] == 260
    ledger = owner.get(f"/api/v1/loyalty/members/{member['id']}/ledger").json()
    assert sum(e["points"] for e in ledger) == 260
    assert {e["reason"] for e in ledger} == {"purchase", "visit"}
    assert (
        owner.post(
            f"/api/v1/loyalty/members/{member['id']}/earn", json={"source": "purchase"}
        ).status_code
        == 422
    )


def test_bonus_campaign_multiplies_purchase_points(owner) -> None:
    owner.put("/api/v1/loyalty/program", json=PROGRAM)
    now = datetime.now(UTC)
    campaign = {
        "name": "Eid double points",
        "multiplier": "2",
        "starts_at": (now - timedelta(days=1)).isoformat(),
        "ends_at": (now + timedelta(days=1)).isoformat(),
    }
    assert owner.post("/api/v1/loyalty/campaigns", json=campaign).status_code == 201
    member = _member(owner)
    assert _earn(owner, member["id"], source="purchase", amount="100")["balance"] == 200


def test_tier_change_is_announced(owner, admin_engine) -> None:
    owner.put("/api/v1/loyalty/program", json=PROGRAM)
    member = _member(owner)
    assert member["tier_key"] == "bronze"
    updated = _earn(owner, member["id"], source="purchase", amount="1200")
    assert (updated["tier_key"], updated["rolling_points"]) == ("silver", 1200)
    with admin_engine.connect() as conn:
        (payload,) = conn.execute(
            text(
                "SELECT payload FROM outbox_events WHERE topic = 'loyalty.tier_changed'"
                " AND payload->>'member_id' = :m"
            ),
            {"m": member["id"]},
        ).scalars()
    assert (payload["from"], payload["to"], payload["notify"]) == (
        "bronze",
        "silver",
        ["customer", "owner"],
    )
    events = owner.get(
        "/api/v1/journeys/events", params={"customer_id": member["customer_id"]}
    ).json()["items"]
    assert [e["kind"] for e in events] == ["tier_changed"]
    (notice,) = owner.get("/api/v1/notifications").json()["items"]
    assert notice["title"] == "A loyalty member moved from bronze to silver"


def test_referral_codes_credit_the_referrer(owner) -> None:
    owner.put("/api/v1/loyalty/program", json=PROGRAM)
    referrer = _member(owner, "Referrer")
    assert len(referrer["referral_code"]) == 8
    _member(owner, "Friend", referral_code=referrer["referral_code"].lower())
    after = owner.get(f"/api/v1/loyalty/members/{referrer['id']}").json()
    assert after["balance"] == 100
    customer = owner.post("/api/v1/customers", json={"name": "Bad code"}).json()["id"]
    bad = owner.post(
        "/api/v1/loyalty/members", json={"customer_id": customer, "referral_code": "NOPE1234"}
    )
    assert bad.status_code == 422
    twice = owner.post("/api/v1/loyalty/members", json={"customer_id": referrer["customer_id"]})
    assert twice.status_code == 409


def test_rewards_respect_balance_stock_limits_and_tiers(owner) -> None:
    owner.put("/api/v1/loyalty/program", json=PROGRAM)
    member = _member(owner)
    _earn(owner, member["id"], source="purchase", amount="900")
    coffee = owner.post(
        "/api/v1/loyalty/rewards",
        json={
            "name": "Coffee",
            "name_ar": "قهوة",
            "cost_points": 100,
            "stock": 2,
            "per_member_limit": 5,
        },
    ).json()
    spa = owner.post(
        "/api/v1/loyalty/rewards",
        json={"name": "Spa", "cost_points": 200, "min_tier_key": "silver"},
    ).json()
    facial = owner.post(
        "/api/v1/loyalty/rewards",
        json={"name": "Facial", "cost_points": 100, "per_member_limit": 1},
    ).json()
    big = owner.post("/api/v1/loyalty/rewards", json={"name": "Trip", "cost_points": 5000}).json()
    redeem = f"/api/v1/loyalty/members/{member['id']}/redeem"
    assert owner.post(redeem, json={"reward_id": coffee["id"]}).status_code == 201
    assert owner.post(redeem, json={"reward_id": coffee["id"]}).status_code == 201
    out_of_stock = owner.post(redeem, json={"reward_id": coffee["id"]})
    assert out_of_stock.status_code == 409 and "out of stock" in out_of_stock.json()["detail"]
    assert "tier silver" in owner.post(redeem, json={"reward_id": spa["id"]}).json()["detail"]
    assert owner.post(redeem, json={"reward_id": facial["id"]}).status_code == 201
    assert "1 time(s)" in owner.post(redeem, json={"reward_id": facial["id"]}).json()["detail"]
    broke = owner.post(redeem, json={"reward_id": big["id"]})
    assert broke.status_code == 409 and broke.json()["balance"] == 600
    assert owner.get(f"/api/v1/loyalty/members/{member['id']}").json()["balance"] == 600
    bad_tier = owner.post(
        "/api/v1/loyalty/rewards", json={"name": "x", "cost_points": 1, "min_tier_key": "mythril"}
    )
    assert bad_tier.status_code == 422


def test_concurrent_redemptions_cannot_overspend(owner, tenant) -> None:
    member = _member(owner)
    owner.post(
        f"/api/v1/loyalty/members/{member['id']}/adjust", json={"points": 100, "reason": "welcome"}
    )
    reward = owner.post("/api/v1/loyalty/rewards", json={"name": "Gift", "cost_points": 30}).json()
    start = Barrier(8)

    def attempt(_: int) -> int:
        with tenant.client(Role.SALES) as client:
            start.wait()
            return client.post(
                f"/api/v1/loyalty/members/{member['id']}/redeem", json={"reward_id": reward["id"]}
            ).status_code

    with ThreadPoolExecutor(8) as pool:
        codes = list(pool.map(attempt, range(8)))
    assert sorted(codes) == [201] * 3 + [409] * 5
    assert owner.get(f"/api/v1/loyalty/members/{member['id']}").json()["balance"] == 10


def test_expiry_takes_oldest_points_first(tenant, owner) -> None:
    member = _member(owner)
    actor = tenant.actor()
    start = datetime(2025, 1, 1, tzinfo=UTC)
    with tenant_session(get_engine("app"), tenant.company_id) as session:
        member_id = uuid.UUID(member["id"])
        old = service.earn_points(session, actor, member_id, 100, "purchase", now=start)
        new = service.earn_points(
            session, actor, member_id, 50, "purchase", now=start + timedelta(days=100)
        )
        service.spend_points(
            session, actor, member_id, 60, EntryKind.REDEEM, "gift", now=start + timedelta(days=101)
        )
        assert old is not None and new is not None
        session.refresh(old)
        session.refresh(new)
        assert (old.remaining, new.remaining) == (40, 50)
        expired = service.expire_points(session, actor, now=start + timedelta(days=366))
        assert expired == 40
        assert service.balance(session, actor, member_id) == 50
        assert service.expire_points(session, actor, now=start + timedelta(days=366)) == 0


def test_achievements_are_awarded_once_criteria_are_met(owner) -> None:
    owner.put("/api/v1/loyalty/program", json=PROGRAM)
    badge = {
        "key": "regular",
        "name": "Regular",
        "name_ar": "زبون دائم",
        "criterion": {"metric": "visits", "at_least": 2},
    }
    assert owner.post("/api/v1/loyalty/achievements", json=badge).status_code == 201
    assert owner.post("/api/v1/loyalty/achievements", json=badge).status_code == 409
    bad = {**badge, "key": "x", "criterion": {"metric": "vibes", "at_least": 1}}
    assert owner.post("/api/v1/loyalty/achievements", json=bad).status_code == 422
    member = _member(owner)
    assert _earn(owner, member["id"], source="visit")["achievements"] == []
    assert _earn(owner, member["id"], source="visit")["achievements"] == ["regular"]


def test_roles(tenant, owner) -> None:
    member = _member(owner)
    with tenant.client(Role.SALES) as sales, tenant.client(Role.ANALYST) as analyst:
        adjust = {"points": 5, "reason": "sorry"}
        assert (
            sales.post(f"/api/v1/loyalty/members/{member['id']}/adjust", json=adjust).status_code
            == 403
        )
        assert sales.put("/api/v1/loyalty/program", json=PROGRAM).status_code == 403
        assert analyst.get(f"/api/v1/loyalty/members/{member['id']}").status_code == 200
        assert (
            analyst.post(
                f"/api/v1/loyalty/members/{member['id']}/earn", json={"source": "visit"}
            ).status_code
            == 403
        )


def test_rule_action_awards_points_to_members(owner) -> None:
    member = _member(owner)
    rule = {
        "name": "Points for proposals",
        "trigger": "stage_changed",
        "actions": [{"type": "award_points", "points": 25, "reason": "moved on"}],
    }
    assert owner.post("/api/v1/automation/rules", json=rule).status_code == 201
    owner.post(
        f"/api/v1/customers/{member['customer_id']}/journey/move", json={"to_stage": "contacted"}
    )
    assert owner.post("/api/v1/automation/process").json()["firings"] == 1
    assert owner.get(f"/api/v1/loyalty/members/{member['id']}").json()["balance"] == 25
