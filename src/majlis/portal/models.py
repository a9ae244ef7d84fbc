"""Customer portal credentials: one-time sign-in links and the sessions they open."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import DateTime, ForeignKeyConstraint, LargeBinary, UniqueConstraint, func
from sqlalchemy.dialects.postgresql import UUID
from sqlalchemy.orm import Mapped, mapped_column

from majlis.core.models import Base, TenantMixin


def _keys() -> tuple[ForeignKeyConstraint, UniqueConstraint]:
    return (
        ForeignKeyConstraint(
            ["company_id", "customer_id"],
            ["customers.company_id", "customers.id"],
            ondelete="CASCADE",
        ),
        UniqueConstraint("company_id", "token_hash"),
    )


class PortalLink(TenantMixin, Base):
    """A one-time link sent to the customer; only its SHA-256 is stored."""

    __tablename__ = "portal_links"
    __table_args__ = _keys()

    customer_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    token_hash: Mapped[bytes] = mapped_column(LargeBinary)
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class PortalSession(TenantMixin, Base):
    """A signed-in customer: the bearer token is `mjp_<company>_<secret>`."""

    __tablename__ = "portal_sessions"
    __table_args__ = _keys()

    customer_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    token_hash: Mapped[bytes] = mapped_column(LargeBinary)
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
