"""Pages at a million customers: indexes for members by tier and for "my" journeys.

The loyalty page counts each tier's members and the journey board counts each
stage's customers, both capped ("1,000+"). A capped count is cheap only when an
index leads to the rows it counts:

- `ix_loyalty_members_tier` (company, tier): without it, a small tier's count read
  every member of the company;
- `ix_workflow_state_assignee` (company, assignee, stage, entered): the board's
  **Mine** counts and cards; without it they read whole stages for one person's
  few journeys.

Revision ID: 0010_page_indexes
Revises: 0008_sweeps
"""

from alembic import op

revision = "0010_page_indexes"
down_revision = "0008_sweeps"
branch_labels = None
depends_on = None
# What this migration locks on tables that may already be large, and the way around it.
LOCKS = (
    "loyalty_members, workflow_state: CREATE INDEX holds a SHARE lock on each (reads go "
    "on; enrolments, tier changes and stage moves wait) while it builds, about a second "
    "per million rows. Concurrent path: CREATE INDEX CONCURRENTLY ix_loyalty_members_tier "
    "and ix_workflow_state_assignee outside a transaction, then stamp this revision."
)


def upgrade() -> None:
    op.create_index("ix_loyalty_members_tier", "loyalty_members", ["company_id", "tier_key"])
    op.create_index(
        "ix_workflow_state_assignee",
        "workflow_state",
        ["company_id", "assigned_to", "stage_key", "entered_at"],
    )


def downgrade() -> None:
    op.drop_index("ix_workflow_state_assignee", table_name="workflow_state")
    op.drop_index("ix_loyalty_members_tier", table_name="loyalty_members")
