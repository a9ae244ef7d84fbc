"""A company's country and default currency are fixed once it exists.

They decide how every phone number of the company is read (E.164 region) and the
currency its customers default to; changing them would leave the stored numbers
read one way and new ones another. Nothing in Majlis changes them, and now the
database refuses it too, which lets each process read them once per company
(`accounts.service.company_region`) instead of once per create or phone lookup.

Revision ID: 0014_fixed_region
Revises: 0013_stage_counts
"""

from alembic import op

revision = "0014_fixed_region"
down_revision = "0013_stage_counts"
branch_labels = None
depends_on = None
# What this migration locks on tables that may already be large, and the way around it.
LOCKS = (
    "companies: CREATE TRIGGER takes SHARE ROW EXCLUSIVE for an instant (one row a tenant). "
    "Concurrent path: none needed."
)

REFUSE_REGION_CHANGE = """
CREATE FUNCTION majlis_refuse_region_change() RETURNS trigger
LANGUAGE plpgsql AS $fn$
BEGIN
    RAISE EXCEPTION 'a company''s country and default currency cannot change'
        USING ERRCODE = 'check_violation', TABLE = 'companies';
END
$fn$
"""


def upgrade() -> None:
    op.execute(REFUSE_REGION_CHANGE)
    op.execute(
        "CREATE TRIGGER companies_fixed_region BEFORE UPDATE OF country, default_currency"
        " ON companies FOR EACH ROW"
        " WHEN (OLD.country IS DISTINCT FROM NEW.country"
        "       OR OLD.default_currency IS DISTINCT FROM NEW.default_currency)"
        " EXECUTE FUNCTION majlis_refuse_region_change()"
    )


def downgrade() -> None:
    op.execute("DROP TRIGGER companies_fixed_region ON companies")
    op.execute("DROP FUNCTION majlis_refuse_region_change()")
