"""The online check: likely matches across scripts, identifiers and formats."""

from __future__ import annotations

from tests.dedupe_api.conftest import MOHAMMED, check, create

from majlis.core.permissions import Role
from majlis.dedupe.store import PER_KEY


def test_arabic_draft_finds_the_latin_customer_with_evidence(owner) -> None:
    existing = create(owner, **MOHAMMED)
    draft = {"name": "محمد المنصوري", "phone": "050 123 4567", "city": "دبي"}
    matches = check(owner, **draft)
    assert [m["customer_id"] for m in matches] == [existing["id"]]
    match = matches[0]
    assert match["likely"] and match["match_probability"] >= 0.85
    assert match["display_name"] == "Mohammed Al Mansouri"
    features = {e["feature"]: e["level"] for e in match["evidence"]}
    assert features["first_name"] == "transliteration"
    assert any(reason.startswith("phone_and_address") for reason in match["reasons"])


def test_spelling_variants_of_mohammed_match(owner) -> None:
    existing = create(owner, **MOHAMMED)
    for spelling in ("Muhammad Almansoori", "Mohamad Al Mansoori"):
        matches = check(owner, name=spelling, phone="+971501234567", date_of_birth="1985-03-07")
        assert matches and matches[0]["customer_id"] == existing["id"], spelling


def test_same_trn_is_the_same_company_whatever_the_names(owner) -> None:
    existing = create(
        owner, kind="organization", name="Al Futtaim Trading LLC", trn="100123456789003"
    )
    matches = check(owner, kind="organization", name="Gulf Star Logistics", trn="100123456789003")
    assert matches[0]["customer_id"] == existing["id"]
    assert matches[0]["match_probability"] == 1.0
    assert "same TRN" in matches[0]["reasons"][0]


def test_gmail_dots_and_plus_tags_are_normalised(owner) -> None:
    existing = create(owner, name="Sara Khan", email="sara.khan+shop@gmail.com")
    matches = check(owner, name="Sara Khan", email="SaraKhan@GMAIL.com")
    assert matches[0]["customer_id"] == existing["id"]
    email = [e for e in matches[0]["evidence"] if e["feature"] == "email"]
    assert email == [{**email[0], "level": "primary_exact"}]


def test_phone_in_any_format_matches(owner) -> None:
    existing = create(owner, name="Omar Haddad", phone="+971501112233")
    for phone in ("050 111 2233", "00971501112233", "971-50-111-2233", "+971 50 111 2233"):
        matches = check(owner, name="Omar Hadad", phone=phone)
        assert matches and matches[0]["customer_id"] == existing["id"], phone


def test_unrelated_draft_has_no_matches(owner) -> None:
    create(owner, **MOHAMMED)
    assert check(owner, name="Somchai Jaidee", phone="+66812345678", city="Bangkok") == []


def test_customer_id_excludes_itself_and_other_companies_get_404(make_tenant) -> None:
    a, b = make_tenant(), make_tenant()
    with a.client() as a_owner, b.client() as b_owner:
        existing = create(a_owner, **MOHAMMED)
        url = "/api/v1/customers/duplicates/check"
        alone = a_owner.post(url, params={"customer_id": existing["id"]}, json=MOHAMMED)
        assert alone.status_code == 200 and alone.json()["matches"] == []
        assert check(b_owner, **MOHAMMED) == []  # company B never sees A's customers
        foreign = b_owner.post(url, params={"customer_id": existing["id"]}, json=MOHAMMED)
        assert foreign.status_code == 404


def test_every_role_may_check_and_bad_input_is_422(tenant) -> None:
    for role in Role:
        with tenant.client(role) as client:
            assert check(client, name="Anyone") == []
    with tenant.client() as client:
        bad = client.post(
            "/api/v1/customers/duplicates/check", json={"name": "X", "phone": "not a phone"}
        )
        assert bad.status_code == 422
        assert bad.json()["errors"][0]["field"] == "phone"


def test_a_crowd_of_namesakes_does_not_hide_the_customer_with_the_same_phone(owner) -> None:
    # More namesakes than one key may contribute (store.PER_KEY): the shared
    # mobile, held by one customer, still brings the true match in.
    for i in range(PER_KEY + 5):
        create(owner, name="Ahmed Khan", phone=f"+97155{i:07d}", city="Dubai")
    existing = create(owner, name="Ahmed Khan", phone="+971501234567", city="Dubai")
    matches = check(owner, name="Ahmad Khan", phone="050 123 4567", city="Dubai")
    assert matches[0]["customer_id"] == existing["id"] and matches[0]["likely"]


def test_secondary_phones_and_emails_are_read_for_candidates(owner) -> None:
    existing = create(
        owner,
        name="Fatima Al Zaabi",
        phone="+971501110000",
        secondary_phones=["+97142223333"],
        secondary_emails=["fatima.z@example.ae"],
    )
    matches = check(owner, name="Fatima Alzaabi", phone="04 222 3333", email="fatima.z@example.ae")
    assert matches[0]["customer_id"] == existing["id"]
    levels = {e["feature"]: e["level"] for e in matches[0]["evidence"]}
    assert levels["phone_and_address"] == "phone_shared"
    assert levels["email"] == "any_shared"
