"""Organization rules: contacts (one primary), projects, contact points of the same
organization, archiving everything together, and converting an individual into a contact.

Every function takes a session scoped to the actor's company and the actor; queries filter
by company as well as relying on row-level security.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Select, func, literal, or_, select, tuple_, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from majlis.accounts.service import company_region
from majlis.conversations.models import Conversation, LinkSource
from majlis.core import audit
from majlis.core.errors import Conflict, NotFound, ValidationFailed
from majlis.core.pagination import DEFAULT_LIMIT, Page, decode_cursor, encode_cursor
from majlis.core.permissions import CUSTOMERS, Action, Actor, require
from majlis.customers.deletion import before_customer_delete
from majlis.customers.models import Customer, CustomerKind
from majlis.customers.schemas import CustomerCreate
from majlis.customers.service import (
    create_customer,
    delete_customer,
    get_customer,
    normalise_phone,
)
from majlis.organizations.models import Contact, ContactPointRole, Project, ProjectContactPoint
from majlis.organizations.schemas import (
    ContactCreate,
    ContactFields,
    ContactOut,
    ContactPointIn,
    ContactUpdate,
    ConvertToContactIn,
    ProjectCreate,
    ProjectOut,
    ProjectUpdate,
)


# ----- organizations -------------------------------------------------------------------
def get_organization(session: Session, actor: Actor, organization_id: uuid.UUID) -> Customer:
    """A live customer of kind organization; an individual is refused with a clear reason."""
    customer = get_customer(session, actor, organization_id)
    if customer.kind is not CustomerKind.ORGANIZATION:
        raise ValidationFailed.single(
            "organization_id",
            f"customer {customer.id} is an individual; contacts and projects belong to"
            " organizations",
        )
    return customer


def _editable_organization(session: Session, actor: Actor, organization_id: uuid.UUID) -> Customer:
    organization = get_organization(session, actor, organization_id)
    require(actor, CUSTOMERS, Action.EDIT, organization)
    return organization


def _now() -> datetime:
    return datetime.now(UTC)


# ----- contacts ----------------------------------------------------------------------
def _contact_values(session: Session, actor: Actor, draft: ContactFields) -> dict[str, Any]:
    values = draft.model_dump(exclude_unset=True)
    if values.get("phone"):
        region = company_region(session, actor.company_id).country
        phone = normalise_phone(values["phone"], region)
        if phone is None:
            raise ValidationFailed.single("phone", f"not a valid phone number (region {region})")
        values["phone"] = phone
    if "name" in values and values["name"] is None:
        raise ValidationFailed.single("name", "cannot be removed")
    return values


def _demote_primary_contact(session: Session, actor: Actor, organization_id: uuid.UUID) -> None:
    """Clear the current primary first: the unique index allows one primary at any moment."""
    session.execute(
        update(Contact)
        .where(
            Contact.company_id == actor.company_id,
            Contact.organization_id == organization_id,
            Contact.is_primary_contact.is_(True),
        )
        .values(is_primary_contact=False, updated_at=func.now())
        .execution_options(synchronize_session="fetch")
    )


def snapshot_contact(contact: Contact) -> dict[str, Any]:
    return ContactOut.model_validate(contact).model_dump(mode="json")


def create_contact(
    session: Session, actor: Actor, organization_id: uuid.UUID, draft: ContactCreate
) -> Contact:
    """Add a person to an organization; making them primary demotes the previous primary."""
    _editable_organization(session, actor, organization_id)
    values = _contact_values(session, actor, draft)
    if values.get("is_primary_contact"):
        _demote_primary_contact(session, actor, organization_id)
    contact = Contact(
        company_id=actor.company_id,
        organization_id=organization_id,
        created_by=actor.user_id,
        **values,
    )
    session.add(contact)
    session.flush()
    session.refresh(contact)
    audit.record(
        session, actor, "contact.created", "contact", contact.id, after=snapshot_contact(contact)
    )
    return contact


def get_contact(session: Session, actor: Actor, contact_id: uuid.UUID) -> Contact:
    require(actor, CUSTOMERS, Action.VIEW)
    contact = session.get(Contact, (actor.company_id, contact_id))
    if contact is None:
        raise NotFound("contact", contact_id)
    return contact


def update_contact(
    session: Session, actor: Actor, contact_id: uuid.UUID, patch: ContactUpdate
) -> Contact:
    """Change a contact; `is_primary_contact: true` promotes it and demotes the old primary."""
    contact = get_contact(session, actor, contact_id)
    _editable_organization(session, actor, contact.organization_id)
    values = _contact_values(session, actor, patch)
    before = snapshot_contact(contact)
    if values.get("is_primary_contact") and not contact.is_primary_contact:
        _demote_primary_contact(session, actor, contact.organization_id)
    for name, value in values.items():
        setattr(contact, name, value)
    session.flush()
    session.refresh(contact)
    after = snapshot_contact(contact)
    changed = audit.changed_fields(before, after)
    if changed:
        audit.record(
            session,
            actor,
            "contact.updated",
            "contact",
            contact.id,
            before={name: before[name] for name in changed},
            after=changed,
        )
    return contact


def archive_contact(session: Session, actor: Actor, contact_id: uuid.UUID) -> None:
    """Archive a contact and drop its project contact points (nothing points at a ghost)."""
    contact = get_contact(session, actor, contact_id)
    _editable_organization(session, actor, contact.organization_id)
    if contact.archived_at is not None:
        return
    points = session.scalars(
        select(ProjectContactPoint).where(
            ProjectContactPoint.company_id == actor.company_id,
            ProjectContactPoint.contact_id == contact.id,
        )
    ).all()
    for point in points:
        session.delete(point)
    contact.archived_at, contact.is_primary_contact = _now(), False
    session.flush()
    audit.record(
        session,
        actor,
        "contact.archived",
        "contact",
        contact.id,
        after={"archived_at": contact.archived_at, "contact_points_removed": len(points)},
    )


@dataclass(frozen=True)
class ContactFilters:
    organization_id: uuid.UUID | None = None
    q: str | None = None
    include_archived: bool = False


def _name_keyset(
    query: Select[Any], name_column: Any, id_column: Any, cursor: str | None, limit: int
) -> Select[Any]:
    query = query.order_by(name_column, id_column).limit(limit + 1)
    if cursor:
        last_name, last_id = decode_cursor(cursor, 2)
        query = query.where(
            tuple_(name_column, id_column) > tuple_(literal(last_name), literal(uuid.UUID(last_id)))
        )
    return query


def _name_page(rows: list[Any], limit: int) -> Page[Any]:
    next_cursor = None
    if len(rows) > limit:
        last = rows[limit - 1]
        next_cursor = encode_cursor([last.name, str(last.id)])
    return Page(rows[:limit], next_cursor)


def _search(term: str, *columns: Any) -> Any:
    pattern = "%" + term.strip().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
    return or_(*(column.ilike(pattern) for column in columns))


def list_contacts(
    session: Session,
    actor: Actor,
    filters: ContactFilters,
    *,
    cursor: str | None = None,
    limit: int = DEFAULT_LIMIT,
) -> Page[Contact]:
    """Contacts by name, optionally of one organization and matching a search term."""
    require(actor, CUSTOMERS, Action.VIEW)
    query = select(Contact).where(Contact.company_id == actor.company_id)
    if filters.organization_id is not None:
        query = query.where(Contact.organization_id == filters.organization_id)
    if not filters.include_archived:
        query = query.where(Contact.archived_at.is_(None))
    if filters.q:
        query = query.where(
            _search(filters.q, Contact.name, Contact.name_ar, Contact.email, Contact.role_title)
        )
    rows = list(session.scalars(_name_keyset(query, Contact.name, Contact.id, cursor, limit)))
    return _name_page(rows, limit)


# ----- projects ----------------------------------------------------------------------
def snapshot_project(project: Project) -> dict[str, Any]:
    return ProjectOut.model_validate(project).model_dump(mode="json")


def _project_write(session: Session, project: Project) -> None:
    savepoint = session.begin_nested()
    try:
        session.flush()
    except IntegrityError as exc:
        savepoint.rollback()
        if "fk_projects_owner" in str(exc.orig):
            raise ValidationFailed.single("owner_id", "is not a member of this company") from exc
        if "dates_in_order" in str(exc.orig):
            raise ValidationFailed.single("end_date", "must not be before start_date") from exc
        raise
    savepoint.commit()
    session.refresh(project)


def create_project(
    session: Session, actor: Actor, organization_id: uuid.UUID, draft: ProjectCreate
) -> Project:
    """Start a project for an organization (currency defaults to the company's)."""
    _editable_organization(session, actor, organization_id)
    values = draft.model_dump(exclude_unset=True)
    values.setdefault("currency", company_region(session, actor.company_id).currency)
    values.setdefault("owner_id", actor.user_id)
    project = Project(
        company_id=actor.company_id,
        organization_id=organization_id,
        created_by=actor.user_id,
        **values,
    )
    session.add(project)
    _project_write(session, project)
    audit.record(
        session, actor, "project.created", "project", project.id, after=snapshot_project(project)
    )
    return project


def get_project(session: Session, actor: Actor, project_id: uuid.UUID) -> Project:
    require(actor, CUSTOMERS, Action.VIEW)
    project = session.get(Project, (actor.company_id, project_id))
    if project is None:
        raise NotFound("project", project_id)
    return project


def update_project(
    session: Session, actor: Actor, project_id: uuid.UUID, patch: ProjectUpdate
) -> Project:
    project = get_project(session, actor, project_id)
    _editable_organization(session, actor, project.organization_id)
    values = patch.model_dump(exclude_unset=True)
    if "name" in values and values["name"] is None:
        raise ValidationFailed.single("name", "cannot be removed")
    before = snapshot_project(project)
    for name, value in values.items():
        setattr(project, name, value)
    _project_write(session, project)
    after = snapshot_project(project)
    changed = audit.changed_fields(before, after)
    if changed:
        audit.record(
            session,
            actor,
            "project.updated",
            "project",
            project.id,
            before={name: before[name] for name in changed},
            after=changed,
        )
    return project


def archive_project(session: Session, actor: Actor, project_id: uuid.UUID) -> None:
    project = get_project(session, actor, project_id)
    _editable_organization(session, actor, project.organization_id)
    if project.archived_at is None:
        project.archived_at = _now()
        session.flush()
        audit.record(
            session,
            actor,
            "project.archived",
            "project",
            project.id,
            after={"archived_at": project.archived_at},
        )


@dataclass(frozen=True)
class ProjectFilters:
    organization_id: uuid.UUID | None = None
    status: str | None = None
    q: str | None = None
    include_archived: bool = False


def list_projects(
    session: Session,
    actor: Actor,
    filters: ProjectFilters,
    *,
    cursor: str | None = None,
    limit: int = DEFAULT_LIMIT,
) -> Page[Project]:
    """Projects by name, optionally of one organization, by status, matching a term."""
    require(actor, CUSTOMERS, Action.VIEW)
    query = select(Project).where(Project.company_id == actor.company_id)
    if filters.organization_id is not None:
        query = query.where(Project.organization_id == filters.organization_id)
    if filters.status is not None:
        query = query.where(Project.status == filters.status)
    if not filters.include_archived:
        query = query.where(Project.archived_at.is_(None))
    if filters.q:
        query = query.where(_search(filters.q, Project.name, Project.description))
    rows = list(session.scalars(_name_keyset(query, Project.name, Project.id, cursor, limit)))
    return _name_page(rows, limit)


# ----- project contact points --------------------------------------------------------
def add_contact_point(
    session: Session, actor: Actor, project_id: uuid.UUID, draft: ContactPointIn
) -> ProjectContactPoint:
    """Attach a contact of the project's own organization with a role; one primary a project."""
    project = get_project(session, actor, project_id)
    _editable_organization(session, actor, project.organization_id)
    contact = session.get(Contact, (actor.company_id, draft.contact_id))
    if contact is None or contact.archived_at is not None:
        raise ValidationFailed.single("contact_id", f"no contact {draft.contact_id} exists")
    if contact.organization_id != project.organization_id:
        raise ValidationFailed.single(
            "contact_id",
            f"{contact.name} is a contact of another organization; a project's contact points"
            " must be people of its own organization",
        )
    if draft.is_primary:
        session.execute(
            update(ProjectContactPoint)
            .where(
                ProjectContactPoint.company_id == actor.company_id,
                ProjectContactPoint.project_id == project.id,
                ProjectContactPoint.is_primary.is_(True),
            )
            .values(is_primary=False)
            .execution_options(synchronize_session="fetch")
        )
    point = ProjectContactPoint(
        company_id=actor.company_id,
        organization_id=project.organization_id,
        project_id=project.id,
        contact_id=contact.id,
        role=ContactPointRole(draft.role),
        is_primary=draft.is_primary,
    )
    savepoint = session.begin_nested()
    try:
        session.add(point)
        session.flush()
    except IntegrityError as exc:
        savepoint.rollback()
        raise Conflict(f"{contact.name} already has the role {draft.role} on this project") from exc
    savepoint.commit()
    session.refresh(point)
    audit.record(
        session,
        actor,
        "project.contact_point_added",
        "project",
        project.id,
        after={"contact_id": contact.id, "role": point.role, "is_primary": point.is_primary},
    )
    return point


def list_contact_points(
    session: Session, actor: Actor, project_id: uuid.UUID
) -> list[ProjectContactPoint]:
    project = get_project(session, actor, project_id)
    return list(
        session.scalars(
            select(ProjectContactPoint)
            .where(
                ProjectContactPoint.company_id == actor.company_id,
                ProjectContactPoint.project_id == project.id,
            )
            .order_by(ProjectContactPoint.is_primary.desc(), ProjectContactPoint.id)
        )
    )


def remove_contact_point(
    session: Session, actor: Actor, project_id: uuid.UUID, point_id: uuid.UUID
) -> None:
    project = get_project(session, actor, project_id)
    _editable_organization(session, actor, project.organization_id)
    point = session.get(ProjectContactPoint, (actor.company_id, point_id))
    if point is None or point.project_id != project.id:
        raise NotFound("contact point", point_id)
    session.delete(point)
    session.flush()
    audit.record(
        session,
        actor,
        "project.contact_point_removed",
        "project",
        project.id,
        before={"contact_id": point.contact_id, "role": point.role},
    )


# ----- deleting an organization ------------------------------------------------------
def _live(model: type[Contact] | type[Project], organization_id: uuid.UUID, actor: Actor) -> Any:
    return (
        model.company_id == actor.company_id,
        model.organization_id == organization_id,
        model.archived_at.is_(None),
    )


def _archive_live(
    session: Session, actor: Actor, model: type[Contact] | type[Project], organization_id: uuid.UUID
) -> int:
    now = _now()
    values: dict[str, Any] = {"archived_at": now, "updated_at": now}
    if model is Contact:
        values["is_primary_contact"] = False
    result = session.execute(
        update(model)
        .where(*_live(model, organization_id, actor))
        .values(**values)
        .execution_options(synchronize_session="fetch")
    )
    return int(result.rowcount)  # type: ignore[attr-defined]


@before_customer_delete("organizations")
def archive_with_organization(
    session: Session, actor: Actor, customer: Customer, archive_all: bool
) -> dict[str, int]:
    """Before any customer delete: an organization takes its contacts along (archived), and
    its live projects refuse the delete unless `archive_all` archives them too."""
    if customer.kind is not CustomerKind.ORGANIZATION:
        return {}
    projects = session.scalar(select(func.count()).where(*_live(Project, customer.id, actor)))
    if projects and not archive_all:
        raise Conflict(
            f"{customer.name} has {projects} live project(s); archive them first or pass"
            " archive_all=true to archive the organization with its projects and contacts",
            projects=projects,
        )
    return {
        "contacts_archived": _archive_live(session, actor, Contact, customer.id),
        "projects_archived": _archive_live(session, actor, Project, customer.id),
    }


def delete_organization(
    session: Session, actor: Actor, organization_id: uuid.UUID, *, archive_all: bool
) -> tuple[int, int]:
    """Soft-delete an organization the way any customer is deleted (the guard above archives
    its contacts, and its projects with `archive_all`). Returns (contacts, projects)."""
    get_organization(session, actor, organization_id)
    archived = delete_customer(session, actor, organization_id, archive_all=archive_all)
    return archived["contacts_archived"], archived["projects_archived"]


# ----- the "organization becomes the customer" migration -----------------------------
def _target_organization(session: Session, actor: Actor, draft: ConvertToContactIn) -> Customer:
    if draft.organization_id is not None:
        return _editable_organization(session, actor, draft.organization_id)
    assert draft.new_organization is not None
    created, _ = create_customer(
        session,
        actor,
        CustomerCreate(
            kind=CustomerKind.ORGANIZATION,
            name=draft.new_organization.name,
            name_ar=draft.new_organization.name_ar,
        ),
    )
    return created


def convert_to_contact(
    session: Session, actor: Actor, individual_id: uuid.UUID, draft: ConvertToContactIn
) -> tuple[Customer, Contact, int]:
    """Turn an individual customer into a contact of an organization, history and all.

    The organization becomes the customer: the individual's conversations move to it
    (`link_source=migration`), the new contact remembers where it came from, and the
    individual is soft-deleted with an audit entry naming the contact — so its own audit
    trail and interactions stay reachable. Returns (organization, contact, moved).
    """
    individual = get_customer(session, actor, individual_id)
    require(actor, CUSTOMERS, Action.MERGE, individual)
    if individual.kind is not CustomerKind.INDIVIDUAL:
        raise ValidationFailed.single("customer_id", "only an individual can become a contact")
    organization = _target_organization(session, actor, draft)
    contact = create_contact(
        session,
        actor,
        organization.id,
        ContactCreate(
            name=individual.name,
            name_ar=individual.name_ar,
            email=individual.email,
            phone=individual.phone,
            role_title=draft.role_title,
            is_primary_contact=draft.is_primary_contact,
        ),
    )
    contact.converted_from_customer_id = individual.id
    moved = session.execute(
        update(Conversation)
        .where(
            Conversation.company_id == actor.company_id,
            Conversation.customer_id == individual.id,
        )
        .values(
            customer_id=organization.id,
            matched_contact_id=contact.id,
            link_source=LinkSource.MIGRATION,
            customer_linked_at=func.now(),
            match_reason="converted_to_contact",
        )
        .execution_options(synchronize_session=False)
    ).rowcount  # type: ignore[attr-defined]
    organization.conversation_count += moved
    organization.last_seen_at = max(
        (t for t in (organization.last_seen_at, individual.last_seen_at) if t), default=None
    )
    individual.conversation_count = 0
    individual.deleted_at = _now()
    session.flush()
    audit.record(
        session,
        actor,
        "customer.converted_to_contact",
        "customer",
        individual.id,
        after={"organization_id": organization.id, "contact_id": contact.id, "moved": moved},
    )
    audit.record(
        session,
        actor,
        "organization.contact_converted",
        "customer",
        organization.id,
        after={"from_customer_id": individual.id, "contact_id": contact.id, "moved": moved},
    )
    return organization, contact, int(moved)
