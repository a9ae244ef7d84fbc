"""Dashboard at a million customers: its figures kept by the analytics refresh.

Three summaries replace reads that grew with the company:

- `customer_kpi_days`, per company and day (in the company's time zone): new
  customers, customers who fell silent (last contact 60 days before), deals won
  and payments received. Counted live they read every customer (the silence of
  each one) and every stage move. The window (160 days of days) covers the
  longest KPI request: 92 days plus the eight weeks of history each is judged by.
- `reminder_days`, per company, UTC day of sending and escalation level: the
  reminder figures, so the 90-day savings stop reading every reminder sent.
- `open_balance_days`, per company, currency and due date: the open balances the
  ageing chart buckets, so it stops reading every open invoice.

`refresh_customer_analytics()` (the periodic job, the refresh button, bench
loads) now refreshes them CONCURRENTLY after the customer analytics summary,
so readers never wait and all share one refresh time. Tenants read them only
through the `*_current` views, which filter by the transaction's company.

Revision ID: 0011_kpi_days
Revises: 0010_page_indexes, 0010_holiday_names, 0009_search_keys_fast_path
"""

from alembic import op

from majlis.core.schema import APP_ROLE

revision = "0011_kpi_days"
# Merges the journeys, receivables and search lineages: the summaries read stage moves,
# payments and reminders, and the refresh function they join comes from 0004_search.
down_revision = ("0010_page_indexes", "0010_holiday_names", "0009_search_keys_fast_path")
branch_labels = None
depends_on = None
# What this migration locks on tables that may already be large, and the way around it.
LOCKS = (
    "customers, workflow_actions, payments, invoices, customer_consolidated_reminders, "
    "companies: CREATE MATERIALIZED VIEW reads each once under ACCESS SHARE (writes go on), "
    "a few seconds per million customers; nothing existing is altered. Concurrent path: "
    "none needed (create them WITH NO DATA and run refresh_customer_analytics() later if "
    "even the read is unwelcome)."
)

KPI_DAYS = """
CREATE MATERIALIZED VIEW customer_kpi_days AS
WITH moved AS (
    SELECT company_id, customer_id, max(occurred_at) AS moved_at
      FROM workflow_actions GROUP BY company_id, customer_id
), figures AS (
    SELECT c.company_id, 'new_customers' AS metric,
           timezone(z.time_zone, c.created_at)::date AS day, count(*)::numeric AS value
      FROM customers c JOIN companies z ON z.id = c.company_id
     WHERE c.created_at >= now() - interval '161 days'
     GROUP BY 1, 3
    UNION ALL
    SELECT c.company_id, 'churn_risk',
           timezone(z.time_zone,
                    greatest(c.created_at, c.last_seen_at, m.moved_at) + interval '60 days')::date,
           count(*)
      FROM customers c JOIN companies z ON z.id = c.company_id
      LEFT JOIN moved m ON m.company_id = c.company_id AND m.customer_id = c.id
     WHERE c.deleted_at IS NULL AND c.is_active
       AND greatest(c.created_at, c.last_seen_at, m.moved_at) >= now() - interval '221 days'
     GROUP BY 1, 3
    UNION ALL
    SELECT w.company_id, 'conversions', timezone(z.time_zone, w.occurred_at)::date, count(*)
      FROM workflow_actions w JOIN companies z ON z.id = w.company_id
     WHERE w.to_stage = 'won' AND w.occurred_at >= now() - interval '161 days'
     GROUP BY 1, 3
    UNION ALL
    SELECT company_id, 'revenue', received_on, sum(amount)
      FROM payments WHERE received_on >= current_date - 161
     GROUP BY 1, 3
)
SELECT figures.*, now() AS refreshed_at FROM figures
"""

# The sums `receivables.analytics.reminder_analytics` takes over a range, per day of sending
# (UTC, as its range bounds are) and level; 100 days cover the dashboard's 90.
REMINDER_DAYS = """
CREATE MATERIALIZED VIEW reminder_days AS
SELECT company_id, (sent_at AT TIME ZONE 'UTC')::date AS day, escalation_level,
       count(*) AS sent,
       sum(invoice_count) AS replaced,
       count(*) FILTER (WHERE opened_at IS NOT NULL OR clicked_at IS NOT NULL
                         OR replied_at IS NOT NULL) AS responded,
       count(*) FILTER (WHERE paid_after_reminder_at IS NOT NULL) AS paid,
       coalesce(sum(total_amount) FILTER (WHERE paid_after_reminder_at IS NOT NULL), 0)
         AS recovered,
       sum(extract(epoch FROM paid_after_reminder_at - sent_at) / 86400)
         FILTER (WHERE paid_after_reminder_at IS NOT NULL) AS days_to_pay,
       now() AS refreshed_at
  FROM customer_consolidated_reminders
 WHERE sent_at IS NOT NULL AND sent_at >= now() - interval '100 days'
 GROUP BY 1, 2, 3
"""

# What `receivables.analytics.receivables_ageing` buckets by days past due.
OPEN_BALANCE_DAYS = """
CREATE MATERIALIZED VIEW open_balance_days AS
SELECT company_id, currency, due_date,
       sum(amount - amount_paid) AS outstanding, count(*) AS invoices, now() AS refreshed_at
  FROM invoices
 WHERE status IN ('open', 'partially_paid')
 GROUP BY 1, 2, 3
"""

CURRENT_VIEWS = {
    "customer_kpi_days_current": """
CREATE VIEW customer_kpi_days_current AS
SELECT metric, day, value, refreshed_at
  FROM customer_kpi_days
 WHERE company_id = majlis_current_company()
""",
    "reminder_days_current": """
CREATE VIEW reminder_days_current AS
SELECT day, escalation_level, sent, replaced, responded, paid, recovered, days_to_pay,
       refreshed_at
  FROM reminder_days
 WHERE company_id = majlis_current_company()
""",
    "open_balance_days_current": """
CREATE VIEW open_balance_days_current AS
SELECT currency, due_date, outstanding, invoices, refreshed_at
  FROM open_balance_days
 WHERE company_id = majlis_current_company()
""",
}

# Owner's rights, so the app and the scheduled job may refresh without SELECT on the matviews.
REFRESH = """
CREATE OR REPLACE FUNCTION refresh_customer_analytics() RETURNS void
LANGUAGE sql SECURITY DEFINER SET search_path = public AS $fn$
REFRESH MATERIALIZED VIEW CONCURRENTLY customer_analytics_summary;
REFRESH MATERIALIZED VIEW CONCURRENTLY customer_kpi_days;
REFRESH MATERIALIZED VIEW CONCURRENTLY reminder_days;
REFRESH MATERIALIZED VIEW CONCURRENTLY open_balance_days
$fn$
"""
# 0004_search's definition, restored on downgrade.
REFRESH_SUMMARY_ONLY = """
CREATE OR REPLACE FUNCTION refresh_customer_analytics() RETURNS void
LANGUAGE sql SECURITY DEFINER SET search_path = public AS $fn$
REFRESH MATERIALIZED VIEW CONCURRENTLY customer_analytics_summary
$fn$
"""


SUMMARIES = {
    "customer_kpi_days": (KPI_DAYS, "company_id, metric, day"),
    "reminder_days": (REMINDER_DAYS, "company_id, day, escalation_level"),
    "open_balance_days": (OPEN_BALANCE_DAYS, "company_id, currency, due_date"),
}


def upgrade() -> None:
    for name, (definition, key) in SUMMARIES.items():
        op.execute(definition)
        # CONCURRENTLY refreshes need a unique index.
        op.execute(f"CREATE UNIQUE INDEX uq_{name} ON {name} ({key})")
        op.execute(f"REVOKE ALL ON {name} FROM {APP_ROLE}")
    for name, definition in CURRENT_VIEWS.items():
        op.execute(definition)
        op.execute(f"GRANT SELECT ON {name} TO {APP_ROLE}")
    op.execute(REFRESH)


def downgrade() -> None:
    op.execute(REFRESH_SUMMARY_ONLY)
    for name in CURRENT_VIEWS:
        op.execute(f"DROP VIEW {name}")
    for name in SUMMARIES:
        op.execute(f"DROP MATERIALIZED VIEW {name}")
