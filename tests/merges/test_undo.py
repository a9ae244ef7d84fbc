"""Undoing a merge, the reasons it is refused, and concurrent merges of the same customer."""

from __future__ import annotations

import threading

import httpx
from sqlalchemy import Engine, select, text
from tests.merges.conftest import create_customer, post_merge

from majlis.core.db import tenant_session
from majlis.customers.models import Customer


def _merge(owner: httpx.Client, survivor: str, other: str, **body: object) -> str:
    response = post_merge(owner, survivor, [other], **body)
    assert response.status_code == 200, response.text
    return str(response.json()["merge_id"])


def _undo(owner: httpx.Client, merge_id: str) -> httpx.Response:
    return owner.post(f"/api/v1/merges/{merge_id}/undo")


def _refusal(response: httpx.Response) -> str:
    assert response.status_code == 409, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    return str(response.json()["reason"])


def test_undo_restores_the_survivor_fields_and_the_merged_customer(owner) -> None:
    survivor = create_customer(owner, name="Khalid", tags=["a"], city=None)
    other = create_customer(
        owner, name="Khaled", tags=["b"], city="Abu Dhabi", trn="100111222333444"
    )
    merge_id = _merge(owner, survivor, other)
    assert owner.get(f"/api/v1/customers/{survivor}").json()["trn"] == "100111222333444"

    undone = _undo(owner, merge_id)
    assert undone.status_code == 200, undone.text
    assert undone.json()["undone_at"] is not None
    restored = owner.get(f"/api/v1/customers/{survivor}").json()
    assert (restored["tags"], restored["city"], restored["trn"]) == (["a"], None, None)
    back = owner.get(f"/api/v1/customers/{other}")
    assert back.status_code == 200
    assert back.json()["trn"] == "100111222333444"  # the identifier went back to its owner
    assert owner.get(f"/api/v1/customers/{other}/history").json()["items"][0]["action"] == (
        "customer.merge_undone"
    )


def test_undo_twice_is_refused(owner) -> None:
    merge_id = _merge(owner, create_customer(owner), create_customer(owner))
    assert _undo(owner, merge_id).status_code == 200
    assert _refusal(_undo(owner, merge_id)) == "already-undone"


def test_undo_after_the_retention_window_is_refused(owner, admin_engine: Engine) -> None:
    merge_id = _merge(owner, create_customer(owner), create_customer(owner))
    with admin_engine.begin() as conn:
        conn.execute(
            text("UPDATE customer_merges SET merged_at = now() - interval '31 days' WHERE id = :m"),
            {"m": merge_id},
        )
    response = _undo(owner, merge_id)
    assert _refusal(response) == "retention-expired"
    assert "30 days" in response.json()["detail"]


def test_undo_is_refused_when_the_survivor_changed_a_field_the_merge_set(owner) -> None:
    survivor = create_customer(owner, name="Noura")
    other = create_customer(owner, name="Nora", city="Al Ain")
    merge_id = _merge(owner, survivor, other)
    assert owner.patch(f"/api/v1/customers/{survivor}", json={"city": "Dubai"}).status_code == 200
    response = _undo(owner, merge_id)
    assert _refusal(response) == "survivor-changed"
    assert response.json()["fields"] == ["city"]


def test_an_edit_to_a_field_the_merge_did_not_set_does_not_block_undo(owner) -> None:
    survivor = create_customer(owner, name="Omar")
    other = create_customer(owner, name="Omer", city="Al Ain")
    merge_id = _merge(owner, survivor, other)
    assert (
        owner.patch(f"/api/v1/customers/{survivor}", json={"emirate": "Dubai"}).status_code == 200
    )
    assert _undo(owner, merge_id).status_code == 200


def test_undo_is_refused_when_a_moved_row_changed_owner_again(owner, admin_engine) -> None:
    survivor, other, third = (create_customer(owner) for _ in range(3))
    invoice = {
        "customer_id": other,
        "number": "INV-UNDO-1",
        "issue_date": "2026-01-01",
        "due_date": "2026-02-01",
        "amount": "50.00",
    }
    invoice_id = owner.post("/api/v1/invoices", json=invoice).json()["id"]
    merge_id = _merge(owner, survivor, other)
    with admin_engine.begin() as conn:
        conn.execute(
            text("UPDATE invoices SET customer_id = :t WHERE id = :i"),
            {"t": third, "i": invoice_id},
        )
    response = _undo(owner, merge_id)
    assert _refusal(response) == "row-moved-again"
    assert response.json()["table"] == "invoices"


def test_undo_is_refused_while_the_survivor_is_merged_further(owner) -> None:
    first, second, third = (create_customer(owner) for _ in range(3))
    merge_id = _merge(owner, second, first)
    _merge(owner, third, second)
    assert _refusal(_undo(owner, merge_id)) == "survivor-merged"


def test_undo_is_refused_when_the_survivor_was_deleted(owner) -> None:
    survivor = create_customer(owner)
    merge_id = _merge(owner, survivor, create_customer(owner))
    assert owner.delete(f"/api/v1/customers/{survivor}").status_code == 204
    assert _refusal(_undo(owner, merge_id)) == "customer-deleted"


def test_a_deleted_moved_row_is_skipped_and_the_rest_moves_back(owner, admin_engine) -> None:
    survivor, other = create_customer(owner), create_customer(owner)
    tasks = [
        owner.post(
            "/api/v1/tasks",
            json={
                "kind": "call",
                "title": f"Call {n}",
                "due_at": "2030-01-01T09:00:00Z",
                "customer_id": other,
            },
        ).json()["id"]
        for n in range(2)
    ]
    merge_id = _merge(owner, survivor, other)
    with admin_engine.begin() as conn:
        conn.execute(text("DELETE FROM tasks WHERE id = :t"), {"t": tasks[0]})
    assert _undo(owner, merge_id).status_code == 200
    with admin_engine.connect() as conn:
        owner_of = conn.execute(
            text("SELECT customer_id::text FROM tasks WHERE id = :t"), {"t": tasks[1]}
        ).scalar_one()
    assert owner_of == other


def test_a_merge_of_a_locked_customer_answers_409_at_once(tenant, owner, app_engine) -> None:
    survivor, other = create_customer(owner), create_customer(owner)
    with tenant_session(app_engine, tenant.company_id) as session:
        session.execute(select(Customer).where(Customer.id == other).with_for_update())
        response = post_merge(owner, survivor, [other])
        assert _refusal(response) == "locked"
    assert post_merge(owner, survivor, [other]).status_code == 200


def test_two_concurrent_merges_of_the_same_customer_one_wins_one_gets_409(tenant) -> None:
    with tenant.client() as owner:
        survivor, other = create_customer(owner), create_customer(owner)
    start = threading.Barrier(2)
    statuses: list[int] = []

    def merge() -> None:
        with tenant.client() as client:
            start.wait()
            statuses.append(post_merge(client, survivor, [other]).status_code)

    threads = [threading.Thread(target=merge) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    # Overlapping, the loser cannot lock (409 "locked"); one after the other, the second
    # finds the customer already merged (409 "already-merged"). Never two merges.
    assert sorted(statuses) == [200, 409]
    with tenant.client() as owner:
        assert len(owner.get("/api/v1/merges").json()["items"]) == 1


def test_the_cli_lists_merges_and_undoes_one(tenant, owner) -> None:
    from typer.testing import CliRunner

    from majlis.cli import app as cli

    survivor, other = create_customer(owner), create_customer(owner)
    merge_id = _merge(owner, survivor, other)
    company = str(tenant.company_id)
    runner = CliRunner()
    listed = runner.invoke(cli, ["merges", "list", "--company", company])
    assert listed.exit_code == 0 and merge_id in listed.output and "(active)" in listed.output
    undone = runner.invoke(cli, ["merges", "undo", "--company", company, merge_id])
    assert undone.exit_code == 0, undone.output
    again = runner.invoke(cli, ["merges", "undo", "--company", company, merge_id])
    assert again.exit_code == 1 and "already undone" in again.output
