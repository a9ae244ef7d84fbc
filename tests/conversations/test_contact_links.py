"""A chat from an organization's contact lands on the organization, naming the contact."""

from __future__ import annotations

import json

import httpx
import pytest
from tests.conversations.test_conversation_sync import chat, customer, ingest


@pytest.fixture
def gulf_builders(owner: httpx.Client) -> dict[str, str]:
    org = owner.post("/api/v1/customers", json={"kind": "organization", "name": "Gulf Builders"})
    org_id = org.json()["id"]
    person = owner.post(
        f"/api/v1/organizations/{org_id}/contacts",
        json={
            "name": "Rania Saleh",
            "email": "Rania@GulfBuilders.example",
            "phone": "+971504445566",
        },
    )
    assert person.status_code == 201, person.text
    return {"org": org_id, "contact": person.json()["id"]}


def bulk(client: httpx.Client, records: list[dict[str, object]]) -> dict[str, dict[str, object]]:
    payload = "\n".join(json.dumps(record, ensure_ascii=False) for record in records)
    response = client.post(
        "/api/v1/conversations/bulk",
        content=payload.encode(),
        headers={"Content-Type": "application/x-ndjson"},
    )
    assert response.status_code == 200, response.text
    listed = client.get("/api/v1/conversations", params={"limit": 50}).json()["items"]
    return {c["session_id"]: c for c in listed}


def landing(conversation: dict[str, object]) -> tuple[object, object, object]:
    return (
        conversation["customer_id"],
        conversation["match_reason"],
        conversation["matched_contact_id"],
    )


def test_single_ingest_links_through_a_contacts_email_and_phone(
    owner, gulf_builders, conversation_count
) -> None:
    org, person = gulf_builders["org"], gulf_builders["contact"]
    by_email = ingest(owner, chat("c1", name="Rania", email="rania@gulfbuilders.example"))
    by_phone = ingest(owner, chat("c2", phone="050 444 5566", address="Al Quoz 3"))
    assert landing(by_email["conversation"]) == (org, "contact_email", person)
    assert landing(by_phone["conversation"]) == (org, "contact_phone", person)
    assert by_email["summary"]["created"] == by_phone["summary"]["created"] == 0
    organization = customer(owner, org)
    # The contact's identifiers are the person's, not the organization's: nothing is filled.
    assert (organization["email"], organization["phone"], organization["address_line1"]) == (
        None,
        None,
        None,
    )
    assert conversation_count(org) == 2
    assert organization["last_seen_at"] is not None


def test_bulk_ingest_links_through_a_contacts_email_and_phone(owner, gulf_builders) -> None:
    org, person = gulf_builders["org"], gulf_builders["contact"]
    by_session = bulk(
        owner,
        [
            chat("b1", email="RANIA@gulfbuilders.example"),
            chat("b2", name="Rania S.", phone="971504445566"),
            chat("b3", name="Someone New", email="new@elsewhere.example"),
        ],
    )
    assert landing(by_session["b1"]) == (org, "contact_email", person)
    assert landing(by_session["b2"]) == (org, "contact_phone", person)
    assert by_session["b3"]["customer_id"] not in (None, org)
    assert customer(owner, org)["email"] is None


def test_a_customers_own_identifiers_win_over_a_contacts(owner, gulf_builders) -> None:
    rania = owner.post(
        "/api/v1/customers",
        json={"name": "Rania (private)", "email": "rania@gulfbuilders.example"},
    ).json()["id"]
    phone_owner = owner.post(
        "/api/v1/customers", json={"name": "Shared line", "phone": "+971504445566"}
    ).json()["id"]
    owner.post(
        f"/api/v1/organizations/{gulf_builders['org']}/contacts",
        json={"name": "Contact only", "email": "rania@contact-only.example"},
    )
    single = ingest(owner, chat("s1", email="rania@gulfbuilders.example"))["conversation"]
    assert landing(single) == (rania, "email", None)
    by_session = bulk(
        owner,
        [
            chat("s2", email="rania@gulfbuilders.example"),
            chat("s3", phone="0504445566"),
            # the email of a contact only, with the phone of a customer
            chat("s4", email="rania@contact-only.example", phone="0504445566"),
        ],
    )
    assert landing(by_session["s2"]) == (rania, "email", None)
    assert landing(by_session["s3"]) == (phone_owner, "phone", None)
    assert landing(by_session["s4"]) == (phone_owner, "phone", None)


def test_an_archived_contact_links_nothing(owner, gulf_builders) -> None:
    assert owner.delete(f"/api/v1/contacts/{gulf_builders['contact']}").status_code == 204
    result = ingest(owner, chat("a1", email="rania@gulfbuilders.example"))
    assert result["summary"]["created"] == 1
    assert result["conversation"]["customer_id"] != gulf_builders["org"]
    assert result["conversation"]["matched_contact_id"] is None


def test_enrichment_on_demand_fills_nothing_from_a_contacts_chats(owner, gulf_builders) -> None:
    org = gulf_builders["org"]
    ingest(owner, chat("e1", email="rania@gulfbuilders.example", address="Office 4"))
    enriched = owner.post(f"/api/v1/customers/{org}/enrich")
    assert enriched.status_code == 200, enriched.text
    assert (enriched.json()["email"], enriched.json()["address_line1"]) == (None, None)
