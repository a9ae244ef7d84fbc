"""The customer's other tabs: contacts and projects, conversations, journey and tasks, loyalty.

Each tab calls the services behind the JSON API (`majlis.organizations`,
`majlis.conversations`, `majlis.journeys`, `majlis.insights`, `majlis.loyalty`)
inside `signed_in(...)`, so roles, tenancy, validation, audit and the loyalty
locking rules are the API's own. Forms validate with the API's Pydantic schemas;
expected refusals run in a savepoint (`customer_pages.attempt`) and come back as
the form with the message next to its field, with nothing written.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel, ValidationError
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from starlette.datastructures import FormData

from majlis.accounts.models import User
from majlis.conversations import service as conversations
from majlis.conversations.models import LinkSource
from majlis.core.errors import Conflict, FieldError, NotFound, ValidationFailed
from majlis.core.permissions import CUSTOMERS, Action, Actor, Role, can
from majlis.customers import service as customers
from majlis.customers.models import Customer
from majlis.insights import leads
from majlis.journeys import queue
from majlis.journeys import service as journeys
from majlis.journeys.models import Task, TaskStatus, WorkflowStage
from majlis.journeys.schemas import MoveIn
from majlis.loyalty import service as loyalty
from majlis.loyalty.models import EntryKind, LoyaltyMember
from majlis.loyalty.schemas import EnrollIn, RedeemIn
from majlis.organizations import service as organizations
from majlis.organizations.models import Contact, ProjectStatus
from majlis.organizations.schemas import ContactCreate, ProjectCreate
from majlis.web.customer_forms import FormField, field_values, posted_text
from majlis.web.customer_pages import CUSTOMER_TABS, attempt, permissions
from majlis.web.forms import VerifiedForm, field_errors, text_value
from majlis.web.locale import N_
from majlis.web.rendering import Page, PageRoute, is_htmx, redirect, signed_in

router = APIRouter(route_class=PageRoute, include_in_schema=False)

RELATIONS_PAGE_SIZE = 25
CONVERSATIONS_PAGE_SIZE = 20
LEDGER_PAGE_SIZE = 25
TASKS_SHOWN = 20
MORE_CONVERSATIONS = "more-conversations"

CONTACT_FIELDS = (
    FormField("name", N_("Name"), required=True, autocomplete="off"),
    FormField("name_ar", N_("Name in Arabic"), direction="rtl"),
    FormField("role_title", N_("Role")),
    FormField("email", N_("Email"), widget="email", direction="ltr"),
    FormField("phone", N_("Phone"), widget="tel", direction="ltr", digits=True),
    FormField("is_primary_contact", N_("Primary contact"), widget="checkbox"),
)
PROJECT_STATUS_LABELS = {
    ProjectStatus.PLANNED: N_("Planned"),
    ProjectStatus.ACTIVE: N_("Active"),
    ProjectStatus.ON_HOLD: N_("On hold"),
    ProjectStatus.COMPLETED: N_("Completed"),
    ProjectStatus.CANCELLED: N_("Cancelled"),
}
PROJECT_FIELDS = (
    FormField("name", N_("Project name"), required=True),
    FormField(
        "status",
        N_("Status"),
        widget="select",
        choices=tuple((status.value, label) for status, label in PROJECT_STATUS_LABELS.items()),
    ),
    FormField("value", N_("Value"), direction="ltr", digits=True),
    FormField("start_date", N_("Start date"), direction="ltr", digits=True, hint=N_("YYYY-MM-DD")),
    FormField("end_date", N_("End date"), direction="ltr", digits=True, hint=N_("YYYY-MM-DD")),
)
MATCH_REASONS = {
    "trn": N_("TRN"),
    "external_ref": N_("External reference"),
    "email": N_("Email"),
    "phone": N_("Phone"),
    "contact_email": N_("A contact's email"),
    "contact_phone": N_("A contact's phone"),
    "name": N_("Name"),
    "created": N_("New customer from this conversation"),
}
LINK_SOURCES = {
    LinkSource.AUTO_SYNC: N_("Matched automatically"),
    LinkSource.MANUAL: N_("Linked by hand"),
    LinkSource.MIGRATION: N_("Linked by the migration"),
}
NEXT_ACTIONS = {
    "call": N_("Call"),
    "offer": N_("Make an offer"),
    "follow_up": N_("Follow up"),
    "collect": N_("Collect payment"),
}
ENTRY_KINDS = {
    EntryKind.EARN: N_("Earned"),
    EntryKind.REDEEM: N_("Redeemed"),
    EntryKind.EXPIRE: N_("Expired"),
    EntryKind.ADJUST: N_("Adjusted"),
}
TASK_ALREADY_CLOSED = N_("This task was already closed.")


# ----- shared helpers ------------------------------------------------------------------------
def _tab_page(
    page: Page, customer: Customer, tab: str, template: str, status_code: int = 200, **values: Any
) -> Response:
    return page.render(
        template,
        status_code=status_code,
        customer=customer,
        tabs=CUSTOMER_TABS,
        tab=tab,
        **permissions(page),
        **values,
    )


def _people(db: Session, user_ids: Iterable[uuid.UUID | None]) -> dict[uuid.UUID, str]:
    """Display names of the users a tab mentions, in one query."""
    wanted = {user_id for user_id in user_ids if user_id is not None}
    if not wanted:
        return {}
    rows = db.execute(
        select(User.id, func.coalesce(User.full_name, User.email)).where(User.id.in_(wanted))
    )
    return dict(rows.tuples().all())


def _validated(
    schema: type[BaseModel], values: dict[str, Any]
) -> tuple[Any | None, list[FieldError]]:
    try:
        return schema.model_validate(values), []
    except ValidationError as exc:
        return None, field_errors(exc)


def _error_map(errors: list[FieldError]) -> dict[str, str]:
    return {error.field: error.message for error in errors}


# ----- contacts and projects -----------------------------------------------------------------
def _relationships(
    page: Page,
    organization: Customer,
    *,
    contact_text: dict[str, str] | None = None,
    project_text: dict[str, str] | None = None,
    contact_errors: list[FieldError] | None = None,
    project_errors: list[FieldError] | None = None,
) -> Response:
    params = page.request.query_params
    contacts = organizations.list_contacts(
        page.db,
        page.actor,
        organizations.ContactFilters(organization.id),
        cursor=params.get("contacts_cursor") or None,
        limit=RELATIONS_PAGE_SIZE,
    )
    projects = organizations.list_projects(
        page.db,
        page.actor,
        organizations.ProjectFilters(organization.id),
        cursor=params.get("projects_cursor") or None,
        limit=RELATIONS_PAGE_SIZE,
    )
    errors = [*(contact_errors or []), *(project_errors or [])]
    return _tab_page(
        page,
        organization,
        "relationships",
        "customer_tabs/relationships.html",
        status_code=422 if errors else 200,
        contacts=contacts,
        projects=projects,
        contact_fields=CONTACT_FIELDS,
        project_fields=PROJECT_FIELDS,
        contact_text=contact_text or {},
        project_text=project_text or {"status": ProjectStatus.PLANNED.value},
        contact_errors=_error_map(contact_errors or []),
        project_errors=_error_map(project_errors or []),
        status_labels=PROJECT_STATUS_LABELS,
        may_edit=can(page.actor, CUSTOMERS, Action.EDIT, organization),
    )


def _organization(page: Page, customer_id: uuid.UUID) -> Customer:
    """The organization of the tab; an individual has no such tab, so it is not found."""
    try:
        return organizations.get_organization(page.db, page.actor, customer_id)
    except ValidationFailed as exc:
        raise NotFound("page", customer_id) from exc


@router.get("/customers/{customer_id}/relationships")
def relationships(request: Request, customer_id: uuid.UUID) -> Response:
    with signed_in(request) as page:
        return _relationships(page, _organization(page, customer_id))


@dataclass(frozen=True)
class RelatedForm:
    """One of the tab's two add forms: its fields, the API's schema and service, its message."""

    name: str  # "contact" | "project": also the prefix of its values in the template
    fields: tuple[FormField, ...]
    schema: type[BaseModel]
    create: Callable[[Session, Actor, uuid.UUID, Any], object]
    added: str


def _add_related(
    request: Request, customer_id: uuid.UUID, form: VerifiedForm, kind: RelatedForm
) -> Response:
    """Create through the API's schema and service; refusals come back beside the fields."""
    with signed_in(request) as page:
        organization = _organization(page, customer_id)
        text = posted_text(form, kind.fields)
        values = {k: v for k, v in field_values(text, kind.fields).items() if v is not None}
        draft, errors = _validated(kind.schema, values)
        if draft is not None:
            created, refusal = attempt(
                page, lambda: kind.create(page.db, page.actor, organization.id, draft)
            )
            if created is not None:
                page.web.update(flash=kind.added)
                return redirect(request, f"/customers/{organization.id}/relationships")
            errors = refusal.errors
        form_state: dict[str, Any] = {f"{kind.name}_text": text, f"{kind.name}_errors": errors}
        return _relationships(page, organization, **form_state)


CONTACT_FORM = RelatedForm(
    "contact", CONTACT_FIELDS, ContactCreate, organizations.create_contact, N_("Contact added.")
)
# A project's currency is the company's.
PROJECT_FORM = RelatedForm(
    "project", PROJECT_FIELDS, ProjectCreate, organizations.create_project, N_("Project added.")
)


@router.post("/customers/{customer_id}/relationships/contacts")
def add_contact(request: Request, customer_id: uuid.UUID, form: VerifiedForm) -> Response:
    return _add_related(request, customer_id, form, CONTACT_FORM)


@router.post("/customers/{customer_id}/relationships/projects")
def add_project(request: Request, customer_id: uuid.UUID, form: VerifiedForm) -> Response:
    return _add_related(request, customer_id, form, PROJECT_FORM)


@dataclass(frozen=True)
class Archivable:
    """A contact or a project on the tab: how to read it and archive it, and what to say."""

    entity: str
    get: Callable[[Session, Actor, uuid.UUID], Any]
    archive: Callable[[Session, Actor, uuid.UUID], object]
    archived: str


CONTACTS = Archivable(
    "contact", organizations.get_contact, organizations.archive_contact, N_("Contact archived.")
)
PROJECTS = Archivable(
    "project", organizations.get_project, organizations.archive_project, N_("Project archived.")
)


def _archive(
    request: Request, customer_id: uuid.UUID, kind: Archivable, item_id: uuid.UUID
) -> Response:
    """Archive one of this organization's contacts or projects (another's is a 404)."""
    with signed_in(request) as page:
        organization = _organization(page, customer_id)
        item = kind.get(page.db, page.actor, item_id)
        if item.organization_id != organization.id:
            raise NotFound(kind.entity, item_id)
        kind.archive(page.db, page.actor, item.id)
        page.web.update(flash=kind.archived)
        return redirect(request, f"/customers/{organization.id}/relationships")


@router.post("/customers/{customer_id}/relationships/contacts/{contact_id}/archive")
def archive_contact(
    request: Request, customer_id: uuid.UUID, contact_id: uuid.UUID, form: VerifiedForm
) -> Response:
    return _archive(request, customer_id, CONTACTS, contact_id)


@router.post("/customers/{customer_id}/relationships/projects/{project_id}/archive")
def archive_project(
    request: Request, customer_id: uuid.UUID, project_id: uuid.UUID, form: VerifiedForm
) -> Response:
    return _archive(request, customer_id, PROJECTS, project_id)


# ----- conversations -------------------------------------------------------------------------
def _contact_names(page: Page, contact_ids: set[uuid.UUID]) -> dict[uuid.UUID, str]:
    """The names of the contacts conversations were matched through, in one query."""
    if not contact_ids:
        return {}
    rows = page.db.execute(
        select(Contact.id, Contact.name).where(
            Contact.company_id == page.actor.company_id, Contact.id.in_(contact_ids)
        )
    )
    return dict(rows.tuples().all())


@router.get("/customers/{customer_id}/conversations")
def customer_conversations(
    request: Request, customer_id: uuid.UUID, cursor: str | None = None
) -> Response:
    """Newest first, keyset-paged; HTMX asks only for the next items ("more" in place)."""
    with signed_in(request) as page:
        customer = customers.get_customer(page.db, page.actor, customer_id)
        listing = conversations.customer_conversations(
            page.db, page.actor, customer.id, cursor=cursor, limit=CONVERSATIONS_PAGE_SIZE
        )
        more = is_htmx(request) and request.headers.get("HX-Target") == MORE_CONVERSATIONS
        return _tab_page(
            page,
            customer,
            "conversations",
            "customer_tabs/_conversation_items.html"
            if more
            else "customer_tabs/conversations.html",
            conversations=listing.items,
            next_cursor=listing.next_cursor,
            contact_names=_contact_names(
                page, {c.matched_contact_id for c in listing.items if c.matched_contact_id}
            ),
            match_reasons=MATCH_REASONS,
            link_sources=LINK_SOURCES,
            more_id=MORE_CONVERSATIONS,
        )


# ----- journey and tasks ---------------------------------------------------------------------
def _open_tasks(page: Page, customer_id: uuid.UUID) -> list[Task]:
    """The customer's unfinished tasks (open, then claimed), each list in queue order."""
    return [
        task
        for status in (TaskStatus.OPEN, TaskStatus.CLAIMED)
        for task in queue.list_tasks(
            page.db, page.actor, status=status, customer_id=customer_id, limit=TASKS_SHOWN
        ).items
    ]


def _may_complete(page: Page, task: Task) -> bool:
    """Whether to offer "Complete": the service refuses others' tasks to sales staff."""
    if not can(page.actor, journeys.JOURNEYS, Action.EDIT):
        return False
    return page.actor.role in (Role.OWNER, Role.MANAGER) or task.assigned_to in (
        None,
        page.actor.user_id,
    )


def _stage_name(page: Page, stage: WorkflowStage | None, key: str) -> str:
    if stage is None:
        return key
    return page.fmt.name_of(stage)


def _journey(
    page: Page,
    customer: Customer,
    *,
    move_text: dict[str, str] | None = None,
    move_errors: list[FieldError] | None = None,
    status_code: int = 200,
) -> Response:
    state = journeys.journey_state(page.db, page.actor, customer.id)
    stages = {stage.key: stage for stage in journeys.workflow_stages(page.db, page.actor)}
    actions = journeys.journey_actions(page.db, page.actor, customer.id)
    tasks = _open_tasks(page, customer.id)
    people = _people(
        page.db,
        [state.assigned_to, *(a.actor_id for a in actions), *(t.assigned_to for t in tasks)],
    )
    current = stages.get(state.stage_key)
    errors = move_errors or []
    return _tab_page(
        page,
        customer,
        "journey",
        "customer_tabs/journey.html",
        status_code=422 if errors else status_code,
        state=state,
        stage_name=lambda key: _stage_name(page, stages.get(key), key),
        next_stages=current.next_stages if current else [],
        days_in_stage=(datetime.now(UTC) - state.entered_at).days,
        actions=actions,
        tasks=tasks,
        people=people,
        advice=leads.next_best_action(page.db, page.actor, customer.id),
        next_actions=NEXT_ACTIONS,
        may_move=can(page.actor, journeys.JOURNEYS, Action.EDIT),
        may_complete=lambda task: _may_complete(page, task),
        move_text=move_text or {},
        move_errors=_error_map(errors),
    )


@router.get("/customers/{customer_id}/journey")
def customer_journey(request: Request, customer_id: uuid.UUID) -> Response:
    """Stage, owner, deal value, days in stage, history, open tasks and the coach's advice."""
    with signed_in(request) as page:
        return _journey(page, customers.get_customer(page.db, page.actor, customer_id))


@router.post("/customers/{customer_id}/journey/move")
def move_stage(request: Request, customer_id: uuid.UUID, form: VerifiedForm) -> Response:
    """`journeys.service.move_stage`: only to a stage the current one leads to."""
    with signed_in(request) as page:
        customer = customers.get_customer(page.db, page.actor, customer_id)
        text = {"to_stage": text_value(form, "to_stage"), "reason": text_value(form, "reason")}
        move, errors = _validated(
            MoveIn, {"to_stage": text["to_stage"], "reason": text["reason"] or None}
        )
        if move is not None:
            state, refusal = attempt(
                page,
                lambda: journeys.move_stage(
                    page.db, page.actor, customer.id, move.to_stage, move.reason
                ),
            )
            if state is not None:
                page.web.update(flash=N_("Stage changed."))
                return redirect(request, f"/customers/{customer.id}/journey")
            errors = refusal.errors
        return _journey(page, customer, move_text=text, move_errors=errors)


@router.post("/customers/{customer_id}/journey/tasks/{task_id}/complete")
def complete_task(
    request: Request, customer_id: uuid.UUID, task_id: uuid.UUID, form: VerifiedForm
) -> Response:
    with signed_in(request) as page:
        customer = customers.get_customer(page.db, page.actor, customer_id)
        task = queue.get_task(page.db, page.actor, task_id)
        if task.customer_id != customer.id:
            raise NotFound("task", task_id)
        try:
            with page.db.begin_nested():
                queue.complete_task(page.db, page.actor, task.id)
            page.web.update(flash=N_("Task completed."))
        except Conflict:
            page.web.update(flash=TASK_ALREADY_CLOSED)
        return redirect(request, f"/customers/{customer.id}/journey")


# ----- loyalty -------------------------------------------------------------------------------
def _membership(page: Page, member: LoyaltyMember) -> dict[str, Any]:
    standing = loyalty.standing(page.db, page.actor, member)
    ledger = loyalty.ledger_page(
        page.db,
        page.actor,
        member.id,
        cursor=page.request.query_params.get("cursor") or None,
        limit=LEDGER_PAGE_SIZE,
    )
    return {
        "member": member,
        "tier_name": page.fmt.name_of(standing.tier),
        "balance": standing.balance,
        "rolling": standing.rolling_points,
        "next_tier_name": page.fmt.name_of(standing.next_tier) if standing.next_tier else "",
        "points_to_next": standing.points_to_next,
        "entries": ledger.items,
        "next_cursor": ledger.next_cursor,
        "rewards": loyalty.list_rewards(page.db, page.actor),
        "may_redeem": can(page.actor, loyalty.LOYALTY, Action.EDIT),
    }


def _loyalty(
    page: Page,
    customer: Customer,
    *,
    enrol_errors: list[FieldError] | None = None,
    referral_code: str = "",
    refusal: str | None = None,
    status_code: int = 200,
) -> Response:
    member = loyalty.member_of_customer(page.db, page.actor, customer.id)
    errors = enrol_errors or []
    return _tab_page(
        page,
        customer,
        "loyalty",
        "customer_tabs/loyalty.html",
        status_code=422 if errors else status_code,
        membership=_membership(page, member) if member else None,
        may_enrol=can(page.actor, loyalty.LOYALTY, Action.CREATE),
        enrol_errors=_error_map(errors),
        referral_code=referral_code,
        refusal=refusal,
        entry_kinds=ENTRY_KINDS,
    )


@router.get("/customers/{customer_id}/loyalty")
def customer_loyalty(request: Request, customer_id: uuid.UUID) -> Response:
    """Membership (tier, balance, points to the next tier), ledger newest first, rewards."""
    with signed_in(request) as page:
        return _loyalty(page, customers.get_customer(page.db, page.actor, customer_id))


@router.post("/customers/{customer_id}/loyalty/enrol")
def enrol(request: Request, customer_id: uuid.UUID, form: VerifiedForm) -> Response:
    with signed_in(request) as page:
        customer = customers.get_customer(page.db, page.actor, customer_id)
        code = text_value(form, "referral_code")
        draft, errors = _validated(
            EnrollIn, {"customer_id": customer.id, "referral_code": code or None}
        )
        if draft is not None:
            member, refusal = attempt(
                page,
                lambda: loyalty.enroll(page.db, page.actor, customer.id, draft.referral_code),
            )
            if member is not None:
                page.web.update(flash=N_("Enrolled in the loyalty program."))
                return redirect(request, f"/customers/{customer.id}/loyalty")
            errors = refusal.errors
        return _loyalty(page, customer, enrol_errors=errors, referral_code=code)


def _posted_reward_id(form: FormData) -> uuid.UUID:
    try:
        return RedeemIn.model_validate({"reward_id": text_value(form, "reward_id")}).reward_id
    except ValidationError as exc:
        raise NotFound("reward", text_value(form, "reward_id")) from exc


def redeem_reward(page: Page, member: LoyaltyMember, form: FormData) -> str | None:
    """`loyalty.service.redeem` for the posted reward: None when done (and flashed), else the
    refusal (points, tier, stock, per-member limit) with nothing written.

    The staff member page and the customer's Loyalty tab both redeem through here.
    """
    reward_id = _posted_reward_id(form)
    try:
        with page.db.begin_nested():
            loyalty.redeem(page.db, page.actor, member.id, reward_id)
    except Conflict as exc:
        return exc.detail
    page.web.update(flash=N_("Reward redeemed."))
    return None


@router.post("/customers/{customer_id}/loyalty/redeem")
def redeem(request: Request, customer_id: uuid.UUID, form: VerifiedForm) -> Response:
    with signed_in(request) as page:
        customer = customers.get_customer(page.db, page.actor, customer_id)
        member = loyalty.member_of_customer(page.db, page.actor, customer.id)
        if member is None:
            raise NotFound("loyalty member", customer.id)
        refusal = redeem_reward(page, member, form)
        if refusal is not None:
            return _loyalty(page, customer, refusal=refusal, status_code=409)
        return redirect(request, f"/customers/{customer.id}/loyalty")
