"""Customer portal: one-time link sign-in, own record only, never staff endpoints."""

from __future__ import annotations

import httpx
import pytest
from sqlalchemy import text


def _link_token(admin_engine, customer_id: str) -> str | None:
    with admin_engine.connect() as conn:
        return conn.execute(
            text(
                "SELECT payload->>'token' FROM outbox_events WHERE topic LIKE 'portal.%'"
                " AND payload->>'customer_id' = :c ORDER BY created_at DESC, id DESC LIMIT 1"
            ),
            {"c": customer_id},
        ).scalar_one_or_none()


@pytest.fixture
def signed_in(tenant, owner, base_url, admin_engine):
    customer = owner.post(
        "/api/v1/customers",
        json={"name": "Layla", "email": "layla@x.example", "phone": "0501234567"},
    ).json()["id"]
    member = owner.post("/api/v1/loyalty/members", json={"customer_id": customer}).json()
    owner.post(
        f"/api/v1/loyalty/members/{member['id']}/adjust", json={"points": 300, "reason": "welcome"}
    )
    public = httpx.Client(base_url=base_url, timeout=30)
    asked = public.post(
        "/api/v1/portal/links",
        json={"company_id": str(tenant.company_id), "email": "LAYLA@x.example"},
    )
    assert asked.status_code == 202
    link = _link_token(admin_engine, customer)
    opened = public.post(
        "/api/v1/portal/sessions", json={"company_id": str(tenant.company_id), "token": link}
    )
    assert opened.status_code == 201, opened.text
    token = opened.json()["token"]
    assert token.startswith("mjp_")
    portal = httpx.Client(
        base_url=base_url, timeout=30, headers={"Authorization": f"Bearer {token}"}
    )
    yield {"customer": customer, "member": member, "portal": portal, "public": public, "link": link}
    portal.close()
    public.close()


def test_customer_sees_and_uses_only_their_own_record(signed_in, owner) -> None:
    portal = signed_in["portal"]
    me = portal.get("/api/v1/portal/me").json()
    assert me["customer"]["name"] == "Layla"
    assert me["loyalty"]["balance"] == 300 and me["loyalty"]["tier"] == "bronze"
    assert [e["points"] for e in portal.get("/api/v1/portal/me/points").json()] == [300]
    reward = owner.post("/api/v1/loyalty/rewards", json={"name": "Tea", "cost_points": 120}).json()
    assert [r["name"] for r in portal.get("/api/v1/portal/me/rewards").json()] == ["Tea"]
    redeemed = portal.post("/api/v1/portal/me/redeem", json={"reward_id": reward["id"]})
    assert redeemed.status_code == 201, redeemed.text
    assert portal.get("/api/v1/portal/me").json()["loyalty"]["balance"] == 180
    prefs = portal.put(
        "/api/v1/portal/me/preferences",
        json={"channel": "whatsapp", "language": "ar", "marketing_consent": True},
    )
    assert prefs.status_code == 200
    staff_view = owner.get(f"/api/v1/customers/{signed_in['customer']}/preferences").json()
    assert (staff_view["channel"], staff_view["marketing_consent"]) == ("whatsapp", True)
    export = portal.get("/api/v1/portal/me/export")
    assert export.status_code == 200, export.text
    assert signed_in["customer"] in export.text


def test_links_are_one_time_and_sessions_end(signed_in, tenant, admin_engine) -> None:
    public = signed_in["public"]
    again = public.post(
        "/api/v1/portal/sessions",
        json={"company_id": str(tenant.company_id), "token": signed_in["link"]},
    )
    assert again.status_code == 401
    public.post(
        "/api/v1/portal/links",
        json={"company_id": str(tenant.company_id), "phone": "+971501234567"},
    )
    fresh = _link_token(admin_engine, signed_in["customer"])
    assert fresh != signed_in["link"]
    with admin_engine.begin() as conn:
        conn.execute(
            text(
                "UPDATE portal_links SET expires_at = now() - interval '1 minute'"
                " WHERE company_id = :c"
            ),
            {"c": tenant.company_id},
        )
    expired = public.post(
        "/api/v1/portal/sessions", json={"company_id": str(tenant.company_id), "token": fresh}
    )
    assert expired.status_code == 401
    portal = signed_in["portal"]
    assert portal.post("/api/v1/portal/sign-out").status_code == 204
    assert portal.get("/api/v1/portal/me").status_code == 401


def test_unknown_people_get_the_same_answer_and_no_link(tenant, base_url, admin_engine) -> None:
    with httpx.Client(base_url=base_url) as public:
        answer = public.post(
            "/api/v1/portal/links",
            json={"company_id": str(tenant.company_id), "email": "who@x.example"},
        )
        assert answer.status_code == 202
        assert (
            public.post(
                "/api/v1/portal/links", json={"company_id": str(tenant.company_id)}
            ).status_code
            == 422
        )
    with admin_engine.connect() as conn:
        sent = conn.execute(
            text(
                "SELECT count(*) FROM outbox_events WHERE company_id = :c AND topic LIKE 'portal.%'"
            ),
            {"c": tenant.company_id},
        )
        assert sent.scalar_one() == 0


def test_portal_and_staff_tokens_never_cross(signed_in, tenant) -> None:
    portal = signed_in["portal"]
    for path in (
        "/api/v1/customers",
        f"/api/v1/customers/{signed_in['customer']}",
        "/api/v1/tasks/next",
        "/api/v1/loyalty/rewards",
    ):
        assert portal.get(path).status_code == 401, path
    with tenant.client() as staff:
        assert staff.get("/api/v1/portal/me").status_code == 401


def test_a_portal_session_is_bound_to_its_company(signed_in, make_tenant, base_url) -> None:
    other = make_tenant()
    token = signed_in["portal"].headers["Authorization"].split()[1]
    forged = token.replace(token.split("_")[1], other.company_id.hex)
    with httpx.Client(base_url=base_url, headers={"Authorization": f"Bearer {forged}"}) as c:
        assert c.get("/api/v1/portal/me").status_code == 401
