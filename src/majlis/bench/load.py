"""`majlis bench run load`: 100 concurrent users against the real server and database.

Phases (durations from MAJLIS_LOAD_SECONDS, default 60):
1. mixed: lists, exact lookups, reads, searches and writes, as staff use the API;
2. reads only, ours: GET /api/v1/customers/{id};
3. reads only, bare: the same read through `bare_app` (FastAPI + psycopg only).
Every non-2xx answer or transport error counts as an error; the issue's bar is zero.
"""

from __future__ import annotations

import asyncio
import os
import random
import sys
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import httpx
from rich.console import Console
from sqlalchemy import text
from sqlalchemy.orm import Session

from majlis.accounts import service as accounts
from majlis.bench.harness import (
    ScenarioResult,
    Timing,
    majlis_serve_args,
    start_server_process,
)
from majlis.core.config import KEEP_ALIVE_SECONDS, load_settings
from majlis.core.db import database_urls, get_engine, tenant_session
from majlis.core.embedded import free_loopback_port
from majlis.core.permissions import Actor, Role

USERS = int(os.environ.get("MAJLIS_LOAD_USERS", "100"))
SECONDS = float(os.environ.get("MAJLIS_LOAD_SECONDS", "60"))
READ_PHASE_SECONDS = max(10.0, SECONDS / 3)


@dataclass
class LoadTarget:
    base_url: str
    token: str
    company_id: uuid.UUID
    customer_ids: list[str]


@dataclass
class Recorder:
    latencies: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    # Per label, what went wrong and how often: "409", "RemoteProtocolError"…
    errors: dict[str, Counter[str]] = field(default_factory=lambda: defaultdict(Counter))

    async def timed(self, label: str, call: Awaitable[httpx.Response]) -> None:
        started = time.perf_counter()
        failure = None
        try:
            response = await call
            if response.status_code >= 400:
                failure = str(response.status_code)
        except httpx.HTTPError as error:
            failure = type(error).__name__
        self.latencies[label].append(time.perf_counter() - started)
        if failure is not None:
            self.errors[label][failure] += 1


def seed_company(customers: int) -> tuple[uuid.UUID, str, list[str]]:
    """A fresh company with an owner token and `customers` rows inserted set-based."""
    app_engine = get_engine("app")
    with Session(app_engine) as session, session.begin():
        company_id = accounts.create_company(session, f"Load {uuid.uuid4().hex[:6]}").id
    with tenant_session(app_engine, company_id) as session:
        system = Actor.system(company_id)
        owner = accounts.add_user(
            session, system, f"load-{company_id.hex[:8]}@bench.example", Role.OWNER
        )
        _, token = accounts.issue_token(session, system, owner, "load")
    with get_engine("admin").begin() as conn:
        conn.execute(
            text(
                "INSERT INTO customers (company_id, id, kind, name, phone, email, city)"
                " SELECT :c, gen_random_uuid(), 'individual', 'Load Customer ' || i,"
                " '+97150' || lpad((1000000 + i)::text, 7, '0'), 'load' || i || '@example.com',"
                " (ARRAY['Dubai','Sharjah','Abu Dhabi'])[1 + i % 3]"
                " FROM generate_series(1, :n) i"
            ),
            {"c": company_id, "n": customers},
        )
        conn.execute(text("ANALYZE customers"))
        ids = (
            conn.execute(
                text("SELECT id::text FROM customers WHERE company_id = :c LIMIT 5000"),
                {"c": company_id},
            )
            .scalars()
            .all()
        )
    return company_id, token, list(ids)


async def run_users(
    action: Callable[[httpx.AsyncClient, random.Random], Awaitable[None]], seconds: float
) -> None:
    limits = httpx.Limits(max_connections=USERS, max_keepalive_connections=USERS)
    async with httpx.AsyncClient(timeout=30, limits=limits) as client:
        deadline = time.monotonic() + seconds

        async def user(number: int) -> None:
            rng = random.Random(number)
            while time.monotonic() < deadline:
                await action(client, rng)

        await asyncio.gather(*(user(n) for n in range(USERS)))


def mixed_workload(
    target: LoadTarget, recorder: Recorder
) -> Callable[[httpx.AsyncClient, random.Random], Awaitable[None]]:
    api = f"{target.base_url}/api/v1/customers"
    headers = {"Authorization": f"Bearer {target.token}"}

    async def act(client: httpx.AsyncClient, rng: random.Random) -> None:
        roll = rng.random()
        some_id = rng.choice(target.customer_ids)
        if roll < 0.30:
            await recorder.timed(
                "list page", client.get(api, params={"limit": 50}, headers=headers)
            )
        elif roll < 0.55:
            await recorder.timed("get by id", client.get(f"{api}/{some_id}", headers=headers))
        elif roll < 0.70:
            # +971 50 …: a real UAE mobile prefix (51 is unassigned, so it would be a 422).
            phone = f"+97150{1000000 + rng.randrange(1, 5000):07d}"
            await recorder.timed(
                "lookup phone", client.get(api, params={"phone": phone}, headers=headers)
            )
        elif roll < 0.85:
            await recorder.timed(
                "search",
                client.get(
                    api, params={"q": f"Customer {rng.randrange(1, 5000)}"}, headers=headers
                ),
            )
        elif roll < 0.95:
            body = {"name": f"Load New {uuid.uuid4().hex[:8]}", "city": "Dubai"}
            await recorder.timed("create", client.post(api, json=body, headers=headers))
        else:
            await recorder.timed(
                "update", client.patch(f"{api}/{some_id}", json={"notes": "load"}, headers=headers)
            )

    return act


def reads_only(
    url_of: Callable[[str], str],
    headers: dict[str, str],
    ids: list[str],
    recorder: Recorder,
    label: str,
) -> Callable[[httpx.AsyncClient, random.Random], Awaitable[None]]:
    async def act(client: httpx.AsyncClient, rng: random.Random) -> None:
        await recorder.timed(label, client.get(url_of(rng.choice(ids)), headers=headers))

    return act


def _result(
    name: str, samples: list[float], errors: Counter[str], seconds: float, target: str = ""
) -> ScenarioResult:
    result = ScenarioResult(
        name, Timing.of(samples), target=target, throughput=len(samples) / seconds
    )
    count = errors.total()
    result.extra = {"requests": len(samples), "errors": count, "error_kinds": dict(errors)}
    kinds = f" ({', '.join(f'{n} × {kind}' for kind, n in errors.items())})" if errors else ""
    result.notes = f"{len(samples)} requests, {count} errors{kinds}"
    return result


def run(scale: int, console: Console) -> list[ScenarioResult]:
    settings = load_settings()
    app_url, _ = database_urls(settings)
    customers = min(scale, 200_000)
    console.print(f"seeding {customers} customers …")
    company_id, token, ids = seed_company(customers)
    env = {**os.environ, "MAJLIS_LOG_LEVEL": "WARNING"}
    ours_port, bare_port = free_loopback_port(), free_loopback_port()
    majlis = majlis_serve_args(ours_port, 2)
    bare_dsn = app_url.replace("postgresql+psycopg://", "postgresql://")
    bare = [
        sys.executable,
        "-m",
        "uvicorn",
        "majlis.bench.bare_app:app",
        "--port",
        str(bare_port),
        "--workers",
        "2",
        "--log-level",
        "warning",
        "--timeout-keep-alive",
        str(KEEP_ALIVE_SECONDS),  # as `majlis serve`, so the two differ only in the app
    ]
    ours_server = start_server_process(majlis, env, ours_port)
    bare_server = start_server_process(bare, {**env, "MAJLIS_BARE_DSN": bare_dsn}, bare_port)
    try:
        target = LoadTarget(f"http://127.0.0.1:{ours_port}", token, company_id, ids)
        mixed = Recorder()
        console.print(f"mixed load: {USERS} users for {SECONDS:.0f} s …")
        asyncio.run(run_users(mixed_workload(target, mixed), SECONDS))
        ours_reads, bare_reads = Recorder(), Recorder()
        headers = {"Authorization": f"Bearer {token}"}
        console.print(f"reads only, ours then bare: {READ_PHASE_SECONDS:.0f} s each …")
        asyncio.run(
            run_users(
                reads_only(
                    lambda i: f"{target.base_url}/api/v1/customers/{i}",
                    headers,
                    ids,
                    ours_reads,
                    "ours",
                ),
                READ_PHASE_SECONDS,
            )
        )
        asyncio.run(
            run_users(
                reads_only(
                    lambda i: f"http://127.0.0.1:{bare_port}/customers/{i}?company={company_id}",
                    {},
                    ids,
                    bare_reads,
                    "bare",
                ),
                READ_PHASE_SECONDS,
            )
        )
    finally:
        for server in (ours_server, bare_server):
            server.terminate()
            server.wait(timeout=30)
    results = [
        _result(f"mixed · {label}", samples, mixed.errors[label], SECONDS, "0 errors")
        for label, samples in sorted(mixed.latencies.items())
    ]
    ours = _result(
        "reads only · ours",
        ours_reads.latencies["ours"],
        ours_reads.errors["ours"],
        READ_PHASE_SECONDS,
    )
    bare_result = _result(
        "reads only · bare FastAPI+psycopg",
        bare_reads.latencies["bare"],
        bare_reads.errors["bare"],
        READ_PHASE_SECONDS,
    )
    ours.naive, ours.naive_throughput = bare_result.ours, bare_result.throughput
    ours.notes += "; rate ratio = ours ÷ bare (the share of the bare throughput we keep)"
    return [*results, ours, bare_result]
