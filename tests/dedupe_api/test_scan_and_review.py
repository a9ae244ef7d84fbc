"""Batch scans, the review queue and its remembered decisions."""

from __future__ import annotations

import csv

from tests.dedupe_api.conftest import (
    MOHAMMED,
    audit_actions,
    check,
    create,
    pending_pairs,
    run_scan,
)
from typer.testing import CliRunner

from majlis.cli import app as cli
from majlis.core.db import get_engine
from majlis.core.permissions import Role
from majlis.core.worker import OutboxWorker
from majlis.dedupe import tasks  # noqa: F401  (registers the scan handler)
from majlis.dedupe.scan import EXPORT_COLUMNS


def _decide(client, pair_id: str, decision: str):
    return client.post(f"/api/v1/dedupe/pairs/{pair_id}/decision", json={"decision": decision})


def test_cli_scan_queues_the_pair_and_exports_exact_columns(tenant, owner, duplicates, tmp_path):
    owner.patch(f"/api/v1/customers/{duplicates['latin']}", json={"external_ref": "POS-1"})
    export = tmp_path / "pairs.csv"
    args = ["dedupe", "scan", "--company", str(tenant.company_id), "--export", str(export)]
    result = CliRunner().invoke(cli, [*args, "--workers", "1"])
    assert result.exit_code == 0, result.output
    pairs = pending_pairs(owner)
    assert len(pairs) == 1
    pair = pairs[0]
    assert {pair["customer_id_a"], pair["customer_id_b"]} == {
        duplicates["latin"],
        duplicates["arabic"],
    }
    assert pair["customer_id_a"] < pair["customer_id_b"]
    assert pair["source"] == "scan" and pair["cluster_id"] and pair["evidence"]
    with export.open(encoding="utf-8") as handle:
        rows = list(csv.reader(handle))
    assert tuple(rows[0]) == EXPORT_COLUMNS
    assert len(rows) == 2
    refs = {rows[1][0]: rows[1][2], rows[1][1]: rows[1][3]}
    assert refs[duplicates["latin"]] == "POS-1" and refs[duplicates["arabic"]] == ""
    assert float(rows[1][4]) >= 0.85 and "first_name" in rows[1][5]


def test_rescan_does_not_queue_the_same_pair_twice(tenant, owner, duplicates) -> None:
    first, second = run_scan(tenant.company_id), run_scan(tenant.company_id)
    assert (first.written, second.written, second.skipped) == (1, 0, 1)
    assert len(pending_pairs(owner)) == 1


def test_not_duplicate_is_remembered_by_rescans_and_checks(tenant, owner, duplicates) -> None:
    run_scan(tenant.company_id)
    pair = pending_pairs(owner)[0]
    decided = _decide(owner, pair["id"], "not_duplicate")
    assert decided.status_code == 200, decided.text
    assert decided.json()["status"] == "not_duplicate"
    assert run_scan(tenant.company_id).written == 0
    assert pending_pairs(owner) == []
    assert len(pending_pairs(owner, status="not_duplicate")) == 1
    latin = owner.get(f"/api/v1/customers/{duplicates['latin']}").json()
    url = "/api/v1/customers/duplicates/check"
    fields = {"name": latin["name"], "phone": latin["phone"], "city": latin["city"]}
    rechecked = owner.post(url, params={"customer_id": latin["id"]}, json=fields).json()
    assert duplicates["arabic"] not in {m["customer_id"] for m in rechecked["matches"]}
    assert audit_actions(tenant.company_id, pair["id"]) == ["duplicate_pair.not_duplicate"]
    again = _decide(owner, pair["id"], "skip")
    assert again.status_code == 409


def test_skip_moves_the_pair_aside_and_is_audited(tenant, owner, duplicates) -> None:
    run_scan(tenant.company_id)
    pair = pending_pairs(owner)[0]
    with tenant.client(Role.SALES) as sales:
        assert _decide(sales, pair["id"], "skip").json()["status"] == "skipped"
    assert pending_pairs(owner) == []
    assert run_scan(tenant.company_id).written == 0  # skipped pairs are not re-queued
    assert audit_actions(tenant.company_id, pair["id"]) == ["duplicate_pair.skipped"]
    assert _decide(owner, pair["id"], "not_duplicate").status_code == 200  # decided later


def test_roles_view_for_all_decide_for_mergers(tenant, owner, duplicates) -> None:
    run_scan(tenant.company_id)
    pair = pending_pairs(owner)[0]
    for role in Role:
        with tenant.client(role) as client:
            assert len(pending_pairs(client)) == 1, role
    with tenant.client(Role.ANALYST) as analyst:
        assert _decide(analyst, pair["id"], "skip").status_code == 403
        assert _decide(analyst, pair["id"], "not_duplicate").status_code == 403
    with tenant.client(Role.SALES) as sales:
        assert _decide(sales, pair["id"], "not_duplicate").status_code == 403
        assert _decide(sales, pair["id"], "merge").status_code == 403
        bulk = sales.post("/api/v1/dedupe/pairs/bulk-accept", json={"min_probability": 0.9})
        assert bulk.status_code == 403
        assert sales.post("/api/v1/dedupe/scans").status_code == 403
    with tenant.client(Role.MANAGER) as manager:
        assert _decide(manager, pair["id"], "not_duplicate").status_code == 200


def test_api_scan_runs_in_the_outbox_worker(tenant, owner, duplicates) -> None:
    requested = owner.post("/api/v1/dedupe/scans")
    assert requested.status_code == 202, requested.text
    scan = requested.json()
    assert scan["status"] == "queued"
    OutboxWorker(get_engine("app")).run_once()
    done = owner.get(f"/api/v1/dedupe/scans/{scan['id']}").json()
    assert done["status"] == "finished", done
    assert (done["customers_total"], done["pairs_written"], done["clusters"]) == (3, 1, 1)
    assert pending_pairs(owner)[0]["scan_id"] == scan["id"]
    assert audit_actions(tenant.company_id, scan["id"]) == ["duplicate_scan.requested"]


def test_pairs_are_sorted_paginated_and_filtered_by_cluster(tenant, owner) -> None:
    for n in range(3):
        phone = f"+97150123450{n}"
        create(owner, name=f"Khalid Saeed {n}", phone=phone, trn=f"10012345678900{n}")
        create(owner, kind="organization", name=f"Unrelated {n} LLC", trn=None, phone=phone)
    create(owner, **MOHAMMED)
    create(owner, name="محمد المنصوري", phone="0501234567", date_of_birth="1985-03-07")
    run_scan(tenant.company_id)
    everything = pending_pairs(owner, limit=200)
    probabilities = [p["match_probability"] for p in everything]
    assert probabilities == sorted(probabilities, reverse=True) and len(everything) >= 1
    first = owner.get("/api/v1/dedupe/pairs", params={"limit": 1}).json()
    paged = [first["items"][0]["id"]]
    cursor = first["next_cursor"]
    while cursor:
        page = owner.get("/api/v1/dedupe/pairs", params={"limit": 1, "cursor": cursor}).json()
        paged += [p["id"] for p in page["items"]]
        cursor = page["next_cursor"]
    assert paged == [p["id"] for p in everything]
    cluster = everything[0]["cluster_id"]
    in_cluster = pending_pairs(owner, cluster_id=cluster)
    assert in_cluster and {p["cluster_id"] for p in in_cluster} == {cluster}
    bad = owner.get("/api/v1/dedupe/pairs", params={"cursor": "nonsense"})
    assert bad.status_code == 422


def test_other_company_gets_404_for_pairs_and_scans(make_tenant) -> None:
    a, b = make_tenant(), make_tenant()
    with a.client() as a_owner, b.client() as b_owner:
        create(a_owner, **MOHAMMED)
        create(a_owner, name="محمد المنصوري", phone="0501234567", date_of_birth="1985-03-07")
        run_scan(a.company_id)
        pair = pending_pairs(a_owner)[0]
        scan_id = a_owner.post("/api/v1/dedupe/scans").json()["id"]
        assert pending_pairs(b_owner) == []
        for decision in ("skip", "not_duplicate", "merge"):
            assert _decide(b_owner, pair["id"], decision).status_code == 404
        assert b_owner.get(f"/api/v1/dedupe/scans/{scan_id}").status_code == 404
        assert check(b_owner, **MOHAMMED) == []
        assert pending_pairs(a_owner)[0]["status"] == "pending"
