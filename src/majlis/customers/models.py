"""The customer record: an individual or an organization, in English and Arabic."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum

from sqlalchemy import (
    Boolean,
    Computed,
    Date,
    DateTime,
    Enum,
    FetchedValue,
    ForeignKeyConstraint,
    Integer,
    Numeric,
    String,
    Text,
)
from sqlalchemy.dialects.postgresql import ARRAY, UUID
from sqlalchemy.orm import Mapped, mapped_column

from majlis.core.models import Base, TenantMixin, Timestamps


class CustomerKind(StrEnum):
    INDIVIDUAL = "individual"
    ORGANIZATION = "organization"


class BusinessType(StrEnum):
    LLC = "LLC"
    FREE_ZONE = "FREE_ZONE"
    SOLE_PROPRIETORSHIP = "SOLE_PROPRIETORSHIP"
    PARTNERSHIP = "PARTNERSHIP"
    BRANCH = "BRANCH"
    PUBLIC_SHAREHOLDING_COMPANY = "PUBLIC_SHAREHOLDING_COMPANY"
    PRIVATE_SHAREHOLDING_COMPANY = "PRIVATE_SHAREHOLDING_COMPANY"
    GOVERNMENT_ENTITY = "GOVERNMENT_ENTITY"


class CustomerSource(StrEnum):
    MANUAL = "manual"
    CHAT = "chat"
    IMPORT = "import"


class Language(StrEnum):
    EN = "en"
    AR = "ar"
    TH = "th"


def _pg_enum(enum: type[StrEnum], name: str) -> Enum:
    return Enum(enum, name=name, values_callable=lambda e: [m.value for m in e])


class Customer(TenantMixin, Timestamps, Base):
    __tablename__ = "customers"
    __table_args__ = (
        ForeignKeyConstraint(
            ["company_id", "owner_id"], ["memberships.company_id", "memberships.user_id"]
        ),
        ForeignKeyConstraint(
            ["company_id", "created_by"], ["memberships.company_id", "memberships.user_id"]
        ),
    )

    kind: Mapped[CustomerKind] = mapped_column(_pg_enum(CustomerKind, "customer_kind"))
    name: Mapped[str] = mapped_column(Text)
    name_ar: Mapped[str | None] = mapped_column(Text)
    business_name: Mapped[str | None] = mapped_column(Text)
    business_name_ar: Mapped[str | None] = mapped_column(Text)
    email: Mapped[str | None] = mapped_column(Text)
    phone: Mapped[str | None] = mapped_column(Text)
    secondary_emails: Mapped[list[str]] = mapped_column(ARRAY(Text), server_default="{}")
    secondary_phones: Mapped[list[str]] = mapped_column(ARRAY(Text), server_default="{}")
    address_line1: Mapped[str | None] = mapped_column(Text)
    address_line2: Mapped[str | None] = mapped_column(Text)
    city: Mapped[str | None] = mapped_column(Text)
    emirate: Mapped[str | None] = mapped_column(Text)
    postal_code: Mapped[str | None] = mapped_column(Text)
    country: Mapped[str | None] = mapped_column(String(2))
    address_ar: Mapped[str | None] = mapped_column(Text)
    date_of_birth: Mapped[date | None] = mapped_column(Date)
    trn: Mapped[str | None] = mapped_column(String(15))
    thai_tax_id: Mapped[str | None] = mapped_column(String(13))
    business_type: Mapped[BusinessType | None] = mapped_column(
        _pg_enum(BusinessType, "business_type")
    )
    preferred_language: Mapped[Language] = mapped_column(
        _pg_enum(Language, "language_code"), server_default="en"
    )
    risk_score: Mapped[Decimal | None] = mapped_column(Numeric(3, 1))
    outstanding_balance: Mapped[Decimal] = mapped_column(Numeric(14, 2), server_default="0")
    # Receivables (0009_oldest_open_due): kept exact by the invoices trigger, like the balance.
    oldest_open_due_date: Mapped[date | None] = mapped_column(Date)
    currency: Mapped[str] = mapped_column(String(3), server_default="AED")
    is_active: Mapped[bool] = mapped_column(Boolean, server_default="true")
    source: Mapped[CustomerSource] = mapped_column(
        _pg_enum(CustomerSource, "customer_source"), server_default="manual"
    )
    external_ref: Mapped[str | None] = mapped_column(Text)
    tags: Mapped[list[str]] = mapped_column(ARRAY(Text), server_default="{}")
    notes: Mapped[str | None] = mapped_column(Text)
    owner_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    created_by: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    last_seen_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    deleted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    version: Mapped[int] = mapped_column(Integer, server_default="1")
    # relationships (issue 3): conversation count, name match keys, privacy erasure.
    conversation_count: Mapped[int] = mapped_column(Integer, server_default="0")
    erased_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    pseudonym: Mapped[str | None] = mapped_column(Text)
    match_name: Mapped[str | None] = mapped_column(  # kept by a trigger when names change
        Text, server_default=FetchedValue(), server_onupdate=FetchedValue()
    )
    match_name_ar: Mapped[str | None] = mapped_column(
        Text, server_default=FetchedValue(), server_onupdate=FetchedValue()
    )
    # search (issue 4): normalised copies kept by PostgreSQL (migration 0004_search).
    name_norm: Mapped[str | None] = mapped_column(Text, Computed("majlis_normalize_text(name)"))
    name_ar_norm: Mapped[str | None] = mapped_column(
        Text, Computed("majlis_normalize_text(name_ar)")
    )
    business_name_norm: Mapped[str | None] = mapped_column(
        Text, Computed("majlis_normalize_text(business_name)")
    )
    business_name_ar_norm: Mapped[str | None] = mapped_column(
        Text, Computed("majlis_normalize_text(business_name_ar)")
    )
    phone_digits: Mapped[str | None] = mapped_column(
        Text, Computed("regexp_replace(phone, '[^0-9]', '', 'g')")
    )
    # merges (issue 5): the survivor this customer was merged into (soft merge, migration
    # 0008_merges); set means the record is hidden and its id redirects to the survivor.
    merged_into_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))

    # Server-generated values (defaults, the name triggers' columns, computed columns) come
    # back with the INSERT or UPDATE itself (RETURNING) instead of a reload afterwards.
    __mapper_args__ = {"version_id_col": version, "eager_defaults": True}
