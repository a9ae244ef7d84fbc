"""The customers API over real HTTP against the real database."""

from __future__ import annotations

import httpx
import pytest

from majlis.core.permissions import Role

PROBLEM = "application/problem+json"


def create(client: httpx.Client, **fields: object) -> dict:
    response = client.post("/api/v1/customers", json={"name": "Test Customer", **fields})
    assert response.status_code == 201, response.text
    return response.json()


def test_create_normalises_and_returns_etag_and_location(owner: httpx.Client) -> None:
    response = owner.post(
        "/api/v1/customers",
        json={
            "name": "  Omar Khalid ",
            "name_ar": "عمر خالد",
            "email": "Omar.Khalid@Example.COM",
            "phone": "050 123 4567",
            "secondary_phones": ["+971 4 555 0101", "04 555 0101"],
            "trn": "١٠٠٢٣٤٥٦٧٨٩٠١٢٣",
            "tags": ["vip", "vip", "wholesale"],
        },
    )
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["name"] == "Omar Khalid"
    assert body["email"] == "omar.khalid@example.com"
    assert body["phone"] == "+971501234567"
    assert body["secondary_phones"] == ["+97145550101"]
    assert body["trn"] == "100234567890123"
    assert body["tags"] == ["vip", "wholesale"]
    assert body["currency"] == "AED"
    assert body["warnings"] == []
    assert response.headers["etag"] == '"1"'
    assert response.headers["location"].endswith(body["id"])
    fetched = owner.get(response.headers["location"])
    assert fetched.json()["name_ar"] == "عمر خالد"


def test_trn_with_unusual_prefix_is_a_warning_not_an_error(owner: httpx.Client) -> None:
    body = create(owner, trn="200123456789012")
    assert body["trn"] == "200123456789012"
    assert "usually start with 100" in body["warnings"][0]


def test_thai_company_reads_local_phones_and_checks_thai_tax_id(make_tenant) -> None:
    thai = make_tenant("TH")
    with thai.client() as client:
        body = create(client, phone="081 234 5678", thai_tax_id="3-1006-00445-63-5")
        assert body["phone"] == "+66812345678"
        assert body["thai_tax_id"] == "3100600445635"
        assert body["currency"] == "THB"
        bad = client.post("/api/v1/customers", json={"name": "X", "thai_tax_id": "3100600445636"})
        assert bad.status_code == 422
        assert bad.json()["errors"][0]["field"] == "thai_tax_id"


def test_invalid_input_is_problem_json_with_field_messages_and_writes_nothing(
    owner: httpx.Client,
) -> None:
    response = owner.post(
        "/api/v1/customers",
        json={
            "name": " ",
            "email": "not-an-email",
            "trn": "12345",
            "risk_score": 11,
            "colour": "red",
        },
    )
    assert response.status_code == 422
    assert response.headers["content-type"].startswith(PROBLEM)
    problem = response.json()
    fields = {error["field"]: error["message"] for error in problem["errors"]}
    assert set(fields) == {"name", "email", "trn", "risk_score", "colour"}
    assert fields["trn"] == "a TRN is exactly 15 digits"
    assert fields["name"] == "must not be empty"
    assert owner.get("/api/v1/customers").json()["items"] == []


def test_invalid_phone_is_a_field_error(owner: httpx.Client) -> None:
    response = owner.post("/api/v1/customers", json={"name": "A", "phone": "12"})
    assert response.status_code == 422
    assert response.json()["errors"] == [
        {"field": "phone", "message": "not a valid phone number (read in region AE)"}
    ]


def test_organizations_have_no_date_of_birth(owner: httpx.Client) -> None:
    response = owner.post(
        "/api/v1/customers",
        json={"name": "Acme", "kind": "organization", "date_of_birth": "1990-01-01"},
    )
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "date_of_birth"


@pytest.mark.parametrize("identifier", ["trn", "external_ref"])
def test_duplicate_identifier_is_409_naming_the_existing_customer(
    owner: httpx.Client, identifier: str
) -> None:
    value = "100111222333444" if identifier == "trn" else "ERP-42"
    first = create(owner, name="First Holder", **{identifier: value})
    response = owner.post("/api/v1/customers", json={"name": "Second", identifier: value})
    assert response.status_code == 409
    problem = response.json()
    assert problem["existing_id"] == first["id"]
    assert "First Holder" in problem["detail"]
    other = create(owner, name="Other")
    patch = owner.patch(f"/api/v1/customers/{other['id']}", json={identifier: value})
    assert patch.status_code == 409


def test_deleted_customer_frees_its_trn_and_restore_then_conflicts(owner: httpx.Client) -> None:
    first = create(owner, trn="100555666777888")
    assert owner.delete(f"/api/v1/customers/{first['id']}").status_code == 204
    create(owner, name="New holder", trn="100555666777888")
    restore = owner.post(f"/api/v1/customers/{first['id']}/restore")
    assert restore.status_code == 409


def test_patch_with_etag_and_stale_version_gets_412(owner: httpx.Client) -> None:
    customer = create(owner, city="Dubai")
    url = f"/api/v1/customers/{customer['id']}"
    first = owner.patch(url, json={"city": "Sharjah"}, headers={"If-Match": '"1"'})
    assert first.status_code == 200, first.text
    assert first.headers["etag"] == '"2"'
    stale = owner.patch(url, json={"city": "Ajman"}, headers={"If-Match": '"1"'})
    assert stale.status_code == 412
    assert stale.json()["current_version"] == 2
    assert owner.get(url).json()["city"] == "Sharjah"


def test_patch_changes_only_sent_fields_and_null_clears(owner: httpx.Client) -> None:
    customer = create(owner, email="a@example.com", city="Dubai", tags=["x"])
    url = f"/api/v1/customers/{customer['id']}"
    body = owner.patch(url, json={"email": None, "tags": None}).json()
    assert body["email"] is None and body["tags"] == [] and body["city"] == "Dubai"
    assert owner.patch(url, json={"name": None}).status_code == 422


def test_soft_delete_hides_from_lists_and_lookups_but_keeps_history(owner: httpx.Client) -> None:
    customer = create(owner, email="gone@example.com")
    url = f"/api/v1/customers/{customer['id']}"
    assert owner.delete(url).status_code == 204
    assert owner.get(url).status_code == 404
    assert (
        owner.get("/api/v1/customers", params={"email": "gone@example.com"}).json()["items"] == []
    )
    history = owner.get(f"{url}/history").json()["items"]
    assert [entry["action"] for entry in history] == ["customer.deleted", "customer.created"]
    restored = owner.post(f"{url}/restore")
    assert restored.status_code == 200
    assert owner.get(url).status_code == 200


def test_history_is_newest_first_with_before_and_after(owner: httpx.Client, tenant) -> None:
    customer = create(owner, city="Dubai")
    url = f"/api/v1/customers/{customer['id']}"
    owner.patch(url, json={"city": "Abu Dhabi"})
    owner.patch(url, json={"notes": "prefers WhatsApp"})
    history = owner.get(f"{url}/history", params={"limit": 2})
    page = history.json()
    assert [e["action"] for e in page["items"]] == ["customer.updated", "customer.updated"]
    assert page["items"][1]["before"]["city"] == "Dubai"
    assert page["items"][1]["after"]["city"] == "Abu Dhabi"
    assert page["items"][0]["actor_id"] == str(tenant.user_ids[Role.OWNER])
    assert page["items"][0]["request_id"]
    rest = owner.get(f"{url}/history", params={"limit": 2, "cursor": page["next_cursor"]}).json()
    assert [e["action"] for e in rest["items"]] == ["customer.created"]
    assert rest["next_cursor"] is None


@pytest.mark.parametrize("typed", ["+971 50 123 4567", "0501234567", "971501234567", "٠٥٠١٢٣٤٥٦٧"])
def test_phone_lookup_accepts_common_formats(owner: httpx.Client, typed: str) -> None:
    customer = create(owner, phone="+971501234567")
    create(owner, name="Someone else", phone="+971509999999")
    found = owner.get("/api/v1/customers", params={"phone": typed}).json()["items"]
    assert [c["id"] for c in found] == [customer["id"]]


def test_exact_lookups_by_trn_email_secondary_email_and_external_ref(owner: httpx.Client) -> None:
    customer = create(
        owner,
        trn="100200300400500",
        email="main@example.com",
        secondary_emails=["alt@example.com"],
        external_ref="CRM-7",
    )
    create(owner, name="Decoy", email="other@example.com")
    for params in (
        {"trn": "100-200-300-400-500"},
        {"email": "MAIN@example.com"},
        {"email": "alt@example.com"},
        {"external_ref": "CRM-7"},
    ):
        found = owner.get("/api/v1/customers", params=params).json()["items"]
        assert [c["id"] for c in found] == [customer["id"]], params
    bad = owner.get("/api/v1/customers", params={"phone": "abc"})
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "phone"


def test_filters(owner: httpx.Client) -> None:
    create(
        owner,
        name="Org LLC",
        kind="organization",
        business_type="LLC",
        tags=["gold"],
        email="o@example.com",
    )
    create(owner, name="Person", source="chat", is_active=False, phone="0501230000")

    def names(**params: object) -> list[str]:
        return [c["name"] for c in owner.get("/api/v1/customers", params=params).json()["items"]]

    assert names(business_type="LLC") == ["Org LLC"]
    assert names(kind="individual") == ["Person"]
    assert names(tag="gold") == ["Org LLC"]
    assert names(source="chat") == ["Person"]
    assert names(is_active="false") == ["Person"]
    assert names(has_email="true") == ["Org LLC"]
    assert names(has_phone="true") == ["Person"]
    assert names(created_from="2000-01-01T00:00:00Z") == ["Org LLC", "Person"]
    assert names(created_to="2000-01-01T00:00:00Z") == []


@pytest.mark.parametrize(
    "sort", ["name", "-name", "created_at", "-created_at", "last_seen_at", "-last_seen_at"]
)
def test_keyset_pages_cover_everything_once_in_order(owner: httpx.Client, sort: str) -> None:
    for name in ["Zaid", "Ali", "Maha", "Ali", "Bilal", "Huda", "Noor"]:
        create(owner, name=name)
    seen: list[dict] = []
    cursor = None
    while True:
        params = {"sort": sort, "limit": 3, **({"cursor": cursor} if cursor else {})}
        page = owner.get("/api/v1/customers", params=params).json()
        seen += page["items"]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert len(seen) == 7 and len({c["id"] for c in seen}) == 7
    key = sort.lstrip("-")
    values = [(c[key] or "", c["id"]) for c in seen]
    assert values == sorted(values, reverse=sort.startswith("-"))


def test_bad_cursor_and_sort_are_field_errors(owner: httpx.Client) -> None:
    assert (
        owner.get("/api/v1/customers", params={"cursor": "!!!"}).json()["errors"][0]["field"]
        == "cursor"
    )
    assert (
        owner.get("/api/v1/customers", params={"sort": "email"}).json()["errors"][0]["field"]
        == "sort"
    )
    assert owner.get("/api/v1/customers", params={"limit": 1000}).status_code == 422


def test_owner_must_be_a_member(owner: httpx.Client, make_tenant) -> None:
    stranger = make_tenant().user_ids[Role.SALES]
    response = owner.post("/api/v1/customers", json={"name": "X", "owner_id": str(stranger)})
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "owner_id"


def test_a_write_is_committed_before_its_response_arrives(owner: httpx.Client) -> None:
    """Read-your-writes: each 201/200 means committed, so the next request always sees it."""
    for attempt in range(40):
        created = create(owner, name=f"Immediate {attempt}")
        patched = owner.patch(f"/api/v1/customers/{created['id']}", json={"city": "Dubai"})
        assert patched.status_code == 200, patched.text
