"""Receivables: each customer's oldest open due date, kept exact beside the balance.

`customers.oldest_open_due_date` is the earliest due date among the customer's
open and partially paid invoices (NULL when none). The trigger that keeps
`outstanding_balance` exact now keeps it too, in the same statement, so the
eligibility check reads "has something overdue" from the customer row it
already fetches instead of probing the invoices of every asked-about customer.

Revision ID: 0009_oldest_open_due
Revises: 0008_receivables_perf, 0008_merges
"""

import sqlalchemy as sa
from alembic import op

revision = "0009_oldest_open_due"
# Also after 0008_merges: the backfill updates customers, and their search-keys
# trigger (0008_search_tiers) reads `merged_into_id`, which 0008_merges adds.
down_revision = ("0008_receivables_perf", "0008_merges")
branch_labels = None
depends_on = None
# What this migration locks on tables that may already be large, and the way around it.
LOCKS = (
    "customers: ADD COLUMN (nullable, no default) is catalog-only under a brief ACCESS "
    "EXCLUSIVE; the backfill UPDATE row-locks every customer with open invoices for the "
    "length of the migration (about a second per 100,000 of them). Concurrent path: add "
    "the column and the trigger function, stamp the revision, then run the backfill "
    "company by company outside the transaction."
)

OPEN = "('open', 'partially_paid')"


def _refresh_balances(with_oldest_due: bool) -> str:
    """The body of `receivables_refresh_balances()`, with or without the oldest due date."""
    oldest_set = ", oldest_open_due_date = s.oldest_due" if with_oldest_due else ""
    oldest_changed = (
        " OR c.oldest_open_due_date IS DISTINCT FROM s.oldest_due" if with_oldest_due else ""
    )
    return f"""
CREATE OR REPLACE FUNCTION receivables_refresh_balances() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  UPDATE customers c
     SET outstanding_balance = coalesce(s.balance, 0){oldest_set}
    FROM (SELECT DISTINCT company_id, customer_id FROM changed) k
    LEFT JOIN LATERAL (
         SELECT sum(i.amount - i.amount_paid) AS balance, min(i.due_date) AS oldest_due
           FROM invoices i
          WHERE i.company_id = k.company_id AND i.customer_id = k.customer_id
            AND i.status IN {OPEN}) s ON true
   WHERE c.company_id = k.company_id AND c.id = k.customer_id
     AND (c.outstanding_balance IS DISTINCT FROM coalesce(s.balance, 0){oldest_changed});
  RETURN NULL;
END $$
"""


def upgrade() -> None:
    op.add_column("customers", sa.Column("oldest_open_due_date", sa.Date))
    op.execute(_refresh_balances(with_oldest_due=True))
    op.execute(
        f"""
        UPDATE customers c SET oldest_open_due_date = s.oldest_due
          FROM (SELECT company_id, customer_id, min(due_date) AS oldest_due FROM invoices
                 WHERE status IN {OPEN} GROUP BY company_id, customer_id) s
         WHERE c.company_id = s.company_id AND c.id = s.customer_id
        """
    )


def downgrade() -> None:
    op.execute(_refresh_balances(with_oldest_due=False))
    op.drop_column("customers", "oldest_open_due_date")
