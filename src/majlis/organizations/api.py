"""Thin routes over the organizations service: contacts, projects, contact points."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Response, status

from majlis.core.http import Context
from majlis.core.pagination import DEFAULT_LIMIT, MAX_LIMIT, Page
from majlis.organizations import service
from majlis.organizations.models import Contact, ProjectStatus
from majlis.organizations.schemas import (
    ArchiveOut,
    ContactCreate,
    ContactOut,
    ContactPage,
    ContactPointIn,
    ContactPointOut,
    ContactUpdate,
    ConversionOut,
    ConvertToContactIn,
    ProjectCreate,
    ProjectOut,
    ProjectPage,
    ProjectUpdate,
)

router = APIRouter(prefix="/api/v1", tags=["organizations"])
Limit = Annotated[int, Query(ge=1, le=MAX_LIMIT)]
NO_CONTENT = status.HTTP_204_NO_CONTENT


@router.post(
    "/organizations/{organization_id}/contacts",
    response_model=ContactOut,
    status_code=status.HTTP_201_CREATED,
)
def create_contact(ctx: Context, organization_id: uuid.UUID, body: ContactCreate) -> ContactOut:
    return ContactOut.model_validate(
        service.create_contact(ctx.session, ctx.actor, organization_id, body)
    )


@router.get("/organizations/{organization_id}/contacts", response_model=ContactPage)
def organization_contacts(
    ctx: Context,
    organization_id: uuid.UUID,
    q: str | None = None,
    cursor: str | None = None,
    limit: Limit = DEFAULT_LIMIT,
) -> ContactPage:
    service.get_organization(ctx.session, ctx.actor, organization_id)
    filters = service.ContactFilters(organization_id, q)
    page = service.list_contacts(ctx.session, ctx.actor, filters, cursor=cursor, limit=limit)
    return _contact_page(page)


@router.get("/contacts", response_model=ContactPage, summary="Search contacts (keyset pages)")
def list_contacts(
    ctx: Context,
    organization_id: uuid.UUID | None = None,
    q: str | None = None,
    include_archived: bool = False,
    cursor: str | None = None,
    limit: Limit = DEFAULT_LIMIT,
) -> ContactPage:
    filters = service.ContactFilters(organization_id, q, include_archived)
    page = service.list_contacts(ctx.session, ctx.actor, filters, cursor=cursor, limit=limit)
    return _contact_page(page)


def _contact_page(page: Page[Contact]) -> ContactPage:
    return ContactPage(
        items=[ContactOut.model_validate(c) for c in page.items], next_cursor=page.next_cursor
    )


@router.get("/contacts/{contact_id}", response_model=ContactOut)
def get_contact(ctx: Context, contact_id: uuid.UUID) -> ContactOut:
    return ContactOut.model_validate(service.get_contact(ctx.session, ctx.actor, contact_id))


@router.patch("/contacts/{contact_id}", response_model=ContactOut)
def update_contact(ctx: Context, contact_id: uuid.UUID, body: ContactUpdate) -> ContactOut:
    return ContactOut.model_validate(
        service.update_contact(ctx.session, ctx.actor, contact_id, body)
    )


@router.delete("/contacts/{contact_id}", status_code=NO_CONTENT, summary="Archive a contact")
def archive_contact(ctx: Context, contact_id: uuid.UUID) -> Response:
    service.archive_contact(ctx.session, ctx.actor, contact_id)
    return Response(status_code=NO_CONTENT)


@router.post(
    "/organizations/{organization_id}/projects",
    response_model=ProjectOut,
    status_code=status.HTTP_201_CREATED,
)
def create_project(ctx: Context, organization_id: uuid.UUID, body: ProjectCreate) -> ProjectOut:
    return ProjectOut.model_validate(
        service.create_project(ctx.session, ctx.actor, organization_id, body)
    )


@router.get("/projects", response_model=ProjectPage, summary="List projects (keyset pages)")
def list_projects(
    ctx: Context,
    organization_id: uuid.UUID | None = None,
    status: ProjectStatus | None = None,
    q: str | None = None,
    include_archived: bool = False,
    cursor: str | None = None,
    limit: Limit = DEFAULT_LIMIT,
) -> ProjectPage:
    filters = service.ProjectFilters(organization_id, status, q, include_archived)
    page = service.list_projects(ctx.session, ctx.actor, filters, cursor=cursor, limit=limit)
    return ProjectPage(
        items=[ProjectOut.model_validate(p) for p in page.items], next_cursor=page.next_cursor
    )


@router.get("/projects/{project_id}", response_model=ProjectOut)
def get_project(ctx: Context, project_id: uuid.UUID) -> ProjectOut:
    return ProjectOut.model_validate(service.get_project(ctx.session, ctx.actor, project_id))


@router.patch("/projects/{project_id}", response_model=ProjectOut)
def update_project(ctx: Context, project_id: uuid.UUID, body: ProjectUpdate) -> ProjectOut:
    return ProjectOut.model_validate(
        service.update_project(ctx.session, ctx.actor, project_id, body)
    )


@router.delete("/projects/{project_id}", status_code=NO_CONTENT, summary="Archive a project")
def archive_project(ctx: Context, project_id: uuid.UUID) -> Response:
    service.archive_project(ctx.session, ctx.actor, project_id)
    return Response(status_code=NO_CONTENT)


@router.post(
    "/projects/{project_id}/contact-points",
    response_model=ContactPointOut,
    status_code=status.HTTP_201_CREATED,
)
def add_contact_point(ctx: Context, project_id: uuid.UUID, body: ContactPointIn) -> ContactPointOut:
    return ContactPointOut.model_validate(
        service.add_contact_point(ctx.session, ctx.actor, project_id, body)
    )


@router.get("/projects/{project_id}/contact-points", response_model=list[ContactPointOut])
def list_contact_points(ctx: Context, project_id: uuid.UUID) -> list[ContactPointOut]:
    points = service.list_contact_points(ctx.session, ctx.actor, project_id)
    return [ContactPointOut.model_validate(point) for point in points]


@router.delete("/projects/{project_id}/contact-points/{point_id}", status_code=NO_CONTENT)
def remove_contact_point(ctx: Context, project_id: uuid.UUID, point_id: uuid.UUID) -> Response:
    service.remove_contact_point(ctx.session, ctx.actor, project_id, point_id)
    return Response(status_code=NO_CONTENT)


@router.delete(
    "/organizations/{organization_id}",
    response_model=ArchiveOut,
    summary="Delete an organization; refused while it has projects unless archive_all=true",
)
def delete_organization(
    ctx: Context, organization_id: uuid.UUID, archive_all: bool = False
) -> ArchiveOut:
    contacts, projects = service.delete_organization(
        ctx.session, ctx.actor, organization_id, archive_all=archive_all
    )
    return ArchiveOut(
        organization_id=organization_id, contacts_archived=contacts, projects_archived=projects
    )


@router.post(
    "/customers/{customer_id}/convert-to-contact",
    response_model=ConversionOut,
    summary="Make an individual a contact of an organization (the organization becomes the "
    "customer; conversations move with it)",
)
def convert_to_contact(
    ctx: Context, customer_id: uuid.UUID, body: ConvertToContactIn
) -> ConversionOut:
    organization, contact, moved = service.convert_to_contact(
        ctx.session, ctx.actor, customer_id, body
    )
    return ConversionOut(
        organization_id=organization.id,
        contact=ContactOut.model_validate(contact),
        conversations_moved=moved,
    )
