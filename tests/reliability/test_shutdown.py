"""`majlis serve` stops gracefully: SIGTERM lets the request in flight finish and commit."""

from __future__ import annotations

import signal
import subprocess
from concurrent.futures import ThreadPoolExecutor

import pytest
from tests.reliability.conftest import row_locked, wait_for_lock_waiters

from majlis.core.permissions import Role


def test_sigterm_waits_for_the_request_in_flight(tenant, owner, start_server) -> None:
    customer = owner.post("/api/v1/customers", json={"name": "Graceful Guest"}).json()
    server = start_server()

    with (
        server.client(tenant.tokens[Role.OWNER]) as client,
        ThreadPoolExecutor(max_workers=1) as pool,
    ):
        with row_locked("customers", customer["id"]):
            edit = pool.submit(
                client.patch, f"/api/v1/customers/{customer['id']}", json={"city": "Sharjah"}
            )
            wait_for_lock_waiters()
            server.send(signal.SIGTERM)
            # Still alive a second later: it waits for the blocked request, not for a timer.
            with pytest.raises(subprocess.TimeoutExpired):
                server.wait(timeout=1)
        response = edit.result(timeout=60)

    assert response.status_code == 200, response.text
    # uvicorn re-raises the signal once drained, as service managers expect of a clean stop.
    assert server.wait() in (0, -signal.SIGTERM)
    assert owner.get(f"/api/v1/customers/{customer['id']}").json()["city"] == "Sharjah"
