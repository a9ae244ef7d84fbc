"""Loyalty: programs, tiers, members, the points ledger, campaigns, rewards, achievements.

Revision ID: 0007_loyalty
Revises: 0007_journeys
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB, UUID

from majlis.core.schema import APP_ROLE, enable_tenant_rls, grant_to_app

revision = "0007_loyalty"
down_revision = "0007_journeys"
branch_labels = None
depends_on = None
# What this migration locks on tables that may already be large, and the way around it.
LOCKS = "none: creates new tables, their indexes and functions only; existing tables are untouched."

ENTRY_KINDS = ("earn", "redeem", "expire", "adjust")
TABLES = (
    "member_achievements",
    "achievements",
    "redemptions",
    "rewards",
    "loyalty_campaigns",
    "points_ledger",
    "loyalty_members",
    "loyalty_tiers",
    "loyalty_programs",
)


def _company() -> sa.Column:
    return sa.Column(
        "company_id", UUID(as_uuid=True), sa.ForeignKey("companies.id"), primary_key=True
    )


def _id() -> sa.Column:
    return sa.Column("id", UUID(as_uuid=True), primary_key=True)


def _now(name: str) -> sa.Column:
    return sa.Column(
        name, sa.DateTime(timezone=True), nullable=False, server_default=sa.text("now()")
    )


def _fk(table: str, column: str, parent: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["company_id", column],
        [f"{parent}.company_id", f"{parent}.id"],
        name=f"fk_{table}_{column}",
    )


def _create_program_and_tiers() -> None:
    op.create_table(
        "loyalty_programs",
        _company(),
        _id(),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column(
            "points_per_currency_unit", sa.Numeric(10, 4), nullable=False, server_default="1"
        ),
        sa.Column("points_per_visit", sa.Integer, nullable=False, server_default="0"),
        sa.Column("points_per_referral", sa.Integer, nullable=False, server_default="0"),
        sa.Column("expiry_days", sa.Integer, nullable=False, server_default="365"),
        _now("created_at"),
        sa.UniqueConstraint("company_id", name="uq_loyalty_programs_company_id"),
    )
    op.create_table(
        "loyalty_tiers",
        _company(),
        _id(),
        sa.Column("key", sa.Text, nullable=False),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("name_ar", sa.Text),
        sa.Column("min_points", sa.Integer, nullable=False),
        sa.UniqueConstraint("company_id", "key", name="uq_loyalty_tiers_company_id_key"),
        sa.CheckConstraint("min_points >= 0", name="ck_loyalty_tiers_min_points_positive"),
    )


def _create_members_and_ledger() -> None:
    op.create_table(
        "loyalty_members",
        _company(),
        _id(),
        sa.Column("customer_id", UUID(as_uuid=True), nullable=False),
        sa.Column("tier_key", sa.Text, nullable=False),
        sa.Column("referral_code", sa.Text, nullable=False),
        sa.Column("referred_by", UUID(as_uuid=True)),
        _now("joined_at"),
        sa.ForeignKeyConstraint(
            ["company_id", "customer_id"],
            ["customers.company_id", "customers.id"],
            name="fk_loyalty_members_customer",
        ),
        _fk("loyalty_members", "referred_by", "loyalty_members"),
        sa.UniqueConstraint(
            "company_id", "customer_id", name="uq_loyalty_members_company_id_customer_id"
        ),
        sa.UniqueConstraint(
            "company_id", "referral_code", name="uq_loyalty_members_company_id_referral_code"
        ),
    )
    op.create_table(
        "points_ledger",
        _company(),
        _id(),
        sa.Column("member_id", UUID(as_uuid=True), nullable=False),
        sa.Column("kind", sa.Enum(*ENTRY_KINDS, name="points_entry_kind"), nullable=False),
        sa.Column("points", sa.Integer, nullable=False),
        sa.Column("remaining", sa.Integer),
        sa.Column("expires_at", sa.DateTime(timezone=True)),
        sa.Column("reason", sa.Text),
        sa.Column("reference", sa.Text),
        sa.Column("actor_id", UUID(as_uuid=True)),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        _fk("points_ledger", "member_id", "loyalty_members"),
        sa.CheckConstraint("points <> 0", name="ck_points_ledger_points_not_zero"),
        sa.CheckConstraint(
            "(points > 0 AND remaining BETWEEN 0 AND points) OR (points < 0 AND remaining IS NULL)",
            name="ck_points_ledger_lot_remaining",
        ),
    )
    op.create_index(
        "ix_points_ledger_member", "points_ledger", ["company_id", "member_id", "occurred_at"]
    )
    op.create_index(
        "ix_points_ledger_open_lots",
        "points_ledger",
        ["company_id", "member_id", "expires_at", "id"],
        postgresql_where=sa.text("remaining > 0"),
    )
    op.create_index(
        "uq_points_ledger_reference",
        "points_ledger",
        ["company_id", "member_id", "reference"],
        unique=True,
        postgresql_where=sa.text("reference IS NOT NULL"),
    )


def _create_rewards_and_achievements() -> None:
    op.create_table(
        "loyalty_campaigns",
        _company(),
        _id(),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("multiplier", sa.Numeric(5, 2), nullable=False),
        sa.Column("starts_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ends_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("ends_at > starts_at", name="ck_loyalty_campaigns_period"),
    )
    op.create_index(
        "ix_loyalty_campaigns_period", "loyalty_campaigns", ["company_id", "starts_at", "ends_at"]
    )
    op.create_table(
        "rewards",
        _company(),
        _id(),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("name_ar", sa.Text),
        sa.Column("cost_points", sa.Integer, nullable=False),
        sa.Column("min_tier_key", sa.Text),
        sa.Column("stock", sa.Integer),
        sa.Column("per_member_limit", sa.Integer),
        sa.Column("is_active", sa.Boolean, nullable=False, server_default="true"),
        _now("created_at"),
        sa.CheckConstraint("cost_points > 0", name="ck_rewards_cost_positive"),
        sa.CheckConstraint("stock IS NULL OR stock >= 0", name="ck_rewards_stock_not_negative"),
    )
    op.create_table(
        "redemptions",
        _company(),
        _id(),
        sa.Column("member_id", UUID(as_uuid=True), nullable=False),
        sa.Column("reward_id", UUID(as_uuid=True), nullable=False),
        sa.Column("ledger_entry_id", UUID(as_uuid=True), nullable=False),
        sa.Column("points", sa.Integer, nullable=False),
        _now("created_at"),
        _fk("redemptions", "member_id", "loyalty_members"),
        _fk("redemptions", "reward_id", "rewards"),
        _fk("redemptions", "ledger_entry_id", "points_ledger"),
    )
    op.create_index(
        "ix_redemptions_member_reward", "redemptions", ["company_id", "member_id", "reward_id"]
    )
    op.create_table(
        "achievements",
        _company(),
        _id(),
        sa.Column("key", sa.Text, nullable=False),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("name_ar", sa.Text),
        sa.Column("criterion", JSONB, nullable=False),
        sa.UniqueConstraint("company_id", "key", name="uq_achievements_company_id_key"),
    )
    op.create_table(
        "member_achievements",
        _company(),
        sa.Column("member_id", UUID(as_uuid=True), primary_key=True),
        sa.Column("achievement_id", UUID(as_uuid=True), primary_key=True),
        _now("awarded_at"),
        _fk("member_achievements", "member_id", "loyalty_members"),
        _fk("member_achievements", "achievement_id", "achievements"),
    )


def upgrade() -> None:
    _create_program_and_tiers()
    _create_members_and_ledger()
    _create_rewards_and_achievements()
    for table in TABLES:
        enable_tenant_rls(table)
    for table in (
        "loyalty_programs",
        "loyalty_tiers",
        "loyalty_campaigns",
        "rewards",
        "achievements",
    ):
        grant_to_app(table)
    grant_to_app("loyalty_members", "SELECT, INSERT, UPDATE (tier_key)")
    # Ledger rows are never deleted and only an earn lot's `remaining` ever changes.
    grant_to_app("points_ledger", "SELECT, INSERT, UPDATE (remaining)")
    for table in ("redemptions", "member_achievements"):
        grant_to_app(table, "SELECT, INSERT")
    # The daily expiry job (app role, one tenant at a time) asks which companies have points.
    op.execute(
        """
        CREATE FUNCTION majlis_loyalty_companies()
        RETURNS TABLE (company_id uuid)
        LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public AS
        $$ SELECT p.company_id FROM loyalty_programs p $$
        """
    )
    op.execute("REVOKE ALL ON FUNCTION majlis_loyalty_companies() FROM PUBLIC")
    op.execute(f"GRANT EXECUTE ON FUNCTION majlis_loyalty_companies() TO {APP_ROLE}")


def downgrade() -> None:
    op.execute("DROP FUNCTION majlis_loyalty_companies()")
    for table in TABLES:
        op.drop_table(table)
    op.execute("DROP TYPE points_entry_kind")
