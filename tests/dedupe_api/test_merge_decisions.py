"""The merge decision and bulk accept, through the merges domain."""

from __future__ import annotations

from tests.dedupe_api.conftest import (
    MOHAMMED,
    audit_actions,
    check,
    create,
    pending_pairs,
    run_scan,
)


def test_merge_decision_merges_into_the_older_customer(tenant, owner, duplicates) -> None:
    run_scan(tenant.company_id)
    pair = pending_pairs(owner)[0]
    response = owner.post(f"/api/v1/dedupe/pairs/{pair['id']}/decision", json={"decision": "merge"})
    assert response.status_code == 200, response.text
    assert response.json()["status"] == "merged"
    assert audit_actions(tenant.company_id, pair["id"]) == ["duplicate_pair.merged"]
    merged = owner.get(f"/api/v1/customers/{duplicates['arabic']}", follow_redirects=False)
    assert merged.status_code == 301
    assert merged.headers["location"].endswith(duplicates["latin"])
    assert pending_pairs(owner) == []
    # The merged record is no longer proposed; the survivor still is.
    assert [m["customer_id"] for m in check(owner, **MOHAMMED)] == [duplicates["latin"]]


def test_merge_decision_survivor_must_belong_to_the_pair(tenant, owner, duplicates) -> None:
    run_scan(tenant.company_id)
    pair = pending_pairs(owner)[0]
    url = f"/api/v1/dedupe/pairs/{pair['id']}/decision"
    wrong = owner.post(url, json={"decision": "merge", "survivor_id": duplicates["other"]})
    assert wrong.status_code == 422
    chosen = owner.post(url, json={"decision": "merge", "survivor_id": duplicates["arabic"]})
    assert chosen.status_code == 200, chosen.text
    moved = owner.get(f"/api/v1/customers/{duplicates['latin']}", follow_redirects=False)
    assert moved.headers["location"].endswith(duplicates["arabic"])


def test_bulk_accept_merges_each_cluster_above_the_threshold(tenant, owner) -> None:
    people = [
        [
            create(
                owner, name="Fatima Al Zaabi", phone="+971502220001", date_of_birth="1990-01-02"
            ),
            create(owner, name="فاطمة الزعابي", phone="0502220001", date_of_birth="1990-01-02"),
            create(owner, name="Fatma Alzaabi", phone="+971502220001", date_of_birth="1990-02-01"),
        ],
        [
            create(owner, name="Rahul Menon", email="rahul.menon@gmail.com", city="Dubai"),
            create(owner, name="Rahul Menon", email="rahulmenon@gmail.com", city="Dubai"),
        ],
    ]
    run_scan(tenant.company_id)
    queued = pending_pairs(owner)
    assert len(queued) >= 2
    response = owner.post("/api/v1/dedupe/pairs/bulk-accept", json={"min_probability": 0.5})
    assert response.status_code == 200, response.text
    results = response.json()["results"]
    assert {r["pair_id"] for r in results} == {p["id"] for p in queued}
    assert {r["outcome"] for r in results} == {"merged"}
    survivors = {r["merged_into"] for r in results}
    assert survivors == {people[0][0]["id"], people[1][0]["id"]}  # the oldest of each
    assert pending_pairs(owner) == []
    assert len(pending_pairs(owner, status="merged")) == len(queued)


def test_bulk_accept_validates_its_threshold(owner) -> None:
    response = owner.post("/api/v1/dedupe/pairs/bulk-accept", json={"min_probability": 0.1})
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "min_probability"


def test_a_merge_made_outside_the_queue_answers_the_pair_between_them(
    tenant, owner, duplicates
) -> None:
    run_scan(tenant.company_id)
    pair = pending_pairs(owner)[0]
    merged = owner.post(
        "/api/v1/customers/merge",
        json={"survivor_id": duplicates["latin"], "other_ids": [duplicates["arabic"]]},
    )
    assert merged.status_code == 200, merged.text
    # Not left pending as a customer paired with itself.
    assert pending_pairs(owner) == []
    assert [p["id"] for p in pending_pairs(owner, status="merged")] == [pair["id"]]
    assert audit_actions(tenant.company_id, pair["id"]) == ["duplicate_pair.merged"]


def test_undoing_a_queue_merge_puts_the_pair_back_in_the_queue(tenant, owner, duplicates) -> None:
    run_scan(tenant.company_id)
    (pair,) = pending_pairs(owner)
    decided = owner.post(f"/api/v1/dedupe/pairs/{pair['id']}/decision", json={"decision": "merge"})
    assert decided.status_code == 200, decided.text
    (merge,) = owner.get("/api/v1/merges").json()["items"]
    undone = owner.post(f"/api/v1/merges/{merge['id']}/undo")
    assert undone.status_code == 200, undone.text
    (reopened,) = pending_pairs(owner)
    assert reopened["id"] == pair["id"]
    assert {reopened["customer_id_a"], reopened["customer_id_b"]} == {
        duplicates["latin"],
        duplicates["arabic"],
    }
    assert reopened["evidence"] == pair["evidence"] and reopened["decided_at"] is None
    assert pending_pairs(owner, status="merged") == []
    assert audit_actions(tenant.company_id, pair["id"]) == [
        "duplicate_pair.merged",
        "duplicate_pair.reopened",
    ]
    # The restored customer is proposed by the online check again, and can be decided anew.
    assert duplicates["arabic"] in [m["customer_id"] for m in check(owner, **MOHAMMED)]
    again = owner.post(
        f"/api/v1/dedupe/pairs/{pair['id']}/decision", json={"decision": "not_duplicate"}
    )
    assert again.status_code == 200, again.text
