"""Receivables performance: recent contacts by time, and the run's id function.

* `ix_customer_consolidated_reminders_recent` on `(company_id, sent_at)` carrying
  `customer_id`: the eligibility check reads the reminders sent within the longest
  contact interval as one index range (at most about one per customer) and hashes
  them, instead of probing every asked-about customer's history.
* A reminder run plans and stores every reminder and its send event in one
  statement (`receivables.planner._STORE_RUN`), so their UUIDv7 keys come from
  `majlis_new_id()`, which 0003_relationships defines for set-based writes: this
  revision depends on it, so the receivables branch never runs without it.

Revision ID: 0008_receivables_perf
Revises: 0005_receivables
"""

import sqlalchemy as sa
from alembic import op

revision = "0008_receivables_perf"
down_revision = "0005_receivables"
branch_labels = None
depends_on = ("0003_relationships",)
# What this migration locks on tables that may already be large, and the way around it.
LOCKS = (
    "customer_consolidated_reminders: CREATE INDEX blocks writes to it while it "
    "builds (seconds per million reminders); reminder runs wait meanwhile. Concurrent "
    "path: CREATE INDEX CONCURRENTLY outside the transaction, then stamp the "
    "revision."
)

RECENT_INDEX = "ix_customer_consolidated_reminders_recent"


def upgrade() -> None:
    op.create_index(
        RECENT_INDEX,
        "customer_consolidated_reminders",
        ["company_id", "sent_at"],
        postgresql_include=["customer_id"],
        postgresql_where=sa.text("sent_at IS NOT NULL"),
    )


def downgrade() -> None:
    op.drop_index(RECENT_INDEX, table_name="customer_consolidated_reminders")
