"""Batch duplicate scan of one company: read, block, score, cluster, queue for review.

`run_scan` is the one implementation behind `majlis dedupe scan` (synchronous,
with a progress bar) and the `dedupe.scan` outbox job behind
`POST /api/v1/dedupe/scans`. Customers are streamed with a server-side
cursor; the matching core does blocking, scoring and capped clustering in
numpy; pairs at or above the threshold are written with set-based INSERTs
(`unnest` of arrays), skipping pairs someone already decided are not
duplicates and pairs already waiting in the queue.
"""

from __future__ import annotations

import csv
import json
import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import Engine, select, text, update
from sqlalchemy.orm import Session

from majlis.core.db import tenant_session
from majlis.dedupe import store
from majlis.dedupe.blocking import (
    DEFAULT_MAX_CLUSTER_SIZE,
    cluster_pairs,
    generate_candidate_pairs,
    score_candidate_pairs,
)
from majlis.dedupe.features import PreparedBatch
from majlis.dedupe.model import FellegiSunterModel
from majlis.dedupe.models import DuplicateScan, NotDuplicate, ScanStatus
from majlis.dedupe.service import default_model, evidence_item, reasons_of

EXPORT_COLUMNS = (
    "customer_id_a",
    "customer_id_b",
    "external_ref_a",
    "external_ref_b",
    "match_probability",
    "reasons",
)
WRITE_CHUNK = 10_000
READ_BATCH = 10_000

# (stage, done, total) — the CLI draws a progress bar, the job updates its row.
Progress = Callable[[str, int, int], None]


@dataclass(frozen=True)
class FoundPair:
    """A pair at or above the threshold, ordered so that customer_id_a < customer_id_b."""

    customer_id_a: uuid.UUID
    customer_id_b: uuid.UUID
    external_ref_a: str | None
    external_ref_b: str | None
    match_probability: float
    evidence: list[dict[str, Any]]
    reasons: list[str]
    cluster_id: uuid.UUID | None


@dataclass
class ScanResult:
    customers: int
    candidate_pairs: int
    pairs: list[FoundPair]
    written: int = 0
    skipped: int = 0
    refused_links: int = 0

    @property
    def clusters(self) -> int:
        return len({pair.cluster_id for pair in self.pairs if pair.cluster_id})


def _no_progress(stage: str, done: int, total: int) -> None:
    return None


def read_customers(session: Session, company_id: uuid.UUID) -> list[dict[str, Any]]:
    """Every live customer of the company as a record dict (server-side cursor)."""
    result = session.execute(
        store.live_customers(company_id).execution_options(yield_per=READ_BATCH)
    )
    return [store.as_record(row) for row in result.mappings()]


def _not_duplicates(session: Session, company_id: uuid.UUID) -> set[tuple[uuid.UUID, uuid.UUID]]:
    rows = session.execute(
        select(NotDuplicate.customer_id_a, NotDuplicate.customer_id_b).where(
            NotDuplicate.company_id == company_id
        )
    )
    return {(a, b) for a, b in rows}


def _same_trn(batch: PreparedBatch, left: np.ndarray, right: np.ndarray) -> np.ndarray:
    """Deterministic rule: one TRN is one registered company, whatever the names say."""
    trns = np.array([record.trn for record in batch.records], dtype=object)
    return (trns[left] == trns[right]) & (trns[left] != "")


def _decided_mask(
    ids: list[uuid.UUID],
    decided: set[tuple[uuid.UUID, uuid.UUID]],
    left: np.ndarray,
    right: np.ndarray,
) -> np.ndarray:
    """Which index pairs (left < right) someone decided are not duplicates."""
    index_of = {customer_id: i for i, customer_id in enumerate(ids)}
    n = len(ids)
    known = [(index_of[a], index_of[b]) for a, b in decided if a in index_of and b in index_of]
    codes = np.array([min(i, j) * n + max(i, j) for i, j in known], dtype=np.int64)
    return np.isin(left.astype(np.int64) * n + right, codes)


def _cluster_ids(labels: np.ndarray) -> dict[int, uuid.UUID]:
    values, counts = np.unique(labels, return_counts=True)
    return {int(label): uuid.uuid4() for label in values[counts > 1].tolist()}


def find_pairs(
    records: list[dict[str, Any]],
    decided: set[tuple[uuid.UUID, uuid.UUID]],
    *,
    workers: int = 1,
    progress: Progress = _no_progress,
) -> ScanResult:
    """Candidate pairs of `records` at or above the model's threshold, clustered.

    Pairs in `decided` ("not a duplicate") are neither returned nor used to
    link clusters.
    """
    model = default_model()
    progress("prepare", 0, len(records))
    batch = PreparedBatch.from_records(records)
    progress("blocking", len(records), len(records))
    candidates = generate_candidate_pairs(batch, workers=workers)
    progress("scoring", 0, len(candidates))
    scores = score_candidate_pairs(batch, candidates.left, candidates.right, model, workers=workers)
    probability = scores.match_probability.copy()
    probability[_same_trn(batch, scores.left, scores.right)] = 1.0
    ids = [record.id for record in batch.records]
    probability[_decided_mask(ids, decided, scores.left, scores.right)] = 0.0
    progress("clustering", len(candidates), len(candidates))
    clusters = cluster_pairs(
        len(batch),
        scores.left,
        scores.right,
        probability,
        threshold=model.threshold,
        max_cluster_size=DEFAULT_MAX_CLUSTER_SIZE,
    )
    chosen = np.flatnonzero(probability >= model.threshold)
    progress("explaining", 0, len(chosen))
    pairs = explain_pairs(
        batch,
        scores.left[chosen],
        scores.right[chosen],
        probability[chosen],
        clusters.labels,
        {record["id"]: record.get("external_ref") for record in records},
    )
    return ScanResult(
        customers=len(records),
        candidate_pairs=len(candidates),
        pairs=pairs,
        refused_links=clusters.refused_links,
    )


def _weight_table(model: FellegiSunterModel) -> np.ndarray:
    """log2 Bayes factor per feature (rows) and level (columns, padded with 0)."""
    factors = [feature.log2_bayes_factors() for feature in model.features]
    table = np.zeros((len(factors), max(len(f) for f in factors)))
    for row, weights in enumerate(factors):
        table[row, : len(weights)] = weights
    return table


def explain_pairs(
    batch: PreparedBatch,
    left: np.ndarray,
    right: np.ndarray,
    probability: np.ndarray,
    labels: np.ndarray,
    external_refs: Mapping[uuid.UUID, str | None],
) -> list[FoundPair]:
    """Per-feature evidence of the chosen pairs, computed column-wise like the scoring.

    Levels and term-frequency adjustments come from the model's batch
    comparison (the company's own frequencies), so the weights add up to what
    produced the probability.
    """
    if not len(left):
        return []
    model = default_model()
    levels, tf = model.compare_batch(batch, left, right)
    weights = _weight_table(model)[np.arange(levels.shape[1]), levels.astype(np.intp)]
    weights += model.tf_adjustments(levels, tf, len(batch))
    cluster_of = _cluster_ids(labels)
    records = batch.records
    pairs = []
    for i, (a, b) in enumerate(zip(left.tolist(), right.tolist(), strict=True)):
        first, second = (
            (records[a], records[b]) if records[a].id < records[b].id else (records[b], records[a])
        )
        evidence = [
            evidence_item(feature.name, feature.levels[level], float(weights[i, f]))
            for f, (feature, level) in enumerate(
                zip(model.features, levels[i].tolist(), strict=True)
            )
            if level != 0
        ]
        same_trn = bool(first.trn) and first.trn == second.trn
        pairs.append(
            FoundPair(
                customer_id_a=first.id,
                customer_id_b=second.id,
                external_ref_a=external_refs.get(first.id),
                external_ref_b=external_refs.get(second.id),
                match_probability=round(float(probability[i]), 6),
                evidence=evidence,
                reasons=reasons_of(evidence, same_trn),
                cluster_id=cluster_of.get(int(labels[a])) if labels[a] == labels[b] else None,
            )
        )
    return pairs


_INSERT_PAIRS = text(
    """
    INSERT INTO duplicate_pairs
           (company_id, id, customer_id_a, customer_id_b, match_probability, evidence,
            reasons, cluster_id, scan_id, source, status)
    SELECT :company_id, p.id, p.a, p.b, p.probability, CAST(p.evidence AS jsonb),
           p.reasons, p.cluster, :scan_id, 'scan', 'pending'
      FROM unnest(CAST(:ids AS uuid[]), CAST(:a AS uuid[]), CAST(:b AS uuid[]),
                  CAST(:probability AS float8[]), CAST(:evidence AS text[]),
                  CAST(:reasons AS text[]), CAST(:cluster AS uuid[]))
           AS p(id, a, b, probability, evidence, reasons, cluster)
     WHERE NOT EXISTS (
             SELECT 1 FROM duplicate_pairs d
              WHERE d.company_id = :company_id AND d.customer_id_a = p.a
                AND d.customer_id_b = p.b AND d.status IN ('pending', 'skipped'))
       AND NOT EXISTS (
             SELECT 1 FROM not_duplicate_pairs n
              WHERE n.company_id = :company_id AND n.customer_id_a = p.a
                AND n.customer_id_b = p.b)
    RETURNING id
    """
)


def _chunks(pairs: list[FoundPair]) -> Iterator[list[FoundPair]]:
    for start in range(0, len(pairs), WRITE_CHUNK):
        yield pairs[start : start + WRITE_CHUNK]


def write_pairs(
    session: Session, company_id: uuid.UUID, scan_id: uuid.UUID | None, pairs: list[FoundPair]
) -> int:
    """Queue new pairs for review (set-based); returns how many were new."""
    # One scan writes at a time per company, so the NOT EXISTS checks hold.
    session.execute(
        text("SELECT pg_advisory_xact_lock(hashtext('duplicate_pairs:' || :company))"),
        {"company": str(company_id)},
    )
    written = 0
    for chunk in _chunks(pairs):
        result = session.execute(
            _INSERT_PAIRS,
            {
                "company_id": company_id,
                "scan_id": scan_id,
                "ids": [uuid.uuid4() for _ in chunk],
                "a": [p.customer_id_a for p in chunk],
                "b": [p.customer_id_b for p in chunk],
                "probability": [p.match_probability for p in chunk],
                "evidence": [json.dumps(p.evidence) for p in chunk],
                "reasons": ["; ".join(p.reasons) for p in chunk],
                "cluster": [p.cluster_id for p in chunk],
            },
        )
        written += len(result.all())
    return written


def export_pairs(pairs: list[FoundPair], path: Path) -> None:
    """Write the found pairs as CSV with exactly EXPORT_COLUMNS."""
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(EXPORT_COLUMNS)
        for pair in pairs:
            writer.writerow(
                (
                    pair.customer_id_a,
                    pair.customer_id_b,
                    pair.external_ref_a or "",
                    pair.external_ref_b or "",
                    f"{pair.match_probability:.6f}",
                    "; ".join(pair.reasons),
                )
            )


def _update_scan(engine: Engine, company_id: uuid.UUID, scan_id: uuid.UUID, **values: Any) -> None:
    with tenant_session(engine, company_id) as session:
        session.execute(
            update(DuplicateScan)
            .where(DuplicateScan.company_id == company_id, DuplicateScan.id == scan_id)
            .values(**values)
        )


def run_scan(
    engine: Engine,
    company_id: uuid.UUID,
    scan_id: uuid.UUID,
    *,
    workers: int = 1,
    progress: Progress = _no_progress,
    export: Path | None = None,
) -> ScanResult:
    """Scan a company and queue its duplicate pairs, recording progress on the scan row."""

    def report(stage: str, done: int, total: int) -> None:
        _update_scan(engine, company_id, scan_id, stage=stage)
        progress(stage, done, total)

    _update_scan(
        engine, company_id, scan_id, status=ScanStatus.RUNNING, started_at=datetime.now(UTC)
    )
    try:
        with tenant_session(engine, company_id) as session:
            records = read_customers(session, company_id)
            decided = _not_duplicates(session, company_id)
        result = find_pairs(records, decided, workers=workers, progress=report)
        report("writing", 0, len(result.pairs))
        with tenant_session(engine, company_id) as session:
            result.written = write_pairs(session, company_id, scan_id, result.pairs)
        result.skipped = len(result.pairs) - result.written
        if export is not None:
            export_pairs(result.pairs, export)
    except Exception as exc:
        _update_scan(
            engine,
            company_id,
            scan_id,
            status=ScanStatus.FAILED,
            error=f"{type(exc).__name__}: {exc}",
            finished_at=datetime.now(UTC),
        )
        raise
    _update_scan(
        engine,
        company_id,
        scan_id,
        status=ScanStatus.FINISHED,
        stage="done",
        customers_total=result.customers,
        candidate_pairs=result.candidate_pairs,
        pairs_written=result.written,
        pairs_skipped=result.skipped,
        clusters=result.clusters,
        finished_at=datetime.now(UTC),
    )
    return result
