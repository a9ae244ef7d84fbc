"""Follow-ups: bilingual templates, customer contact preferences, executions.

Revision ID: 0007_followups
Revises: 0007_notifications
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import ENUM, UUID

from majlis.core.schema import APP_ROLE, enable_tenant_rls, grant_to_app

revision = "0007_followups"
down_revision = "0007_notifications"
branch_labels = None
depends_on = None
# What this migration locks on tables that may already be large, and the way around it.
LOCKS = "none: creates new tables, their indexes and functions only; existing tables are untouched."

ENUMS = {
    "contact_channel": ("email", "sms", "whatsapp", "phone"),
    "followup_status": ("sent", "scheduled", "skipped", "failed"),
}
TABLES = ("followup_executions", "contact_preferences", "followup_templates")


def _enum(name: str) -> ENUM:
    """A column type for an enum created once up front (two tables share contact_channel)."""
    return ENUM(*ENUMS[name], name=name, create_type=False)


def _company() -> sa.Column:
    return sa.Column(
        "company_id", UUID(as_uuid=True), sa.ForeignKey("companies.id"), primary_key=True
    )


def _customer_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["company_id", "customer_id"],
        ["customers.company_id", "customers.id"],
        name=f"fk_{table}_customer",
    )


def upgrade() -> None:
    for name, labels in ENUMS.items():
        ENUM(*labels, name=name).create(op.get_bind(), checkfirst=False)
    op.create_table(
        "followup_templates",
        _company(),
        sa.Column("id", UUID(as_uuid=True), primary_key=True),
        sa.Column("key", sa.Text, nullable=False),
        sa.Column("subject_en", sa.Text),
        sa.Column("body_en", sa.Text, nullable=False),
        sa.Column("subject_ar", sa.Text),
        sa.Column("body_ar", sa.Text, nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            nullable=False,
            server_default=sa.text("now()"),
        ),
        sa.UniqueConstraint("company_id", "key", name="uq_followup_templates_company_id_key"),
    )
    op.create_table(
        "contact_preferences",
        _company(),
        sa.Column("customer_id", UUID(as_uuid=True), primary_key=True),
        sa.Column("channel", _enum("contact_channel")),
        sa.Column("language", sa.Text),
        sa.Column("quiet_start", sa.Time),
        sa.Column("quiet_end", sa.Time),
        sa.Column("opted_out", sa.Boolean, nullable=False, server_default="false"),
        sa.Column("marketing_consent", sa.Boolean, nullable=False, server_default="false"),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            nullable=False,
            server_default=sa.text("now()"),
        ),
        _customer_fk("contact_preferences"),
        sa.CheckConstraint(
            "(quiet_start IS NULL) = (quiet_end IS NULL)", name="ck_contact_preferences_quiet"
        ),
    )
    op.create_table(
        "followup_executions",
        _company(),
        sa.Column("id", UUID(as_uuid=True), primary_key=True),
        sa.Column("customer_id", UUID(as_uuid=True), nullable=False),
        sa.Column("template_key", sa.Text, nullable=False),
        sa.Column("channel", _enum("contact_channel")),
        sa.Column("language", sa.Text, nullable=False),
        sa.Column("status", _enum("followup_status"), nullable=False),
        sa.Column("scheduled_for", sa.DateTime(timezone=True), nullable=False),
        sa.Column("result", sa.Text),
        sa.Column("subject", sa.Text),
        sa.Column("body", sa.Text),
        sa.Column("dedupe_key", sa.Text),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            nullable=False,
            server_default=sa.text("now()"),
        ),
        _customer_fk("followup_executions"),
    )
    op.create_index(
        "ix_followup_executions_customer",
        "followup_executions",
        ["company_id", "customer_id", "created_at"],
    )
    op.create_index(
        "uq_followup_executions_dedupe",
        "followup_executions",
        ["company_id", "dedupe_key"],
        unique=True,
        postgresql_where=sa.text("dedupe_key IS NOT NULL"),
    )
    for table in TABLES:
        enable_tenant_rls(table)
        grant_to_app(table)
    # The worker (app role, one tenant at a time) asks which companies have follow-ups due.
    op.execute(
        """
        CREATE FUNCTION majlis_followup_companies()
        RETURNS TABLE (company_id uuid)
        LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public AS
        $$ SELECT DISTINCT f.company_id FROM followup_executions f
            WHERE f.status = 'scheduled' AND f.scheduled_for <= now() $$
        """
    )
    op.execute("REVOKE ALL ON FUNCTION majlis_followup_companies() FROM PUBLIC")
    op.execute(f"GRANT EXECUTE ON FUNCTION majlis_followup_companies() TO {APP_ROLE}")


def downgrade() -> None:
    op.execute("DROP FUNCTION majlis_followup_companies()")
    for table in TABLES:
        op.drop_table(table)
    for name in ENUMS:
        op.execute(f"DROP TYPE {name}")
