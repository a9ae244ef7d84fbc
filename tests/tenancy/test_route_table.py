"""Cross-tenant refusals generated from the route table.

For every API route that takes an id in its path, company B's owner calls it
with ids that exist in company A, and must get 404 — never A's data, never a
write. Ids come from FACTORIES, keyed by path-parameter name; a route whose
parameter has no factory fails `test_every_path_parameter_has_a_factory`, so
a new route cannot land without this test covering it.

Routes that validate a body would answer 422 before looking the id up, so
BODIES gives them a minimal valid one. Any id inside a body belongs to company B
(the caller), so the path id is the only thing B may not see.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from majlis.app import create_app

# name -> function(client of company A, ids created so far) -> a new id in company A
Factory = Callable[[httpx.Client, dict[str, str]], str]


def _created(response: httpx.Response, *keys: str) -> str:
    """The new entity's id (found under `keys`, default "id"), once creation succeeded."""
    assert response.status_code in {200, 201, 202}, response.text
    found = response.json()
    for key in keys or ("id",):
        found = found[key]
    return str(found)


def _need(name: str, client: httpx.Client, ids: dict[str, str]) -> str:
    """The id `name` of this request, created (with its own parents) on first use."""
    if name not in ids:
        ids[name] = FACTORIES[name](client, ids)
    return ids[name]


def _unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def _customer(client: httpx.Client, ids: dict[str, str]) -> str:
    # An email makes the customer reachable by payment reminders.
    body = {"name": "Tenant A customer", "email": f"{_unique('a')}@example.ae"}
    return _created(client.post("/api/v1/customers", json=body))


def _token(client: httpx.Client, ids: dict[str, str]) -> str:
    from sqlalchemy import select

    from majlis.accounts.models import ApiToken
    from majlis.core.db import get_engine, tenant_session

    me = client.get("/api/v1/me").json()
    with tenant_session(get_engine("app"), me["company_id"]) as session:
        return str(
            session.scalars(select(ApiToken.id).where(ApiToken.user_id == me["user_id"])).first()
        )


def _organization(client: httpx.Client, ids: dict[str, str]) -> str:
    body = {"kind": "organization", "name": "Tenant A organization"}
    return _created(client.post("/api/v1/customers", json=body))


def _contact(client: httpx.Client, ids: dict[str, str]) -> str:
    organization = _need("organization_id", client, ids)
    url = f"/api/v1/organizations/{organization}/contacts"
    return _created(client.post(url, json={"name": "Tenant A contact"}))


def _project(client: httpx.Client, ids: dict[str, str]) -> str:
    organization = _need("organization_id", client, ids)
    url = f"/api/v1/organizations/{organization}/projects"
    return _created(client.post(url, json={"name": "Tenant A project"}))


def _contact_point(client: httpx.Client, ids: dict[str, str]) -> str:
    project, contact = _need("project_id", client, ids), _need("contact_id", client, ids)
    url = f"/api/v1/projects/{project}/contact-points"
    return _created(client.post(url, json={"contact_id": contact, "role": "billing"}))


def _conversation(client: httpx.Client, ids: dict[str, str]) -> str:
    chat = {
        "channel": "whatsapp",
        "session_id": _unique("chat"),
        "started_at": "2026-03-01T10:00:00+04:00",
        "customer": {"name": "Tenant A chatter"},
    }
    return _created(client.post("/api/v1/conversations", json=chat), "conversation", "id")


def _import_job(client: httpx.Client, ids: dict[str, str]) -> str:
    # A dry run stays staged, so nothing runs in the background while B calls.
    csv = b"Full Name,E-mail\nTenant A import,import@example.ae\n"
    response = client.post(
        "/api/v1/imports", files={"file": ("customers.csv", csv)}, data={"dry_run": "true"}
    )
    return _created(response)


def _invoice(client: httpx.Client, ids: dict[str, str]) -> str:
    due = datetime.now(UTC).date() - timedelta(days=10)  # overdue, so it can be reminded of
    body = {
        "customer_id": _need("customer_id", client, ids),
        "number": _unique("INV"),
        "issue_date": (due - timedelta(days=30)).isoformat(),
        "due_date": due.isoformat(),
        "amount": "1000.00",
    }
    return _created(client.post("/api/v1/invoices", json=body))


def _payment(client: httpx.Client, ids: dict[str, str]) -> str:
    body = {"customer_id": _need("customer_id", client, ids), "amount": "1.00"}
    return _created(client.post("/api/v1/payments", json={**body, "received_on": "2026-01-01"}))


def _reminder(client: httpx.Client, ids: dict[str, str]) -> str:
    customer = _need("customer_id", client, ids)
    _need("invoice_id", client, ids)
    url = f"/api/v1/customers/{customer}/reminders"
    return _created(client.post(url, json={"confirm": True}))


RECEIVABLES_TEMPLATE = {
    "name": "Tenant template",
    "language": "en",
    "escalation_level": "FIRM",
    "subject": "Reminder",
    "body_html": "<p>{{ customer_name }}</p>",
}


def _reminder_template(client: httpx.Client, ids: dict[str, str]) -> str:
    return _created(client.post("/api/v1/reminder-templates", json=RECEIVABLES_TEMPLATE))


def _merge(client: httpx.Client, ids: dict[str, str]) -> str:
    customers = [_customer(client, ids) for _ in range(2)]
    body = {"survivor_id": customers[0], "other_ids": customers[1:]}
    return _created(client.post("/api/v1/customers/merge", json=body), "merge_id")


def _member(client: httpx.Client, ids: dict[str, str]) -> str:
    body = {"customer_id": _need("customer_id", client, ids)}
    return _created(client.post("/api/v1/loyalty/members", json=body))


def _reward(client: httpx.Client) -> str:
    body = {"name": "Tenant gift", "cost_points": 10}
    return _created(client.post("/api/v1/loyalty/rewards", json=body))


def _notification(client: httpx.Client, ids: dict[str, str]) -> str:
    me = client.get("/api/v1/me").json()
    body = {"user_id": me["user_id"], "title": "Tenant A note"}
    return _created(client.post("/api/v1/notifications", json=body))


def _erasure_request(client: httpx.Client, ids: dict[str, str]) -> str:
    url = f"/api/v1/customers/{_need('customer_id', client, ids)}/erasure-requests"
    return _created(client.post(url, json={"reason": "asked", "requested_by": "Tenant A"}))


AUTOMATION_RULE = {
    "name": "Tenant rule",
    "trigger": "customer_created",
    "actions": [{"type": "add_tag", "tag": "x"}],
}


def _rule(client: httpx.Client, ids: dict[str, str]) -> str:
    return _created(client.post("/api/v1/automation/rules", json=AUTOMATION_RULE))


def _task(client: httpx.Client, ids: dict[str, str]) -> str:
    body = {"kind": "call", "title": "Tenant A task", "due_at": "2030-01-01T09:00:00Z"}
    return _created(client.post("/api/v1/tasks", json=body))


def _followup_template(client: httpx.Client) -> str:
    template = {"key": "checkup", "body_en": "Hello {{ name }}", "body_ar": "مرحبا {{ name }}"}
    return _created(client.post("/api/v1/followups/templates", json=template), "key")


def _scan(client: httpx.Client, ids: dict[str, str]) -> str:
    return _created(client.post("/api/v1/dedupe/scans"))


def _duplicate_pair(client: httpx.Client, ids: dict[str, str]) -> str:
    from tests.dedupe_api.conftest import run_scan

    for name in ("Mohammed Al Mansouri", "محمد المنصوري"):
        _created(client.post("/api/v1/customers", json={"name": name, "phone": "0501234567"}))
    run_scan(uuid.UUID(client.get("/api/v1/me").json()["company_id"]))
    return str(client.get("/api/v1/dedupe/pairs").json()["items"][0]["id"])


def _saved_filter(client: httpx.Client, ids: dict[str, str]) -> str:
    body = {"name": _unique("filter"), "query": {"source": "chat"}, "shared": True}
    return _created(client.post("/api/v1/saved-filters", json=body))


FACTORIES: dict[str, Factory] = {
    "channel": lambda client, ids: "email",
    "contact_id": _contact,
    "conversation_id": _conversation,
    "customer_id": _customer,
    "invoice_id": _invoice,
    "job_id": _import_job,
    "member_id": _member,
    "merge_id": _merge,
    "notification_id": _notification,
    "pair_id": _duplicate_pair,
    "organization_id": _organization,
    "payment_id": _payment,
    "point_id": _contact_point,
    "project_id": _project,
    "reminder_id": _reminder,
    "request_id": _erasure_request,
    "rule_id": _rule,
    "saved_filter_id": _saved_filter,
    "scan_id": _scan,
    "task_id": _task,
    "template_id": _reminder_template,
    "token_id": _token,
}

# "METHOD /path" -> a minimal valid body, or a function(client of company B) -> body.
Body = object | Callable[[httpx.Client], object]
BODIES: dict[str, Body] = {
    "PUT /api/v1/automation/rules/{rule_id}": AUTOMATION_RULE,
    "PATCH /api/v1/contacts/{contact_id}": {"name": "Renamed"},
    "PUT /api/v1/conversations/{conversation_id}/customer": lambda b: {
        "customer_id": _customer(b, {})
    },
    "PATCH /api/v1/customers/{customer_id}": {"name": "Renamed"},
    "PUT /api/v1/customers/{customer_id}/consents/{channel}": {
        "marketing_consent": True,
        "source": "web form",
    },
    "POST /api/v1/customers/{customer_id}/convert-to-contact": {
        "new_organization": {"name": "New organization"}
    },
    "POST /api/v1/customers/{customer_id}/erasure-requests": {
        "reason": "asked",
        "requested_by": "Someone",
    },
    "POST /api/v1/customers/{customer_id}/followups": lambda b: {"template": _followup_template(b)},
    "POST /api/v1/customers/{customer_id}/interactions": {"kind": "viewed"},
    "PATCH /api/v1/customers/{customer_id}/journey": {"deal_value": "10"},
    "POST /api/v1/customers/{customer_id}/journey/move": {"to_stage": "contacted"},
    "PUT /api/v1/customers/{customer_id}/preferences": {"opted_out": True},
    "PUT /api/v1/customers/{customer_id}/reminder-settings": {"opt_out": True},
    "POST /api/v1/customers/{customer_id}/reminders": {"confirm": True},
    "POST /api/v1/loyalty/members/{member_id}/adjust": {"points": 5, "reason": "goodwill"},
    "POST /api/v1/loyalty/members/{member_id}/earn": {"source": "purchase", "amount": "100"},
    "POST /api/v1/loyalty/members/{member_id}/redeem": lambda b: {"reward_id": _reward(b)},
    "POST /api/v1/organizations/{organization_id}/contacts": {"name": "New contact"},
    "POST /api/v1/organizations/{organization_id}/projects": {"name": "New project"},
    "PATCH /api/v1/projects/{project_id}": {"name": "Renamed"},
    "POST /api/v1/dedupe/pairs/{pair_id}/decision": {"decision": "skip"},
    "POST /api/v1/projects/{project_id}/contact-points": lambda b: {
        "contact_id": _contact(b, {}),
        "role": "billing",
    },
    "PUT /api/v1/reminder-templates/{template_id}": RECEIVABLES_TEMPLATE,
    "POST /api/v1/reminders/{reminder_id}/responses": {"event": "opened"},
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


def request_body(method: str, path: str, b_client: httpx.Client) -> object:
    """What company B sends: the route's BODIES entry, else nothing for GET/DELETE, else {}."""
    body = BODIES.get(f"{method} {path}", None if method in {"GET", "DELETE"} else {})
    return body(b_client) if callable(body) else body


def test_every_path_parameter_has_a_factory() -> None:
    missing = {
        f"{method} {path}: {name}"
        for method, path in api_routes_with_ids()
        for name in PATH_PARAMETER.findall(path)
        if name not in FACTORIES
    }
    assert not missing, f"add a factory for these path parameters: {sorted(missing)}"


def test_every_body_belongs_to_a_route() -> None:
    routes = {f"{method} {path}" for method, path in api_routes_with_ids()}
    assert not set(BODIES) - routes, f"stale BODIES keys: {sorted(set(BODIES) - routes)}"


@pytest.mark.parametrize(("method", "path"), api_routes_with_ids())
def test_other_company_gets_404(make_tenant, method: str, path: str) -> None:
    company_a, company_b = make_tenant(), make_tenant()
    with company_a.client() as a_client, company_b.client() as b_client:
        ids: dict[str, str] = {}
        for name in PATH_PARAMETER.findall(path):
            _need(name, a_client, ids)
        url = path.format(**ids)
        response = b_client.request(method, url, json=request_body(method, path, b_client))
        assert response.status_code == 404, (
            f"{method} {url}: {response.status_code} {response.text}"
        )
