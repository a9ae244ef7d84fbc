"""Duplicate workflow: customer match keys, review pairs, "not a duplicate" memory, scans.

The match keys of existing customers are computed in Python (transliteration
and phonetic keys have no SQL equivalent); run `majlis dedupe reindex
--company ID` after upgrading a database that already holds customers.

Revision ID: 0008_dedupe
Revises: 0002_customers
"""

from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import ENUM, JSONB, UUID

from majlis.core.schema import enable_tenant_rls, grant_to_app

revision = "0008_dedupe"
down_revision = "0002_customers"
branch_labels = ("dedupe",)
depends_on = None
# What this migration locks on tables that may already be large, and the way around it.
LOCKS = (
    "none: creates new tables, their indexes and functions only; existing tables are "
    "untouched. Existing customers get their match keys afterwards, online, from "
    "`majlis dedupe reindex`."
)

ENUMS = {
    "duplicate_pair_source": ("scan", "sync"),
    "duplicate_pair_status": ("pending", "merged", "not_duplicate", "skipped"),
    "duplicate_scan_status": ("queued", "running", "finished", "failed"),
}
TABLES = ("duplicate_scans", "not_duplicate_pairs", "duplicate_pairs", "customer_match_keys")


def _enum(name: str) -> ENUM:
    return ENUM(*ENUMS[name], name=name, create_type=False)


def _uuid(name: str, **kwargs: Any) -> sa.Column:
    return sa.Column(name, UUID(as_uuid=True), **kwargs)


def _when(name: str, *, default: bool = False) -> sa.Column:
    if default:
        return sa.Column(
            name, sa.DateTime(timezone=True), nullable=False, server_default=sa.text("now()")
        )
    return sa.Column(name, sa.DateTime(timezone=True))


def _customer_fk(table: str, column: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["company_id", column],
        ["customers.company_id", "customers.id"],
        name=f"fk_{table}_{column}",
        ondelete="CASCADE",
    )


def _counter(name: str) -> sa.Column:
    return sa.Column(name, sa.Integer, nullable=False, server_default="0")


def _match_keys() -> None:
    op.create_table(
        "customer_match_keys",
        _uuid("company_id", primary_key=True),
        sa.Column("key", sa.Text, primary_key=True),
        _uuid("customer_id", primary_key=True),
        sa.ForeignKeyConstraint(["company_id"], ["companies.id"], name="fk_customer_match_keys_co"),
    )
    op.create_index(
        "ix_customer_match_keys_customer", "customer_match_keys", ["company_id", "customer_id"]
    )


def _pairs() -> None:
    op.create_table(
        "duplicate_pairs",
        _uuid("company_id", primary_key=True),
        _uuid("id", primary_key=True),
        _uuid("customer_id_a", nullable=False),
        _uuid("customer_id_b", nullable=False),
        sa.Column("match_probability", sa.Float, nullable=False),
        sa.Column("evidence", JSONB, nullable=False),
        sa.Column("reasons", sa.Text, nullable=False),
        _uuid("cluster_id"),
        _uuid("scan_id"),
        sa.Column("source", _enum("duplicate_pair_source"), nullable=False),
        sa.Column(
            "status", _enum("duplicate_pair_status"), nullable=False, server_default="pending"
        ),
        _uuid("decided_by"),
        _when("decided_at"),
        _when("created_at", default=True),
        _customer_fk("duplicate_pairs", "customer_id_a"),
        _customer_fk("duplicate_pairs", "customer_id_b"),
    )
    indexes = {
        "ix_duplicate_pairs_queue": ["company_id", "status", "match_probability", "id"],
        "ix_duplicate_pairs_pair": ["company_id", "customer_id_a", "customer_id_b"],
        "ix_duplicate_pairs_b": ["company_id", "customer_id_b"],
        "ix_duplicate_pairs_cluster": ["company_id", "cluster_id"],
    }
    for name, columns in indexes.items():
        op.create_index(name, "duplicate_pairs", columns)


def _not_duplicates() -> None:
    op.create_table(
        "not_duplicate_pairs",
        _uuid("company_id", primary_key=True),
        _uuid("customer_id_a", primary_key=True),
        _uuid("customer_id_b", primary_key=True),
        _uuid("decided_by"),
        _when("decided_at", default=True),
        _customer_fk("not_duplicate_pairs", "customer_id_a"),
        _customer_fk("not_duplicate_pairs", "customer_id_b"),
    )
    op.create_index(
        "ix_not_duplicate_pairs_b", "not_duplicate_pairs", ["company_id", "customer_id_b"]
    )


def _scans() -> None:
    op.create_table(
        "duplicate_scans",
        _uuid("company_id", primary_key=True),
        _uuid("id", primary_key=True),
        sa.Column(
            "status", _enum("duplicate_scan_status"), nullable=False, server_default="queued"
        ),
        _uuid("requested_by"),
        _counter("customers_total"),
        _counter("candidate_pairs"),
        _counter("pairs_written"),
        _counter("pairs_skipped"),
        _counter("clusters"),
        sa.Column("stage", sa.Text),
        sa.Column("error", sa.Text),
        _when("created_at", default=True),
        _when("started_at"),
        _when("finished_at"),
        sa.ForeignKeyConstraint(["company_id"], ["companies.id"], name="fk_duplicate_scans_co"),
    )


def upgrade() -> None:
    for name, labels in ENUMS.items():
        ENUM(*labels, name=name).create(op.get_bind(), checkfirst=False)
    _match_keys()
    _pairs()
    _not_duplicates()
    _scans()
    for table in TABLES:
        enable_tenant_rls(table)
    grant_to_app("customer_match_keys", "SELECT, INSERT, DELETE")
    grant_to_app("duplicate_pairs", "SELECT, INSERT, UPDATE")
    grant_to_app("not_duplicate_pairs", "SELECT, INSERT, UPDATE")  # merges re-point it
    grant_to_app("duplicate_scans", "SELECT, INSERT, UPDATE")


def downgrade() -> None:
    for table in TABLES:
        op.drop_table(table)
    for name in ENUMS:
        op.execute(f"DROP TYPE {name}")
