"""The owner's settings pages: members and roles, API tokens, working time, reminders,
loyalty tiers and retention.

Every page is the company owner's alone (the `COMPANY_SETTINGS` administer
right); anyone else gets the 403 page and never sees the link. Each form
calls the service behind the matching JSON API (`accounts`, `receivables.settings`,
`receivables.templates`, `loyalty`, `privacy`), so validation, audit and tenancy
are theirs. Each write runs in a savepoint: a refusal comes back as the form
with the message next to its field and nothing written.

A new API token's secret is shown once, on the page the create form
redirects to (post, 303, get), so a refresh neither makes a second token nor
shows the secret again. It is never stored (only its hash); between the two
requests it rides in a signed one-shot cookie that only the tokens page
receives (HttpOnly, SameSite=Strict, a minute at most), bound to the member
and company, and removed by the page that shows it. The page is `no-store`.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date, time
from typing import Any, TypeVar

from fastapi import APIRouter, Request, Response
from fastapi.responses import HTMLResponse
from itsdangerous import BadSignature
from pydantic import BaseModel, ValidationError
from starlette.datastructures import FormData

from majlis.accounts import service as accounts
from majlis.core.calendars import WorkingCalendar
from majlis.core.errors import Conflict, FieldError, ValidationFailed
from majlis.core.permissions import COMPANY_SETTINGS, Action, Role, require
from majlis.loyalty import service as loyalty
from majlis.loyalty.schemas import ProgramIn
from majlis.privacy import service as privacy
from majlis.privacy.schemas import RetentionIn
from majlis.receivables import settings as reminder_settings
from majlis.receivables import templates
from majlis.receivables.models import (
    Consolidation,
    EscalationLevel,
    ReminderLanguage,
    ReminderTemplate,
)
from majlis.receivables.schemas import ReminderSettingsIn, TemplateIn
from majlis.web.forms import VerifiedForm, field_errors, text_value
from majlis.web.locale import N_
from majlis.web.receivables_pages import EMAIL_PREVIEW_HEADERS, LANGUAGE_LABELS, LEVEL_LABELS
from majlis.web.rendering import Page, PageRoute, redirect, signed_in
from majlis.web.security import cookie_signer

router = APIRouter(route_class=PageRoute, include_in_schema=False)
M = TypeVar("M", bound=BaseModel)
V = TypeVar("V")

SECTIONS = (
    ("users", N_("Users and roles"), "/settings/users"),
    ("tokens", N_("API tokens"), "/settings/tokens"),
    ("calendar", N_("Working time"), "/settings/calendar"),
    ("reminders", N_("Reminder settings"), "/settings/reminders"),
    ("loyalty", N_("Loyalty tiers"), "/settings/loyalty"),
    ("privacy", N_("Retention"), "/settings/privacy"),
)
ROLE_LABELS = {
    Role.OWNER: N_("Owner"),
    Role.MANAGER: N_("Manager"),
    Role.SALES: N_("Sales"),
    Role.ANALYST: N_("Analyst"),
}
WEEKDAYS = (
    N_("Monday"),
    N_("Tuesday"),
    N_("Wednesday"),
    N_("Thursday"),
    N_("Friday"),
    N_("Saturday"),
    N_("Sunday"),
)
CONSOLIDATION_LABELS = {
    Consolidation.AUTO: N_("Automatic: combine when it saves emails"),
    Consolidation.ENABLED: N_("Always combine a customer's invoices"),
    Consolidation.DISABLED: N_("One email per invoice"),
}
TIME_ZONES = (
    "Asia/Dubai",
    "Asia/Muscat",
    "Asia/Riyadh",
    "Asia/Qatar",
    "Asia/Bahrain",
    "Asia/Kuwait",
    "Asia/Bangkok",
    "Africa/Cairo",
    "Europe/London",
    "UTC",
)
# Blank tier rows under the current ones, for adding tiers without JavaScript.
SPARE_TIER_ROWS = 2
# Holiday overrides: a company holiday closes a working day; a worked public holiday opens one.
CLOSED, OPEN = "closed", "open"
THRESHOLD_FIELDS = (
    "firm_after_days",
    "urgent_after_days",
    "final_after_days",
    "preferred_contact_interval_days",
    "consolidation",
    "max_consolidation_amount",
)
PROGRAM_FIELDS = (
    "name",
    "points_per_currency_unit",
    "points_per_visit",
    "points_per_referral",
    "expiry_days",
)
TIER_FIELDS = ("key", "name", "name_ar", "min_points")
TEMPLATE_FIELDS = ("name", "subject", "body_html", "max_invoice_count")
# The one-shot cookie carrying a new token's secret from the create form to the tokens page.
NEW_TOKEN_COOKIE = "majlis_new_token"
NEW_TOKEN_SALT = "majlis.web.new-token"
NEW_TOKEN_PATH = "/settings/tokens"
NEW_TOKEN_MAX_AGE_S = 60
CHOOSE_A_ROLE = N_("Choose a role.")
ENTER_A_TIME = N_("Enter a time as HH:MM, e.g. 09:00.")
ENTER_A_DATE = N_("Enter a date as YYYY-MM-DD.")
NAME_TOO_LONG = N_("A holiday's name can be at most 100 characters.")


# ----- shared -----------------------------------------------------------------------------
@contextmanager
def owner_page(request: Request) -> Iterator[Page]:
    """A settings page: signed in, as the company's owner (403 for every other role)."""
    with signed_in(request) as page:
        require(page.actor, COMPANY_SETTINGS, Action.ADMINISTER)
        yield page


def _render(
    page: Page,
    template: str,
    section: str,
    errors: list[FieldError] | None = None,
    *,
    refused: bool = False,
    **values: Any,
) -> Response:
    """A settings page; 422 when it shows a refusal (field errors, or a row's)."""
    return page.render(
        f"settings/{template}",
        status_code=422 if errors or refused else 200,
        sections=SECTIONS,
        section=section,
        errors={error.field: error.message for error in errors or []},
        **values,
    )


def _attempt(page: Page, write: Callable[[], object], conflict_field: str) -> list[FieldError]:
    """Run a service write in a savepoint; the refusals a form can show come back as fields."""
    try:
        with page.db.begin_nested():
            write()
    except ValidationFailed as exc:
        return list(exc.errors)
    except Conflict as exc:
        return [FieldError(conflict_field, exc.detail)]
    return []


def _validated(schema: type[M], values: dict[str, Any]) -> tuple[M | None, list[FieldError]]:
    try:
        return schema.model_validate(values), []
    except ValidationError as exc:
        return None, field_errors(exc)


def _parse(text: str, parse: Callable[[str], V]) -> V | None:
    """`parse(text)`, or None when the text is not a value of that kind."""
    try:
        return parse(text)
    except ValueError:
        return None


def _posted(form: FormData, names: tuple[str, ...], digits: tuple[str, ...] = ()) -> dict[str, str]:
    return {name: text_value(form, name, digits=name in digits) for name in names}


def _filled(text: dict[str, str]) -> dict[str, str]:
    """The fields that were filled in: an empty box means "no value", not an empty string."""
    return {name: value for name, value in text.items() if value}


def _saved(request: Request, page: Page, target: str) -> Response:
    page.web.update(flash=N_("Settings saved."))
    return redirect(request, target)


@router.get("/settings")
def settings_home(request: Request) -> Response:
    with owner_page(request):
        return redirect(request, "/settings/users")


# ----- users and roles --------------------------------------------------------------------
def _users_page(
    page: Page,
    *,
    errors: list[FieldError] | None = None,
    text: dict[str, str] | None = None,
    row_errors: dict[uuid.UUID, str] | None = None,
) -> Response:
    return _render(
        page,
        "users.html",
        "users",
        errors,
        refused=bool(row_errors),
        members=accounts.list_members(page.db, page.actor),
        role_labels=ROLE_LABELS,
        text=text or {"role": Role.SALES.value},
        row_errors=row_errors or {},
    )


@router.get("/settings/users")
def users(request: Request) -> Response:
    with owner_page(request) as page:
        return _users_page(page)


@router.post("/settings/users")
def add_user(request: Request, form: VerifiedForm) -> Response:
    """Add a member by email with a role (the same service as `majlis user create`)."""
    with owner_page(request) as page:
        text = _posted(form, ("email", "role"))
        role = _parse(text["role"], Role)
        errors = [FieldError("role", CHOOSE_A_ROLE)] if role is None else []
        if role is not None:
            errors = _attempt(
                page, lambda: accounts.add_user(page.db, page.actor, text["email"], role), "email"
            )
        if errors:
            return _users_page(page, errors=errors, text=text)
        return _saved(request, page, "/settings/users")


@router.post("/settings/users/{user_id}/role")
def change_role(request: Request, user_id: uuid.UUID, form: VerifiedForm) -> Response:
    with owner_page(request) as page:
        role = _parse(text_value(form, "role"), Role)
        errors = [FieldError("role", CHOOSE_A_ROLE)] if role is None else []
        if role is not None:
            errors = _attempt(
                page, lambda: accounts.change_role(page.db, page.actor, user_id, role), "role"
            )
        if errors:
            return _users_page(page, row_errors={user_id: errors[0].message})
        return _saved(request, page, "/settings/users")


@router.post("/settings/users/{user_id}/remove")
def remove_user(request: Request, user_id: uuid.UUID, form: VerifiedForm) -> Response:
    with owner_page(request) as page:
        errors = _attempt(
            page, lambda: accounts.remove_member(page.db, page.actor, user_id), "member"
        )
        if errors:
            return _users_page(page, row_errors={user_id: errors[0].message})
        return _saved(request, page, "/settings/users")


# ----- API tokens -------------------------------------------------------------------------
def _tokens_page(
    page: Page,
    *,
    errors: list[FieldError] | None = None,
    text: dict[str, str] | None = None,
    secret: str | None = None,
) -> Response:
    return _render(
        page,
        "tokens.html",
        "tokens",
        errors,
        tokens=accounts.list_tokens(page.db, page.actor),
        text=text or {},
        secret=secret,
    )


def _holder(page: Page) -> list[str]:
    """Who a new secret is for: the member, in the company they created it in."""
    return [str(page.user.id), str(page.actor.company_id)]


def _hand_over_secret(request: Request, page: Page, response: Response, secret: str) -> None:
    response.set_cookie(
        NEW_TOKEN_COOKIE,
        cookie_signer(NEW_TOKEN_SALT).dumps([*_holder(page), secret]),
        max_age=NEW_TOKEN_MAX_AGE_S,
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
        path=NEW_TOKEN_PATH,
    )


def _take_secret(request: Request, page: Page) -> str | None:
    """The secret handed over by the create form, if it is this member's and still fresh."""
    raw = request.cookies.get(NEW_TOKEN_COOKIE)
    if not raw:
        return None
    try:
        *holder, secret = cookie_signer(NEW_TOKEN_SALT).loads(raw, max_age=NEW_TOKEN_MAX_AGE_S)
    except (BadSignature, TypeError, ValueError):
        return None
    return str(secret) if holder == _holder(page) else None


@router.get("/settings/tokens")
def tokens(request: Request) -> Response:
    """The tokens; right after one is created, its secret too, this once."""
    with owner_page(request) as page:
        response = _tokens_page(page, secret=_take_secret(request, page))
        if NEW_TOKEN_COOKIE in request.cookies:
            response.delete_cookie(NEW_TOKEN_COOKIE, path=NEW_TOKEN_PATH)
        return response


@router.post("/settings/tokens")
def create_token(request: Request, form: VerifiedForm) -> Response:
    """A token for the owner; see-other to the tokens page, which shows its secret once."""
    with owner_page(request) as page:
        text = _posted(form, ("name",))
        issued: list[str] = []
        errors = _attempt(
            page,
            lambda: issued.append(
                accounts.issue_token(page.db, page.actor, page.user, text["name"])[1]
            ),
            "name",
        )
        if errors:
            return _tokens_page(page, errors=errors, text=text)
        response = redirect(request, NEW_TOKEN_PATH)
        _hand_over_secret(request, page, response, issued[0])
        return response


@router.post("/settings/tokens/{token_id}/revoke")
def revoke_token(request: Request, token_id: uuid.UUID, form: VerifiedForm) -> Response:
    """The same service as `DELETE /api/v1/tokens/{id}`: refused from the next request on."""
    with owner_page(request) as page:
        accounts.revoke_token(page.db, page.actor, token_id)
        page.web.update(flash=N_("The token was revoked."))
        return redirect(request, "/settings/tokens")


# ----- working time and holidays ----------------------------------------------------------
def _calendar_page(
    page: Page,
    *,
    errors: list[FieldError] | None = None,
    text: dict[str, Any] | None = None,
    holiday_text: dict[str, str] | None = None,
) -> Response:
    """The week form and the holiday form; `errors` belong to the one whose text came back."""
    company = page.company
    overrides = reminder_settings.company_settings(page.db, page.actor)
    names = overrides.holiday_names
    public = WorkingCalendar(country=company.country)
    return _render(
        page,
        "calendar.html",
        "calendar",
        errors,
        weekdays=WEEKDAYS,
        time_zones=TIME_ZONES,
        text=text
        or {
            "working_days": [str(day) for day in company.working_days],
            "work_starts": company.work_starts.strftime("%H:%M"),
            "work_ends": company.work_ends.strftime("%H:%M"),
            "time_zone": company.time_zone,
        },
        holiday_text=holiday_text or {"kind": CLOSED},
        refused_form="holiday" if holiday_text else "week",
        closed_days=[
            (day, names.get(day.isoformat())) for day in sorted(overrides.holiday_additions)
        ],
        open_days=[
            (day, names.get(day.isoformat()), public.is_holiday(day))
            for day in sorted(overrides.holiday_removals)
        ],
    )


@router.get("/settings/calendar")
def calendar(request: Request) -> Response:
    with owner_page(request) as page:
        return _calendar_page(page)


@router.post("/settings/calendar")
def save_calendar(request: Request, form: VerifiedForm) -> Response:
    """Working days, hours and time zone, checked by the same rules as the reminder calendar."""
    with owner_page(request) as page:
        text: dict[str, Any] = _posted(
            form, ("work_starts", "work_ends", "time_zone"), digits=("work_starts", "work_ends")
        )
        text["working_days"] = [v for v in form.getlist("working_days") if isinstance(v, str)]
        days = [int(v) for v in text["working_days"] if v.isdigit()]
        starts = _parse(text["work_starts"], time.fromisoformat)
        ends = _parse(text["work_ends"], time.fromisoformat)
        errors = [
            FieldError(name, ENTER_A_TIME)
            for name, value in (("work_starts", starts), ("work_ends", ends))
            if value is None
        ]
        if starts is not None and ends is not None:
            errors = _attempt(
                page,
                lambda: accounts.update_working_time(
                    page.db,
                    page.actor,
                    working_days=days,
                    starts=starts,
                    ends=ends,
                    time_zone=text["time_zone"],
                ),
                "time_zone",
            )
        if errors:
            return _calendar_page(page, errors=errors, text=text)
        return _saved(request, page, "/settings/calendar")


def _change_holidays(
    page: Page, day: date, kind: str, *, add: bool, name: str = ""
) -> list[FieldError]:
    """Add (or rename) or take out one override; both lists and the names go to the service,
    which refuses a date in both lists."""
    current = reminder_settings.company_settings(page.db, page.actor)
    lists = {CLOSED: set(current.holiday_additions), OPEN: set(current.holiday_removals)}
    names = {d: n for d, n in current.holiday_names.items() if d != day.isoformat()}
    if add:
        lists[kind].add(day)
        names |= {day.isoformat(): name} if name else {}
    else:
        lists[kind].discard(day)
    patch, errors = _validated(
        ReminderSettingsIn,
        {
            "holiday_additions": sorted(lists[CLOSED]),
            "holiday_removals": sorted(lists[OPEN]),
            "holiday_names": names,
        },
    )
    if patch is not None:
        errors = _attempt(
            page,
            lambda: reminder_settings.update_company_settings(page.db, page.actor, patch),
            "date",
        )
    # The service names its lists, and each name by its date; here they are the two boxes.
    # Names are trimmed and blank ones left out above, so a name can only be too long.
    return [
        FieldError("name", NAME_TOO_LONG)
        if error.field.startswith("holiday_names")
        else FieldError("date", error.message)
        for error in errors
    ]


def _holiday_form(form: FormData) -> tuple[dict[str, str], date | None, list[FieldError]]:
    text = _posted(form, ("date", "kind", "name"), digits=("date",))
    day = _parse(text["date"], date.fromisoformat)
    errors = [] if day is not None else [FieldError("date", ENTER_A_DATE)]
    if text["kind"] not in (CLOSED, OPEN):
        errors.append(FieldError("kind", N_("Choose whether the company is closed or open.")))
    return text, day, errors


@router.post("/settings/calendar/holidays")
def add_holiday(request: Request, form: VerifiedForm) -> Response:
    with owner_page(request) as page:
        text, day, errors = _holiday_form(form)
        if day is not None and not errors:
            errors = _change_holidays(page, day, text["kind"], add=True, name=text["name"])
        if errors:
            return _calendar_page(page, errors=errors, holiday_text=text)
        return _saved(request, page, "/settings/calendar")


@router.post("/settings/calendar/holidays/remove")
def remove_holiday(request: Request, form: VerifiedForm) -> Response:
    with owner_page(request) as page:
        text, day, errors = _holiday_form(form)
        if day is not None and not errors:
            errors = _change_holidays(page, day, text["kind"], add=False)
        if errors:
            return _calendar_page(page, errors=errors, holiday_text=text)
        return _saved(request, page, "/settings/calendar")


# ----- reminder thresholds and templates ---------------------------------------------------
def _reminders_page(
    page: Page, *, errors: list[FieldError] | None = None, text: dict[str, str] | None = None
) -> Response:
    current = reminder_settings.company_settings(page.db, page.actor)
    saved: dict[tuple[ReminderLanguage, EscalationLevel], list[ReminderTemplate]] = {
        (language, level): [] for language in ReminderLanguage for level in EscalationLevel
    }
    for template in templates.list_templates(page.db, page.actor):
        saved[(template.language, template.escalation_level)].append(template)
    return _render(
        page,
        "reminders.html",
        "reminders",
        errors,
        text=text or {name: str(getattr(current, name)) for name in THRESHOLD_FIELDS},
        consolidation_labels=CONSOLIDATION_LABELS,
        saved_templates=saved,
        levels=list(EscalationLevel),
        language_labels=LANGUAGE_LABELS,
        level_labels=LEVEL_LABELS,
    )


@router.get("/settings/reminders")
def reminders(request: Request) -> Response:
    with owner_page(request) as page:
        return _reminders_page(page)


@router.post("/settings/reminders")
def save_reminders(request: Request, form: VerifiedForm) -> Response:
    """Thresholds, contact interval and consolidation: `PATCH /api/v1/reminder-settings`."""
    with owner_page(request) as page:
        text = _posted(form, THRESHOLD_FIELDS, digits=THRESHOLD_FIELDS)
        patch, errors = _validated(ReminderSettingsIn, _filled(text))
        if patch is not None:
            errors = _attempt(
                page,
                lambda: reminder_settings.update_company_settings(page.db, page.actor, patch),
                "firm_after_days",
            )
        if errors:
            return _reminders_page(page, errors=errors, text=text)
        return _saved(request, page, "/settings/reminders")


def _slot(language: str | None, level: str | None) -> tuple[ReminderLanguage, EscalationLevel]:
    return (
        _parse(language or "", ReminderLanguage) or ReminderLanguage.EN,
        _parse(level or "", EscalationLevel) or EscalationLevel.POLITE,
    )


def _template_text(template: ReminderTemplate) -> dict[str, str]:
    return {
        "name": template.name,
        "subject": template.subject,
        "body_html": template.body_html,
        "max_invoice_count": str(template.max_invoice_count),
        "supports_consolidation": "on" if template.supports_consolidation else "",
    }


def _template_page(
    page: Page,
    template: ReminderTemplate,
    *,
    text: dict[str, str] | None = None,
    errors: list[FieldError] | None = None,
) -> Response:
    other = next(lang for lang in ReminderLanguage if lang is not template.language)
    return _render(
        page,
        "template.html",
        "reminders",
        errors,
        reminder_template=template,
        text=text or _template_text(template),
        other_language=other,
        language_labels=LANGUAGE_LABELS,
        level_labels=LEVEL_LABELS,
    )


@router.get("/settings/reminders/templates/new")
def new_template(
    request: Request, language: str | None = None, level: str | None = None
) -> Response:
    """A copy of the built-in template for one language and level, to make the company's own."""
    with owner_page(request) as page:
        slot_language, slot_level = _slot(language, level)
        built_in = templates.template_for(page.db, page.actor, slot_language, slot_level, 2)
        return _template_page(page, built_in)


@router.get("/settings/reminders/templates/{template_id}")
def edit_template(request: Request, template_id: uuid.UUID) -> Response:
    with owner_page(request) as page:
        return _template_page(page, templates.get_template(page.db, page.actor, template_id))


def _draft(form: FormData) -> tuple[dict[str, str], TemplateIn | None, list[FieldError]]:
    text = _posted(form, TEMPLATE_FIELDS, digits=("max_invoice_count",))
    text["supports_consolidation"] = text_value(form, "supports_consolidation")
    language, level = _slot(text_value(form, "language"), text_value(form, "escalation_level"))
    values = {
        **_filled(text),
        "language": language,
        "escalation_level": level,
        "supports_consolidation": text["supports_consolidation"] == "on",
    }
    draft, errors = _validated(TemplateIn, values)
    return text, draft, errors


def _save_template(request: Request, form: FormData, template_id: uuid.UUID | None) -> Response:
    with owner_page(request) as page:
        text, draft, errors = _draft(form)
        if draft is not None:
            errors = _attempt(
                page,
                lambda: templates.save_template(page.db, page.actor, draft, template_id),
                "supports_consolidation",
            )
        if errors:
            shown = (
                templates.get_template(page.db, page.actor, template_id)
                if template_id
                else templates.template_for(
                    page.db,
                    page.actor,
                    *_slot(text_value(form, "language"), text_value(form, "escalation_level")),
                    2,
                )
            )
            return _template_page(page, shown, text=text, errors=errors)
        return _saved(request, page, "/settings/reminders")


@router.post("/settings/reminders/templates")
def create_template(request: Request, form: VerifiedForm) -> Response:
    return _save_template(request, form, None)


@router.post("/settings/reminders/templates/{template_id}")
def replace_template(request: Request, template_id: uuid.UUID, form: VerifiedForm) -> Response:
    return _save_template(request, form, template_id)


def _email(template: ReminderTemplate) -> HTMLResponse:
    """Rendered with sample invoices by the sender's own renderer, for a sandboxed frame."""
    return HTMLResponse(templates.render_sample(template).html, headers=EMAIL_PREVIEW_HEADERS)


@router.get("/settings/reminders/preview")
def slot_preview(
    request: Request, language: str | None = None, level: str | None = None
) -> Response:
    """What the company's customers receive for this language and level today."""
    with owner_page(request) as page:
        return _email(templates.template_for(page.db, page.actor, *_slot(language, level), 2))


@router.get("/settings/reminders/templates/{template_id}/preview")
def template_preview(request: Request, template_id: uuid.UUID) -> Response:
    with owner_page(request) as page:
        return _email(templates.get_template(page.db, page.actor, template_id))


@router.post("/settings/reminders/preview")
def draft_preview(request: Request, form: VerifiedForm) -> Response:
    """The unsaved draft, rendered as the sender would; its errors instead if it cannot be."""
    with owner_page(request) as page:
        _, draft, errors = _draft(form)
        if draft is not None:
            try:
                templates.validate_template(draft)
            except ValidationFailed as exc:
                errors = list(exc.errors)
        if draft is None or errors:
            # Shown inside the preview frame, so it carries the frame's policy, not the page's.
            response = page.render("settings/preview_errors.html", status_code=422, errors=errors)
            response.headers.update(EMAIL_PREVIEW_HEADERS)
            return response
        return _email(ReminderTemplate(**draft.model_dump()))


# ----- loyalty tiers and earning rules ------------------------------------------------------
def _program_text(page: Page) -> tuple[dict[str, str], int]:
    """The program as form text, and how many tier rows to show (its tiers plus spares)."""
    program = loyalty.get_program(page.db, page.actor)
    text = {name: str(getattr(program, name)) for name in PROGRAM_FIELDS}
    tiers = loyalty.tiers(page.db, page.actor)
    for index, tier in enumerate(tiers):
        for name in TIER_FIELDS:
            value = getattr(tier, name)
            text[f"tiers.{index}.{name}"] = "" if value is None else str(value)
    return text, len(tiers) + SPARE_TIER_ROWS


def _loyalty_page(
    page: Page,
    *,
    errors: list[FieldError] | None = None,
    posted: tuple[dict[str, str], int] | None = None,
) -> Response:
    text, rows = posted or _program_text(page)
    return _render(
        page,
        "loyalty.html",
        "loyalty",
        errors,
        text=text,
        tier_rows=range(rows),
        program_fields=PROGRAM_FIELDS,
    )


@router.get("/settings/loyalty")
def loyalty_settings(request: Request) -> Response:
    with owner_page(request) as page:
        return _loyalty_page(page)


def _posted_tiers(form: FormData) -> tuple[dict[str, str], list[dict[str, str]], int]:
    """The tier rows as text, the filled ones as values (clearing a row removes that tier)."""
    text: dict[str, str] = {}
    tiers = []
    rows = 0
    while f"tiers.{rows}.key" in form:
        row = {
            name: text_value(form, f"tiers.{rows}.{name}", digits=name == "min_points")
            for name in TIER_FIELDS
        }
        text |= {f"tiers.{rows}.{name}": value for name, value in row.items()}
        if any(row.values()):
            tiers.append(_filled(row))
        rows += 1
    return text, tiers, rows


@router.post("/settings/loyalty")
def save_loyalty(request: Request, form: VerifiedForm) -> Response:
    """The program's earning rules and tiers: `PUT /api/v1/loyalty/program`."""
    with owner_page(request) as page:
        text = _posted(form, PROGRAM_FIELDS, digits=PROGRAM_FIELDS[1:])
        tier_text, tiers, rows = _posted_tiers(form)
        draft, errors = _validated(ProgramIn, {**_filled(text), "tiers": tiers})
        if draft is not None:
            errors = _attempt(
                page, lambda: loyalty.update_program(page.db, page.actor, draft), "name"
            )
        if errors:
            return _loyalty_page(page, errors=errors, posted=(text | tier_text, rows))
        return _saved(request, page, "/settings/loyalty")


# ----- retention --------------------------------------------------------------------------
@router.get("/settings/privacy")
def privacy_settings(request: Request) -> Response:
    with owner_page(request) as page:
        days = privacy.retention_days(page.db, page.actor)
        return _render(
            page, "privacy.html", "privacy", text={"retention_days": str(days)}, days=days
        )


@router.post("/settings/privacy")
def save_privacy(request: Request, form: VerifiedForm) -> Response:
    """How long deleted customers and old conversations stay: `PUT /api/v1/privacy/retention`."""
    with owner_page(request) as page:
        text = _posted(form, ("retention_days",), digits=("retention_days",))
        body, errors = _validated(RetentionIn, _filled(text))
        if body is not None:
            errors = _attempt(
                page,
                lambda: privacy.set_retention_days(page.db, page.actor, body.retention_days),
                "retention_days",
            )
        if errors:
            days = privacy.retention_days(page.db, page.actor)
            return _render(page, "privacy.html", "privacy", errors, text=text, days=days)
        return _saved(request, page, "/settings/privacy")
