"""Saved filters: a user's named customer-list filters, optionally shared with the company.

Revision ID: 0009_saved_filters
Revises: 0008_customers_perf
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB, UUID

from majlis.core.schema import enable_tenant_rls, grant_to_app

revision = "0009_saved_filters"
down_revision = "0008_customers_perf"
branch_labels = None
depends_on = None
# What this migration locks on tables that may already be large, and the way around it.
LOCKS = "none: creates one new table and its indexes only; existing tables are untouched."


def upgrade() -> None:
    op.create_table(
        "saved_filters",
        sa.Column(
            "company_id", UUID(as_uuid=True), sa.ForeignKey("companies.id"), primary_key=True
        ),
        sa.Column("id", UUID(as_uuid=True), primary_key=True),
        sa.Column("user_id", UUID(as_uuid=True), nullable=False),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("query", JSONB, nullable=False, server_default=sa.text("'{}'::jsonb")),
        sa.Column("shared", sa.Boolean, nullable=False, server_default=sa.text("false")),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            nullable=False,
            server_default=sa.text("now()"),
        ),
        sa.ForeignKeyConstraint(
            ["company_id", "user_id"],
            ["memberships.company_id", "memberships.user_id"],
            name="fk_saved_filters_user",
            ondelete="CASCADE",
        ),
        sa.UniqueConstraint("company_id", "user_id", "name", name="uq_saved_filters_user_name"),
    )
    # The list page reads a user's own filters (the unique key above) and the company's
    # shared ones (this index).
    op.create_index(
        "ix_saved_filters_shared",
        "saved_filters",
        ["company_id", "name"],
        postgresql_where=sa.text("shared"),
    )
    enable_tenant_rls("saved_filters")
    grant_to_app("saved_filters", "SELECT, INSERT, DELETE")


def downgrade() -> None:
    op.drop_table("saved_filters")
