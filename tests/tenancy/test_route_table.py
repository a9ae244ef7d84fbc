"""Cross-tenant refusals generated from the route table.

For every API route that takes an id in its path, company B's owner calls it
with ids that exist in company A, and must get 404 — never A's data, never a
write. Ids come from FACTORIES, keyed by path-parameter name; a route whose
parameter has no factory fails `test_every_path_parameter_has_a_factory`, so
a new route cannot land without this test covering it.
"""

from __future__ import annotations

import re
from collections.abc import Callable

import httpx
import pytest

from majlis.app import create_app

# name -> function(client of company A, ids created so far) -> a new id in company A
Factory = Callable[[httpx.Client, dict[str, str]], str]


def _customer(client: httpx.Client, ids: dict[str, str]) -> str:
    response = client.post("/api/v1/customers", json={"name": "Tenant A customer"})
    return str(response.json()["id"])


def _token(client: httpx.Client, ids: dict[str, str]) -> str:
    from sqlalchemy import select

    from majlis.accounts.models import ApiToken
    from majlis.core.db import get_engine, tenant_session

    me = client.get("/api/v1/me").json()
    with tenant_session(get_engine("app"), me["company_id"]) as session:
        return str(
            session.scalars(select(ApiToken.id).where(ApiToken.user_id == me["user_id"])).first()
        )


FACTORIES: dict[str, Factory] = {
    "customer_id": _customer,
    "token_id": _token,
}

PATH_PARAMETER = re.compile(r"{(\w+)}")


def api_routes_with_ids() -> list[tuple[str, str]]:
    """(method, path) of every API operation with a path parameter, from the app's OpenAPI."""
    paths = create_app().openapi()["paths"]
    return [
        (method.upper(), path)
        for path, operations in sorted(paths.items())
        if path.startswith("/api/") and "{" in path
        for method in sorted(operations)
    ]


def test_every_path_parameter_has_a_factory() -> None:
    missing = {
        f"{method} {path}: {name}"
        for method, path in api_routes_with_ids()
        for name in PATH_PARAMETER.findall(path)
        if name not in FACTORIES
    }
    assert not missing, f"add a factory for these path parameters: {sorted(missing)}"


@pytest.mark.parametrize(("method", "path"), api_routes_with_ids())
def test_other_company_gets_404(make_tenant, method: str, path: str) -> None:
    company_a, company_b = make_tenant(), make_tenant()
    with company_a.client() as a_client, company_b.client() as b_client:
        ids: dict[str, str] = {}
        for name in PATH_PARAMETER.findall(path):
            ids[name] = FACTORIES[name](a_client, ids)
        url = path.format(**ids)
        response = b_client.request(
            method, url, json={} if method in {"POST", "PATCH", "PUT"} else None
        )
        assert response.status_code == 404, (
            f"{method} {url}: {response.status_code} {response.text}"
        )
