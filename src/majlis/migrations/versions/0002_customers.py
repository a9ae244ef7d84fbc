"""Customers: individuals and organizations, bilingual, keyed and indexed by company.

Revision ID: 0002_customers
Revises: 0001_core
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import ARRAY, UUID

from majlis.core.schema import enable_tenant_rls, grant_to_app

revision = "0002_customers"
down_revision = "0001_core"
branch_labels = None
depends_on = None
# What this migration locks on tables that may already be large, and the way around it.
LOCKS = "none: creates new tables, their indexes and functions only; existing tables are untouched."

ENUMS = {
    "customer_kind": ("individual", "organization"),
    "business_type": (
        "LLC",
        "FREE_ZONE",
        "SOLE_PROPRIETORSHIP",
        "PARTNERSHIP",
        "BRANCH",
        "PUBLIC_SHAREHOLDING_COMPANY",
        "PRIVATE_SHAREHOLDING_COMPANY",
        "GOVERNMENT_ENTITY",
    ),
    "customer_source": ("manual", "chat", "import"),
    "language_code": ("en", "ar", "th"),
}
LIVE = sa.text("deleted_at IS NULL")


def _enum(name: str) -> sa.Enum:
    return sa.Enum(*ENUMS[name], name=name)


def upgrade() -> None:
    op.create_table(
        "customers",
        sa.Column(
            "company_id", UUID(as_uuid=True), sa.ForeignKey("companies.id"), primary_key=True
        ),
        sa.Column("id", UUID(as_uuid=True), primary_key=True),
        sa.Column("kind", _enum("customer_kind"), nullable=False),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("name_ar", sa.Text),
        sa.Column("business_name", sa.Text),
        sa.Column("business_name_ar", sa.Text),
        sa.Column("email", sa.Text),
        sa.Column("phone", sa.Text),
        sa.Column("secondary_emails", ARRAY(sa.Text), nullable=False, server_default="{}"),
        sa.Column("secondary_phones", ARRAY(sa.Text), nullable=False, server_default="{}"),
        sa.Column("address_line1", sa.Text),
        sa.Column("address_line2", sa.Text),
        sa.Column("city", sa.Text),
        sa.Column("emirate", sa.Text),
        sa.Column("postal_code", sa.Text),
        sa.Column("country", sa.String(2)),
        sa.Column("address_ar", sa.Text),
        sa.Column("date_of_birth", sa.Date),
        sa.Column("trn", sa.String(15)),
        sa.Column("thai_tax_id", sa.String(13)),
        sa.Column("business_type", _enum("business_type")),
        sa.Column(
            "preferred_language", _enum("language_code"), nullable=False, server_default="en"
        ),
        sa.Column("risk_score", sa.Numeric(3, 1)),
        sa.Column("outstanding_balance", sa.Numeric(14, 2), nullable=False, server_default="0"),
        sa.Column("currency", sa.String(3), nullable=False, server_default="AED"),
        sa.Column("is_active", sa.Boolean, nullable=False, server_default="true"),
        sa.Column("source", _enum("customer_source"), nullable=False, server_default="manual"),
        sa.Column("external_ref", sa.Text),
        sa.Column("tags", ARRAY(sa.Text), nullable=False, server_default="{}"),
        sa.Column("notes", sa.Text),
        sa.Column("owner_id", UUID(as_uuid=True)),
        sa.Column("created_by", UUID(as_uuid=True)),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            nullable=False,
            server_default=sa.text("now()"),
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            nullable=False,
            server_default=sa.text("now()"),
        ),
        sa.Column("last_seen_at", sa.DateTime(timezone=True)),
        sa.Column("deleted_at", sa.DateTime(timezone=True)),
        sa.Column("version", sa.Integer, nullable=False, server_default="1"),
        sa.ForeignKeyConstraint(
            ["company_id", "owner_id"],
            ["memberships.company_id", "memberships.user_id"],
            name="fk_customers_owner",
        ),
        sa.ForeignKeyConstraint(
            ["company_id", "created_by"],
            ["memberships.company_id", "memberships.user_id"],
            name="fk_customers_created_by",
        ),
        sa.CheckConstraint("risk_score BETWEEN 0 AND 10", name="risk_score_range"),
        sa.CheckConstraint("btrim(name) <> ''", name="name_not_blank"),
    )
    # Identifiers are unique among live customers; a deleted one frees its TRN.
    op.create_index(
        "uq_customers_trn",
        "customers",
        ["company_id", "trn"],
        unique=True,
        postgresql_where=sa.text("trn IS NOT NULL AND deleted_at IS NULL"),
    )
    op.create_index(
        "uq_customers_external_ref",
        "customers",
        ["company_id", "external_ref"],
        unique=True,
        postgresql_where=sa.text("external_ref IS NOT NULL AND deleted_at IS NULL"),
    )
    op.create_index(
        "ix_customers_email", "customers", ["company_id", "email"], postgresql_where=LIVE
    )
    op.create_index(
        "ix_customers_phone", "customers", ["company_id", "phone"], postgresql_where=LIVE
    )
    op.create_index(
        "ix_customers_secondary_phones",
        "customers",
        ["company_id", "secondary_phones"],
        postgresql_using="gin",
        postgresql_where=LIVE,
    )
    op.create_index(
        "ix_customers_secondary_emails",
        "customers",
        ["company_id", "secondary_emails"],
        postgresql_using="gin",
        postgresql_where=LIVE,
    )
    op.create_index(
        "ix_customers_tags",
        "customers",
        ["company_id", "tags"],
        postgresql_using="gin",
        postgresql_where=LIVE,
    )
    # Keyset listing: one index per sort order, each ending in id for a total order.
    op.create_index(
        "ix_customers_by_name", "customers", ["company_id", "name", "id"], postgresql_where=LIVE
    )
    op.create_index(
        "ix_customers_by_created",
        "customers",
        ["company_id", "created_at", "id"],
        postgresql_where=LIVE,
    )
    op.create_index(
        "ix_customers_by_last_seen",
        "customers",
        ["company_id", sa.text("coalesce(last_seen_at, '-infinity'::timestamptz)"), "id"],
        postgresql_where=LIVE,
    )
    op.create_index(
        "ix_customers_owner", "customers", ["company_id", "owner_id"], postgresql_where=LIVE
    )
    enable_tenant_rls("customers")
    grant_to_app("customers")


def downgrade() -> None:
    op.drop_table("customers")
    for name in reversed(ENUMS):
        op.execute(f"DROP TYPE {name}")
