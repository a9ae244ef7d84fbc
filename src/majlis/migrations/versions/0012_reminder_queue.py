"""The reminder queue at a million customers: waiting reminders in priority order.

The reminder queue page lists the reminders planned and not yet sent, highest
priority first, a page at a time. `ix_customer_consolidated_reminders_pending`
holds the same rows but in customer order, so a page would sort every waiting
reminder of the company (fifty thousand after a run at a million customers).
`ix_customer_consolidated_reminders_queue` is partial on the same predicate, in
page order, so a page reads only the rows it shows.

Revision ID: 0012_reminder_queue
Revises: 0011_kpi_days
"""

import sqlalchemy as sa
from alembic import op

revision = "0012_reminder_queue"
down_revision = "0011_kpi_days"
branch_labels = None
depends_on = None
# What this migration locks on tables that may already be large, and the way around it.
LOCKS = (
    "customer_consolidated_reminders: CREATE INDEX holds a SHARE lock (reads go on; runs "
    "and deliveries wait) while it builds, well under a second as only waiting reminders "
    "are indexed. Concurrent path: CREATE INDEX CONCURRENTLY "
    "ix_customer_consolidated_reminders_queue outside a transaction, then stamp this revision."
)


def upgrade() -> None:
    op.create_index(
        "ix_customer_consolidated_reminders_queue",
        "customer_consolidated_reminders",
        ["company_id", "priority_score", "id"],
        postgresql_where=sa.text("delivery_status IN ('scheduled', 'sending')"),
    )


def downgrade() -> None:
    op.drop_index(
        "ix_customer_consolidated_reminders_queue", table_name="customer_consolidated_reminders"
    )
