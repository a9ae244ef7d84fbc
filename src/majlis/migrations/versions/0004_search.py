"""Search, import jobs and customer analytics.

Normalised copies of the names (stored generated columns using the IMMUTABLE
`majlis_normalize_text`), a trigram GIN index led by company_id, a phone
digit-suffix index, the ranking functions, import staging tables and the
materialized analytics summary.

Revision ID: 0004_search
Revises: 0002_customers
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB, UUID

from majlis.core.schema import APP_ROLE, enable_tenant_rls, grant_to_app
from majlis.search import sql

revision = "0004_search"
down_revision = "0002_customers"
branch_labels = ("search",)
depends_on = None
# What this migration locks on tables that may already be large, and the way around it.
LOCKS = (
    "customers: ADD COLUMN … GENERATED ALWAYS … STORED rewrites the table under "
    "ACCESS EXCLUSIVE, and CREATE INDEX blocks writes while it builds (minutes at "
    "millions of rows). Concurrent path for a large live table: add the columns as "
    "plain nullable columns kept by a trigger, backfill in batches of ~10k rows, then "
    "CREATE INDEX CONCURRENTLY outside the migration's transaction (see "
    "docs/operations.md, 'Upgrading a large database')."
)

NORMALISED_COLUMNS = {
    "name_norm": "majlis_normalize_text(name)",
    "name_ar_norm": "majlis_normalize_text(name_ar)",
    "business_name_norm": "majlis_normalize_text(business_name)",
    "business_name_ar_norm": "majlis_normalize_text(business_name_ar)",
    "phone_digits": "regexp_replace(phone, '[^0-9]', '', 'g')",
}
IMPORT_STATUS = ("staged", "running", "completed", "failed")
IMPORT_POLICY = ("skip", "update", "create")
STAGED_FIELDS = (
    "kind",
    "name",
    "name_ar",
    "business_name",
    "business_name_ar",
    "email",
    "phone",
    "trn",
    "external_ref",
    "address_line1",
    "city",
    "emirate",
    "country",
    "business_type",
    "tags",
    "notes",
    "is_active",
)
LIVE = sa.text("deleted_at IS NULL")
VIEWS = ("customer_analytics_current", "customer_daily_performance", "customer_weekly_trend")
FUNCTIONS = (
    "search_customers(uuid, text, text, text, integer, integer)",
    "majlis_search_ranked(uuid, text, text)",
    "refresh_customer_analytics()",
)


def _search_upgrade() -> None:
    op.execute(sql.NORMALIZE_TEXT)
    op.execute(sql.SEARCH_DOCUMENT)
    op.execute(sql.UUID_V7)
    for column, expression in NORMALISED_COLUMNS.items():
        op.execute(
            f"ALTER TABLE customers ADD COLUMN {column} text"
            f" GENERATED ALWAYS AS ({expression}) STORED"
        )
    op.execute(
        "CREATE INDEX ix_customers_search_trgm ON customers USING gin"
        f" (company_id, ({sql.DOCUMENT_OF_CUSTOMER.replace('c.', '')}) gin_trgm_ops)"
        " WHERE deleted_at IS NULL"
    )
    op.execute(
        "CREATE INDEX ix_customers_phone_suffix ON customers"
        " (company_id, reverse(phone_digits) text_pattern_ops) WHERE deleted_at IS NULL"
    )
    op.execute(sql.SEARCH_RANKED)
    op.execute(sql.SEARCH_CUSTOMERS)
    op.execute(f"GRANT EXECUTE ON FUNCTION {FUNCTIONS[0]}, {FUNCTIONS[1]} TO {APP_ROLE}")


def _imports_upgrade() -> None:
    op.create_table(
        "import_jobs",
        sa.Column("company_id", UUID(as_uuid=True), primary_key=True),
        sa.Column("id", UUID(as_uuid=True), primary_key=True),
        sa.Column("status", sa.Enum(*IMPORT_STATUS, name="import_status"), nullable=False),
        sa.Column("policy", sa.Enum(*IMPORT_POLICY, name="import_policy"), nullable=False),
        sa.Column("file_name", sa.Text, nullable=False),
        sa.Column("encoding", sa.Text, nullable=False),
        sa.Column("mapping", JSONB, nullable=False),
        sa.Column("dry_run", sa.Boolean, nullable=False, server_default="false"),
        sa.Column("total_rows", sa.Integer, nullable=False, server_default="0"),
        sa.Column("invalid_rows", sa.Integer, nullable=False, server_default="0"),
        sa.Column("matched_rows", sa.Integer, nullable=False, server_default="0"),
        sa.Column("applied_through", sa.Integer, nullable=False, server_default="0"),
        sa.Column("inserted", sa.Integer, nullable=False, server_default="0"),
        sa.Column("updated", sa.Integer, nullable=False, server_default="0"),
        sa.Column("skipped", sa.Integer, nullable=False, server_default="0"),
        sa.Column("created_by", UUID(as_uuid=True)),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            nullable=False,
            server_default=sa.text("now()"),
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            nullable=False,
            server_default=sa.text("now()"),
        ),
        sa.Column("finished_at", sa.DateTime(timezone=True)),
        sa.ForeignKeyConstraint(["company_id"], ["companies.id"]),
    )
    enable_tenant_rls("import_jobs")
    grant_to_app("import_jobs", "SELECT, INSERT, UPDATE")
    op.create_table(
        "import_rows",
        sa.Column("company_id", UUID(as_uuid=True), primary_key=True),
        sa.Column("job_id", UUID(as_uuid=True), primary_key=True),
        sa.Column("row_number", sa.Integer, primary_key=True),
        sa.Column("customer_id", UUID(as_uuid=True), nullable=False),
        *(sa.Column(field, sa.Text) for field in STAGED_FIELDS),
        sa.Column("errors", JSONB, nullable=False, server_default="[]"),
        sa.Column("match_id", UUID(as_uuid=True)),
        sa.Column("matched_by", sa.Text),
        # No foreign key to import_jobs on purpose: rows are only ever written in the
        # transaction that creates their job, and a per-row RI check costs a third of
        # the staging time at a million rows.
    )
    enable_tenant_rls("import_rows")
    grant_to_app("import_rows", "SELECT, INSERT, UPDATE, DELETE")


def _analytics_upgrade() -> None:
    op.execute(sql.ANALYTICS_SUMMARY)
    op.execute(
        "CREATE UNIQUE INDEX uq_customer_analytics_summary"
        " ON customer_analytics_summary (company_id, dimension, bucket)"
    )
    op.execute(f"REVOKE ALL ON customer_analytics_summary FROM {APP_ROLE}")
    for view in (sql.ANALYTICS_CURRENT_VIEW, sql.DAILY_PERFORMANCE_VIEW, sql.WEEKLY_TREND_VIEW):
        op.execute(view)
    op.execute(f"GRANT SELECT ON {', '.join(VIEWS)} TO {APP_ROLE}")
    op.execute(sql.REFRESH_ANALYTICS)
    op.execute(f"REVOKE EXECUTE ON FUNCTION {FUNCTIONS[2]} FROM PUBLIC")
    op.execute(f"GRANT EXECUTE ON FUNCTION {FUNCTIONS[2]} TO {APP_ROLE}")


def upgrade() -> None:
    _search_upgrade()
    _imports_upgrade()
    _analytics_upgrade()


def downgrade() -> None:
    for view in VIEWS:
        op.execute(f"DROP VIEW {view}")
    for function in FUNCTIONS:
        op.execute(f"DROP FUNCTION {function}")
    op.execute("DROP MATERIALIZED VIEW customer_analytics_summary")
    op.drop_table("import_rows")
    op.drop_table("import_jobs")
    op.execute("DROP TYPE import_policy")
    op.execute("DROP TYPE import_status")
    op.execute("DROP INDEX ix_customers_phone_suffix")
    op.execute("DROP INDEX ix_customers_search_trgm")
    for column in NORMALISED_COLUMNS:
        op.execute(f"ALTER TABLE customers DROP COLUMN {column}")
    op.execute(
        "DROP FUNCTION majlis_search_document(text, text, text, text, text),"
        " majlis_normalize_text(text), majlis_uuid_v7()"
    )
