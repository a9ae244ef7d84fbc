"""Sweeps and email follow-ups: once-per-occurrence journey events, the email send state.

- `workflow_events.occurrence` names the occurrence a scheduled sweep found (a
  birthday's year, the start of a silent period, a points crossing); the
  partial unique key makes a sweep run twice, or by two workers at once, record
  it once.
- `followup_executions.queued_at / sending_started_at / sent_at` carry an
  email follow-up from the outbox through the SMTP send exactly once.
- `majlis_sweep_companies()` tells the worker (app role, one tenant at a time)
  which companies have active rules on a swept trigger.

Revision ID: 0008_sweeps
Revises: 0007_portal
"""

import sqlalchemy as sa
from alembic import op

from majlis.core.schema import APP_ROLE

revision = "0008_sweeps"
down_revision = "0007_portal"
branch_labels = None
depends_on = None
# What this migration locks on tables that may already be large, and the way around it.
LOCKS = (
    "workflow_events, followup_executions: ADD COLUMN (nullable, no default) is "
    "catalog-only under a brief ACCESS EXCLUSIVE; the partial unique index on "
    "workflow_events is built with CREATE INDEX, blocking writes to it while it "
    "builds. Concurrent path: CREATE UNIQUE INDEX CONCURRENTLY outside the "
    "transaction, then stamp the revision."
)

SEND_COLUMNS = ("queued_at", "sending_started_at", "sent_at")


def upgrade() -> None:
    op.add_column("workflow_events", sa.Column("occurrence", sa.Text))
    op.create_index(
        "uq_workflow_events_occurrence",
        "workflow_events",
        ["company_id", "customer_id", "kind", "occurrence"],
        unique=True,
        postgresql_where=sa.text("occurrence IS NOT NULL"),
    )
    for column in SEND_COLUMNS:
        op.add_column("followup_executions", sa.Column(column, sa.DateTime(timezone=True)))
    op.execute(
        """
        CREATE FUNCTION majlis_sweep_companies()
        RETURNS TABLE (company_id uuid)
        LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public AS
        $$ SELECT DISTINCT r.company_id FROM automation_rules r
            WHERE r.is_active
              AND r.trigger IN ('birthday', 'no_contact', 'points_threshold',
                                'invoice_overdue', 'conversation_received') $$
        """
    )
    op.execute("REVOKE ALL ON FUNCTION majlis_sweep_companies() FROM PUBLIC")
    op.execute(f"GRANT EXECUTE ON FUNCTION majlis_sweep_companies() TO {APP_ROLE}")


def downgrade() -> None:
    op.execute("DROP FUNCTION majlis_sweep_companies()")
    for column in reversed(SEND_COLUMNS):
        op.drop_column("followup_executions", column)
    op.drop_index("uq_workflow_events_occurrence", table_name="workflow_events")
    op.drop_column("workflow_events", "occurrence")
