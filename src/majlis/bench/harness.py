"""Timing helpers shared by every `majlis bench` suite.

A scenario measures *our* way and, where one exists, the *naive* way (what
the systems we replace do: ILIKE scans, OFFSET pages, per-row INSERTs) in the
same run, on the same data, and reports percentiles and ratios. Results go to
`bench/results/<suite>-<scale>.json` and into a Markdown table for
`docs/performance.md`.
"""

from __future__ import annotations

import http.client
import json
import os
import platform
import statistics
import subprocess
import sys
import threading
import time
import urllib.parse
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import uvicorn
from sqlalchemy import text

from majlis.core.config import KEEP_ALIVE_SECONDS
from majlis.core.db import get_engine
from majlis.core.embedded import free_loopback_port

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


def start_server() -> tuple[str, uvicorn.Server]:
    """The real app on a loopback port, served from a thread of this process."""
    from majlis.app import create_app

    port = free_loopback_port()
    server = uvicorn.Server(
        uvicorn.Config(create_app(), host="127.0.0.1", port=port, log_level="warning")
    )
    threading.Thread(target=server.run, daemon=True).start()
    while not server.started:
        time.sleep(0.05)
    return f"http://127.0.0.1:{port}", server


@contextmanager
def serving(workers: int) -> Iterator[str]:
    """`majlis serve --workers N` in its own processes for a suite's HTTP scenarios; its URL.

    A server in the bench's own process would share one interpreter lock with the
    bench's clients, and every request would wait for the client's Python as well.
    """
    port = free_loopback_port()
    env = {**os.environ, "MAJLIS_LOG_LEVEL": "WARNING"}
    server = start_server_process(majlis_serve_args(port, workers), env, port)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.terminate()
        server.wait(timeout=60)


# The server closes a connection idle for KEEP_ALIVE_SECONDS, and a slow naive
# scenario can leave the bench's connection idle that long: it is renewed first.
IDLE_CONNECTION_S = KEEP_ALIVE_SECONDS / 2


class KeepAliveClient:
    """One keep-alive HTTP/1.1 connection from the standard library, for timed calls.

    httpx spends about 1.5 ms of its own Python on each request (an exact TRN lookup
    at 1M: p50 5.4 ms through this client, 7.2 ms through httpx, same server), which
    the bench would count as the server's.
    """

    def __init__(self, base_url: str, token: str) -> None:
        url = urllib.parse.urlsplit(base_url)
        self._connection = http.client.HTTPConnection(url.hostname or "", url.port, timeout=60)
        self._headers = {"Authorization": f"Bearer {token}"}
        self._last_used = time.monotonic()

    def request(
        self, method: str, path: str, params: dict[str, Any] | None = None, body: Any = None
    ) -> Any:
        """The decoded JSON answer; an error for any status of 400 or more."""
        if params:
            path = f"{path}?{urllib.parse.urlencode(params)}"
        headers = dict(self._headers)
        payload = None
        if body is not None:
            payload = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        if time.monotonic() - self._last_used > IDLE_CONNECTION_S:
            self._connection.close()  # the next request opens a new one
        self._connection.request(method, path, body=payload, headers=headers)
        response = self._connection.getresponse()
        answer = response.read()
        self._last_used = time.monotonic()
        if response.status >= 400:
            raise RuntimeError(f"{method} {path} answered {response.status}: {answer[:300]!r}")
        return json.loads(answer) if answer else None

    def get(self, path: str, **params: Any) -> Any:
        return self.request("GET", path, params)

    def close(self) -> None:
        self._connection.close()


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
