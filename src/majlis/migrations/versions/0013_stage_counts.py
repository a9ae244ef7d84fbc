"""Dashboard funnel at a million customers: customers per journey stage, kept by the refresh.

The dashboard's funnel counted each stage live, capped at 1,000 so its cost did
not grow with the company; at a million customers every bar then read "1,000+",
which is no funnel at all. `journey_stage_counts` holds the exact number of live
customers per company and stage key (`''` for customers never moved, who stand
in the workflow's first stage, as `journey_state` says), refreshed CONCURRENTLY
by `refresh_customer_analytics()` with the other summaries, so the dashboard's
figures share one refresh time. Tenants read it through
`journey_stage_counts_current`, which filters by the transaction's company.

Revision ID: 0013_stage_counts
Revises: 0012_reminder_queue, 0012_search_words
"""

from alembic import op

from majlis.core.schema import APP_ROLE

revision = "0013_stage_counts"
# Merges the receivables and search heads; the refresh function is 0011_kpi_days's.
down_revision = ("0012_reminder_queue", "0012_search_words")
branch_labels = None
depends_on = None
# What this migration locks on tables that may already be large, and the way around it.
LOCKS = (
    "customers, workflow_state: CREATE MATERIALIZED VIEW reads each once under ACCESS SHARE "
    "(writes go on), a second or two per million customers; nothing existing is altered. "
    "Concurrent path: none needed (create it WITH NO DATA and run "
    "refresh_customer_analytics() later if even the read is unwelcome)."
)

STAGE_COUNTS = """
CREATE MATERIALIZED VIEW journey_stage_counts AS
SELECT c.company_id, coalesce(s.stage_key, '') AS stage_key, count(*) AS customers,
       now() AS refreshed_at
  FROM customers c
  LEFT JOIN workflow_state s ON s.company_id = c.company_id AND s.customer_id = c.id
 WHERE c.deleted_at IS NULL
 GROUP BY 1, 2
"""

CURRENT_VIEW = """
CREATE VIEW journey_stage_counts_current AS
SELECT stage_key, customers, refreshed_at
  FROM journey_stage_counts
 WHERE company_id = majlis_current_company()
"""

_REFRESH = """
CREATE OR REPLACE FUNCTION refresh_customer_analytics() RETURNS void
LANGUAGE sql SECURITY DEFINER SET search_path = public AS $fn$
REFRESH MATERIALIZED VIEW CONCURRENTLY customer_analytics_summary;
REFRESH MATERIALIZED VIEW CONCURRENTLY customer_kpi_days;
REFRESH MATERIALIZED VIEW CONCURRENTLY reminder_days;
REFRESH MATERIALIZED VIEW CONCURRENTLY open_balance_days{more}
$fn$
"""


def upgrade() -> None:
    op.execute(STAGE_COUNTS)
    # CONCURRENTLY refreshes need a unique index.
    op.execute(
        "CREATE UNIQUE INDEX uq_journey_stage_counts ON journey_stage_counts"
        " (company_id, stage_key)"
    )
    op.execute(f"REVOKE ALL ON journey_stage_counts FROM {APP_ROLE}")
    op.execute(CURRENT_VIEW)
    op.execute(f"GRANT SELECT ON journey_stage_counts_current TO {APP_ROLE}")
    op.execute(
        _REFRESH.format(more=";\nREFRESH MATERIALIZED VIEW CONCURRENTLY journey_stage_counts")
    )


def downgrade() -> None:
    op.execute(_REFRESH.format(more=""))
    op.execute("DROP VIEW journey_stage_counts_current")
    op.execute("DROP MATERIALIZED VIEW journey_stage_counts")
