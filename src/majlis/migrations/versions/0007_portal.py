"""Customer portal: one-time sign-in links and portal sessions.

Revision ID: 0007_portal
Revises: 0007_followups
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import UUID

from majlis.core.schema import enable_tenant_rls, grant_to_app

revision = "0007_portal"
down_revision = "0007_followups"
branch_labels = None
depends_on = None
# What this migration locks on tables that may already be large, and the way around it.
LOCKS = "none: creates new tables, their indexes and functions only; existing tables are untouched."

TABLES = ("portal_sessions", "portal_links")


def _table(name: str, *extra: sa.Column) -> None:
    op.create_table(
        name,
        sa.Column(
            "company_id", UUID(as_uuid=True), sa.ForeignKey("companies.id"), primary_key=True
        ),
        sa.Column("id", UUID(as_uuid=True), primary_key=True),
        sa.Column("customer_id", UUID(as_uuid=True), nullable=False),
        sa.Column("token_hash", sa.LargeBinary, nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            nullable=False,
            server_default=sa.text("now()"),
        ),
        *extra,
        sa.ForeignKeyConstraint(
            ["company_id", "customer_id"],
            ["customers.company_id", "customers.id"],
            name=f"fk_{name}_customer",
            ondelete="CASCADE",
        ),
        sa.UniqueConstraint("company_id", "token_hash", name=f"uq_{name}_company_id_token_hash"),
    )


def upgrade() -> None:
    _table("portal_links", sa.Column("used_at", sa.DateTime(timezone=True)))
    _table("portal_sessions", sa.Column("revoked_at", sa.DateTime(timezone=True)))
    for table in TABLES:
        enable_tenant_rls(table)
        grant_to_app(table, "SELECT, INSERT, UPDATE")


def downgrade() -> None:
    for table in TABLES:
        op.drop_table(table)
