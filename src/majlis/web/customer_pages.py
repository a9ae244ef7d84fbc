"""Customer pages: the list, the create wizard, and the customer with its tabs.

Every page calls `majlis.customers.service` inside `signed_in(...)`, so roles,
tenancy, validation and audit are exactly those of the JSON API. Expected
refusals (invalid field, duplicate identifier, stale version) run inside a
savepoint and come back as the form with messages; anything else rolls the
whole request back and becomes an error page.
"""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar
from urllib.parse import urlencode

from fastapi import APIRouter, Request, Response
from sqlalchemy import func, select

from majlis.accounts.models import User
from majlis.conversations.interactions import record_customer_view
from majlis.conversations.models import CustomerInteraction, InteractionKind
from majlis.core.errors import Conflict, FieldError, PreconditionFailed, ValidationFailed
from majlis.core.i18n import digits_only
from majlis.core.permissions import CUSTOMERS, Action, can, require
from majlis.core.timeline import customer_timeline
from majlis.customers import saved_filters, service
from majlis.customers.models import Customer, CustomerKind, CustomerSource
from majlis.customers.service import CustomerFilters
from majlis.dedupe import service as dedupe
from majlis.search import service as search
from majlis.web.customer_forms import (
    basic_fields,
    draft_for_create,
    patch_for_update,
    posted_text,
    profile_fields,
    text_of,
    wizard_steps,
)
from majlis.web.forms import VerifiedForm, text_value
from majlis.web.locale import N_
from majlis.web.rendering import Page, PageRoute, is_htmx, redirect, signed_in

router = APIRouter(route_class=PageRoute, include_in_schema=False)
T = TypeVar("T")

PAGE_SIZE = 25
TIMELINE_PAGE_SIZE = 30
SORTS = (
    ("name", N_("Name A–Z")),
    ("-name", N_("Name Z–A")),
    ("-created_at", N_("Newest first")),
    ("created_at", N_("Oldest first")),
    ("-last_seen_at", N_("Recently seen")),
)
STATUSES = (
    ("", N_("Active and inactive")),
    ("active", N_("Active only")),
    ("inactive", N_("Inactive only")),
)
SOURCES = (
    ("", N_("Any source")),
    (CustomerSource.MANUAL.value, N_("Manual")),
    (CustomerSource.CHAT.value, N_("Chat")),
    (CustomerSource.IMPORT.value, N_("Import")),
)
KINDS = (
    ("", N_("Any type")),
    (CustomerKind.INDIVIDUAL.value, N_("Individual")),
    (CustomerKind.ORGANIZATION.value, N_("Organization")),
)
ACTION_LABELS = {
    "customer.created": N_("Created"),
    "customer.updated": N_("Updated"),
    "customer.deleted": N_("Deleted"),
    "customer.restored": N_("Restored"),
}
DUPLICATE_MESSAGE = N_("Another customer already has this value.")
UNREADABLE_SEARCH = N_("That search could not be read.")
LIST_TEMPLATE = "customers/list.html"
RECENT_DAYS = 7  # a card is marked when this user opened the customer within the last week
SAVED_FILTER_MESSAGES = {"name": N_("Give the filter a name of 1 to 80 characters.")}
INVALID_FILTER = N_("These filters cannot be saved.")
SAVED_FILTER_TAKEN = N_("You already have a saved filter with this name.")
# The online duplicate check waits for a few letters of the name: fewer would match everyone.
DUPLICATE_CHECK_MIN_NAME = 3
# Each retry leaves out the fields the previous draft found half-typed.
DUPLICATE_CHECK_ATTEMPTS = 3
DUPLICATES_SHOWN = 5
REASON_LABELS = {
    "trn": N_("TRN"),
    "external_ref": N_("External reference"),
    "email": N_("Email"),
    "phone_and_address": N_("Phone and address"),
    "first_name": N_("First name"),
    "surname": N_("Surname"),
    "business_name": N_("Business name"),
    "date_of_birth": N_("Date of birth"),
    "city": N_("City"),
    "postal_code": N_("Postal code"),
    "business_type": N_("Business type"),
    "kind": N_("Type"),
}


@dataclass(frozen=True)
class CustomerTab:
    """A tab of the customer page; a domain's pages add theirs when the domain exists."""

    slug: str
    label: str
    path_suffix: str
    organizations_only: bool = False

    def shows_for(self, customer: Customer) -> bool:
        return not self.organizations_only or customer.kind is CustomerKind.ORGANIZATION


CUSTOMER_TABS = [
    CustomerTab("profile", N_("Profile"), ""),
    CustomerTab("relationships", N_("Contacts and projects"), "/relationships", True),
    CustomerTab("conversations", N_("Conversations"), "/conversations"),
    CustomerTab("journey", N_("Journey and tasks"), "/journey"),
    CustomerTab("loyalty", N_("Loyalty"), "/loyalty"),
    CustomerTab("activity", N_("Activity"), "/activity"),
]


def permissions(page: Page) -> dict[str, Any]:
    """What the templates may offer, asked of the same matrix the services enforce."""
    actor = page.actor
    return {
        "can_create": lambda: can(actor, CUSTOMERS, Action.CREATE),
        "can_edit": lambda customer: can(actor, CUSTOMERS, Action.EDIT, customer),
        "can_delete": lambda customer: can(actor, CUSTOMERS, Action.DELETE, customer),
        "can_merge": lambda: can(actor, CUSTOMERS, Action.MERGE),
    }


@dataclass(frozen=True)
class Refusal:
    """Why a service refused what a form asked: bad fields, a taken identifier, a stale version."""

    errors: list[FieldError] = dataclasses.field(default_factory=list)
    existing_id: str | None = None
    stale: bool = False

    @property
    def status_code(self) -> int:
        return 409 if self.stale or self.existing_id else 422


def attempt(page: Page, write: Callable[[], T]) -> tuple[T | None, Refusal]:
    """Run a service write in a savepoint; refusals a form can explain come back as a Refusal.

    Anything else (permission, not found) propagates, rolls the request back and
    becomes an error page.
    """
    try:
        with page.db.begin_nested():
            return write(), Refusal()
    except ValidationFailed as exc:
        return None, Refusal(exc.errors)
    except Conflict as exc:
        duplicate = FieldError(str(exc.extra.get("field", "name")), DUPLICATE_MESSAGE)
        return None, Refusal([duplicate], existing_id=exc.extra.get("existing_id"))
    except PreconditionFailed:
        return None, Refusal(stale=True)


# ----- the list ----------------------------------------------------------------------------
def _choice(value: str | None, choices: tuple[tuple[str, str], ...]) -> str:
    return value if value in {key for key, _ in choices} else ""


def _param(params: Mapping[str, Any], name: str) -> str:
    """A query or form parameter as trimmed text ('' when absent or not text)."""
    value = params.get(name)
    return value.strip() if isinstance(value, str) else ""


@dataclass(frozen=True)
class ListQuery:
    """The list's filters as they appear in the address bar (so a filtered list is a link)."""

    q: str = ""
    source: str = ""
    kind: str = ""
    status: str = ""
    tag: str = ""
    sort: str = "name"
    cursor: str | None = None

    @classmethod
    def from_params(cls, params: Mapping[str, Any]) -> ListQuery:
        """Read from the address bar, a posted form or a saved filter; unknown values ignored."""
        return cls(
            q=_param(params, "q"),
            source=_choice(_param(params, "source"), SOURCES),
            kind=_choice(_param(params, "kind"), KINDS),
            status=_choice(_param(params, "status"), STATUSES),
            tag=_param(params, "tag"),
            sort=_choice(_param(params, "sort"), SORTS) or "name",
            cursor=_param(params, "cursor") or None,
        )

    @classmethod
    def from_request(cls, request: Request) -> ListQuery:
        return cls.from_params(request.query_params)

    def filters(self) -> CustomerFilters:
        arguments: dict[str, Any] = {
            "source": CustomerSource(self.source) if self.source else None,
            "kind": CustomerKind(self.kind) if self.kind else None,
            "is_active": {"active": True, "inactive": False}.get(self.status),
            "tag": self.tag or None,
        }
        return CustomerFilters(**arguments)

    def saved_values(self) -> dict[str, str]:
        """What a saved filter keeps: every filter, the sort and the search, not the position."""
        return {key: getattr(self, key) for key in saved_filters.FILTER_KEYS}

    def url(self, **changes: str | None) -> str:
        values = {**dataclasses.asdict(self), **changes}
        if values["sort"] == ListQuery.sort:
            del values["sort"]  # the default order needs no parameter
        query = {key: value for key, value in values.items() if value}
        return "/customers" + (f"?{urlencode(query)}" if query else "")


def recently_viewed(page: Page, customer_ids: Iterable[uuid.UUID]) -> set[str]:
    """Which of these customers the signed-in user opened lately: one query for the whole page."""
    ids = list(customer_ids)
    if not ids:
        return set()
    since = datetime.now(UTC) - timedelta(days=RECENT_DAYS)
    viewed = page.db.scalars(
        select(CustomerInteraction.customer_id)
        .distinct()
        .where(
            CustomerInteraction.company_id == page.actor.company_id,
            CustomerInteraction.customer_id.in_(ids),
            CustomerInteraction.kind == InteractionKind.VIEWED,
            CustomerInteraction.actor_id == page.actor.user_id,
            CustomerInteraction.occurred_at >= since,
        )
    )
    return {str(customer_id) for customer_id in viewed}


def find_customers(page: Page, query: ListQuery, limit: int) -> tuple[list[Customer], str | None]:
    """One keyset page: ranked by the bilingual fuzzy search when `q` is set, else sorted.

    The same services as `GET /api/v1/customers`; a term or cursor they cannot read
    raises ValidationFailed after its savepoint has rolled back.
    """
    with page.db.begin_nested():
        if query.q:
            hits = search.search_customers(
                page.db, page.actor, query.q, query.filters(), cursor=query.cursor, limit=limit
            )
            return [hit.customer for hit in hits.items], hits.next_cursor
        listed = service.list_customers(
            page.db, page.actor, query.filters(), sort=query.sort, cursor=query.cursor, limit=limit
        )
        return listed.items, listed.next_cursor


def _list_page(
    page: Page, query: ListQuery, template: str, status_code: int = 200, **values: Any
) -> Response:
    """One keyset page of cards in `template` (the page, its results or more cards)."""
    error: str | None = None
    try:
        customers, next_cursor = find_customers(page, query, PAGE_SIZE)
    except ValidationFailed:
        customers, next_cursor = [], None
        error = UNREADABLE_SEARCH
    if template == LIST_TEMPLATE:
        values["saved"] = saved_filters.list_saved_filters(page.db, page.actor)
    return page.render(
        template,
        status_code=status_code,
        query=query,
        customers=customers,
        next_url=query.url(cursor=next_cursor) if next_cursor else None,
        recent=recently_viewed(page, (customer.id for customer in customers)),
        search_error=error,
        is_fragment=template != LIST_TEMPLATE,
        sorts=SORTS,
        statuses=STATUSES,
        sources=SOURCES,
        kinds=KINDS,
        **permissions(page),
        **values,
    )


@router.get("/customers")
def customer_list(request: Request) -> Response:
    """Filters, sorts and keyset pages; HTMX asks only for the results or the next cards."""
    query = ListQuery.from_request(request)
    with signed_in(request) as page:
        target = request.headers.get("HX-Target") if is_htmx(request) else None
        template = {
            "results": "customers/_results.html",
            "more": "customers/_cards.html",
        }.get(target or "", LIST_TEMPLATE)
        return _list_page(page, query, template)


# ----- saved filters (registered before /customers/{customer_id}, which would match them) -----
@router.post("/customers/saved-filters")
def save_filter(request: Request, form: VerifiedForm) -> Response:
    """Save the list's current filters under a name; refusals show on the list page again."""
    query = ListQuery.from_params(form)
    with signed_in(request) as page:
        name = text_value(form, "filter_name")
        try:
            with page.db.begin_nested():
                saved_filters.create_saved_filter(
                    page.db, page.actor, name, query.saved_values(), shared="shared" in form
                )
        except ValidationFailed as exc:
            message = SAVED_FILTER_MESSAGES.get(exc.errors[0].field, INVALID_FILTER)
            return _saved_filter_refused(page, query, name, message, 422)
        except Conflict:
            return _saved_filter_refused(page, query, name, SAVED_FILTER_TAKEN, 409)
        page.web.update(flash=N_("Filter saved."))
        return redirect(request, query.url())


def _saved_filter_refused(
    page: Page, query: ListQuery, name: str, message: str, status_code: int
) -> Response:
    return _list_page(
        page, query, LIST_TEMPLATE, status_code, filter_name=name, filter_error=message
    )


@router.post("/customers/saved-filters/{filter_id}/delete")
def delete_filter(request: Request, filter_id: uuid.UUID, form: VerifiedForm) -> Response:
    with signed_in(request) as page:
        saved_filters.delete_saved_filter(page.db, page.actor, filter_id)
        page.web.update(flash=N_("Saved filter deleted."))
        return redirect(request, "/customers")


# ----- the create wizard ---------------------------------------------------------------------
def _wizard(page: Page, step: int, text: dict[str, str], **values: Any) -> Response:
    steps = wizard_steps(page.company.country)
    errors: list[FieldError] = values.pop("errors", [])
    return page.render(
        "customers/new.html",
        status_code=422 if errors else 200,
        steps=steps,
        step=steps[step - 1],
        text=text,
        errors={error.field: error.message for error in errors},
        **values,
    )


@dataclass(frozen=True)
class DuplicateWarning:
    """A possible duplicate as the wizard shows it: who, how likely, and the evidence for it."""

    customer_id: uuid.UUID
    name: str
    percent: int
    likely: bool
    reasons: list[tuple[str, str]]  # (feature label, comparison level), strongest first

    @classmethod
    def of(cls, match: dedupe.DuplicateMatch) -> DuplicateWarning:
        positive = sorted(
            (item for item in match.evidence if item["match_weight"] >= dedupe.REASON_MIN_WEIGHT),
            key=lambda item: -item["match_weight"],
        )
        return cls(
            customer_id=match.customer_id,
            name=match.display_name,
            percent=round(match.match_probability * 100),
            likely=match.likely,
            reasons=[
                (REASON_LABELS.get(item["feature"], item["feature"]), item["level"])
                for item in positive
            ],
        )


def possible_duplicates(page: Page, text: dict[str, str]) -> list[DuplicateWarning]:
    """The online duplicate check on the basic information typed so far.

    Nothing is asked while the name is too short to say anything. Fields still
    half-typed (an email without its domain, a phone number missing digits) are
    left out of the draft rather than failing the check.
    """
    if len(text.get("name", "")) < DUPLICATE_CHECK_MIN_NAME:
        return []
    fields = basic_fields(page.company.country)
    for _ in range(DUPLICATE_CHECK_ATTEMPTS):
        draft, errors = draft_for_create(text, fields)
        if draft is not None:
            try:
                with page.db.begin_nested():
                    matches = dedupe.check_draft(page.db, page.actor, draft)
                return [DuplicateWarning.of(match) for match in matches[:DUPLICATES_SHOWN]]
            except ValidationFailed as exc:
                errors = exc.errors
        unfinished = {error.field.split(".")[0] for error in errors}
        if "name" in unfinished:
            return []
        text = {name: value for name, value in text.items() if name not in unfinished}
    return []


@router.post("/customers/new/duplicates")
def duplicate_warning(request: Request, form: VerifiedForm) -> Response:
    """The wizard's live duplicate warning (HTMX posts the basic information as it is typed)."""
    with signed_in(request) as page:
        require(page.actor, CUSTOMERS, Action.CREATE)
        text = posted_text(form, basic_fields(page.company.country))
        return page.render("customers/_duplicates.html", duplicates=possible_duplicates(page, text))


@router.get("/customers/new")
def new_customer(request: Request) -> Response:
    with signed_in(request) as page:
        require(page.actor, CUSTOMERS, Action.CREATE)
        return _wizard(page, 1, {"kind": "individual", "country": page.company.country})


def _step_of(field_name: str, steps: tuple[Any, ...]) -> int:
    for step in steps:
        if any(field.name == field_name.split(".")[0] for field in step.fields):
            return int(step.number)
    return 1


@router.post("/customers/new")
def create_customer(request: Request, form: VerifiedForm) -> Response:
    """Move between the wizard's steps (each validated on the way) and create at the end."""
    with signed_in(request) as page:
        require(page.actor, CUSTOMERS, Action.CREATE)
        steps = wizard_steps(page.company.country)
        all_fields = tuple(field for step in steps for field in step.fields)
        text = posted_text(form, all_fields)
        current = min(max(int(digits_only(text_value(form, "step")) or 1), 1), len(steps))
        if text_value(form, "go") == "back":
            return _wizard(page, max(current - 1, 1), text)
        fields_so_far = tuple(field for step in steps[:current] for field in step.fields)
        draft, errors = draft_for_create(text, fields_so_far)
        if draft is None:
            return _wizard(page, _step_of(errors[0].field, steps), text, errors=errors)
        if current < len(steps):
            # Without JavaScript the duplicate check runs here; its warning shows on step 2.
            duplicates = possible_duplicates(page, text) if current == 1 else []
            return _wizard(page, current + 1, text, duplicates=duplicates)
        customer, refusal = attempt(
            page, lambda: service.create_customer(page.db, page.actor, draft)[0]
        )
        if customer is None:
            step = _step_of(refusal.errors[0].field, steps)
            return _wizard(page, step, text, errors=refusal.errors, existing_id=refusal.existing_id)
        page.web.update(flash=N_("Customer created."))
        return redirect(request, f"/customers/{customer.id}")


# ----- one customer ------------------------------------------------------------------------------
def _customer_page(
    page: Page, customer: Customer, tab: str, template: str, status_code: int = 200, **values: Any
) -> Response:
    return page.render(
        template,
        status_code=status_code,
        customer=customer,
        tabs=CUSTOMER_TABS,
        tab=tab,
        fields=profile_fields(page.company.country),
        **permissions(page),
        **values,
    )


@router.get("/customers/{customer_id}")
def customer_profile(request: Request, customer_id: uuid.UUID) -> Response:
    with signed_in(request) as page:
        customer = service.get_customer(page.db, page.actor, customer_id)
        record_customer_view(page.db, page.actor, customer)
        template = "customers/_profile.html" if is_htmx(request) else "customers/profile.html"
        return _customer_page(page, customer, "profile", template)


def _edit_form(
    page: Page,
    customer: Customer,
    *,
    text: dict[str, str] | None = None,
    version: int | None = None,
    errors: list[FieldError] | None = None,
    status_code: int = 200,
    **values: Any,
) -> Response:
    fields = profile_fields(page.company.country)
    template = "customers/_profile_form.html" if is_htmx(page.request) else "customers/edit.html"
    return _customer_page(
        page,
        customer,
        "profile",
        template,
        status_code=status_code,
        text=text if text is not None else text_of(customer, fields),
        version=version if version is not None else customer.version,
        errors={error.field: error.message for error in errors or []},
        **values,
    )


@router.get("/customers/{customer_id}/edit")
def edit_customer(request: Request, customer_id: uuid.UUID) -> Response:
    with signed_in(request) as page:
        customer = service.get_customer(page.db, page.actor, customer_id)
        require(page.actor, CUSTOMERS, Action.EDIT, customer)
        return _edit_form(page, customer)


@router.post("/customers/{customer_id}")
def update_customer(request: Request, customer_id: uuid.UUID, form: VerifiedForm) -> Response:
    """Save the profile form against the version it was loaded at; a newer one wins visibly."""
    with signed_in(request) as page:
        fields = profile_fields(page.company.country)
        text = posted_text(form, fields)
        version = int(digits_only(text_value(form, "version")) or 0) or None
        patch, errors = patch_for_update(text, fields)
        customer, refusal = None, Refusal(errors)
        if patch is not None:
            customer, refusal = attempt(
                page,
                lambda: service.update_customer(
                    page.db, page.actor, customer_id, patch, expected_version=version
                )[0],
            )
        if customer is None:
            current = service.get_customer(page.db, page.actor, customer_id)
            require(page.actor, CUSTOMERS, Action.EDIT, current)
            return _edit_form(
                page,
                current,
                text=text,
                version=version,
                errors=refusal.errors,
                stale=refusal.stale,
                existing_id=refusal.existing_id,
                status_code=refusal.status_code,
            )
        page.web.update(flash=N_("Changes saved."))
        if is_htmx(request):
            return _customer_page(page, customer, "profile", "customers/_profile.html")
        return redirect(request, f"/customers/{customer.id}")


@router.get("/customers/{customer_id}/activity")
def customer_activity(
    request: Request, customer_id: uuid.UUID, cursor: str | None = None
) -> Response:
    """The activity timeline, newest first, with the people who acted named in one query."""
    with signed_in(request) as page:
        customer = service.get_customer(page.db, page.actor, customer_id)
        timeline = customer_timeline(
            page.db, page.actor, customer.id, cursor=cursor, limit=TIMELINE_PAGE_SIZE
        )
        actor_ids = {
            uuid.UUID(str(entry.data["actor_id"]))
            for entry in timeline.items
            if entry.data.get("actor_id")
        }
        people = dict(
            page.db.execute(
                select(User.id, func.coalesce(User.full_name, User.email)).where(
                    User.id.in_(actor_ids)
                )
            )
            .tuples()
            .all()
        )
        field_labels = {field.name: field.label for field in profile_fields(page.company.country)}
        return _customer_page(
            page,
            customer,
            "activity",
            "customers/activity.html",
            entries=timeline.items,
            next_cursor=timeline.next_cursor,
            people={str(key): value for key, value in people.items()},
            action_labels=ACTION_LABELS,
            field_labels=field_labels,
        )


@router.post("/customers/{customer_id}/delete")
def delete_customer(request: Request, customer_id: uuid.UUID, form: VerifiedForm) -> Response:
    with signed_in(request) as page:
        service.delete_customer(page.db, page.actor, customer_id)
        return page.render("customers/deleted.html", customer_id=customer_id)


@router.post("/customers/{customer_id}/restore")
def restore_customer(request: Request, customer_id: uuid.UUID, form: VerifiedForm) -> Response:
    with signed_in(request) as page:
        customer = service.restore_customer(page.db, page.actor, customer_id)
        page.web.update(flash=N_("Customer restored."))
        return redirect(request, f"/customers/{customer.id}")
