"""Companies (the tenants), users, memberships and API tokens."""

from __future__ import annotations

import uuid
from datetime import datetime, time

from sqlalchemy import (
    Boolean,
    DateTime,
    Enum,
    ForeignKeyConstraint,
    Integer,
    LargeBinary,
    String,
    Text,
    Time,
    func,
)
from sqlalchemy.dialects.postgresql import ARRAY, UUID
from sqlalchemy.orm import Mapped, mapped_column

from majlis.core.ids import new_id
from majlis.core.models import Base, TenantMixin
from majlis.core.permissions import Role

role_enum = Enum(Role, name="member_role", values_callable=lambda e: [m.value for m in e])


class Company(Base):
    __tablename__ = "companies"

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(Text)
    name_ar: Mapped[str | None] = mapped_column(Text)
    country: Mapped[str] = mapped_column(String(2), server_default="AE")
    default_currency: Mapped[str] = mapped_column(String(3), server_default="AED")
    time_zone: Mapped[str] = mapped_column(Text, server_default="Asia/Dubai")
    default_language: Mapped[str] = mapped_column(String(2), server_default="en")
    # ISO weekdays Mon=0 .. Sun=6; UAE moved to a Monday–Friday week in 2022.
    working_days: Mapped[list[int]] = mapped_column(ARRAY(Integer), server_default="{0,1,2,3,4}")
    work_starts: Mapped[time] = mapped_column(Time, server_default="09:00")
    work_ends: Mapped[time] = mapped_column(Time, server_default="17:00")
    retention_days: Mapped[int] = mapped_column(Integer, server_default="730")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class User(Base):
    """A person who signs in; global, because one person may work for several companies."""

    __tablename__ = "users"

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True, default=new_id)
    email: Mapped[str] = mapped_column(Text)
    full_name: Mapped[str | None] = mapped_column(Text)
    password_hash: Mapped[str | None] = mapped_column(Text)
    is_active: Mapped[bool] = mapped_column(Boolean, server_default="true")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class Membership(Base):
    """A user's role in one company."""

    __tablename__ = "memberships"
    __table_args__ = (
        ForeignKeyConstraint(["company_id"], ["companies.id"]),
        ForeignKeyConstraint(["user_id"], ["users.id"]),
    )

    company_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    user_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    role: Mapped[Role] = mapped_column(role_enum)
    is_active: Mapped[bool] = mapped_column(Boolean, server_default="true")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class ApiToken(TenantMixin, Base):
    """A bearer token; only its SHA-256 is stored, the token itself is shown once."""

    __tablename__ = "api_tokens"
    __table_args__ = (
        ForeignKeyConstraint(
            ["company_id", "user_id"], ["memberships.company_id", "memberships.user_id"]
        ),
    )

    user_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    name: Mapped[str] = mapped_column(Text)
    token_hash: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    last_used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
