"""Fault-injection fixtures: real `majlis serve` processes and rows held locked on purpose.

A fault is injected at a known point without sleeping on timers: the test holds a
row lock through the schema owner, waits until the process under test is blocked
on it (visible in `pg_stat_activity`), then kills or signals the process, and
only then releases the lock.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import httpx
import pytest
from sqlalchemy import text

from majlis.core.db import get_engine
from majlis.core.embedded import EmbeddedCluster, free_loopback_port


@dataclass
class ServerProcess:
    """`majlis serve` in a child process of its own, so it can be killed for real."""

    process: subprocess.Popen[str]
    url: str

    def client(self, token: str) -> httpx.Client:
        return httpx.Client(
            base_url=self.url, headers={"Authorization": f"Bearer {token}"}, timeout=60
        )

    def send(self, signum: int) -> None:
        os.kill(self.process.pid, signum)

    def wait(self, timeout: float = 60) -> int:
        return self.process.wait(timeout=timeout)


def _wait_until_healthy(server: ServerProcess, deadline_s: float = 180) -> None:
    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise RuntimeError(f"majlis serve exited: {server.process.communicate()}")
        try:
            if httpx.get(f"{server.url}/healthz", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise RuntimeError("majlis serve did not become healthy")


@pytest.fixture
def start_server(cluster: EmbeddedCluster) -> Iterator[Callable[..., ServerProcess]]:
    """Start `majlis serve` processes on free ports (extra env allowed); all stopped after."""
    started: list[ServerProcess] = []

    def start(**env: str) -> ServerProcess:
        port = free_loopback_port()
        process = subprocess.Popen(
            [sys.executable, "-m", "majlis.cli", "serve", "--port", str(port)],
            env={**os.environ, **env},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        server = ServerProcess(process, f"http://127.0.0.1:{port}")
        started.append(server)
        _wait_until_healthy(server)
        return server

    yield start
    for server in started:
        if server.process.poll() is None:
            server.send(signal.SIGKILL)
            server.wait()


@contextmanager
def row_locked(table: str, row_id: uuid.UUID | str) -> Iterator[None]:
    """Hold `FOR UPDATE` on one row (as the schema owner) until the block ends."""
    with get_engine("admin").connect() as conn:
        locked = conn.execute(
            text(f"SELECT 1 FROM {table} WHERE id = :id FOR UPDATE"),
            {"id": row_id},
        ).first()
        assert locked, f"no {table} row {row_id}"
        yield
        conn.rollback()


def wait_for_lock_waiters(count: int = 1, timeout_s: float = 30) -> None:
    """Block until `count` application sessions are waiting on a lock."""
    deadline = time.monotonic() + timeout_s
    query = text(
        "SELECT count(*) FROM pg_stat_activity"
        " WHERE usename = 'majlis_app' AND wait_event_type = 'Lock'"
    )
    while time.monotonic() < deadline:
        with get_engine("admin").connect() as conn:
            if conn.execute(query).scalar_one() >= count:
                return
        time.sleep(0.05)
    raise AssertionError(f"fewer than {count} sessions ever waited on the lock")
