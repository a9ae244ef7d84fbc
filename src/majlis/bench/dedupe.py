"""`majlis bench run dedupe`: duplicate matching quality, batch scan time, online check.

Three measurements, each beside the naive way the reference systems use
(exact match on email, phone or name):

1. **Quality** on the labelled benchmark (`dedupe_truth`, 20,000 records, the
   evaluation seed): pairwise precision, recall and F1 at the default
   threshold. Pairwise over *all* true duplicate pairs, so pairs blocking
   never proposed count as misses.
2. **Batch scan** of `scale` labelled synthetic customers through the matching
   core (prepare + blocking + scoring + clustering, both cores), with its
   quality at that size. Generating the population is not timed.
3. **End-to-end scan** (`majlis dedupe scan`'s code path, `scan.run_scan`):
   a company of `scale` customers COPYed in through the admin engine
   (`datagen`), then read from PostgreSQL as the app role, matched, clustered
   and written to the review queue.
4. **Online check** latency over HTTP (`dedupe_online`); with `--reuse` it
   measures the company an earlier run of the same scale loaded.
"""

from __future__ import annotations

import re
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from rich.console import Console

from majlis.bench.datagen import CustomerRows, NamePools, copy_customers, create_company
from majlis.bench.dedupe_online import online_check_scenario
from majlis.bench.dedupe_truth import (
    DEFAULT_RECORDS,
    EVALUATION_SEED,
    Benchmark,
    EvaluationReport,
    ThresholdMetrics,
    evaluate,
    generate_benchmark,
    metrics,
)
from majlis.bench.harness import ScenarioResult, Timing
from majlis.core.db import get_engine, tenant_session
from majlis.core.permissions import Actor
from majlis.dedupe import review, scan
from majlis.dedupe.blocking import default_workers
from majlis.dedupe.model import load_default_model

# Seed of the scan population: not the evaluation seed, so the scan at 20k is
# a second, independent measurement of quality.
SCAN_SEED = 424_242
# Seed of the end-to-end scan's company (`datagen` derives TRNs from it, so it stays small).
DATABASE_SEED = 5
PRECISION_TARGET = 0.98
RECALL_TARGET = 0.95
SCAN_TARGET_SECONDS_PER_MILLION = 180.0

_SPACES = re.compile(r"\s+")
_NOT_DIGIT = re.compile(r"\D")

NaiveKey = Callable[[Mapping[str, Any]], str | None]


def _email_key(record: Mapping[str, Any]) -> str | None:
    email = (record.get("email") or "").strip().lower()
    return f"email:{email}" if email else None


def _phone_key(record: Mapping[str, Any]) -> str | None:
    digits = _NOT_DIGIT.sub("", record.get("phone") or "")
    return f"phone:{digits}" if digits else None


def _name_key(record: Mapping[str, Any]) -> str | None:
    name = record.get("name") or record.get("business_name") or ""
    name = _SPACES.sub(" ", name.strip().lower())
    return f"name:{name}" if name else None


NAIVE_KEYS: tuple[NaiveKey, ...] = (_email_key, _phone_key, _name_key)


def naive_exact_pairs(records: Iterable[Mapping[str, Any]]) -> set[tuple[int, int]]:
    """Pairs (i < j) that share an exact email, phone (digits as typed) or name.

    This is what Odoo, ERPNext and Twenty offer: exact-match rules on stored
    values, no transliteration, no typos, no evidence weighing.
    """
    groups: dict[str, list[int]] = defaultdict(list)
    for index, record in enumerate(records):
        for key_of in NAIVE_KEYS:
            key = key_of(record)
            if key is not None:
                groups[key].append(index)
    return {
        (members[i], members[j])
        for members in groups.values()
        for i in range(len(members))
        for j in range(i + 1, len(members))
    }


def _quality_note(label: str, result: ThresholdMetrics) -> str:
    return f"{label} P {result.precision:.3f} / R {result.recall:.3f} / F1 {result.f1:.3f}"


def _naive_metrics(benchmark: Benchmark) -> tuple[ThresholdMetrics, float]:
    started = time.perf_counter()
    predicted = naive_exact_pairs(benchmark.records)
    elapsed = time.perf_counter() - started
    return metrics(predicted, benchmark.true_pairs(), 1.0), elapsed


def _meets_targets(result: ThresholdMetrics) -> bool:
    return result.precision >= PRECISION_TARGET and result.recall >= RECALL_TARGET


def quality_scenario(console: Console, workers: int) -> ScenarioResult:
    """Precision/recall/F1 on the labelled 20k benchmark, ours beside exact matching."""
    console.print(f"quality: labelled benchmark, {DEFAULT_RECORDS:,} records")
    benchmark = generate_benchmark(DEFAULT_RECORDS, EVALUATION_SEED)
    report = evaluate(benchmark=benchmark, workers=workers)
    naive, naive_seconds = _naive_metrics(benchmark)
    return ScenarioResult(
        f"dedupe quality, labelled {report.records:,} (threshold {report.threshold})",
        Timing.of([report.timings["total_s"]]),
        Timing.of([naive_seconds]),
        target=f"P ≥ {PRECISION_TARGET} and R ≥ {RECALL_TARGET} (pairwise)",
        unit="s",
        notes="; ".join(
            [
                _quality_note("ours", report.pairwise),
                _quality_note("naive exact email/phone/name", naive),
                f"targets met: {_meets_targets(report.pairwise)}",
            ]
        ),
        extra=_report_extra(report) | {"naive": naive.__dict__},
    )


def _report_extra(report: EvaluationReport) -> dict[str, Any]:
    return {
        "records": report.records,
        "true_pairs": report.true_pairs,
        "candidate_pairs": report.candidate_pairs,
        "blocking_recall": report.blocking_recall,
        "pairwise": report.pairwise.__dict__,
        "clustered": report.clustered.__dict__,
        "timings": report.timings,
    }


def scan_scenario(scale: int, console: Console, workers: int) -> ScenarioResult:
    """Batch scan of `scale` customers through the matching core, with its quality.

    No naive figure here: exact matching would pair every user of a shared
    switchboard (25,000 of them at 1M), hundreds of millions of pairs; its
    quality is shown on the 20k benchmark instead.
    """
    console.print(f"scan: generating {scale:,} labelled customers (not timed)")
    benchmark = generate_benchmark(scale, SCAN_SEED)
    console.print("scan: prepare + blocking + scoring + clustering")
    report = evaluate(benchmark=benchmark, workers=workers)
    seconds = report.timings["total_s"]
    stages = ", ".join(
        f"{stage} {report.timings[f'{stage}_s']:.1f}s"
        for stage in ("prepare", "blocking", "scoring", "clustering")
    )
    target = SCAN_TARGET_SECONDS_PER_MILLION * scale / 1_000_000
    return ScenarioResult(
        f"dedupe batch scan {report.records:,} customers (core, {workers} workers)",
        Timing.of([seconds]),
        target=f"≤ {target:,.0f} s (≤ 3 min per 1M)",
        unit="s",
        throughput=report.records / seconds,
        notes="; ".join(
            [
                stages,
                f"CPU {report.timings['total_cpu_s']:.0f}s",
                f"{report.candidate_pairs:,} candidate pairs",
                _quality_note("ours", report.pairwise),
            ]
        ),
        extra=_report_extra(report),
    )


def end_to_end_scan_scenario(scale: int, console: Console, workers: int) -> ScenarioResult:
    """`majlis dedupe scan` on a company of `scale` customers: DB read to review queue."""
    company = create_company(f"Bench dedupe scan {scale}")
    console.print(f"end-to-end scan: loading {scale:,} customers (not timed)")
    rows = CustomerRows(company.company_id, DATABASE_SEED, NamePools.draw(DATABASE_SEED))
    copy_customers(get_engine("admin"), iter(rows), scale)
    with get_engine("admin").begin() as connection:
        connection.exec_driver_sql("ANALYZE customers")
    engine = get_engine("app")
    with tenant_session(engine, company.company_id) as session:
        scan_id = review.request_scan(session, Actor.system(company.company_id), in_worker=False).id
    console.print("end-to-end scan: read, match, cluster, write the review queue")
    started = time.perf_counter()
    result = scan.run_scan(engine, company.company_id, scan_id, workers=workers)
    seconds = time.perf_counter() - started
    target = SCAN_TARGET_SECONDS_PER_MILLION * scale / 1_000_000
    return ScenarioResult(
        f"majlis dedupe scan, {result.customers:,} customers (DB to review queue)",
        Timing.of([seconds]),
        target=f"≤ {target:,.0f} s (≤ 3 min per 1M)",
        unit="s",
        throughput=result.customers / seconds,
        notes=(
            f"{result.candidate_pairs:,} candidate pairs, {len(result.pairs):,} above the"
            f" threshold, {result.written:,} queued, {result.clusters:,} clusters"
        ),
    )


Scenario = Callable[[int, Console, int, bool], list[ScenarioResult]]
SCENARIOS: dict[str, Scenario] = {
    "quality": lambda scale, console, workers, reuse: [quality_scenario(console, workers)],
    "scan": lambda scale, console, workers, reuse: [scan_scenario(scale, console, workers)],
    "e2e": lambda scale, console, workers, reuse: [
        end_to_end_scan_scenario(scale, console, workers)
    ],
    "online": lambda scale, console, workers, reuse: [online_check_scenario(scale, console, reuse)],
}


def run(
    scale: int, console: Console, only: Sequence[str] | None = None, reuse: bool = False
) -> list[ScenarioResult]:
    """Quality on the labelled benchmark, core and end-to-end scans at `scale`, online check.

    `only` picks scenarios by name (see SCENARIOS), e.g. ``--only quality --only scan``.
    """
    unknown = set(only or ()) - set(SCENARIOS)
    if unknown:
        raise ValueError(
            f"unknown dedupe scenarios {sorted(unknown)}; choose from {list(SCENARIOS)}"
        )
    workers = default_workers()
    load_default_model()  # fail early on a broken model file, before minutes of work
    results = [
        result
        for name, scenario in SCENARIOS.items()
        if not only or name in only
        for result in scenario(scale, console, workers, reuse)
    ]
    for result in results:  # the table has no room for quality figures
        console.print(f"{result.name}: {result.notes}")
    return results
