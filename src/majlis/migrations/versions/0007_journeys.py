"""Journeys: workflow stages, per-customer state and history, events, tasks, automation rules.

Revision ID: 0007_journeys
Revises: 0002_customers
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import ARRAY, JSONB, UUID

from majlis.core.schema import APP_ROLE, enable_tenant_rls, grant_to_app

revision = "0007_journeys"
down_revision = "0002_customers"
branch_labels = ("journeys",)
depends_on = None
# What this migration locks on tables that may already be large, and the way around it.
LOCKS = "none: creates new tables, their indexes and functions only; existing tables are untouched."

ENUMS = {
    "task_kind": ("call", "message", "visit", "send_quote", "collect_payment"),
    "task_status": ("open", "claimed", "done", "cancelled"),
}
APPEND_ONLY = "SELECT, INSERT"
TABLES = (
    "rule_firings",
    "automation_rules",
    "tasks",
    "workflow_events",
    "workflow_actions",
    "workflow_state",
    "workflow_stages",
)


def _uuid(name: str, **kwargs: object) -> sa.Column:
    return sa.Column(name, UUID(as_uuid=True), **kwargs)  # type: ignore[arg-type]


def _now(name: str) -> sa.Column:
    return sa.Column(
        name, sa.DateTime(timezone=True), nullable=False, server_default=sa.text("now()")
    )


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


def _member_fk(table: str, column: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["company_id", column],
        ["memberships.company_id", "memberships.user_id"],
        name=f"fk_{table}_{column}",
    )


def _create_stages() -> None:
    op.create_table(
        "workflow_stages",
        _company(),
        _uuid("id", primary_key=True),
        sa.Column("key", sa.Text, nullable=False),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("name_ar", sa.Text),
        sa.Column("position", sa.Integer, nullable=False),
        sa.Column("next_stages", ARRAY(sa.Text), nullable=False, server_default="{}"),
        sa.Column("is_closed", sa.Boolean, nullable=False, server_default="false"),
        _now("created_at"),
        _now("updated_at"),
        sa.UniqueConstraint("company_id", "key", name="uq_workflow_stages_company_id_key"),
        sa.CheckConstraint("key ~ '^[a-z][a-z0-9_]*$'", name="ck_workflow_stages_key_format"),
    )
    op.create_index("ix_workflow_stages_position", "workflow_stages", ["company_id", "position"])


def _create_state_and_history() -> None:
    op.create_table(
        "workflow_state",
        _company(),
        _uuid("customer_id", primary_key=True),
        sa.Column("stage_key", sa.Text, nullable=False),
        _uuid("assigned_to"),
        sa.Column("entered_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("deal_value", sa.Numeric(14, 2), nullable=False, server_default="0"),
        _now("updated_at"),
        sa.Column("version", sa.Integer, nullable=False, server_default="1"),
        _customer_fk("workflow_state"),
        _member_fk("workflow_state", "assigned_to"),
        sa.ForeignKeyConstraint(
            ["company_id", "stage_key"],
            ["workflow_stages.company_id", "workflow_stages.key"],
            name="fk_workflow_state_stage",
        ),
        sa.CheckConstraint("deal_value >= 0", name="ck_workflow_state_deal_value_positive"),
    )
    op.create_index(
        "ix_workflow_state_stage", "workflow_state", ["company_id", "stage_key", "entered_at"]
    )
    op.create_table(
        "workflow_actions",
        _company(),
        _uuid("id", primary_key=True),
        _uuid("customer_id", nullable=False),
        sa.Column("from_stage", sa.Text),
        sa.Column("to_stage", sa.Text, nullable=False),
        sa.Column("actor_kind", sa.Text, nullable=False),
        _uuid("actor_id"),
        sa.Column("reason", sa.Text),
        _now("occurred_at"),
        _customer_fk("workflow_actions"),
    )
    op.create_index(
        "ix_workflow_actions_customer",
        "workflow_actions",
        ["company_id", "customer_id", "occurred_at", "id"],
    )
    op.create_table(
        "workflow_events",
        _company(),
        _uuid("id", primary_key=True),
        _uuid("customer_id"),
        sa.Column("kind", sa.Text, nullable=False),
        sa.Column("payload", JSONB, nullable=False, server_default="{}"),
        _now("occurred_at"),
        sa.Column("depth", sa.Integer, nullable=False, server_default="0"),
        sa.Column("rule_chain", ARRAY(UUID(as_uuid=True)), nullable=False, server_default="{}"),
        _uuid("causation_id"),
        sa.Column("processed_at", sa.DateTime(timezone=True)),
        _customer_fk("workflow_events"),
    )
    op.create_index(
        "ix_workflow_events_customer",
        "workflow_events",
        ["company_id", "customer_id", "occurred_at", "id"],
    )
    op.create_index(
        "ix_workflow_events_pending",
        "workflow_events",
        ["company_id", "id"],
        postgresql_where=sa.text("processed_at IS NULL"),
    )


def _create_tasks() -> None:
    op.create_table(
        "tasks",
        _company(),
        _uuid("id", primary_key=True),
        _uuid("customer_id"),
        sa.Column("kind", sa.Enum(*ENUMS["task_kind"], name="task_kind"), nullable=False),
        sa.Column("title", sa.Text, nullable=False),
        sa.Column("notes", sa.Text),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("deal_value", sa.Numeric(14, 2), nullable=False, server_default="0"),
        sa.Column("priority", sa.Integer, nullable=False),
        sa.Column("rank_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column(
            "status",
            sa.Enum(*ENUMS["task_status"], name="task_status"),
            nullable=False,
            server_default="open",
        ),
        _uuid("assigned_to"),
        sa.Column("claimed_at", sa.DateTime(timezone=True)),
        sa.Column("completed_at", sa.DateTime(timezone=True)),
        _uuid("created_by"),
        _uuid("rule_id"),
        _now("created_at"),
        _now("updated_at"),
        _customer_fk("tasks"),
        _member_fk("tasks", "assigned_to"),
        sa.CheckConstraint("priority BETWEEN 0 AND 100", name="ck_tasks_priority_range"),
        sa.CheckConstraint("btrim(title) <> ''", name="ck_tasks_title_not_blank"),
    )
    # The queue: a user's (or the unassigned pool's) open tasks in priority order.
    op.create_index(
        "ix_tasks_queue",
        "tasks",
        ["company_id", "assigned_to", "rank_at", "id"],
        postgresql_where=sa.text("status = 'open'"),
    )
    op.create_index(
        "ix_tasks_pool",
        "tasks",
        ["company_id", "rank_at", "id"],
        postgresql_where=sa.text("status = 'open' AND assigned_to IS NULL"),
    )
    # Least-loaded assignment counts a user's open work; round robin finds their latest task.
    op.create_index("ix_tasks_assignee_status", "tasks", ["company_id", "assigned_to", "status"])
    op.create_index("ix_tasks_assignee_recent", "tasks", ["company_id", "assigned_to", "id"])
    op.create_index("ix_tasks_customer", "tasks", ["company_id", "customer_id", "created_at"])


def _create_rules() -> None:
    op.create_table(
        "automation_rules",
        _company(),
        _uuid("id", primary_key=True),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("trigger", sa.Text, nullable=False),
        sa.Column("definition", JSONB, nullable=False),
        sa.Column("is_active", sa.Boolean, nullable=False, server_default="true"),
        _uuid("created_by"),
        _now("created_at"),
        _now("updated_at"),
        sa.Column("version", sa.Integer, nullable=False, server_default="1"),
    )
    op.create_index(
        "ix_automation_rules_trigger",
        "automation_rules",
        ["company_id", "trigger"],
        postgresql_where=sa.text("is_active"),
    )
    op.create_table(
        "rule_firings",
        _company(),
        _uuid("id", primary_key=True),
        _uuid("rule_id", nullable=False),
        _uuid("event_id", nullable=False),
        _now("fired_at"),
        sa.Column("outcome", JSONB, nullable=False, server_default="{}"),
        sa.UniqueConstraint(
            "company_id", "rule_id", "event_id", name="uq_rule_firings_company_id_rule_id_event_id"
        ),
        sa.ForeignKeyConstraint(
            ["company_id", "rule_id"],
            ["automation_rules.company_id", "automation_rules.id"],
            name="fk_rule_firings_rule",
        ),
    )


def _create_worker_function() -> None:
    # The worker (app role, one tenant at a time) asks which companies have events waiting.
    op.execute(
        """
        CREATE FUNCTION majlis_journeys_companies()
        RETURNS TABLE (company_id uuid)
        LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public AS
        $$ SELECT DISTINCT e.company_id FROM workflow_events e WHERE e.processed_at IS NULL $$
        """
    )
    op.execute("REVOKE ALL ON FUNCTION majlis_journeys_companies() FROM PUBLIC")
    op.execute(f"GRANT EXECUTE ON FUNCTION majlis_journeys_companies() TO {APP_ROLE}")


def upgrade() -> None:
    _create_stages()
    _create_state_and_history()
    _create_tasks()
    _create_rules()
    for table in TABLES:
        enable_tenant_rls(table)
    for table in ("workflow_stages", "workflow_state", "tasks", "automation_rules"):
        grant_to_app(table)
    grant_to_app("workflow_events", "SELECT, INSERT, UPDATE")
    for table in ("workflow_actions", "rule_firings"):
        grant_to_app(table, APPEND_ONLY)
    _create_worker_function()


def downgrade() -> None:
    op.execute("DROP FUNCTION majlis_journeys_companies()")
    for table in TABLES:
        op.drop_table(table)
    for name in reversed(ENUMS):
        op.execute(f"DROP TYPE {name}")
