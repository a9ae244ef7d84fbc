"""Customer merges: the soft `merged_into_id` link, merge events, moved rows, the re-point function.

Revision ID: 0008_merges
Revises: 0002_customers
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import ARRAY, JSONB, UUID

from majlis.core.schema import APP_ROLE, enable_tenant_rls, grant_to_app

revision = "0008_merges"
down_revision = "0002_customers"
branch_labels = ("merges",)
depends_on = None
# What this migration locks on tables that may already be large, and the way around it.
LOCKS = (
    "customers: ADD COLUMN merged_into_id (nullable, no default: catalog-only) and "
    "its foreign key take ACCESS EXCLUSIVE briefly; the FK is validated at once, "
    "which scans customers (seconds at millions, nothing to check since all values "
    "are NULL); CREATE INDEX blocks writes while it builds. Concurrent path on a "
    "large table: add the FK NOT VALID then VALIDATE CONSTRAINT separately, and build "
    "the index with CREATE INDEX CONCURRENTLY before stamping the revision."
)

# Re-points one foreign-key column of one table from one customer to another, for the
# transaction's company only, and returns the primary key (minus company_id) of every row
# it moved. It runs as the schema owner because some referencing tables are append-only
# for the application role (consent_log, customer_interactions ...); it refuses any
# (table, column) that is not a composite (company_id, column) foreign key to customers,
# so it cannot be used to rewrite anything else. p_only / p_except: JSON arrays of keys.
REPOINT_FUNCTION = """
CREATE FUNCTION majlis_merge_repoint(
    p_table regclass, p_column text, p_from uuid, p_to uuid, p_only jsonb, p_except jsonb
) RETURNS SETOF jsonb
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = public AS
$$
DECLARE
    v_company uuid := majlis_current_company();
    v_company_attnum smallint;
    v_column_attnum smallint;
    v_key text;
BEGIN
    IF v_company IS NULL THEN
        RAISE EXCEPTION 'majlis_merge_repoint needs a tenant (majlis.company_id)';
    END IF;
    SELECT attnum INTO v_company_attnum FROM pg_attribute
     WHERE attrelid = p_table AND attname = 'company_id' AND NOT attisdropped;
    SELECT attnum INTO v_column_attnum FROM pg_attribute
     WHERE attrelid = p_table AND attname = p_column AND NOT attisdropped;
    IF NOT EXISTS (
        SELECT 1 FROM pg_constraint k
         WHERE k.contype = 'f' AND k.conrelid = p_table
           AND k.confrelid = 'public.customers'::regclass
           AND k.conkey = ARRAY[v_company_attnum, v_column_attnum]
    ) THEN
        RAISE EXCEPTION '%.% is not a (company_id, customer) foreign key', p_table, p_column;
    END IF;
    SELECT string_agg(format('%L, t.%I', a.attname, a.attname), ', ' ORDER BY a.attnum)
      INTO v_key
      FROM pg_index x
      JOIN pg_attribute a ON a.attrelid = x.indrelid AND a.attnum = ANY(x.indkey)
     WHERE x.indrelid = p_table AND x.indisprimary AND a.attname <> 'company_id';
    IF v_key IS NULL THEN
        RAISE EXCEPTION '% has no primary key to record moved rows by', p_table;
    END IF;
    RETURN QUERY EXECUTE format(
        'UPDATE %s AS t SET %I = $2 WHERE t.company_id = $1 AND t.%I = $3'
        ' AND ($4 IS NULL OR jsonb_build_object(%s) IN (SELECT jsonb_array_elements($4)))'
        ' AND ($5 IS NULL OR jsonb_build_object(%s) NOT IN (SELECT jsonb_array_elements($5)))'
        ' RETURNING jsonb_build_object(%s)',
        p_table, p_column, p_column, v_key, v_key, v_key
    ) USING v_company, p_to, p_from, p_only, p_except;
END
$$
"""
REPOINT_SIGNATURE = "majlis_merge_repoint(regclass, text, uuid, uuid, jsonb, jsonb)"


def _company() -> sa.Column:
    return sa.Column(
        "company_id", UUID(as_uuid=True), sa.ForeignKey("companies.id"), primary_key=True
    )


def _uuid(name: str, *, primary_key: bool = False, nullable: bool = True) -> sa.Column:
    return sa.Column(name, UUID(as_uuid=True), primary_key=primary_key, nullable=nullable)


def _customer_fk(table: str, column: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["company_id", column],
        ["customers.company_id", "customers.id"],
        name=f"fk_{table}_{column}",
    )


def _merged_into() -> None:
    op.add_column("customers", _uuid("merged_into_id"))
    op.create_foreign_key(
        "fk_customers_merged_into",
        "customers",
        "customers",
        ["company_id", "merged_into_id"],
        ["company_id", "id"],
    )
    op.create_index(
        "ix_customers_merged_into",
        "customers",
        ["company_id", "merged_into_id"],
        postgresql_where=sa.text("merged_into_id IS NOT NULL"),
    )


def _merges() -> None:
    op.create_table(
        "customer_merges",
        _company(),
        _uuid("id", primary_key=True),
        _uuid("survivor_id", nullable=False),
        sa.Column("other_ids", ARRAY(UUID(as_uuid=True)), nullable=False),
        sa.Column("choices", JSONB, nullable=False),
        sa.Column("survivor_before", JSONB, nullable=False),
        sa.Column("survivor_after", JSONB, nullable=False),
        sa.Column("snapshots", JSONB, nullable=False),
        sa.Column("collisions", JSONB, nullable=False, server_default="[]"),
        sa.Column("actor_kind", sa.Text, nullable=False),
        _uuid("actor_id"),
        sa.Column(
            "merged_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
        ),
        sa.Column("undone_at", sa.DateTime(timezone=True)),
        _uuid("undone_by"),
        _customer_fk("customer_merges", "survivor_id"),
    )
    op.create_index(
        "ix_customer_merges_listing", "customer_merges", ["company_id", "merged_at", "id"]
    )
    op.create_index("ix_customer_merges_survivor", "customer_merges", ["company_id", "survivor_id"])
    enable_tenant_rls("customer_merges")
    grant_to_app("customer_merges", "SELECT, INSERT, UPDATE")


def _moves() -> None:
    op.create_table(
        "customer_merge_moves",
        _company(),
        _uuid("id", primary_key=True),
        _uuid("merge_id", nullable=False),
        sa.Column("table_name", sa.Text, nullable=False),
        sa.Column("column_name", sa.Text, nullable=False),
        sa.Column("row_key", JSONB, nullable=False),
        _uuid("from_customer_id", nullable=False),
        sa.ForeignKeyConstraint(
            ["company_id", "merge_id"],
            ["customer_merges.company_id", "customer_merges.id"],
            name="fk_customer_merge_moves_merge",
        ),
        _customer_fk("customer_merge_moves", "from_customer_id"),
    )
    op.create_index(
        "ix_customer_merge_moves_merge", "customer_merge_moves", ["company_id", "merge_id"]
    )
    op.create_index(
        "ix_customer_merge_moves_from",
        "customer_merge_moves",
        ["company_id", "from_customer_id"],
    )
    enable_tenant_rls("customer_merge_moves")
    grant_to_app("customer_merge_moves", "SELECT, INSERT")


def upgrade() -> None:
    _merged_into()
    _merges()
    _moves()
    op.execute(REPOINT_FUNCTION)
    op.execute(f"REVOKE ALL ON FUNCTION {REPOINT_SIGNATURE} FROM PUBLIC")
    op.execute(f"GRANT EXECUTE ON FUNCTION {REPOINT_SIGNATURE} TO {APP_ROLE}")


def downgrade() -> None:
    op.execute(f"DROP FUNCTION {REPOINT_SIGNATURE}")
    op.drop_table("customer_merge_moves")
    op.drop_table("customer_merges")
    op.drop_index("ix_customers_merged_into", table_name="customers")
    op.drop_constraint("fk_customers_merged_into", "customers", type_="foreignkey")
    op.drop_column("customers", "merged_into_id")
