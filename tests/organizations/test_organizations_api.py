"""Organizations with their people and projects, over HTTP against the real database."""

from __future__ import annotations

import httpx
import pytest

from majlis.core.permissions import Role


def organization(client: httpx.Client, name: str = "Gulf Builders LLC") -> str:
    response = client.post(
        "/api/v1/customers", json={"kind": "organization", "name": name, "name_ar": "بناة الخليج"}
    )
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


def contact(client: httpx.Client, org: str, name: str, **extra: object) -> dict[str, object]:
    response = client.post(f"/api/v1/organizations/{org}/contacts", json={"name": name, **extra})
    assert response.status_code == 201, response.text
    return response.json()


def test_contacts_keep_one_primary_and_promotion_demotes_the_old(owner) -> None:
    org = organization(owner)
    first = contact(owner, org, "Salem", is_primary_contact=True, phone="050 111 2222")
    assert first["phone"] == "+971501112222"
    second = contact(owner, org, "Mona", name_ar="منى", role_title="CFO", is_primary_contact=True)
    assert owner.get(f"/api/v1/contacts/{first['id']}").json()["is_primary_contact"] is False
    promoted = owner.patch(f"/api/v1/contacts/{first['id']}", json={"is_primary_contact": True})
    assert promoted.json()["is_primary_contact"] is True
    assert owner.get(f"/api/v1/contacts/{second['id']}").json()["is_primary_contact"] is False
    primaries = [
        c for c in owner.get(f"/api/v1/organizations/{org}/contacts").json()["items"]
        if c["is_primary_contact"]
    ]  # fmt: skip
    assert [c["id"] for c in primaries] == [first["id"]]


def test_the_database_itself_refuses_two_primaries(owner, tenant, app_engine) -> None:
    from sqlalchemy import text
    from sqlalchemy.exc import IntegrityError

    from majlis.core.db import tenant_session

    org = organization(owner)
    contact(owner, org, "Salem", is_primary_contact=True)
    with (
        pytest.raises(IntegrityError, match="uq_contacts_primary"),
        tenant_session(app_engine, tenant.company_id) as session,
    ):
        session.execute(
            text(
                "INSERT INTO contacts (company_id, id, organization_id, name,"
                " is_primary_contact) VALUES (:c, gen_random_uuid(), :o, 'Other', true)"
            ),
            {"c": tenant.company_id, "o": org},
        )


def test_contacts_belong_to_organizations_only(owner) -> None:
    person = owner.post("/api/v1/customers", json={"name": "Just a person"}).json()
    response = owner.post(f"/api/v1/organizations/{person['id']}/contacts", json={"name": "X"})
    assert response.status_code == 422
    assert "individual" in response.json()["errors"][0]["message"]
    org = organization(owner)
    bad = owner.post(f"/api/v1/organizations/{org}/contacts", json={"name": " ", "email": "no"})
    assert bad.status_code == 422
    assert {e["field"] for e in bad.json()["errors"]} == {"name", "email"}


def test_projects_and_contact_points_of_the_same_organization(owner) -> None:
    org, other_org = organization(owner), organization(owner, "Other Co")
    mona = contact(owner, org, "Mona")
    salem = contact(owner, org, "Salem")
    stranger = contact(owner, other_org, "Stranger")
    project = owner.post(
        f"/api/v1/organizations/{org}/projects",
        json={"name": "Warehouse fit-out", "status": "active", "value": "250000.50",
              "start_date": "2026-01-01", "end_date": "2026-06-30"},
    )  # fmt: skip
    assert project.status_code == 201, project.text
    body = project.json()
    assert (body["value"], body["currency"]) == ("250000.50", "AED")
    points = f"/api/v1/projects/{body['id']}/contact-points"
    assert owner.post(points, json={"contact_id": mona["id"], "role": "decision_maker",
                                    "is_primary": True}).status_code == 201  # fmt: skip
    second = owner.post(points, json={"contact_id": salem["id"], "role": "billing",
                                      "is_primary": True})  # fmt: skip
    assert second.status_code == 201
    listed = owner.get(points).json()
    assert (listed[0]["contact_id"], listed[0]["is_primary"]) == (salem["id"], True)
    assert sum(p["is_primary"] for p in listed) == 1
    refused = owner.post(points, json={"contact_id": stranger["id"], "role": "technical"})
    assert refused.status_code == 422
    assert "another organization" in refused.json()["errors"][0]["message"]
    duplicate = owner.post(points, json={"contact_id": mona["id"], "role": "decision_maker"})
    assert duplicate.status_code == 409


def test_project_dates_and_values_are_validated(owner) -> None:
    org = organization(owner)
    response = owner.post(
        f"/api/v1/organizations/{org}/projects",
        json={"name": "Backwards", "start_date": "2026-06-01", "end_date": "2026-01-01",
              "value": "-5"},
    )  # fmt: skip
    assert response.status_code == 422
    assert {e["field"] for e in response.json()["errors"]} >= {"value"}


def test_listing_filtering_and_search_by_organization(owner) -> None:
    org, other_org = organization(owner), organization(owner, "Desert Foods")
    contact(owner, org, "Aisha Karim", email="aisha@gulf.example")
    contact(owner, org, "Bilal")
    contact(owner, other_org, "Aisha Other")
    mine = owner.get("/api/v1/contacts", params={"organization_id": org, "q": "aisha"}).json()
    assert [c["name"] for c in mine["items"]] == ["Aisha Karim"]
    page = owner.get("/api/v1/contacts", params={"organization_id": org, "limit": 1}).json()
    rest = owner.get(
        "/api/v1/contacts",
        params={"organization_id": org, "limit": 1, "cursor": page["next_cursor"]},
    ).json()
    assert [page["items"][0]["name"], rest["items"][0]["name"]] == ["Aisha Karim", "Bilal"]
    owner.post(f"/api/v1/organizations/{org}/projects", json={"name": "Alpha", "status": "active"})
    owner.post(f"/api/v1/organizations/{other_org}/projects", json={"name": "Beta"})
    active = owner.get("/api/v1/projects", params={"organization_id": org, "status": "active"})
    assert [p["name"] for p in active.json()["items"]] == ["Alpha"]


def test_deleting_an_organization_with_projects_needs_archive_all(owner) -> None:
    org = organization(owner)
    person = contact(owner, org, "Mona", is_primary_contact=True)
    project = owner.post(f"/api/v1/organizations/{org}/projects", json={"name": "P"}).json()
    refused = owner.delete(f"/api/v1/organizations/{org}")
    assert refused.status_code == 409
    assert owner.get(f"/api/v1/customers/{org}").status_code == 200
    archived = owner.delete(f"/api/v1/organizations/{org}", params={"archive_all": True})
    assert archived.json() == {"organization_id": org, "contacts_archived": 1,
                               "projects_archived": 1}  # fmt: skip
    assert owner.get(f"/api/v1/customers/{org}").status_code == 404
    assert owner.get(f"/api/v1/projects/{project['id']}").json()["archived_at"] is not None
    assert owner.get(f"/api/v1/contacts/{person['id']}").json()["archived_at"] is not None


def test_sales_cannot_delete_organizations(owner, tenant) -> None:
    org = organization(owner)
    with tenant.client(Role.SALES) as sales:
        assert sales.delete(f"/api/v1/organizations/{org}").status_code == 403


def test_an_individual_becomes_a_contact_and_their_history_moves(owner) -> None:
    person = owner.post(
        "/api/v1/customers", json={"name": "Faisal", "email": "faisal@x.example"}
    ).json()
    owner.post(
        "/api/v1/conversations",
        json={"channel": "whatsapp", "session_id": "f1", "started_at": "2026-01-01T10:00:00Z",
              "customer": {"email": "faisal@x.example"}},
    )  # fmt: skip
    converted = owner.post(
        f"/api/v1/customers/{person['id']}/convert-to-contact",
        json={"new_organization": {"name": "Faisal Trading"}, "role_title": "Owner",
              "is_primary_contact": True},
    )  # fmt: skip
    assert converted.status_code == 200, converted.text
    result = converted.json()
    assert result["conversations_moved"] == 1
    assert result["contact"]["converted_from_customer_id"] == person["id"]
    assert result["contact"]["email"] == "faisal@x.example"
    org_id = result["organization_id"]
    moved = owner.get(f"/api/v1/customers/{org_id}/conversations").json()["items"]
    assert [(c["session_id"], c["link_source"]) for c in moved] == [("f1", "migration")]
    assert owner.get(f"/api/v1/customers/{person['id']}").status_code == 404
    history = owner.get(f"/api/v1/customers/{person['id']}/history").json()["items"]
    assert history[0]["action"] == "customer.converted_to_contact"


ENDPOINTS = [
    ("POST", "/api/v1/organizations/{org}/contacts", {"name": "X"}),
    ("GET", "/api/v1/organizations/{org}/contacts", None),
    ("POST", "/api/v1/organizations/{org}/projects", {"name": "X"}),
    ("DELETE", "/api/v1/organizations/{org}", None),
    ("GET", "/api/v1/contacts/{contact}", None),
    ("PATCH", "/api/v1/contacts/{contact}", {"name": "Y"}),
    ("DELETE", "/api/v1/contacts/{contact}", None),
    ("GET", "/api/v1/projects/{project}", None),
    ("PATCH", "/api/v1/projects/{project}", {"name": "Y"}),
    ("DELETE", "/api/v1/projects/{project}", None),
    ("GET", "/api/v1/projects/{project}/contact-points", None),
    (
        "POST",
        "/api/v1/projects/{project}/contact-points",
        {"contact_id": "{contact}", "role": "billing"},
    ),
    ("DELETE", "/api/v1/projects/{project}/contact-points/{point}", None),
    ("POST", "/api/v1/customers/{person}/convert-to-contact", {"organization_id": "{own_org}"}),
]


@pytest.mark.parametrize(("method", "path", "body"), ENDPOINTS)
def test_another_companys_ids_answer_404(make_tenant, method, path, body) -> None:
    a, b = make_tenant(), make_tenant()
    with a.client() as a_client, b.client() as b_client:
        org = organization(b_client)
        person = contact(b_client, org, "Private")
        project = b_client.post(f"/api/v1/organizations/{org}/projects", json={"name": "P"})
        project_id = project.json()["id"]
        point = b_client.post(
            f"/api/v1/projects/{project_id}/contact-points",
            json={"contact_id": person["id"], "role": "billing"},
        ).json()
        individual = b_client.post("/api/v1/customers", json={"name": "B person"}).json()
        ids = {"org": org, "contact": person["id"], "project": project_id, "point": point["id"],
               "person": individual["id"], "own_org": organization(a_client)}  # fmt: skip
        if method == "POST" and "contact-points" in path:
            own_org = ids["own_org"]
            own_project = a_client.post(f"/api/v1/organizations/{own_org}/projects",
                                        json={"name": "Mine"}).json()  # fmt: skip
            ids["project"] = own_project["id"]  # B's contact on A's project
        payload = {k: v.format(**ids) for k, v in body.items()} if body else None
        response = a_client.request(method, path.format(**ids), json=payload)
        assert response.status_code in (404, 422), response.text
        if response.status_code == 422:
            assert "no contact" in response.text
        assert b_client.get(f"/api/v1/contacts/{person['id']}").json()["archived_at"] is None
