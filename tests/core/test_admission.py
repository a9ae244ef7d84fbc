"""Requests take database turns in arrival order, and give up with 503 after the pool timeout.

A small app behind the real `DatabaseTurn` middleware with one turn, served over real HTTP:
each request records when it was admitted and then holds its turn until the test lets
it go, so the order of admission is observable.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor

import httpx
import pytest
import uvicorn
from fastapi import FastAPI

from majlis.core.admission import DatabaseTurn, is_metered
from majlis.core.embedded import free_loopback_port
from majlis.core.http import install_problem_handlers

HOLD_LIMIT_S = 20


class Holders:
    """Who was admitted, in order, and the gate each admitted request waits at."""

    def __init__(self) -> None:
        self.admitted: list[str] = []
        self.gates: dict[str, threading.Event] = {}

    def hold(self, name: str) -> dict[str, str]:
        self.admitted.append(name)
        self.gates.setdefault(name, threading.Event()).wait(HOLD_LIMIT_S)
        return {"held": name}

    def release(self, name: str) -> None:
        self.gates.setdefault(name, threading.Event()).set()


@pytest.fixture
def one_turn_server(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[str, Holders]]:
    monkeypatch.setenv("MAJLIS_DB_POOL_SIZE", "1")
    monkeypatch.setenv("MAJLIS_DB_MAX_OVERFLOW", "0")
    monkeypatch.setenv("MAJLIS_DB_POOL_TIMEOUT_S", "2")
    holders = Holders()
    app = FastAPI()
    app.add_middleware(DatabaseTurn)
    install_problem_handlers(app)
    app.get("/hold/{name}")(holders.hold)
    app.get("/healthz")(lambda: {"status": "ok"})
    port = free_loopback_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.02)
    yield f"http://127.0.0.1:{port}", holders
    for name in list(holders.gates):
        holders.release(name)
    server.should_exit = True
    thread.join(timeout=10)


def _send_in_order(
    pool: ThreadPoolExecutor, client: httpx.Client, names: list[str]
) -> list[Future[httpx.Response]]:
    """Send one request per name, each well after the one before, so arrival order is known."""
    futures = []
    for name in names:
        futures.append(pool.submit(client.get, f"/hold/{name}"))
        time.sleep(0.2)
    return futures


def test_waiting_requests_are_admitted_first_come_first_served(one_turn_server) -> None:
    base_url, holders = one_turn_server
    with httpx.Client(base_url=base_url, timeout=30) as client, ThreadPoolExecutor(4) as pool:
        futures = _send_in_order(pool, client, ["first", "second", "third", "fourth"])
        assert holders.admitted == ["first"]
        for name in ["first", "second", "third", "fourth"]:
            holders.release(name)
            time.sleep(0.2)
        assert [future.result().status_code for future in futures] == [200] * 4
    assert holders.admitted == ["first", "second", "third", "fourth"]


def test_a_request_that_waits_past_the_pool_timeout_answers_503(one_turn_server) -> None:
    base_url, holders = one_turn_server
    with httpx.Client(base_url=base_url, timeout=30) as client, ThreadPoolExecutor(2) as pool:
        (holding,) = _send_in_order(pool, client, ["holding"])
        refused = client.get("/hold/refused")
        holders.release("holding")
        assert holding.result().status_code == 200
    assert refused.status_code == 503
    assert refused.headers["content-type"].startswith("application/problem+json")
    assert "Retry-After" in refused.headers
    assert holders.admitted == ["holding"]


def test_operations_endpoints_answer_while_every_turn_is_held(one_turn_server) -> None:
    base_url, holders = one_turn_server
    with httpx.Client(base_url=base_url, timeout=30) as client, ThreadPoolExecutor(2) as pool:
        (holding,) = _send_in_order(pool, client, ["holding"])
        health = client.get("/healthz")  # a metered request would get a 503 after 2 s
        holders.release("holding")
        assert holding.result().status_code == 200
    assert health.status_code == 200 and holders.admitted == ["holding"]


@pytest.mark.parametrize(
    ("path", "metered"),
    [
        ("/api/v1/customers", True),
        ("/customers/new", True),
        ("/", True),
        ("/healthz", False),
        ("/metrics", False),
        ("/openapi.json", False),
        ("/static/app.css", False),
        ("/api/v1/notifications/stream", False),
    ],
)
def test_what_takes_a_turn(path: str, metered: bool) -> None:
    assert is_metered(path) is metered
