"""Deleting a customer runs the guards other domains registered; organizations register one."""

from __future__ import annotations

import httpx

from majlis.core.errors import Conflict
from majlis.customers import deletion
from majlis.customers.deletion import before_customer_delete


def organization_with_people_and_a_project(client: httpx.Client) -> dict[str, str]:
    org = client.post("/api/v1/customers", json={"kind": "organization", "name": "Noor Clinics"})
    org_id = org.json()["id"]
    person = client.post(
        f"/api/v1/organizations/{org_id}/contacts",
        json={"name": "Dr. Salma", "email": "salma@noor.example", "is_primary_contact": True},
    ).json()
    project = client.post(
        f"/api/v1/organizations/{org_id}/projects", json={"name": "New branch", "status": "active"}
    ).json()
    return {"org": org_id, "contact": person["id"], "project": project["id"]}


def archived_at(client: httpx.Client, path: str) -> object:
    return client.get(path).json()["archived_at"]


def test_deleting_an_organization_with_projects_as_a_customer_is_refused(owner) -> None:
    ids = organization_with_people_and_a_project(owner)
    refused = owner.delete(f"/api/v1/customers/{ids['org']}")
    assert refused.status_code == 409
    assert refused.headers["content-type"] == "application/problem+json"
    assert "1 live project(s)" in refused.json()["detail"]
    assert "archive_all=true" in refused.json()["detail"]
    assert owner.get(f"/api/v1/customers/{ids['org']}").status_code == 200
    assert archived_at(owner, f"/api/v1/projects/{ids['project']}") is None
    assert archived_at(owner, f"/api/v1/contacts/{ids['contact']}") is None


def test_archive_all_archives_projects_and_contacts_and_restore_brings_the_customer_back(
    owner,
) -> None:
    ids = organization_with_people_and_a_project(owner)
    deleted = owner.delete(f"/api/v1/customers/{ids['org']}", params={"archive_all": True})
    assert deleted.status_code == 204, deleted.text
    assert owner.get(f"/api/v1/customers/{ids['org']}").status_code == 404
    assert archived_at(owner, f"/api/v1/projects/{ids['project']}") is not None
    contact = owner.get(f"/api/v1/contacts/{ids['contact']}").json()
    assert contact["archived_at"] is not None and contact["is_primary_contact"] is False
    history = owner.get(f"/api/v1/customers/{ids['org']}/history").json()["items"]
    assert history[0]["action"] == "customer.deleted"
    assert history[0]["after"]["projects_archived"] == 1
    assert history[0]["after"]["contacts_archived"] == 1

    # Restoring brings the organization back; what was archived with it stays archived
    # (listed with include_archived=true) until someone decides to revive it.
    assert owner.post(f"/api/v1/customers/{ids['org']}/restore").status_code == 200
    projects = owner.get(
        "/api/v1/projects", params={"organization_id": ids["org"], "include_archived": True}
    ).json()["items"]
    assert [(p["id"], p["archived_at"] is not None) for p in projects] == [(ids["project"], True)]


def test_an_organization_without_projects_is_deleted_with_its_contacts_archived(owner) -> None:
    ids = organization_with_people_and_a_project(owner)
    assert owner.delete(f"/api/v1/projects/{ids['project']}").status_code == 204
    assert owner.delete(f"/api/v1/customers/{ids['org']}").status_code == 204
    assert archived_at(owner, f"/api/v1/contacts/{ids['contact']}") is not None
    live = owner.get("/api/v1/contacts", params={"organization_id": ids["org"]}).json()
    assert live["items"] == []


def test_a_guard_registered_by_another_domain_can_refuse_without_editing_customers(
    owner,
) -> None:
    kept = owner.post("/api/v1/customers", json={"name": "Has open invoices"}).json()["id"]
    free = owner.post("/api/v1/customers", json={"name": "Nothing open"}).json()["id"]

    @before_customer_delete("test-open-invoices")
    def refuse_with_open_invoices(session, actor, customer, archive_all):  # type: ignore[no-untyped-def]
        if str(customer.id) == kept:
            raise Conflict(f"{customer.name} has open invoices")
        return {}

    try:
        refused = owner.delete(f"/api/v1/customers/{kept}", params={"archive_all": True})
        allowed = owner.delete(f"/api/v1/customers/{free}")
    finally:
        deletion._guards.pop("test-open-invoices")
    assert (refused.status_code, refused.json()["detail"]) == (
        409,
        "Has open invoices has open invoices",
    )
    assert owner.get(f"/api/v1/customers/{kept}").status_code == 200
    assert allowed.status_code == 204
