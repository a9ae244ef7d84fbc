"""Core: tenant context, companies, users, memberships, API tokens, audit log, outbox.

Revision ID: 0001_core
Revises:
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import ARRAY, JSONB, UUID

from majlis.core.schema import APP_ROLE, enable_tenant_rls, grant_to_app

revision = "0001_core"
down_revision = None
branch_labels = None
depends_on = None
# What this migration locks on tables that may already be large, and the way around it.
LOCKS = "none: creates new tables, their indexes and functions only; existing tables are untouched."

ROLES = ("owner", "manager", "sales", "analyst")


def _now() -> sa.TextClause:
    return sa.text("now()")


def upgrade() -> None:
    op.execute(
        f"""
        DO $$ BEGIN
          IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '{APP_ROLE}') THEN
            CREATE ROLE {APP_ROLE} NOLOGIN NOBYPASSRLS;
          END IF;
        END $$
        """
    )
    op.execute(f"GRANT USAGE ON SCHEMA public TO {APP_ROLE}")
    op.execute(f"GRANT SELECT ON alembic_version TO {APP_ROLE}")
    op.execute(
        """
        CREATE FUNCTION majlis_current_company() RETURNS uuid
        LANGUAGE sql STABLE PARALLEL SAFE AS
        $$ SELECT NULLIF(current_setting('majlis.company_id', true), '')::uuid $$
        """
    )
    member_role = sa.Enum(*ROLES, name="member_role")

    op.create_table(
        "companies",
        sa.Column("id", UUID(as_uuid=True), primary_key=True),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("name_ar", sa.Text),
        sa.Column("country", sa.String(2), nullable=False, server_default="AE"),
        sa.Column("default_currency", sa.String(3), nullable=False, server_default="AED"),
        sa.Column("time_zone", sa.Text, nullable=False, server_default="Asia/Dubai"),
        sa.Column("default_language", sa.String(2), nullable=False, server_default="en"),
        sa.Column("working_days", ARRAY(sa.Integer), nullable=False, server_default="{0,1,2,3,4}"),
        sa.Column("work_starts", sa.Time, nullable=False, server_default="09:00"),
        sa.Column("work_ends", sa.Time, nullable=False, server_default="17:00"),
        sa.Column("retention_days", sa.Integer, nullable=False, server_default="730"),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=_now()),
        sa.CheckConstraint("retention_days > 0", name="retention_positive"),
        sa.CheckConstraint("work_starts < work_ends", name="working_hours_order"),
    )
    enable_tenant_rls("companies", key="id")
    grant_to_app("companies", "SELECT, INSERT, UPDATE")

    op.create_table(
        "users",
        sa.Column("id", UUID(as_uuid=True), primary_key=True),
        sa.Column("email", sa.Text, nullable=False),
        sa.Column("full_name", sa.Text),
        sa.Column("password_hash", sa.Text),
        sa.Column("is_active", sa.Boolean, nullable=False, server_default="true"),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=_now()),
    )
    op.create_index("uq_users_email", "users", [sa.text("lower(email)")], unique=True)
    grant_to_app("users", "SELECT, INSERT, UPDATE")

    op.create_table(
        "memberships",
        sa.Column(
            "company_id", UUID(as_uuid=True), sa.ForeignKey("companies.id"), primary_key=True
        ),
        sa.Column("user_id", UUID(as_uuid=True), sa.ForeignKey("users.id"), primary_key=True),
        sa.Column("role", member_role, nullable=False),
        sa.Column("is_active", sa.Boolean, nullable=False, server_default="true"),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=_now()),
    )
    op.create_index("ix_memberships_user", "memberships", ["company_id", "user_id", "role"])
    enable_tenant_rls("memberships")
    grant_to_app("memberships", "SELECT, INSERT, UPDATE")

    op.create_table(
        "api_tokens",
        sa.Column("company_id", UUID(as_uuid=True), primary_key=True),
        sa.Column("id", UUID(as_uuid=True), primary_key=True),
        sa.Column("user_id", UUID(as_uuid=True), nullable=False),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("token_hash", sa.LargeBinary, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=_now()),
        sa.Column("last_used_at", sa.DateTime(timezone=True)),
        sa.Column("revoked_at", sa.DateTime(timezone=True)),
        sa.ForeignKeyConstraint(
            ["company_id", "user_id"], ["memberships.company_id", "memberships.user_id"]
        ),
        sa.UniqueConstraint("company_id", "token_hash", name="uq_api_tokens_hash"),
    )
    enable_tenant_rls("api_tokens")
    grant_to_app("api_tokens", "SELECT, INSERT, UPDATE")

    op.create_table(
        "audit_log",
        sa.Column("company_id", UUID(as_uuid=True), primary_key=True),
        sa.Column("id", UUID(as_uuid=True), primary_key=True),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False, server_default=_now()),
        sa.Column("actor_kind", sa.Text, nullable=False),
        sa.Column("actor_id", UUID(as_uuid=True)),
        sa.Column("action", sa.Text, nullable=False),
        sa.Column("entity_type", sa.Text, nullable=False),
        sa.Column("entity_id", UUID(as_uuid=True), nullable=False),
        sa.Column("before", JSONB),
        sa.Column("after", JSONB),
        sa.Column("request_id", sa.Text),
        sa.ForeignKeyConstraint(["company_id"], ["companies.id"]),
    )
    op.create_index(
        "ix_audit_log_entity",
        "audit_log",
        ["company_id", "entity_type", "entity_id", "occurred_at", "id"],
    )
    enable_tenant_rls("audit_log")
    # Append-only: the application may add and read history, never rewrite it.
    grant_to_app("audit_log", "SELECT, INSERT")

    op.create_table(
        "outbox_events",
        sa.Column("company_id", UUID(as_uuid=True), primary_key=True),
        sa.Column("id", UUID(as_uuid=True), primary_key=True),
        sa.Column("topic", sa.Text, nullable=False),
        sa.Column("payload", JSONB, nullable=False),
        sa.Column("dedupe_key", sa.Text, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=_now()),
        sa.Column(
            "available_at", sa.DateTime(timezone=True), nullable=False, server_default=_now()
        ),
        sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
        sa.Column("delivered_at", sa.DateTime(timezone=True)),
        sa.Column("last_error", sa.Text),
        sa.ForeignKeyConstraint(["company_id"], ["companies.id"]),
        sa.UniqueConstraint("company_id", "dedupe_key", name="uq_outbox_events_dedupe_key"),
    )
    op.create_index(
        "ix_outbox_events_pending",
        "outbox_events",
        ["company_id", "available_at"],
        postgresql_where=sa.text("delivered_at IS NULL"),
    )
    enable_tenant_rls("outbox_events")
    grant_to_app("outbox_events", "SELECT, INSERT, UPDATE")

    # Sign-in needs a user's companies before any tenant is chosen; this narrow
    # function (run as the owner) answers exactly that and nothing more.
    op.execute(
        """
        CREATE FUNCTION majlis_user_memberships(p_user_id uuid)
        RETURNS TABLE (company_id uuid, company_name text, role member_role)
        LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public AS
        $$ SELECT m.company_id, c.name, m.role
             FROM memberships m JOIN companies c ON c.id = m.company_id
            WHERE m.user_id = p_user_id AND m.is_active
            ORDER BY c.name $$
        """
    )
    op.execute("REVOKE ALL ON FUNCTION majlis_user_memberships(uuid) FROM PUBLIC")
    op.execute(f"GRANT EXECUTE ON FUNCTION majlis_user_memberships(uuid) TO {APP_ROLE}")


def downgrade() -> None:
    op.execute("DROP FUNCTION majlis_user_memberships(uuid)")
    for table in ("outbox_events", "audit_log", "api_tokens", "memberships", "users", "companies"):
        op.drop_table(table)
    op.execute("DROP TYPE member_role")
    op.execute("DROP FUNCTION majlis_current_company()")
