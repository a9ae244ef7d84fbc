"""Requests take turns for the database, first come first served.

Each process has `pool_size + max_overflow` pooled connections and more worker
threads than that. Threads that wait inside the pool are not served in order:
a thread that has just returned a connection takes it straight back for its
next request, and under sustained load a waiting request lost that race for
30 s (the load test's time-outs). So a request is admitted only while a
connection is free for it, in arrival order; it waits at most the pool timeout
and then answers 503 with Retry-After, exactly as a pool time-out would.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass

import anyio
import sqlalchemy.exc
from fastapi import Request

from majlis.core.config import load_settings

# Streams hold their own dedicated connection for as long as the page stays open.
UNMETERED_SUFFIXES = ("/stream",)


@dataclass(frozen=True)
class DatabaseTurns:
    turns: anyio.CapacityLimiter
    timeout_s: int


def _turns_of(request: Request) -> DatabaseTurns:
    """The app's turns, made in its own event loop on first use (one per app instance)."""
    state = request.app.state
    if not hasattr(state, "database_turns"):
        settings = load_settings()
        slots = settings.pool_size + settings.pool_max_overflow
        state.database_turns = DatabaseTurns(anyio.CapacityLimiter(slots), settings.pool_timeout_s)
    turns: DatabaseTurns = state.database_turns
    return turns


async def database_turn(request: Request) -> AsyncIterator[None]:
    """A FastAPI dependency: hold one of the process's database turns for the request."""
    if request.url.path.endswith(UNMETERED_SUFFIXES):
        yield
        return
    database = _turns_of(request)
    token = object()
    with anyio.move_on_after(database.timeout_s) as waiting:
        await database.turns.acquire_on_behalf_of(token)
    if waiting.cancelled_caught:
        raise sqlalchemy.exc.TimeoutError(f"no database turn within {database.timeout_s} s")
    try:
        yield
    finally:
        database.turns.release_on_behalf_of(token)
