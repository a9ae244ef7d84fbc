"""What every JSON route shares: the authenticated request context and problem+json errors."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http import HTTPStatus
from typing import Annotated, Any, TypeVar

import psycopg
import sqlalchemy.exc
from fastapi import Depends, FastAPI, Request
from fastapi.exception_handlers import http_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException

from majlis.accounts.service import authenticate_token, token_company
from majlis.core.db import get_engine, transaction
from majlis.core.errors import (
    PROBLEM_CONTENT_TYPE,
    DomainError,
    FieldError,
    MovedPermanently,
    NotAuthenticated,
    NotFound,
    ServiceUnavailable,
    ValidationFailed,
)
from majlis.core.permissions import Actor

log = logging.getLogger(__name__)

# Long enough for a fast restart or a burst to pass, short enough not to idle clients.
RETRY_AFTER_SECONDS = 2


@dataclass(frozen=True)
class RequestContext:
    """The actor and the one transaction a request runs in."""

    actor: Actor
    session: Session


def _bearer_token(request: Request) -> str:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise NotAuthenticated("send 'Authorization: Bearer <token>'")
    return token.strip()


def request_context(request: Request) -> Iterator[RequestContext]:
    """Authenticate the bearer token and open the request's tenant-scoped transaction."""
    raw = _bearer_token(request)
    token_company(raw)  # a malformed token is refused before a connection is taken
    with transaction(get_engine("app")) as session:
        # Names the tenant and user in the same round trip as the token lookup.
        actor = authenticate_token(session, raw, getattr(request.state, "request_id", None))
        yield RequestContext(actor, session)


T = TypeVar("T")


async def in_request_context(request: Request, work: Callable[[RequestContext], T]) -> T:
    """Authenticate, run `work` in the request's transaction and commit, in one worker thread.

    For the hot reads. A plain route taking `Context` makes three trips through the
    thread pool (open the transaction, the route, commit); an `async` route handing
    its work to this makes one: 1.4-1.5 ms less per request at p50, measured A/B on
    lookups, list pages, a customer and its history (docs/performance.md, session 8).
    """

    def run() -> T:
        with contextmanager(request_context)(request) as ctx:
            return work(ctx)

    return await run_in_threadpool(run)


# scope="function": the transaction commits when the route returns and *before* the
# response is sent. With the default ("request") scope the commit would run after
# the client already holds a 201, so an immediate read could miss the row and a
# failed commit would be reported as success.
Context = Annotated[RequestContext, Depends(request_context, scope="function")]


def problem_response(
    error: DomainError, request: Request, headers: dict[str, str] | None = None
) -> JSONResponse:
    return JSONResponse(
        error.problem(instance=str(request.url.path)),
        status_code=error.status,
        media_type=PROBLEM_CONTENT_TYPE,
        headers=headers,
    )


def database_unavailable(path: str) -> JSONResponse:
    """503 with Retry-After: the request's transaction did not commit, so the client may
    simply retry, where a 500 would suggest a bug."""
    error = ServiceUnavailable("the database is unavailable; nothing was written, retry")
    return JSONResponse(
        error.problem(instance=path),
        status_code=error.status,
        media_type=PROBLEM_CONTENT_TYPE,
        headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
    )


def _moved(exc: MovedPermanently, request: Request) -> JSONResponse:
    """301 to the same path under the survivor's id; 404 if the old id is not in the path."""
    location = exc.moved_path(request.url.path)
    if location is None:
        return problem_response(NotFound(exc.extra["entity"], exc.old_id), request)
    return problem_response(exc, request, {"Location": location})


def _field_path(location: tuple[Any, ...]) -> str:
    parts = [str(part) for part in location if part not in ("body", "query", "path", "header")]
    return ".".join(parts) or "body"


def install_problem_handlers(app: FastAPI) -> None:
    @app.exception_handler(DomainError)
    async def domain_error(request: Request, exc: DomainError) -> JSONResponse:
        headers = {"WWW-Authenticate": "Bearer"} if isinstance(exc, NotAuthenticated) else None
        if isinstance(exc, MovedPermanently):
            return _moved(exc, request)
        return problem_response(exc, request, headers)

    @app.exception_handler(sqlalchemy.exc.DataError)
    @app.exception_handler(psycopg.DataError)
    async def data_error(request: Request, exc: Exception) -> JSONResponse:
        """SQLSTATE class 22 ("data exception"): a value the database cannot hold.

        Python and PostgreSQL disagree at the edges (UTC offsets beyond ±15:59,
        numbers past a column's precision); whatever slips past the schemas is
        still bad input, so it answers 422 — and the transaction has rolled back.
        """
        orig = getattr(exc, "orig", exc)
        message = str(orig).strip().splitlines()[0] if str(orig).strip() else "invalid value"
        return problem_response(ValidationFailed([FieldError("body", message)]), request)

    @app.exception_handler(sqlalchemy.exc.OperationalError)
    @app.exception_handler(sqlalchemy.exc.TimeoutError)
    async def database_went_away(request: Request, exc: Exception) -> JSONResponse:
        """The database went away, restarted, or every pooled connection is busy."""
        log.warning("database unavailable for %s: %s", request.url.path, exc)
        return database_unavailable(request.url.path)

    @app.exception_handler(StarletteHTTPException)
    async def framework_error(request: Request, exc: StarletteHTTPException) -> Response:
        """Errors the framework raises itself (unknown route, unparsable body) as problems too."""
        if not request.url.path.startswith("/api/"):
            return await http_exception_handler(request, exc)
        phrase = HTTPStatus(exc.status_code).phrase
        error = DomainError(str(exc.detail))
        error.status, error.title = exc.status_code, phrase
        error.slug = phrase.lower().replace(" ", "-")
        return problem_response(error, request, dict(exc.headers) if exc.headers else None)

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [
            FieldError(
                _field_path(tuple(error["loc"])), str(error["msg"]).removeprefix("Value error, ")
            )
            for error in exc.errors()
        ]
        return problem_response(ValidationFailed(errors), request)


PROBLEM_SCHEMA = {
    "type": "object",
    "description": "RFC 9457 problem details; validation problems list one message per field.",
    "required": ["type", "title", "status", "detail"],
    "properties": {
        "type": {"type": "string"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "instance": {"type": "string"},
        "errors": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["field", "message"],
                "properties": {"field": {"type": "string"}, "message": {"type": "string"}},
            },
        },
    },
    "additionalProperties": True,
}
PROBLEM_STATUSES = {
    "401": "Missing, malformed or revoked bearer token",
    "403": "The caller's role may not do this",
    "404": "No such resource in the caller's company",
    "409": "Conflicts with existing data (e.g. a duplicate identifier)",
    "412": "The If-Match version is stale",
    "422": "Invalid input; nothing was written",
}


def document_problems(app: FastAPI) -> None:
    """Describe, once for every API route, the bearer auth and the problem+json answers.

    Routes stay thin: they raise domain errors, and the OpenAPI document says
    what those errors look like, so clients and the API fuzzer know them.
    """
    default_openapi = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        schema = default_openapi()
        components = schema.setdefault("components", {})
        components.setdefault("schemas", {})["Problem"] = PROBLEM_SCHEMA
        components.setdefault("securitySchemes", {})["bearer"] = {
            "type": "http",
            "scheme": "bearer",
        }
        problem = {PROBLEM_CONTENT_TYPE: {"schema": {"$ref": "#/components/schemas/Problem"}}}
        for path, operations in schema.get("paths", {}).items():
            if not path.startswith("/api/"):
                continue
            for operation in operations.values():
                operation["security"] = [{"bearer": []}]
                responses = operation.setdefault("responses", {})
                for status, description in PROBLEM_STATUSES.items():
                    responses[status] = {"description": description, "content": problem}
        app.openapi_schema = schema
        return schema

    app.openapi = openapi  # type: ignore[method-assign]
