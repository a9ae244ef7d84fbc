"""My tasks at a million customers: an index for a person's claimed tasks in queue order.

My tasks lists the signed-in user's claimed tasks first, in queue order
(`rank_at`, `id`). The only index that led there was `ix_tasks_assignee_status`
(company, assignee, status), and under row-level security its `status` column is
no help: enum equality is not leakproof, so the planner may not use it as an
index condition and read every task the user was ever given (done ones too) to
find the few claimed ones. `ix_tasks_claimed` is partial on `status = 'claimed'`
(a partial index's predicate is proved at plan time, like `ix_tasks_queue`'s), in
queue order, so the page reads only the rows it shows.

Revision ID: 0011_claimed_tasks
Revises: 0010_page_indexes
"""

import sqlalchemy as sa
from alembic import op

revision = "0011_claimed_tasks"
down_revision = "0010_page_indexes"
branch_labels = None
depends_on = None
# What this migration locks on tables that may already be large, and the way around it.
LOCKS = (
    "tasks: CREATE INDEX holds a SHARE lock (reads go on; creating, claiming and "
    "completing tasks wait) while it builds, well under a second per million tasks as "
    "only claimed ones are indexed. Concurrent path: CREATE INDEX CONCURRENTLY "
    "ix_tasks_claimed outside a transaction, then stamp this revision."
)


def upgrade() -> None:
    op.create_index(
        "ix_tasks_claimed",
        "tasks",
        ["company_id", "assigned_to", "rank_at", "id"],
        postgresql_where=sa.text("status = 'claimed'"),
    )


def downgrade() -> None:
    op.drop_index("ix_tasks_claimed", table_name="tasks")
