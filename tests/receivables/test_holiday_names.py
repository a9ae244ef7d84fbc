"""Holiday overrides carry an optional name, through `GET/PATCH /api/v1/reminder-settings`."""

from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError

FOUNDERS, SIGHTED, SPARE = "2026-12-03", "2027-03-20", "2027-01-05"
ARABIC_NAME = "عيد الفطر (رؤية الهلال)"


def _names(client) -> dict[str, str]:
    response = client.get("/api/v1/reminder-settings")
    assert response.status_code == 200, response.text
    return response.json()["holiday_names"]


def test_named_overrides_round_trip_and_old_payloads_keep_working(owner) -> None:
    response = owner.patch(
        "/api/v1/reminder-settings",
        json={
            "holiday_additions": [FOUNDERS],
            "holiday_removals": [SIGHTED],
            "holiday_names": {FOUNDERS: "  Founders' day ", SIGHTED: ARABIC_NAME},
        },
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["holiday_additions"] == [FOUNDERS] and body["holiday_removals"] == [SIGHTED]
    assert body["holiday_names"] == {FOUNDERS: "Founders' day", SIGHTED: ARABIC_NAME}
    assert _names(owner) == body["holiday_names"]

    # A payload from before names existed: dates only; the names of the dates kept stay.
    response = owner.patch("/api/v1/reminder-settings", json={"holiday_additions": [SPARE]})
    assert response.status_code == 200, response.text
    assert response.json()["holiday_additions"] == [SPARE]
    assert _names(owner) == {SIGHTED: ARABIC_NAME}

    # Sending the names replaces them all: an empty map clears them, the dates stay.
    response = owner.patch("/api/v1/reminder-settings", json={"holiday_names": {}})
    assert response.json()["holiday_names"] == {}
    assert response.json()["holiday_removals"] == [SIGHTED]


def test_a_name_over_100_characters_is_refused_with_a_field_message(owner) -> None:
    response = owner.patch(
        "/api/v1/reminder-settings",
        json={"holiday_additions": [FOUNDERS], "holiday_names": {FOUNDERS: "x" * 101}},
    )
    assert response.status_code == 422, response.text
    [error] = response.json()["errors"]
    assert error["field"] == f"holiday_names.{FOUNDERS}"
    assert "100 characters" in error["message"]
    settings = owner.get("/api/v1/reminder-settings").json()
    assert settings["holiday_additions"] == [] and settings["holiday_names"] == {}


def test_a_name_needs_its_date_in_one_of_the_lists(owner) -> None:
    response = owner.patch(
        "/api/v1/reminder-settings",
        json={"holiday_additions": [FOUNDERS], "holiday_names": {SPARE: "Nowhere"}},
    )
    assert response.status_code == 422, response.text
    assert response.json()["errors"][0]["field"] == f"holiday_names.{SPARE}"
    assert owner.get("/api/v1/reminder-settings").json()["holiday_additions"] == []


def test_a_date_cannot_be_closed_and_open_even_across_two_patches(owner) -> None:
    assert (
        owner.patch("/api/v1/reminder-settings", json={"holiday_removals": [FOUNDERS]}).status_code
        == 200
    )
    response = owner.patch("/api/v1/reminder-settings", json={"holiday_additions": [FOUNDERS]})
    assert response.status_code == 422, response.text
    assert response.json()["errors"][0]["field"] == "holiday_removals"


def test_names_stay_inside_their_company(make_tenant) -> None:
    a, b = make_tenant(), make_tenant()
    with a.client() as a_client, b.client() as b_client:
        named = {"holiday_additions": [FOUNDERS], "holiday_names": {FOUNDERS: "A's day"}}
        assert a_client.patch("/api/v1/reminder-settings", json=named).status_code == 200
        assert _names(b_client) == {}
        b_named = {"holiday_removals": [FOUNDERS], "holiday_names": {FOUNDERS: "B works"}}
        assert b_client.patch("/api/v1/reminder-settings", json=b_named).status_code == 200
        assert _names(a_client) == {FOUNDERS: "A's day"}
        assert _names(b_client) == {FOUNDERS: "B works"}


def test_the_database_refuses_names_that_are_not_an_object(admin_engine: Engine, tenant, owner):
    owner.get("/api/v1/reminder-settings")  # creates the company's row
    with (
        pytest.raises(IntegrityError, match="holiday_names_object"),
        admin_engine.begin() as conn,
    ):
        conn.execute(
            text("UPDATE reminder_settings SET holiday_names = '[]' WHERE company_id = :id"),
            {"id": tenant.company_id},
        )
