"""Templates, the signed-in page context, and how page routes answer errors.

Pages open their transaction with `signed_in(request)` — the same
`tenant_session` and `Actor` the JSON API uses — and call the domain
services. A domain error leaving a page (after its transaction has rolled
back) becomes an HTML page with the same status the API would answer.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Callable, Coroutine, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

from fastapi import Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.routing import APIRoute
from jinja2 import Environment, FileSystemLoader, select_autoescape
from sqlalchemy.orm import Session

from majlis.accounts.models import Company, User
from majlis.accounts.service import get_company, user_companies
from majlis.core.db import get_engine, tenant_session
from majlis.core.errors import DomainError, MovedPermanently, NotFound
from majlis.core.permissions import Actor, Role
from majlis.web.locale import LANGUAGES, N_, Formatter, negotiate_language
from majlis.web.security import (
    CSRF_HEADER,
    SignInRequired,
    WebSession,
    finish_response,
    web_session,
)

WEB_DIR = Path(str(resources.files("majlis.web")))
STATIC_DIR = WEB_DIR / "static"

# The templates ship inside the package, so they cannot change under a running server:
# `auto_reload` off spares every render (and every include) a stat of the template file.
templates = Environment(
    loader=FileSystemLoader(WEB_DIR / "templates"),
    autoescape=select_autoescape(default=True, default_for_string=True),
    trim_blocks=True,
    lstrip_blocks=True,
    auto_reload=False,
)


@cache
def static_url(name: str) -> str:
    """`/static/<name>?v=<content hash>`, so browsers may cache assets for a year."""
    digest = hashlib.sha256((STATIC_DIR / name).read_bytes()).hexdigest()[:12]
    return f"/static/{name}?v={digest}"


templates.globals.update(static=static_url, languages=LANGUAGES, csrf_header=CSRF_HEADER)


def is_htmx(request: Request) -> bool:
    """An HTMX request for a fragment (not a history restore, which needs the whole page)."""
    headers = request.headers
    return headers.get("HX-Request") == "true" and headers.get("HX-History-Restore-Request") != (
        "true"
    )


def language_of(request: Request, web: WebSession) -> str:
    return web.lang or negotiate_language(request.headers.get("Accept-Language"))


def render_template(
    request: Request,
    template: str,
    *,
    formatter: Formatter,
    status_code: int = 200,
    **values: Any,
) -> HTMLResponse:
    web = web_session(request)
    language = formatter.language
    context = {
        "request": request,
        "lang": language.code,
        "dir": language.direction,
        "_": formatter.gettext,
        "fmt": formatter,
        "csrf": web.csrf,
        "flash": web.pop_flash(),
        "current_path": request.url.path + (f"?{request.url.query}" if request.url.query else ""),
        **values,
    }
    body = templates.get_template(template).render(context)
    return HTMLResponse(body, status_code=status_code)


def anonymous_formatter(request: Request) -> Formatter:
    return Formatter(LANGUAGES[language_of(request, web_session(request))], "UTC")


# ----- the signed-in page ----------------------------------------------------------------
@dataclass
class Page:
    """A signed-in request: who acts, for which company, in one tenant-scoped transaction."""

    request: Request
    db: Session
    actor: Actor
    user: User
    company: Company
    memberships: list[tuple[uuid.UUID, str, Role]]
    web: WebSession
    fmt: Formatter

    def render(self, template: str, status_code: int = 200, **values: Any) -> HTMLResponse:
        return render_template(
            self.request,
            template,
            formatter=self.fmt,
            status_code=status_code,
            page=self,
            **values,
        )


@contextmanager
def signed_in(request: Request) -> Iterator[Page]:
    """Open the page's transaction as its user; sign-in is required, membership re-checked."""
    web = web_session(request)
    if web.user_id is None or web.company_id is None:
        raise SignInRequired
    with tenant_session(get_engine("app"), web.company_id, web.user_id) as db:
        memberships = user_companies(db, web.user_id)
        role = next((role for cid, _, role in memberships if cid == web.company_id), None)
        user = db.get(User, web.user_id)
        if role is None or user is None or not user.is_active:
            web.sign_out()
            raise SignInRequired
        company = get_company(db, web.company_id)
        actor = Actor(
            company_id=company.id,
            role=role,
            user_id=user.id,
            request_id=getattr(request.state, "request_id", None),
        )
        language = LANGUAGES[language_of(request, web)]
        yield Page(
            request,
            db,
            actor,
            user,
            company,
            memberships,
            web,
            Formatter(language, company.time_zone),
        )


# ----- how page routes answer ------------------------------------------------------------
def safe_next(target: str | None, default: str = "/customers") -> str:
    """A local path to go back to; anything else (other hosts, `//evil`) goes to `default`."""
    if target and target.startswith("/") and not target.startswith(("//", "/\\")):
        return target
    return default


def redirect(request: Request, target: str) -> Response:
    """See-other for a full page; for HTMX, ask it to navigate rather than swap a page in."""
    if is_htmx(request):
        return Response(status_code=204, headers={"HX-Redirect": target})
    return RedirectResponse(target, status_code=303)


def _local_part(url: str) -> str:
    parts = urlsplit(url)
    return parts.path + (f"?{parts.query}" if parts.query else "")


def _sign_in_redirect(request: Request) -> Response:
    """Back to sign-in, remembering the page to return to (for HTMX, the page it came from)."""
    here = _local_part(str(request.url))
    if request.method != "GET" or is_htmx(request):
        here = _local_part(request.headers.get("HX-Current-URL") or "/customers")
    return redirect(request, f"/sign-in?next={quote(here, safe='')}")


def error_page(request: Request, error: DomainError) -> HTMLResponse:
    template = "error_fragment.html" if is_htmx(request) else "error.html"
    messages = {
        "not-authenticated": N_("Please sign in."),
        "permission-denied": N_("You do not have permission to do that."),
        "not-found": N_("This page does not exist, or it belongs to another company."),
        "csrf": N_("This form has expired. Reload the page and try again."),
    }
    return render_template(
        request,
        template,
        formatter=anonymous_formatter(request),
        status_code=error.status,
        status=error.status,
        message=messages.get(error.slug, error.detail),
        signed_in=web_session(request).signed_in,
    )


def _moved_page(request: Request, moved: MovedPermanently) -> Response:
    """A merged-away customer's page opens the survivor's; a form posted to it is a 404."""
    location = moved.moved_path(request.url.path)
    if location is None or request.method != "GET":
        return error_page(request, NotFound(moved.extra["entity"], moved.old_id))
    if request.url.query:
        location += f"?{request.url.query}"
    return RedirectResponse(location, status_code=301)


class PageRoute(APIRoute):
    """An APIRoute whose errors are HTML pages and whose responses carry the session cookie.

    The handler runs the endpoint first; by the time an error reaches this
    wrapper, the `signed_in` block it escaped from has already rolled back.
    """

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        endpoint = super().get_route_handler()

        async def page_handler(request: Request) -> Response:
            try:
                response = await endpoint(request)
            except SignInRequired:
                response = _sign_in_redirect(request)
            except MovedPermanently as exc:
                response = _moved_page(request, exc)
            except DomainError as exc:
                response = error_page(request, exc)
            except RequestValidationError:
                response = error_page(request, NotFound("page", request.url.path))
            return finish_response(request, response)

        return page_handler
