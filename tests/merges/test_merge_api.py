"""Merging over HTTP: field choices, dry runs, redirects of old ids, listings, roles."""

from __future__ import annotations

import pytest
from tests.merges.conftest import create_customer, post_merge

from majlis.core.permissions import Role


def test_merge_combines_multi_valued_fields_and_takes_chosen_values(owner, new_customer) -> None:
    survivor = new_customer(
        name="Mohammed Al Mansouri", phone="+971501234567", email="mo@example.ae", tags=["vip"]
    )
    other = new_customer(
        name="Muhammad Almansoori",
        name_ar="محمد المنصوري",
        phone="+971509876543",
        secondary_emails=["mo.work@example.ae"],
        tags=["chat", "vip"],
        notes="Prefers WhatsApp",
        city="Dubai",
    )
    response = post_merge(owner, survivor, [other], choices={"name": f"other:{other}"})
    assert response.status_code == 200, response.text
    merged = response.json()["survivor"]
    assert merged["id"] == survivor
    assert merged["name"] == "Muhammad Almansoori"  # taken from the other
    assert merged["name_ar"] == "محمد المنصوري"  # empty on the survivor: filled
    assert merged["phone"] == "+971501234567"
    assert merged["secondary_phones"] == ["+971509876543"]
    assert merged["email"] == "mo@example.ae"
    assert merged["secondary_emails"] == ["mo.work@example.ae"]
    assert merged["tags"] == ["vip", "chat"]
    assert merged["notes"] == "Prefers WhatsApp"
    assert response.json()["merged_ids"] == [other]
    assert owner.get(f"/api/v1/customers/{survivor}").json()["city"] == "Dubai"


def test_survivor_choice_keeps_the_survivor_value_even_when_empty(owner, new_customer) -> None:
    survivor = new_customer(name="Aisha")
    other = new_customer(name="Aisha K", city="Sharjah", tags=["a"])
    body = {"choices": {"city": "survivor", "tags": "survivor"}}
    merged = post_merge(owner, survivor, [other], **body).json()["survivor"]
    assert merged["city"] is None and merged["tags"] == []


@pytest.mark.parametrize(
    ("choices", "field"),
    [
        ({"name": "combine"}, "choices.name"),
        ({"kind": "survivor"}, "choices.kind"),
        ({"no_such_field": "survivor"}, "choices.no_such_field"),
        ({"city": "other:00000000-0000-0000-0000-000000000000"}, "choices.city"),
        ({"city": "theirs"}, "choices.city"),
    ],
)
def test_bad_choices_are_refused_field_by_field(owner, new_customer, choices, field) -> None:
    survivor, other = new_customer(), new_customer()
    response = post_merge(owner, survivor, [other], choices=choices)
    assert response.status_code == 422
    assert response.headers["content-type"].startswith("application/problem+json")
    assert [error["field"] for error in response.json()["errors"]] == [field]


def test_survivor_among_the_others_or_no_others_is_refused(owner, new_customer) -> None:
    survivor = new_customer()
    assert post_merge(owner, survivor, [survivor]).status_code == 422
    assert post_merge(owner, survivor, []).status_code == 422
    extra = owner.post(
        "/api/v1/customers/merge", json={"survivor_id": survivor, "other_ids": [], "x": 1}
    )
    assert extra.status_code == 422


def test_dry_run_returns_the_merged_record_and_counts_without_writing(owner, new_customer) -> None:
    survivor = new_customer(name="Fatima", tags=["a"])
    other = new_customer(name="Fatimah", tags=["b"])
    invoice = {
        "customer_id": other,
        "number": "INV-DRY-1",
        "issue_date": "2026-01-01",
        "due_date": "2026-02-01",
        "amount": "100.00",
    }
    assert owner.post("/api/v1/invoices", json=invoice).status_code == 201
    response = post_merge(owner, survivor, [other], dry_run=True)
    assert response.status_code == 200, response.text
    result = response.json()
    assert result["dry_run"] is True and result["merge_id"] is None
    assert result["survivor"]["tags"] == ["a", "b"]
    assert {"table": "invoices", "column": "customer_id", "rows": 1} in result["moved"]
    # nothing written: the other is still visible, the survivor unchanged, no merge event
    assert owner.get(f"/api/v1/customers/{other}").status_code == 200
    assert owner.get(f"/api/v1/customers/{survivor}").json()["tags"] == ["a"]
    assert owner.get("/api/v1/merges").json()["items"] == []


def test_merged_customer_redirects_to_the_survivor_and_leaves_lists(owner, new_customer) -> None:
    first, second, third = new_customer(name="A one"), new_customer(name="A two"), new_customer()
    assert post_merge(owner, second, [first]).status_code == 200
    assert (
        post_merge(owner, third, [second]).status_code == 200
    )  # a chain: first -> second -> third

    moved = owner.get(f"/api/v1/customers/{first}")
    assert moved.status_code == 301
    assert moved.headers["location"] == f"/api/v1/customers/{third}"
    assert moved.json()["new_id"] == third
    history = owner.get(f"/api/v1/customers/{second}/history")
    assert history.status_code == 301
    assert history.headers["location"] == f"/api/v1/customers/{third}/history"
    assert owner.get(f"/api/v1/customers/{first}", follow_redirects=True).json()["id"] == third

    listed = {
        c["id"] for c in owner.get("/api/v1/customers", params={"limit": 200}).json()["items"]
    }
    assert third in listed and not {first, second} & listed


def test_an_identifier_taken_from_the_other_is_freed_on_it(owner, new_customer) -> None:
    survivor = new_customer(name="Org", kind="organization")
    other = new_customer(name="Org LLC", kind="organization", trn="100123456789012")
    merged = post_merge(owner, survivor, [other]).json()["survivor"]
    assert merged["trn"] == "100123456789012"


def test_merge_events_are_listed_newest_first_with_keyset_pages(owner, new_customer) -> None:
    ids = []
    for _ in range(3):
        survivor, other = new_customer(), new_customer()
        ids.append(post_merge(owner, survivor, [other]).json()["merge_id"])
    first = owner.get("/api/v1/merges", params={"limit": 2}).json()
    second = owner.get("/api/v1/merges", params={"limit": 2, "cursor": first["next_cursor"]}).json()
    assert [m["id"] for m in first["items"] + second["items"]] == ids[::-1]
    assert second["next_cursor"] is None
    assert owner.get("/api/v1/merges", params={"cursor": "junk"}).status_code == 422

    detail = owner.get(f"/api/v1/merges/{ids[0]}").json()
    other_id = detail["other_ids"][0]
    assert detail["snapshots"][other_id]["id"] == other_id
    assert detail["snapshots"][other_id]["merged_into_id"] is None  # as it was before


def test_merge_writes_audit_entries_on_every_customer(owner, new_customer) -> None:
    survivor, other = new_customer(name="Sam"), new_customer(name="Samuel", city="Ajman")
    merge_id = post_merge(owner, survivor, [other]).json()["merge_id"]
    history = owner.get(f"/api/v1/customers/{survivor}/history").json()["items"]
    assert history[0]["action"] == "customer.merged"
    assert history[0]["after"]["city"] == "Ajman"
    assert history[0]["after"]["merge_id"] == merge_id


@pytest.mark.parametrize("role", list(Role))
def test_only_owner_and_manager_may_merge_and_undo(tenant, role: Role) -> None:
    allowed = role in (Role.OWNER, Role.MANAGER)
    with tenant.client(Role.OWNER) as owner, tenant.client(role) as client:
        survivor, other = create_customer(owner), create_customer(owner)
        response = post_merge(client, survivor, [other])
        assert response.status_code == (200 if allowed else 403), response.text
        assert client.get("/api/v1/merges").status_code == 200  # every role may read them
        merge_id = (response if allowed else post_merge(owner, survivor, [other])).json()[
            "merge_id"
        ]
        undo = client.post(f"/api/v1/merges/{merge_id}/undo")
        assert undo.status_code == (200 if allowed else 403), undo.text


def test_another_company_sees_none_of_it(make_tenant) -> None:
    company_a, company_b = make_tenant(), make_tenant()
    with company_a.client() as a, company_b.client() as b:
        survivor, other = create_customer(a), create_customer(a)
        b_customer = create_customer(b)
        assert post_merge(b, b_customer, [other]).status_code == 404
        assert post_merge(b, survivor, [b_customer]).status_code == 404
        merge_id = post_merge(a, survivor, [other]).json()["merge_id"]
        assert b.get(f"/api/v1/merges/{merge_id}").status_code == 404
        assert b.post(f"/api/v1/merges/{merge_id}/undo").status_code == 404
        assert b.get("/api/v1/merges").json()["items"] == []
        assert b.get(f"/api/v1/customers/{other}").status_code == 404  # no redirect leak
        assert a.get(f"/api/v1/merges/{merge_id}").status_code == 200
