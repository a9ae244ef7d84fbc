"""An organization's contacts (people), its projects and who to talk to about each project."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum

from sqlalchemy import (
    Boolean,
    Date,
    DateTime,
    Enum,
    ForeignKeyConstraint,
    Index,
    Numeric,
    String,
    Text,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import UUID
from sqlalchemy.orm import Mapped, mapped_column

from majlis.core.models import Base, TenantMixin, Timestamps


class ProjectStatus(StrEnum):
    PLANNED = "planned"
    ACTIVE = "active"
    ON_HOLD = "on_hold"
    COMPLETED = "completed"
    CANCELLED = "cancelled"


class ContactPointRole(StrEnum):
    DECISION_MAKER = "decision_maker"
    BILLING = "billing"
    TECHNICAL = "technical"
    OPERATIONS = "operations"
    PROCUREMENT = "procurement"
    OTHER = "other"


def pg_enum(enum: type[StrEnum], name: str) -> Enum:
    return Enum(enum, name=name, values_callable=lambda e: [m.value for m in e])


def _customer_fk(column: str) -> ForeignKeyConstraint:
    return ForeignKeyConstraint(["company_id", column], ["customers.company_id", "customers.id"])


def _member_fk(column: str) -> ForeignKeyConstraint:
    return ForeignKeyConstraint(
        ["company_id", column], ["memberships.company_id", "memberships.user_id"]
    )


class Contact(TenantMixin, Timestamps, Base):
    """A person at an organization (a customer of kind `organization`)."""

    __tablename__ = "contacts"
    __table_args__ = (
        _customer_fk("organization_id"),
        _customer_fk("converted_from_customer_id"),
        _member_fk("created_by"),
        UniqueConstraint("company_id", "organization_id", "id", name="uq_contacts_organization"),
        Index(
            "uq_contacts_primary",
            "company_id",
            "organization_id",
            unique=True,
            postgresql_where=text("is_primary_contact AND archived_at IS NULL"),
        ),
        Index("ix_contacts_by_name", "company_id", "organization_id", "name", "id"),
        Index("ix_contacts_email", "company_id", "email"),
        Index("ix_contacts_phone", "company_id", "phone"),
        Index("ix_contacts_converted_from", "company_id", "converted_from_customer_id"),
    )

    organization_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    name: Mapped[str] = mapped_column(Text)
    name_ar: Mapped[str | None] = mapped_column(Text)
    email: Mapped[str | None] = mapped_column(Text)
    phone: Mapped[str | None] = mapped_column(Text)
    role_title: Mapped[str | None] = mapped_column(Text)
    description: Mapped[str | None] = mapped_column(Text)
    is_primary_contact: Mapped[bool] = mapped_column(Boolean, server_default="false")
    converted_from_customer_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    archived_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_by: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))


class Project(TenantMixin, Timestamps, Base):
    """Work for an organization: status, value with currency, dates and an owner."""

    __tablename__ = "projects"
    __table_args__ = (
        _customer_fk("organization_id"),
        _member_fk("owner_id"),
        _member_fk("created_by"),
        UniqueConstraint("company_id", "organization_id", "id", name="uq_projects_organization"),
        Index("ix_projects_by_name", "company_id", "organization_id", "name", "id"),
        Index("ix_projects_owner", "company_id", "owner_id"),
    )

    organization_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    name: Mapped[str] = mapped_column(Text)
    status: Mapped[ProjectStatus] = mapped_column(
        pg_enum(ProjectStatus, "project_status"), server_default="planned"
    )
    value: Mapped[Decimal | None] = mapped_column(Numeric(14, 2))
    currency: Mapped[str] = mapped_column(String(3), server_default="AED")
    start_date: Mapped[date | None] = mapped_column(Date)
    end_date: Mapped[date | None] = mapped_column(Date)
    owner_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    description: Mapped[str | None] = mapped_column(Text)
    archived_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_by: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))


class ProjectContactPoint(TenantMixin, Base):
    """A contact's role on a project; both keys carry the organization, so they must agree."""

    __tablename__ = "project_contact_points"
    __table_args__ = (
        ForeignKeyConstraint(
            ["company_id", "organization_id", "project_id"],
            ["projects.company_id", "projects.organization_id", "projects.id"],
            ondelete="CASCADE",
        ),
        ForeignKeyConstraint(
            ["company_id", "organization_id", "contact_id"],
            ["contacts.company_id", "contacts.organization_id", "contacts.id"],
            ondelete="CASCADE",
        ),
        UniqueConstraint(
            "company_id", "project_id", "contact_id", "role", name="uq_project_contact_points_role"
        ),
        Index(
            "uq_project_contact_points_primary",
            "company_id",
            "project_id",
            unique=True,
            postgresql_where=text("is_primary"),
        ),
        Index("ix_project_contact_points_contact", "company_id", "organization_id", "contact_id"),
    )

    organization_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    project_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    contact_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    role: Mapped[ContactPointRole] = mapped_column(pg_enum(ContactPointRole, "contact_point_role"))
    is_primary: Mapped[bool] = mapped_column(Boolean, server_default="false")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
