"""Marketing consent per channel with its log, and erasure requests with their deadline."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    Boolean,
    DateTime,
    ForeignKeyConstraint,
    Index,
    Text,
    UniqueConstraint,
    func,
)
from sqlalchemy.dialects.postgresql import JSONB, UUID
from sqlalchemy.orm import Mapped, mapped_column

from majlis.core.models import Base, TenantMixin
from majlis.organizations.models import pg_enum


class ConsentChannel(StrEnum):
    EMAIL = "email"
    SMS = "sms"
    WHATSAPP = "whatsapp"
    PHONE = "phone"
    POST = "post"


class ErasureStatus(StrEnum):
    PENDING = "pending"
    COMPLETED = "completed"
    REJECTED = "rejected"


def _customer_fk(ondelete: str | None = "CASCADE") -> ForeignKeyConstraint:
    return ForeignKeyConstraint(
        ["company_id", "customer_id"],
        ["customers.company_id", "customers.id"],
        ondelete=ondelete,
    )


class CustomerConsent(TenantMixin, Base):
    """The current marketing consent and opt-out of one customer on one channel."""

    __tablename__ = "customer_consents"
    __table_args__ = (
        _customer_fk(),
        UniqueConstraint(
            "company_id", "customer_id", "channel", name="uq_customer_consents_channel"
        ),
    )

    customer_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    channel: Mapped[ConsentChannel] = mapped_column(pg_enum(ConsentChannel, "consent_channel"))
    marketing_consent: Mapped[bool] = mapped_column(Boolean)
    opted_out: Mapped[bool] = mapped_column(Boolean)
    updated_by: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class ConsentLogEntry(TenantMixin, Base):
    """Every consent change, with where it came from (append-only)."""

    __tablename__ = "consent_log"
    __table_args__ = (
        _customer_fk(),
        Index("ix_consent_log_customer", "company_id", "customer_id", "occurred_at", "id"),
    )

    customer_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    channel: Mapped[ConsentChannel] = mapped_column(pg_enum(ConsentChannel, "consent_channel"))
    marketing_consent: Mapped[bool] = mapped_column(Boolean)
    opted_out: Mapped[bool] = mapped_column(Boolean)
    source: Mapped[str] = mapped_column(Text)
    note: Mapped[str | None] = mapped_column(Text)
    actor_kind: Mapped[str] = mapped_column(Text)
    actor_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    occurred_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )


class ErasureRequest(TenantMixin, Base):
    """A data subject's request to be erased: who asked, why, when, and the answer's deadline.

    After erasure the customer row stays (anonymised, named by `pseudonym`) so records the
    law requires to keep — invoices — still join `customers` by id without personal data.
    """

    __tablename__ = "erasure_requests"
    __table_args__ = (
        ForeignKeyConstraint(
            ["company_id", "customer_id"], ["customers.company_id", "customers.id"]
        ),
        Index("ix_erasure_requests_customer", "company_id", "customer_id"),
        Index("ix_erasure_requests_deadline", "company_id", "status", "deadline_at"),
    )

    customer_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    reason: Mapped[str] = mapped_column(Text)
    requested_by: Mapped[str] = mapped_column(Text)
    status: Mapped[ErasureStatus] = mapped_column(
        pg_enum(ErasureStatus, "erasure_status"), server_default="pending"
    )
    received_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )
    deadline_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    recorded_by: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    completed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    completed_by: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    pseudonym: Mapped[str | None] = mapped_column(Text)
    outcome: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
