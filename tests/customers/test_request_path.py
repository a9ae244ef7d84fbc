"""The lean request path: one-statement token auth, lean list rows, view recorded by the read."""

from __future__ import annotations

import uuid

import httpx
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session

from majlis.accounts.service import authenticate_token
from majlis.core.permissions import Role


def _views(admin_engine: Engine, customer_id: str) -> list[tuple[str, str | None, list[str]]]:
    with admin_engine.connect() as connection:
        rows = connection.execute(
            text(
                "SELECT kind::text, actor_id::text, sensitive_fields FROM customer_interactions"
                " WHERE customer_id = :id ORDER BY occurred_at, id"
            ),
            {"id": customer_id},
        )
        return [(kind, actor, fields) for kind, actor, fields in rows]


def test_detail_records_exactly_one_view_with_the_sensitive_fields_shown(
    tenant, owner: httpx.Client, admin_engine: Engine
) -> None:
    created = owner.post(
        "/api/v1/customers", json={"name": "Viewed Person", "trn": "100111222333444"}
    ).json()
    with tenant.client(Role.SALES) as sales:
        shown = sales.get(f"/api/v1/customers/{created['id']}")
    assert shown.status_code == 200
    assert shown.headers["etag"] == f'"{created["version"]}"'
    assert shown.json() == {k: v for k, v in created.items() if k in shown.json()}
    assert _views(admin_engine, created["id"]) == [
        ("viewed", str(tenant.user_ids[Role.SALES]), ["trn"])
    ]


def test_deleted_and_foreign_customers_answer_404_and_record_no_view(
    make_tenant, admin_engine: Engine
) -> None:
    a, b = make_tenant(), make_tenant()
    with a.client() as a_client, b.client() as b_client:
        gone = a_client.post("/api/v1/customers", json={"name": "Gone"}).json()
        assert a_client.delete(f"/api/v1/customers/{gone['id']}").status_code == 204
        theirs = b_client.post("/api/v1/customers", json={"name": "Theirs"}).json()
        assert a_client.get(f"/api/v1/customers/{gone['id']}").status_code == 404
        assert a_client.get(f"/api/v1/customers/{theirs['id']}").status_code == 404
        assert a_client.get(f"/api/v1/customers/{uuid.uuid4()}").status_code == 404
    assert _views(admin_engine, gone["id"]) == []
    assert _views(admin_engine, theirs["id"]) == []


def test_list_rows_carry_every_field_of_the_detail(owner: httpx.Client) -> None:
    created = owner.post(
        "/api/v1/customers",
        json={"name": "Listed", "tags": ["vip"], "risk_score": "4.5", "secondary_phones": []},
    ).json()
    listed = owner.get("/api/v1/customers", params={"limit": 1}).json()
    item = listed["items"][0]
    detail = owner.get(f"/api/v1/customers/{created['id']}").json()
    assert item == {**detail, "rank": None, "tier": None, "matched_field": None}
    assert listed["count"] is None


def test_lookup_by_secondary_phone_and_email(owner: httpx.Client) -> None:
    created = owner.post(
        "/api/v1/customers",
        json={
            "name": "Two Numbers",
            "phone": "+971501110001",
            "secondary_phones": ["+971501110002"],
            "secondary_emails": ["second@example.ae"],
        },
    ).json()
    owner.post("/api/v1/customers", json={"name": "No Extras", "phone": "+971501110003"})
    for params in (
        {"phone": "0501110002"},
        {"phone": "0501110001"},
        {"email": "second@example.ae"},
    ):
        found = owner.get("/api/v1/customers", params=params).json()["items"]
        assert [c["id"] for c in found] == [created["id"]], params


def _last_used(admin_engine: Engine, company_id: uuid.UUID) -> list[object]:
    with admin_engine.connect() as connection:
        return list(
            connection.execute(
                text("SELECT last_used_at FROM api_tokens WHERE company_id = :c ORDER BY id"),
                {"c": company_id},
            ).scalars()
        )


def test_token_use_is_stamped_at_most_once_a_minute(tenant, admin_engine: Engine) -> None:
    assert all(stamp is None for stamp in _last_used(admin_engine, tenant.company_id))
    with tenant.client(Role.ANALYST) as analyst:
        assert analyst.get("/api/v1/customers").status_code == 200
        first = _last_used(admin_engine, tenant.company_id)
        assert analyst.get("/api/v1/customers").status_code == 200
    assert sum(stamp is not None for stamp in first) == 1
    assert _last_used(admin_engine, tenant.company_id) == first


def test_inactive_members_and_foreign_company_parts_are_401(
    make_tenant, admin_engine: Engine, base_url: str
) -> None:
    a, b = make_tenant(), make_tenant()
    secret = a.tokens[Role.SALES].split("_", 2)[2]
    borrowed = f"mjl_{b.company_id.hex}_{secret}"  # a real secret under another company
    answer = httpx.get(
        f"{base_url}/api/v1/customers", headers={"Authorization": f"Bearer {borrowed}"}
    )
    assert answer.status_code == 401
    with admin_engine.begin() as connection:
        connection.execute(
            text("UPDATE memberships SET is_active = false WHERE company_id = :c AND user_id = :u"),
            {"c": a.company_id, "u": a.user_ids[Role.SALES]},
        )
    with a.client(Role.SALES) as sales:
        refused = sales.get("/api/v1/customers")
    assert refused.status_code == 401
    assert refused.json()["detail"] == "the bearer token has been revoked"


def test_requests_sharing_a_token_never_queue_behind_its_stamp(tenant, app_engine: Engine) -> None:
    """The first request of a minute stamps the token and holds that row until it commits;
    the others authenticate at once instead of waiting for it (measured: a blocking stamp
    serialised a 100-user load test)."""
    raw = tenant.tokens[Role.OWNER]
    with Session(app_engine) as stamping, stamping.begin():
        authenticate_token(stamping, raw)  # stamps: the token row is locked until commit
        with Session(app_engine) as other, other.begin():
            other.execute(text("SET LOCAL lock_timeout = '2s'"))
            assert authenticate_token(other, raw).user_id == tenant.user_ids[Role.OWNER]
