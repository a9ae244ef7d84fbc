"""What every request crosses before the app: size limits and the API's security headers.

A pure ASGI middleware, so an oversized body is refused from its Content-Length
before a byte is read, and a body without one (chunked) is cut off as it streams
in — never buffered whole first. Refusals are problem+json like every other error.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from majlis.core.errors import PROBLEM_CONTENT_TYPE, DomainError

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

MIB = 1024 * 1024
DEFAULT_BODY_LIMIT = 1 * MIB
# Uploads and bulk endpoints carry files; everything else is a JSON document.
BODY_LIMITS = (
    ("/api/v1/imports", 256 * MIB),  # a 1M-row customer CSV is ~150 MiB
    ("/imports/new", 257 * MIB),  # the web import wizard: the API's file limit + form fields
    ("/api/v1/conversations/bulk", 64 * MIB),
    ("/api/v1/receivables/imports", 64 * MIB),
)
QUERY_LIMIT = 8 * 1024

API_SECURITY_HEADERS = (
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
    (b"cache-control", b"no-store"),
)


class PayloadTooLarge(DomainError):
    status, title, slug = 413, "Payload too large", "too-large"


class QueryTooLong(DomainError):
    status, title, slug = 414, "Query string too long", "uri-too-long"


def body_limit(path: str) -> int:
    """The most bytes a request body to `path` may carry."""
    for prefix, limit in BODY_LIMITS:
        if path.startswith(prefix):
            return limit
    return DEFAULT_BODY_LIMIT


def _declared_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", ()):
        if name == b"content-length":
            return int(value) if value.isdigit() else None
    return None


async def _send_problem(send: Send, error: DomainError, path: str) -> None:
    body = json.dumps(error.problem(instance=path)).encode()
    headers = [
        (b"content-type", PROBLEM_CONTENT_TYPE.encode()),
        (b"content-length", str(len(body)).encode()),
        (b"connection", b"close"),
    ]
    await send({"type": "http.response.start", "status": error.status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


class RequestBoundary:
    """Refuse oversized requests with 413/414 and add security headers to API responses."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope["path"]
        if len(scope.get("query_string", b"")) > QUERY_LIMIT:
            error = QueryTooLong(f"the query string is longer than {QUERY_LIMIT} bytes")
            await _send_problem(send, error, path)
            return
        limit = body_limit(path)
        declared = _declared_length(scope)
        if declared is not None and declared > limit:
            await _send_problem(send, _too_large(limit), path)
            return
        exchange = _Exchange(receive, send, path, limit)
        await self.app(scope, exchange.receive, exchange.send)


def _too_large(limit: int) -> PayloadTooLarge:
    return PayloadTooLarge(f"the request body is larger than {limit // 1024} KiB", limit=limit)


class _Exchange:
    """One request's streams: body bytes counted, response headers completed.

    A body without Content-Length that outgrows the limit raises PayloadTooLarge
    inside the route's read; some parsers turn any read error into a 400, so the
    response is replaced by the 413 here, where the cause is known.
    """

    def __init__(self, receive: Receive, send: Send, path: str, limit: int) -> None:
        self._receive, self._send = receive, send
        self.path, self.limit = path, limit
        self.received = 0
        self.exceeded = False

    async def receive(self) -> Message:
        message = await self._receive()
        if message["type"] == "http.request":
            self.received += len(message.get("body", b""))
            if self.received > self.limit:
                self.exceeded = True
                raise _too_large(self.limit)
        return message

    async def send(self, message: Message) -> None:
        if self.exceeded:
            if message["type"] == "http.response.start":
                await _send_problem(self._send, _too_large(self.limit), self.path)
            return
        if message["type"] == "http.response.start" and self.path.startswith("/api/"):
            # The pages set their own, stricter policy (web/security.py).
            present = {name.lower() for name, _ in message.get("headers", [])}
            extra = [(n, v) for n, v in API_SECURITY_HEADERS if n not in present]
            message["headers"] = [*message.get("headers", []), *extra]
        await self._send(message)
