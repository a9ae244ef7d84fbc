"""Signing in and out, choosing the company and the language."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Request, Response
from sqlalchemy.orm import Session

from majlis.accounts.service import user_companies, verify_password
from majlis.core.db import get_engine
from majlis.core.errors import NotAuthenticated, NotFound
from majlis.web.forms import VerifiedForm, text_value
from majlis.web.locale import LANGUAGES, N_
from majlis.web.rendering import (
    PageRoute,
    anonymous_formatter,
    redirect,
    render_template,
    safe_next,
    signed_in,
)
from majlis.web.security import sign_in_throttle, web_session

router = APIRouter(route_class=PageRoute, include_in_schema=False)


@router.get("/")
def home(request: Request) -> Response:
    """Straight into the workspace when signed in, else to the sign-in page."""
    return redirect(request, "/customers" if web_session(request).signed_in else "/sign-in")


def _sign_in_page(
    request: Request, *, next_path: str, email: str = "", error: str | None = None, **values: object
) -> Response:
    status_code = {None: 200, "throttled": 429, "no-company": 403}.get(error, 401)
    return render_template(
        request,
        "sign_in.html",
        formatter=anonymous_formatter(request),
        status_code=status_code,
        next=next_path,
        email=email,
        error=error,
        **values,
    )


@router.get("/sign-in")
def sign_in_form(request: Request, next: str | None = None) -> Response:
    if web_session(request).signed_in:
        return redirect(request, safe_next(next))
    return _sign_in_page(request, next_path=safe_next(next))


@router.post("/sign-in")
def sign_in(request: Request, form: VerifiedForm) -> Response:
    """Check the password (throttled), then start the session in the user's company."""
    email, password = text_value(form, "email"), str(form.get("password") or "")
    next_path = safe_next(text_value(form, "next"))
    address = request.client.host if request.client else "unknown"
    wait_s = sign_in_throttle.retry_after(email, address)
    if wait_s:
        minutes = -(-wait_s // 60)
        return _sign_in_page(
            request, next_path=next_path, email=email, error="throttled", minutes=minutes
        )
    try:
        with Session(get_engine("app")) as db, db.begin():
            user_id = verify_password(db, email, password).id
            memberships = user_companies(db, user_id)
    except NotAuthenticated:
        sign_in_throttle.record_failure(email, address)
        return _sign_in_page(request, next_path=next_path, email=email, error="wrong")
    if not memberships:
        return _sign_in_page(request, next_path=next_path, email=email, error="no-company")
    sign_in_throttle.record_success(email)
    web = web_session(request)
    company_ids = [company_id for company_id, _, _ in memberships]
    company_id = web.company_id if web.company_id in company_ids else company_ids[0]
    web.sign_in(user_id, company_id)
    return redirect(request, next_path)


@router.post("/sign-out")
def sign_out(request: Request, form: VerifiedForm) -> Response:
    web = web_session(request)
    web.sign_out()
    web.update(flash=N_("You have signed out."))
    return redirect(request, "/sign-in")


@router.post("/language")
def choose_language(request: Request, form: VerifiedForm) -> Response:
    code = text_value(form, "lang")
    if code in LANGUAGES:
        web_session(request).update(lang=code)
    return redirect(request, safe_next(text_value(form, "next"), default="/"))


@router.post("/company")
def switch_company(request: Request, form: VerifiedForm) -> Response:
    """Work in another of the user's companies; only a current membership is accepted."""
    raw = text_value(form, "company_id")
    with signed_in(request) as page:
        try:
            target = uuid.UUID(raw)
        except ValueError as exc:
            raise NotFound("company", raw) from exc
        if target not in {company_id for company_id, _, _ in page.memberships}:
            raise NotFound("company", target)
    page.web.update(company_id=target, flash=N_("Switched company."))
    return redirect(request, "/customers")
