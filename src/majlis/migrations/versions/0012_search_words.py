"""Search: word postings, so a common first name's prefix page is read, not aggregated.

The prefix tier grouped every name key starting with the term to pick one page
of customers in id order: a first name shared by 3% of a million customers read
and grouped 38,000 keys per page. `customer_search_words` holds every word of
every name (derived from `customer_search_keys` by triggers on that table),
keyed (company_id, word, customer_id, field, position): a one-word term's
whole-word matches are the first rows of its word, in id order, and its longer
words are found one index probe each. `majlis_search_candidates` reads them
(see `majlis.search.tiers_sql.SEARCH_CANDIDATES_BY_WORD`).

Revision ID: 0012_search_words
Revises: 0011_kpi_days
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import UUID

from majlis.core.schema import enable_tenant_rls, grant_to_app
from majlis.search import tiers_sql as sql

revision = "0012_search_words"
down_revision = "0011_kpi_days"
branch_labels = None
depends_on = None
# What this migration locks on tables that may already be large, and the way around it.
LOCKS = (
    "customer_search_keys: CREATE TRIGGER takes a SHARE ROW EXCLUSIVE lock on it (reads go "
    "on; creating or renaming customers waits) until the migration commits, and the "
    "backfill reads every key in that transaction (under a minute at a million customers: "
    "9.3M words, primary key built after the rows). Concurrent path on a large live table: create "
    "customer_search_words and its triggers in one short transaction, backfill per company "
    "with INSERT ... ON CONFLICT DO NOTHING, then replace majlis_search_candidates last."
)

FUNCTIONS = (
    "majlis_search_words_on_delete()",
    "majlis_search_words_on_insert()",
)


def _words_table() -> None:
    op.create_table(
        "customer_search_words",
        sa.Column("company_id", UUID(as_uuid=True), nullable=False),
        # Byte order, so `starts_with` and `>` on it are ranges of the primary key.
        sa.Column("word", sa.Text(collation="C"), nullable=False),
        sa.Column("customer_id", UUID(as_uuid=True), nullable=False),
        sa.Column("field", sa.Text, nullable=False),
        sa.Column("position", sa.SmallInteger, nullable=False),
    )
    enable_tenant_rls("customer_search_words")
    grant_to_app("customer_search_words", "SELECT, INSERT, DELETE")


def upgrade() -> None:
    _words_table()
    op.execute(sql.WORDS_ON_INSERT)
    op.execute(sql.WORDS_ON_DELETE)
    # The triggers first: their lock keeps keys from changing until the backfill commits.
    for name, definition in sql.WORDS_TRIGGERS.items():
        op.execute(f"CREATE TRIGGER {name} {definition}")
    op.execute(sql.BACKFILL_WORDS)
    # Built after the backfill: one sort instead of millions of index insertions.
    op.create_primary_key(
        "pk_customer_search_words",
        "customer_search_words",
        ["company_id", "word", "customer_id", "field", "position"],
    )
    op.execute("ANALYZE customer_search_words")
    op.execute(sql.or_replace(sql.SEARCH_CANDIDATES_BY_WORD))


def downgrade() -> None:
    op.execute(sql.or_replace(sql.SEARCH_CANDIDATES))
    for name in sql.WORDS_TRIGGERS:
        op.execute(f"DROP TRIGGER {name} ON customer_search_keys")
    for function in FUNCTIONS:
        op.execute(f"DROP FUNCTION {function}")
    op.drop_table("customer_search_words")
