"""Search keys: an update that changes no keyed column returns before touching them.

`majlis_search_keys_on_update()` now collects the re-keyed customers first and
returns when there are none, so bulk updates of tags, risk scores and balances
never plan a statement against `customer_search_keys` (see
`majlis.search.tiers_sql.KEYS_ON_UPDATE`).

Revision ID: 0009_search_keys_fast_path
Revises: 0008_search_tiers
"""

from alembic import op

from majlis.search import tiers_sql as sql

revision = "0009_search_keys_fast_path"
down_revision = "0008_search_tiers"
branch_labels = None
depends_on = None
# What this migration locks on tables that may already be large, and the way around it.
LOCKS = "none: CREATE OR REPLACE FUNCTION takes no lock on any table."


def upgrade() -> None:
    op.execute(sql.KEYS_ON_UPDATE)


def downgrade() -> None:
    # The earlier body gave the same keys, only slower; keeping the fast one is a
    # correct downgrade and needs no copy of the old text.
    pass
