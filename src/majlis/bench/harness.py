"""Timing helpers shared by every `majlis bench` suite.

A scenario measures *our* way and, where one exists, the *naive* way (what
the systems we replace do: ILIKE scans, OFFSET pages, per-row INSERTs) in the
same run, on the same data, and reports percentiles and ratios. Results go to
`bench/results/<suite>-<scale>.json` and into a Markdown table for
`docs/performance.md`.
"""

from __future__ import annotations

import json
import os
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import text

from majlis.core.db import get_engine

RESULTS_DIR = Path(os.environ.get("MAJLIS_BENCH_RESULTS", "bench/results"))


def settle(*tables: str) -> None:
    """Leave freshly loaded tables as autovacuum would before anything is timed.

    Without it, autovacuum wakes up after a bulk load in the middle of a
    measurement and a run swings by a factor of three.
    """
    with get_engine("admin").connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        for table in tables:
            conn.execute(text(f"VACUUM ANALYZE {table}"))


@dataclass(frozen=True)
class Timing:
    """Latency percentiles in milliseconds over `count` runs, and the implied rate."""

    count: int
    p50_ms: float
    p95_ms: float
    p99_ms: float
    mean_ms: float

    @property
    def per_second(self) -> float:
        return 1000.0 / self.mean_ms if self.mean_ms else float("inf")

    @classmethod
    def of(cls, seconds: Sequence[float]) -> Timing:
        if not seconds:
            raise ValueError("no samples")
        ms = sorted(s * 1000 for s in seconds)

        def pick(q: float) -> float:
            return ms[min(len(ms) - 1, round(q * (len(ms) - 1)))]

        return cls(len(ms), pick(0.50), pick(0.95), pick(0.99), statistics.fmean(ms))


def start_server_process(
    args: list[str], env: dict[str, str], port: int
) -> subprocess.Popen[bytes]:
    """A server in its own process(es), logging to the results folder, once it answers."""
    log = RESULTS_DIR / f"server-{port}.log"
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    with log.open("wb") as output:
        process = subprocess.Popen(args, env=env, stdout=output, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        try:
            httpx.get(f"http://127.0.0.1:{port}/docs", timeout=1)
            return process
        except httpx.HTTPError:
            time.sleep(0.2)
    process.kill()
    raise RuntimeError(f"server on port {port} did not start; see {log}")


def majlis_serve_args(port: int, workers: int) -> list[str]:
    """`majlis serve` as an operator runs it, with this interpreter."""
    return [
        sys.executable,
        "-m",
        "majlis.cli",
        "serve",
        "--port",
        str(port),
        "--workers",
        str(workers),
    ]


def time_calls(call: Callable[[int], object], repeat: int, warmup: int = 3) -> Timing:
    """Time `repeat` calls of `call(i)` after `warmup` untimed ones."""
    for i in range(warmup):
        call(i)
    samples = []
    for i in range(repeat):
        started = time.perf_counter()
        call(i)
        samples.append(time.perf_counter() - started)
    return Timing.of(samples)


@dataclass
class ScenarioResult:
    """One line of the results table."""

    name: str
    ours: Timing
    naive: Timing | None = None
    target: str = ""
    unit: str = "ms"
    throughput: float | None = None  # rows/s or events/s, for bulk scenarios
    naive_throughput: float | None = None
    notes: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def ratio(self) -> float | None:
        """How many times faster ours is than the naive way (naive p50 / ours p50)."""
        if self.throughput and self.naive_throughput:
            return self.throughput / self.naive_throughput
        if self.naive is None or not self.ours.p50_ms:
            return None
        return self.naive.p50_ms / self.ours.p50_ms


def machine_facts() -> dict[str, Any]:
    return {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "platform": platform.platform(),
    }


def write_results(suite: str, scale: int, results: list[ScenarioResult]) -> Path:
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    path = RESULTS_DIR / f"{suite}-{scale}.json"
    payload = {
        "suite": suite,
        "scale": scale,
        "machine": machine_facts(),
        "results": [{**asdict(r), "ratio": r.ratio} for r in results],
    }
    path.write_text(json.dumps(payload, indent=2, default=str))
    return path


def _fmt(value: float | None, digits: int = 2) -> str:
    return "—" if value is None else f"{value:,.{digits}f}"


def markdown_table(results: list[ScenarioResult]) -> str:
    """The table pasted into docs/performance.md."""
    lines = [
        "| scenario | ours p50 / p95 / p99 (ms) | naive p50 / p95 (ms) | ours/naive rate | "
        "naive ÷ ours | target |",
        "|---|---|---|---|---|---|",
    ]
    for r in results:
        ours = f"{_fmt(r.ours.p50_ms)} / {_fmt(r.ours.p95_ms)} / {_fmt(r.ours.p99_ms)}"
        naive = f"{_fmt(r.naive.p50_ms)} / {_fmt(r.naive.p95_ms)}" if r.naive else "—"
        rates = (
            f"{_fmt(r.throughput, 0)} / {_fmt(r.naive_throughput, 0)} per s"
            if r.throughput
            else "—"
        )
        ratio = f"{r.ratio:,.1f}×" if r.ratio else "—"
        lines.append(f"| {r.name} | {ours} | {naive} | {rates} | {ratio} | {r.target} |")
    return "\n".join(lines)
