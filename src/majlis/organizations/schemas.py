"""Shapes of the organizations HTTP API: contacts, projects, project contact points."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from majlis.customers.schemas import Currency, Email, Name, ShortText
from majlis.organizations.models import ContactPointRole, ProjectStatus

Phone = Annotated[str, StringConstraints(max_length=40)]
LongText = Annotated[str, StringConstraints(max_length=5_000)]
Money = Annotated[Decimal, Field(ge=0, max_digits=14, decimal_places=2)]


class ContactFields(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    name: Name | None = None
    name_ar: ShortText | None = None
    email: Email | None = None
    phone: Phone | None = None
    role_title: ShortText | None = None
    description: LongText | None = None
    is_primary_contact: bool | None = None


class ContactCreate(ContactFields):
    name: Name
    is_primary_contact: bool = False


class ContactUpdate(ContactFields):
    """PATCH body: only the fields sent change; promoting a contact demotes the old primary."""


class ContactOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    organization_id: uuid.UUID
    name: str
    name_ar: str | None
    email: str | None
    phone: str | None
    role_title: str | None
    description: str | None
    is_primary_contact: bool
    converted_from_customer_id: uuid.UUID | None
    archived_at: datetime | None
    created_at: datetime
    updated_at: datetime


class ContactPage(BaseModel):
    items: list[ContactOut]
    next_cursor: str | None


class ProjectFields(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    name: Name | None = None
    status: ProjectStatus | None = None
    value: Money | None = None
    currency: Currency | None = None
    start_date: date | None = None
    end_date: date | None = None
    owner_id: uuid.UUID | None = None
    description: LongText | None = None

    @model_validator(mode="after")
    def _dates_in_order(self) -> ProjectFields:
        if self.start_date and self.end_date and self.end_date < self.start_date:
            raise ValueError("end_date must not be before start_date")
        return self


class ProjectCreate(ProjectFields):
    name: Name


class ProjectUpdate(ProjectFields):
    """PATCH body: only the fields sent change."""


class ProjectOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    organization_id: uuid.UUID
    name: str
    status: ProjectStatus
    value: Decimal | None
    currency: str
    start_date: date | None
    end_date: date | None
    owner_id: uuid.UUID | None
    description: str | None
    archived_at: datetime | None
    created_at: datetime
    updated_at: datetime


class ProjectPage(BaseModel):
    items: list[ProjectOut]
    next_cursor: str | None


class ContactPointIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    contact_id: uuid.UUID
    role: ContactPointRole
    is_primary: bool = False


class ContactPointOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    project_id: uuid.UUID
    contact_id: uuid.UUID
    role: ContactPointRole
    is_primary: bool
    created_at: datetime


class NewOrganization(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    name: Name
    name_ar: ShortText | None = None


class ConvertToContactIn(BaseModel):
    """Make an individual customer a contact of an organization (existing or new)."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    organization_id: uuid.UUID | None = None
    new_organization: NewOrganization | None = None
    role_title: ShortText | None = None
    is_primary_contact: bool = False

    @model_validator(mode="after")
    def _one_organization(self) -> ConvertToContactIn:
        if (self.organization_id is None) == (self.new_organization is None):
            raise ValueError("give exactly one of organization_id or new_organization")
        return self


class ConversionOut(BaseModel):
    organization_id: uuid.UUID
    contact: ContactOut
    conversations_moved: int


class ArchiveOut(BaseModel):
    organization_id: uuid.UUID
    contacts_archived: int
    projects_archived: int
