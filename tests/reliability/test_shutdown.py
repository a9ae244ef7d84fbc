"""`majlis serve` as a process: SIGTERM lets the request in flight finish and commit, and
idle keep-alive connections outlast their clients' expiry."""

from __future__ import annotations

import http.client
import signal
import subprocess
import time
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


def test_an_idle_keep_alive_connection_outlives_common_client_expiry(start_server) -> None:
    # httpx and many proxies drop idle connections after 5 s, uvicorn's own default: with
    # equal timeouts a request sent as the server closes is lost (the load test saw it).
    server = start_server()
    connection = http.client.HTTPConnection(server.url.removeprefix("http://"), timeout=60)
    try:
        connection.request("GET", "/healthz")
        assert connection.getresponse().read() and connection.sock is not None
        first_socket = connection.sock
        time.sleep(6)  # idle past the 5 s clients give up at
        connection.request("GET", "/healthz")  # raises RemoteDisconnected if it was closed
        assert connection.getresponse().status == 200 and connection.sock is first_socket
    finally:
        connection.close()
