"""What every JSON route shares: the authenticated request context and problem+json errors."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.orm import Session

from majlis.accounts.service import authenticate_token, token_company
from majlis.core.db import get_engine, tenant_session
from majlis.core.errors import PROBLEM_CONTENT_TYPE, DomainError, NotAuthenticated, ValidationFailed
from majlis.core.permissions import Actor


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
    company_id = token_company(raw)
    with tenant_session(get_engine("app"), company_id) as session:
        actor = authenticate_token(session, raw, getattr(request.state, "request_id", None))
        yield RequestContext(actor, session)


Context = Annotated[RequestContext, Depends(request_context)]


def problem_response(
    error: DomainError, request: Request, headers: dict[str, str] | None = None
) -> JSONResponse:
    return JSONResponse(
        error.problem(instance=str(request.url.path)),
        status_code=error.status,
        media_type=PROBLEM_CONTENT_TYPE,
        headers=headers,
    )


def _field_path(location: tuple[Any, ...]) -> str:
    parts = [str(part) for part in location if part not in ("body", "query", "path", "header")]
    return ".".join(parts) or "body"


def install_problem_handlers(app: FastAPI) -> None:
    @app.exception_handler(DomainError)
    async def domain_error(request: Request, exc: DomainError) -> JSONResponse:
        headers = {"WWW-Authenticate": "Bearer"} if isinstance(exc, NotAuthenticated) else None
        return problem_response(exc, request, headers)

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
        from majlis.core.errors import FieldError

        errors = [
            FieldError(
                _field_path(tuple(error["loc"])), str(error["msg"]).removeprefix("Value error, ")
            )
            for error in exc.errors()
        ]
        return problem_response(ValidationFailed(errors), request)
