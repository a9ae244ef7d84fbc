"""Tiered search: a lookup-key table, a KNN trigram index, and tier-by-tier ranking.

Replaces the trigram GIN and phone-suffix indexes of 0004_search, which row-level
security kept from being used for anything but the company (see
`majlis.search.tiers_sql` for why), with indexes that answer under RLS:
`customer_search_keys` (word suffixes of every name, secondary e-mails,
reversed phone digits; btree), and a GiST trigram index led by company_id
(btree_gist) that orders the fuzzy tier by distance.

Revision ID: 0008_search_tiers
Revises: 0004_search
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import UUID

from majlis.core.schema import APP_ROLE, enable_tenant_rls, grant_to_app
from majlis.search import sql as v4
from majlis.search import tiers_sql as sql

revision = "0008_search_tiers"
down_revision = "0004_search"
branch_labels = None
# No depends_on: an Alembic dependency drops 0008_merges from the version table,
# which `majlis db check` then reports as a missing head. The functions that read
# customers.merged_into_id (from 0008_merges) are PL/pgSQL, resolved when they
# run, and `majlis db migrate` upgrades every head before the app serves.
depends_on = None
# What this migration locks on tables that may already be large, and the way around it.
LOCKS = (
    "customers: two GiST trigram indexes are built with CREATE INDEX, which blocks "
    "writes to customers for minutes at a million rows, and the backfill of "
    "customer_search_keys reads every customer in the migration's transaction; "
    "dropping the old indexes takes ACCESS EXCLUSIVE briefly. Concurrent path on a "
    "large live table: create the key table and triggers first, backfill in batches "
    "per company, build the GiST indexes with CREATE INDEX CONCURRENTLY, and drop the "
    "old indexes with DROP INDEX CONCURRENTLY last."
)

OLD_FUNCTIONS = (
    "search_customers(uuid, text, text, text, integer, integer)",
    "majlis_search_ranked(uuid, text, text)",
)
NEW_FUNCTIONS = (
    "search_customers(uuid, text, text, text, integer, integer)",
    "majlis_search_page(uuid, text, text, text, integer)",
    "majlis_search_ranked(uuid, text, text)",
    "majlis_search_tier(uuid, text, text, integer, integer, integer, uuid)",
    "majlis_search_candidates(uuid, text, text, integer, integer, integer, uuid)",
)
HELPERS = (
    "majlis_search_keys_on_update()",
    "majlis_search_keys_on_insert()",
    "majlis_search_keys_of(text, text, text, text, text[], text)",
    "majlis_search_phone_suffix(text)",
    "majlis_search_digits(text)",
    "majlis_search_words(text, text, text, text, text, boolean)",
)
# One GiST index per script (see tiers_sql.SEARCH_WORDS), with 256-byte trigram
# signatures instead of the default 12 so inner pages still tell names apart.
KNN_INDEXES = {"arabic": "ix_customers_search_knn_arabic", "other": "ix_customers_search_knn"}


def _keys_table() -> None:
    op.create_table(
        "customer_search_keys",
        sa.Column("company_id", UUID(as_uuid=True), primary_key=True),
        sa.Column("customer_id", UUID(as_uuid=True), primary_key=True),
        sa.Column("field", sa.Text, primary_key=True),
        sa.Column("position", sa.SmallInteger, primary_key=True),
        sa.Column("key", sa.Text, nullable=False),
        sa.ForeignKeyConstraint(
            ["company_id", "customer_id"],
            ["customers.company_id", "customers.id"],
            ondelete="CASCADE",
        ),
    )
    op.execute(
        "CREATE INDEX ix_customer_search_keys_lookup ON customer_search_keys"
        " (company_id, key text_pattern_ops, field) INCLUDE (customer_id, position)"
    )
    enable_tenant_rls("customer_search_keys")
    grant_to_app("customer_search_keys", "SELECT, INSERT, DELETE")


def upgrade() -> None:
    op.execute("CREATE EXTENSION IF NOT EXISTS btree_gist")
    for function in OLD_FUNCTIONS:
        op.execute(f"DROP FUNCTION {function}")
    op.execute("DROP INDEX ix_customers_search_trgm")
    op.execute("DROP INDEX ix_customers_phone_suffix")
    for helper in (sql.SEARCH_WORDS, sql.SEARCH_DIGITS, sql.PHONE_SUFFIX, sql.SEARCH_KEYS_OF):
        op.execute(helper)
    _keys_table()
    op.execute(sql.BACKFILL_KEYS)
    for function in (sql.KEYS_ON_INSERT, sql.KEYS_ON_UPDATE, *sql.TRIGGERS):
        op.execute(function)
    for script, index in KNN_INDEXES.items():
        op.execute(
            f"CREATE INDEX {index} ON customers USING gist"
            f" (company_id, ({sql.words_of_customer(script, row='')})"
            " gist_trgm_ops(siglen=256)) WHERE deleted_at IS NULL"
        )
    for function in (
        sql.SEARCH_CANDIDATES,
        sql.SEARCH_TIER,
        sql.SEARCH_RANKED,
        sql.SEARCH_PAGE,
        sql.SEARCH_CUSTOMERS,
    ):
        op.execute(function)
    op.execute(f"GRANT EXECUTE ON FUNCTION {', '.join(NEW_FUNCTIONS)} TO {APP_ROLE}")


def downgrade() -> None:
    for function in NEW_FUNCTIONS:
        op.execute(f"DROP FUNCTION {function}")
    for index in KNN_INDEXES.values():
        op.execute(f"DROP INDEX {index}")
    op.execute("DROP TRIGGER customers_search_keys_update ON customers")
    op.execute("DROP TRIGGER customers_search_keys_insert ON customers")
    op.drop_table("customer_search_keys")
    for helper in HELPERS:
        op.execute(f"DROP FUNCTION {helper}")
    op.execute("DROP EXTENSION IF EXISTS btree_gist")
    op.execute(
        "CREATE INDEX ix_customers_search_trgm ON customers USING gin"
        f" (company_id, ({v4.DOCUMENT_OF_CUSTOMER.replace('c.', '')}) gin_trgm_ops)"
        " WHERE deleted_at IS NULL"
    )
    op.execute(
        "CREATE INDEX ix_customers_phone_suffix ON customers"
        " (company_id, reverse(phone_digits) text_pattern_ops) WHERE deleted_at IS NULL"
    )
    op.execute(v4.SEARCH_RANKED)
    op.execute(v4.SEARCH_CUSTOMERS)
    op.execute(f"GRANT EXECUTE ON FUNCTION {', '.join(OLD_FUNCTIONS)} TO {APP_ROLE}")
