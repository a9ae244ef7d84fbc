"""The role matrix of the core issue, every cell, over HTTP."""

from __future__ import annotations

import pytest

from majlis.core.permissions import Role

# role -> (create, view, edit others', edit own, delete, export-allowed)
MATRIX = {
    Role.OWNER: dict(
        create=True, view=True, edit_other=True, edit_own=True, delete=True, merge=True, export=True
    ),
    Role.MANAGER: dict(
        create=True,
        view=True,
        edit_other=True,
        edit_own=True,
        delete=False,
        merge=True,
        export=True,
    ),
    Role.SALES: dict(
        create=True,
        view=True,
        edit_other=False,
        edit_own=True,
        delete=False,
        merge=False,
        export=False,
    ),
    Role.ANALYST: dict(
        create=False,
        view=True,
        edit_other=False,
        edit_own=False,
        delete=False,
        merge=False,
        export=True,
    ),
}


def _status(allowed: bool, success: int) -> int:
    return success if allowed else 403


@pytest.mark.parametrize("role", list(Role))
def test_role_matrix(tenant, role: Role) -> None:
    expected = MATRIX[role]
    with tenant.client(Role.OWNER) as owner, tenant.client(role) as client:
        others = owner.post("/api/v1/customers", json={"name": "Owned by the owner"}).json()["id"]
        created = client.post("/api/v1/customers", json={"name": f"Made by {role}"})
        assert created.status_code == _status(expected["create"], 201)
        own = (
            created.json()["id"]
            if expected["create"]
            else owner.post(
                "/api/v1/customers",
                json={"name": "Assigned", "owner_id": str(tenant.user_ids[role])},
            ).json()["id"]
        )

        assert client.get(f"/api/v1/customers/{others}").status_code == _status(
            expected["view"], 200
        )
        assert client.get("/api/v1/customers").status_code == _status(expected["view"], 200)
        edit_other = client.patch(f"/api/v1/customers/{others}", json={"city": "Dubai"})
        assert edit_other.status_code == _status(expected["edit_other"], 200)
        edit_own = client.patch(f"/api/v1/customers/{own}", json={"city": "Dubai"})
        assert edit_own.status_code == _status(expected["edit_own"], 200)
        delete = client.delete(f"/api/v1/customers/{others}")
        assert delete.status_code == _status(expected["delete"], 204)
        if delete.status_code == 403:
            assert delete.headers["content-type"].startswith("application/problem+json")


def test_matrix_in_code_matches_the_issue_table() -> None:
    from majlis.core.permissions import CUSTOMERS, Access, Action

    for role, cells in MATRIX.items():
        for action, key in ((Action.MERGE, "merge"), (Action.EXPORT, "export")):
            assert (CUSTOMERS[role][action] is Access.ALL) == cells[key], (role, action)
    assert CUSTOMERS[Role.SALES][Action.EDIT] is Access.OWN


def test_missing_bad_and_revoked_tokens_are_401(tenant, base_url) -> None:
    import httpx

    assert httpx.get(f"{base_url}/api/v1/customers").status_code == 401
    bad = httpx.get(f"{base_url}/api/v1/customers", headers={"Authorization": "Bearer nonsense"})
    assert bad.status_code == 401 and bad.headers["www-authenticate"] == "Bearer"
    forged = tenant.tokens[Role.OWNER][:-4] + "AAAA"
    assert (
        httpx.get(
            f"{base_url}/api/v1/customers", headers={"Authorization": f"Bearer {forged}"}
        ).status_code
        == 401
    )
    with tenant.client(Role.SALES) as sales:
        assert sales.get("/api/v1/me").json()["role"] == "sales"
    with tenant.client(Role.OWNER) as owner:
        me = owner.get("/api/v1/me").json()
        assert me["company_id"] == str(tenant.company_id)
    # A token revoked through the API stops working on the very next request.
    from sqlalchemy import select

    from majlis.accounts.models import ApiToken
    from majlis.core.db import get_engine, tenant_session

    with tenant_session(get_engine("app"), tenant.company_id) as session:
        token_id = session.scalars(
            select(ApiToken.id).where(ApiToken.user_id == tenant.user_ids[Role.ANALYST])
        ).one()
    with tenant.client(Role.ANALYST) as analyst:
        assert analyst.delete(f"/api/v1/tokens/{token_id}").status_code == 204
        assert analyst.get("/api/v1/customers").status_code == 401
