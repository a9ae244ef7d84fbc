"""Receivables: invoices, payments, reminder settings and templates, reminders, email logs.

Balances are kept by the database: statement-level triggers (one set-based
recomputation per statement, whatever its row count) refresh invoice
`amount_paid`/`status` from allocations and the customer's
`outstanding_balance` from invoices, so no code path can let them drift.

Revision ID: 0005_receivables
Revises: 0002_customers
"""

from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import ARRAY, ENUM, JSONB, UUID

from majlis.core.schema import APP_ROLE, enable_tenant_rls, grant_to_app

revision = "0005_receivables"
down_revision = "0002_customers"
branch_labels = ("receivables",)
depends_on = None
# What this migration locks on tables that may already be large, and the way around it.
LOCKS = "none: creates new tables, their indexes and functions only; existing tables are untouched."

ENUMS = {
    "invoice_status": ("draft", "open", "partially_paid", "paid", "void"),
    "consolidation_preference": ("ENABLED", "DISABLED", "AUTO"),
    "reminder_channel": ("email",),
    "reminder_language": ("en", "ar"),
    "escalation_level": ("POLITE", "FIRM", "URGENT", "FINAL"),
    "reminder_type": (
        "SINGLE",
        "CONSOLIDATED",
        "URGENT_CONSOLIDATED",
        "FINAL_CONSOLIDATED",
        "MANUAL_CONSOLIDATED",
    ),
    "reminder_delivery_status": (
        "scheduled",
        "sending",
        "sent",
        "delivered",
        "failed",
        "unconfirmed",
        "skipped",
        "cancelled",
    ),
}
OPEN = "('open', 'partially_paid')"
PENDING = "delivery_status IN ('scheduled', 'sending')"
DASHBOARD_COLUMNS = (
    "escalation_level",
    "invoice_count",
    "total_amount",
    "opened_at",
    "clicked_at",
    "replied_at",
    "paid_after_reminder_at",
)


def _enum(name: str) -> ENUM:
    return ENUM(*ENUMS[name], name=name, create_type=False)


def _uuid(name: str, *args: Any, **kwargs: Any) -> sa.Column[Any]:
    return sa.Column(name, UUID(as_uuid=True), *args, **kwargs)


def _now(name: str) -> sa.Column[Any]:
    return sa.Column(
        name, sa.DateTime(timezone=True), nullable=False, server_default=sa.text("now()")
    )


def _customer_fk() -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["company_id", "customer_id"], ["customers.company_id", "customers.id"]
    )


def _tenant_keys(*, company_fk: bool = False) -> list[sa.Column[Any]]:
    """(company_id, id). Tables that reference a customer (or invoice, payment, reminder)
    skip the FK to companies: the composite FK already proves the company, and each FK
    is one more lookup per inserted row in bulk runs."""
    company = (sa.ForeignKey("companies.id"),) if company_fk else ()
    return [_uuid("company_id", *company, primary_key=True), _uuid("id", primary_key=True)]


def _create_enums() -> None:
    for name, labels in ENUMS.items():
        sa.Enum(*labels, name=name).create(op.get_bind())


def _settings_tables() -> None:
    op.create_table(
        "reminder_settings",
        _uuid("company_id", sa.ForeignKey("companies.id"), primary_key=True),
        sa.Column(
            "consolidation",
            _enum("consolidation_preference"),
            nullable=False,
            server_default="AUTO",
        ),
        sa.Column(
            "max_consolidation_amount", sa.Numeric(14, 2), nullable=False, server_default="100000"
        ),
        sa.Column(
            "preferred_contact_interval_days", sa.Integer, nullable=False, server_default="7"
        ),
        sa.Column("channel", _enum("reminder_channel"), nullable=False, server_default="email"),
        sa.Column("language", _enum("reminder_language"), nullable=False, server_default="en"),
        sa.Column("reminders_paused", sa.Boolean, nullable=False, server_default="false"),
        sa.Column("firm_after_days", sa.Integer, nullable=False, server_default="15"),
        sa.Column("urgent_after_days", sa.Integer, nullable=False, server_default="30"),
        sa.Column("final_after_days", sa.Integer, nullable=False, server_default="60"),
        sa.Column("holiday_additions", ARRAY(sa.Date), nullable=False, server_default="{}"),
        sa.Column("holiday_removals", ARRAY(sa.Date), nullable=False, server_default="{}"),
        _now("updated_at"),
        sa.CheckConstraint("max_consolidation_amount > 0", name="max_amount_positive"),
        sa.CheckConstraint("preferred_contact_interval_days > 0", name="interval_positive"),
        sa.CheckConstraint(
            "0 < firm_after_days AND firm_after_days < urgent_after_days"
            " AND urgent_after_days < final_after_days",
            name="thresholds_ordered",
        ),
    )
    enable_tenant_rls("reminder_settings")
    grant_to_app("reminder_settings", "SELECT, INSERT, UPDATE")

    op.create_table(
        "customer_reminder_overrides",
        _uuid("company_id", primary_key=True),
        _uuid("customer_id", primary_key=True),
        sa.Column("consolidation", _enum("consolidation_preference")),
        sa.Column("max_consolidation_amount", sa.Numeric(14, 2)),
        sa.Column("preferred_contact_interval_days", sa.Integer),
        sa.Column("channel", _enum("reminder_channel")),
        sa.Column("language", _enum("reminder_language")),
        sa.Column("opt_out", sa.Boolean, nullable=False, server_default="false"),
        _now("updated_at"),
        _customer_fk(),
        sa.CheckConstraint("max_consolidation_amount > 0", name="max_amount_positive"),
        sa.CheckConstraint("preferred_contact_interval_days > 0", name="interval_positive"),
    )
    enable_tenant_rls("customer_reminder_overrides")
    grant_to_app("customer_reminder_overrides")


def _money_tables() -> None:
    op.create_table(
        "invoices",
        *_tenant_keys(),
        _uuid("customer_id", nullable=False),
        sa.Column("number", sa.Text, nullable=False),
        sa.Column("issue_date", sa.Date, nullable=False),
        sa.Column("due_date", sa.Date, nullable=False),
        sa.Column("amount", sa.Numeric(14, 2), nullable=False),
        sa.Column("amount_paid", sa.Numeric(14, 2), nullable=False, server_default="0"),
        sa.Column("currency", sa.String(3), nullable=False, server_default="AED"),
        sa.Column("status", _enum("invoice_status"), nullable=False, server_default="open"),
        sa.Column("paid_on", sa.Date),
        sa.Column("notes", sa.Text),
        _uuid("created_by"),
        _now("created_at"),
        _now("updated_at"),
        _customer_fk(),
        sa.UniqueConstraint("company_id", "number", name="uq_invoices_number"),
        sa.CheckConstraint("amount > 0", name="amount_positive"),
        sa.CheckConstraint("amount_paid >= 0 AND amount_paid <= amount", name="paid_within_amount"),
        sa.CheckConstraint("due_date >= issue_date", name="due_after_issue"),
        sa.CheckConstraint("btrim(number) <> ''", name="number_not_blank"),
    )
    op.create_index(
        "ix_invoices_open_by_customer",
        "invoices",
        ["company_id", "customer_id", "due_date"],
        postgresql_where=sa.text(f"status IN {OPEN}"),
    )
    op.create_index(
        "ix_invoices_open_by_due",
        "invoices",
        ["company_id", "due_date"],
        postgresql_where=sa.text(f"status IN {OPEN}"),
    )
    op.create_index(
        "ix_invoices_paid_by_customer",
        "invoices",
        ["company_id", "customer_id"],
        postgresql_include=["amount"],
        postgresql_where=sa.text("status = 'paid'"),
    )
    op.create_index(
        "ix_invoices_customer_created",
        "invoices",
        ["company_id", "customer_id", "created_at", "id"],
    )
    enable_tenant_rls("invoices")
    grant_to_app("invoices", "SELECT, INSERT, UPDATE")

    op.create_table(
        "invoice_lines",
        *_tenant_keys(),
        _uuid("invoice_id", nullable=False),
        sa.Column("position", sa.Integer, nullable=False),
        sa.Column("description", sa.Text, nullable=False),
        sa.Column("quantity", sa.Numeric(14, 3), nullable=False),
        sa.Column("unit_price", sa.Numeric(14, 2), nullable=False),
        sa.ForeignKeyConstraint(
            ["company_id", "invoice_id"], ["invoices.company_id", "invoices.id"], ondelete="CASCADE"
        ),
        sa.CheckConstraint("quantity > 0", name="quantity_positive"),
        sa.CheckConstraint("unit_price >= 0", name="price_not_negative"),
    )
    op.create_index(
        "ix_invoice_lines_invoice", "invoice_lines", ["company_id", "invoice_id", "position"]
    )
    enable_tenant_rls("invoice_lines")
    grant_to_app("invoice_lines", "SELECT, INSERT")

    op.create_table(
        "payments",
        *_tenant_keys(),
        _uuid("customer_id", nullable=False),
        sa.Column("amount", sa.Numeric(14, 2), nullable=False),
        sa.Column("allocated_amount", sa.Numeric(14, 2), nullable=False, server_default="0"),
        sa.Column("currency", sa.String(3), nullable=False, server_default="AED"),
        sa.Column("received_on", sa.Date, nullable=False),
        sa.Column("reference", sa.Text),
        _uuid("created_by"),
        _now("created_at"),
        _customer_fk(),
        sa.CheckConstraint("amount > 0", name="amount_positive"),
        sa.CheckConstraint(
            "allocated_amount >= 0 AND allocated_amount <= amount", name="allocated_within_amount"
        ),
    )
    op.create_index(
        "ix_payments_customer", "payments", ["company_id", "customer_id", "received_on"]
    )
    enable_tenant_rls("payments")
    grant_to_app("payments", "SELECT, INSERT, UPDATE")

    op.create_table(
        "payment_allocations",
        *_tenant_keys(),
        _uuid("payment_id", nullable=False),
        _uuid("invoice_id", nullable=False),
        sa.Column("amount", sa.Numeric(14, 2), nullable=False),
        _now("created_at"),
        sa.ForeignKeyConstraint(
            ["company_id", "payment_id"], ["payments.company_id", "payments.id"]
        ),
        sa.ForeignKeyConstraint(
            ["company_id", "invoice_id"], ["invoices.company_id", "invoices.id"]
        ),
        sa.CheckConstraint("amount > 0", name="amount_positive"),
    )
    op.create_index(
        "ix_payment_allocations_invoice", "payment_allocations", ["company_id", "invoice_id"]
    )
    op.create_index(
        "ix_payment_allocations_payment", "payment_allocations", ["company_id", "payment_id"]
    )
    enable_tenant_rls("payment_allocations")
    # Allocations are facts: added or (to correct a mistake) removed, never edited in place.
    grant_to_app("payment_allocations", "SELECT, INSERT, DELETE")


def _reminder_tables() -> None:
    op.create_table(
        "reminder_templates",
        *_tenant_keys(company_fk=True),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("language", _enum("reminder_language"), nullable=False),
        sa.Column("escalation_level", _enum("escalation_level"), nullable=False),
        sa.Column("supports_consolidation", sa.Boolean, nullable=False, server_default="true"),
        sa.Column("max_invoice_count", sa.Integer, nullable=False, server_default="10"),
        sa.Column("subject", sa.Text, nullable=False),
        sa.Column("body_html", sa.Text, nullable=False),
        sa.Column("variables", ARRAY(sa.Text), nullable=False, server_default="{}"),
        _now("created_at"),
        _now("updated_at"),
        sa.UniqueConstraint(
            "company_id",
            "language",
            "escalation_level",
            "supports_consolidation",
            name="uq_reminder_templates_slot",
        ),
        sa.CheckConstraint("max_invoice_count > 0", name="max_invoice_count_positive"),
    )
    enable_tenant_rls("reminder_templates")
    grant_to_app("reminder_templates", "SELECT, INSERT, UPDATE")

    op.create_table(
        "customer_consolidated_reminders",
        *_tenant_keys(),
        _uuid("customer_id", nullable=False),
        _uuid("run_id"),
        sa.Column("invoice_ids", ARRAY(UUID(as_uuid=True)), nullable=False),
        sa.Column(
            "invoice_count", sa.Integer, sa.Computed("cardinality(invoice_ids)"), nullable=False
        ),
        sa.Column("total_amount", sa.Numeric(14, 2), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("reminder_type", _enum("reminder_type"), nullable=False),
        sa.Column("escalation_level", _enum("escalation_level"), nullable=False),
        sa.Column("priority_score", sa.Integer, nullable=False),
        sa.Column("oldest_days_overdue", sa.Integer, nullable=False),
        sa.Column("channel", _enum("reminder_channel"), nullable=False),
        sa.Column("language", _enum("reminder_language"), nullable=False),
        sa.Column("scheduled_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column(
            "delivery_status",
            _enum("reminder_delivery_status"),
            nullable=False,
            server_default="scheduled",
        ),
        sa.Column("status_reason", sa.Text),
        sa.Column("idempotency_key", sa.Text),
        sa.Column("message_id", sa.Text),
        sa.Column("sending_started_at", sa.DateTime(timezone=True)),
        sa.Column("sent_at", sa.DateTime(timezone=True)),
        sa.Column("opened_at", sa.DateTime(timezone=True)),
        sa.Column("clicked_at", sa.DateTime(timezone=True)),
        sa.Column("replied_at", sa.DateTime(timezone=True)),
        sa.Column("paid_after_reminder_at", sa.DateTime(timezone=True)),
        sa.Column("manual", sa.Boolean, nullable=False, server_default="false"),
        _uuid("created_by"),
        _now("created_at"),
        _customer_fk(),
        sa.CheckConstraint(
            "reminder_type = 'SINGLE' OR cardinality(invoice_ids) >= 2",
            name="consolidated_min_two",
        ),
        sa.CheckConstraint(
            "reminder_type <> 'SINGLE' OR cardinality(invoice_ids) = 1",
            name="single_has_one_invoice",
        ),
        sa.CheckConstraint("priority_score BETWEEN 0 AND 100", name="priority_range"),
        sa.CheckConstraint("total_amount > 0", name="amount_positive"),
        sa.CheckConstraint("oldest_days_overdue >= 0", name="overdue_not_negative"),
        sa.CheckConstraint("scheduled_at >= created_at", name="schedule_not_in_past"),
        sa.CheckConstraint(
            "delivery_status NOT IN ('sending', 'sent', 'delivered', 'unconfirmed')"
            " OR (idempotency_key IS NOT NULL AND message_id IS NOT NULL)",
            name="sending_has_idempotency_key",
        ),
    )
    op.create_index(
        "ix_customer_consolidated_reminders_customer",
        "customer_consolidated_reminders",
        ["company_id", "customer_id", "created_at", "id"],
    )
    op.create_index(
        "ix_customer_consolidated_reminders_sent",
        "customer_consolidated_reminders",
        ["company_id", "sent_at"],
        # Covering: the dashboard reads only these columns, so it scans the index alone.
        postgresql_include=[*DASHBOARD_COLUMNS],
        postgresql_where=sa.text("sent_at IS NOT NULL"),
    )
    # Contact state per customer (last sent, how many since, anything waiting), index-only.
    op.create_index(
        "ix_customer_consolidated_reminders_contact",
        "customer_consolidated_reminders",
        ["company_id", "customer_id", "sent_at"],
        postgresql_where=sa.text("sent_at IS NOT NULL"),
    )
    op.create_index(
        "ix_customer_consolidated_reminders_pending",
        "customer_consolidated_reminders",
        ["company_id", "customer_id"],
        postgresql_where=sa.text(PENDING),
    )
    op.create_index(
        "ix_customer_consolidated_reminders_created",
        "customer_consolidated_reminders",
        ["company_id", "created_at"],
    )
    enable_tenant_rls("customer_consolidated_reminders")
    grant_to_app("customer_consolidated_reminders")

    op.create_table(
        "email_logs",
        *_tenant_keys(),
        _uuid("reminder_id", nullable=False),
        _uuid("customer_id", nullable=False),
        sa.Column("to_address", sa.Text, nullable=False),
        sa.Column("subject", sa.Text, nullable=False),
        sa.Column("invoice_count", sa.Integer, nullable=False),
        sa.Column("consolidation_savings_pct", sa.Numeric(5, 2), nullable=False),
        sa.Column("delivery_status", _enum("reminder_delivery_status"), nullable=False),
        sa.Column("message_id", sa.Text),
        sa.Column("metadata", JSONB, nullable=False, server_default="{}"),
        _now("created_at"),
        sa.ForeignKeyConstraint(
            ["company_id", "reminder_id"],
            ["customer_consolidated_reminders.company_id", "customer_consolidated_reminders.id"],
        ),
        _customer_fk(),
        sa.CheckConstraint("invoice_count > 0", name="invoice_count_positive"),
        sa.CheckConstraint("consolidation_savings_pct BETWEEN 0 AND 100", name="savings_range"),
    )
    op.create_index("ix_email_logs_reminder", "email_logs", ["company_id", "reminder_id"])
    op.create_index("ix_email_logs_created", "email_logs", ["company_id", "created_at"])
    enable_tenant_rls("email_logs")
    # Rows are only ever added, and removed by the retention purge.
    grant_to_app("email_logs", "SELECT, INSERT, DELETE")


# The triggers read their statement's transition table (`changed`), so a COPY of
# 100,000 allocations costs one recomputation per statement, not per row.
_REFRESH_INVOICES = """
CREATE FUNCTION receivables_refresh_invoices() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  UPDATE invoices i
     SET amount_paid = coalesce(s.paid, 0),
         status = CASE
           WHEN i.status IN ('draft', 'void') THEN i.status
           WHEN coalesce(s.paid, 0) = 0 THEN 'open'::invoice_status
           WHEN s.paid < i.amount THEN 'partially_paid'::invoice_status
           ELSE 'paid'::invoice_status END,
         paid_on = CASE WHEN coalesce(s.paid, 0) >= i.amount THEN s.last_received END,
         updated_at = now()
    FROM (SELECT DISTINCT company_id, invoice_id FROM changed) k
    LEFT JOIN LATERAL (
         SELECT sum(a.amount) AS paid, max(p.received_on) AS last_received
           FROM payment_allocations a
           JOIN payments p ON p.company_id = a.company_id AND p.id = a.payment_id
          WHERE a.company_id = k.company_id AND a.invoice_id = k.invoice_id) s ON true
   WHERE i.company_id = k.company_id AND i.id = k.invoice_id;
  UPDATE payments p
     SET allocated_amount = coalesce(s.allocated, 0)
    FROM (SELECT DISTINCT company_id, payment_id FROM changed) k
    LEFT JOIN LATERAL (
         SELECT sum(a.amount) AS allocated FROM payment_allocations a
          WHERE a.company_id = k.company_id AND a.payment_id = k.payment_id) s ON true
   WHERE p.company_id = k.company_id AND p.id = k.payment_id;
  RETURN NULL;
END $$
"""

_REFRESH_BALANCES = f"""
CREATE FUNCTION receivables_refresh_balances() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  UPDATE customers c
     SET outstanding_balance = coalesce(s.balance, 0)
    FROM (SELECT DISTINCT company_id, customer_id FROM changed) k
    LEFT JOIN LATERAL (
         SELECT sum(i.amount - i.amount_paid) AS balance FROM invoices i
          WHERE i.company_id = k.company_id AND i.customer_id = k.customer_id
            AND i.status IN {OPEN}) s ON true
   WHERE c.company_id = k.company_id AND c.id = k.customer_id
     AND c.outstanding_balance IS DISTINCT FROM coalesce(s.balance, 0);
  RETURN NULL;
END $$
"""

_TRIGGERS = (
    ("payment_allocations", "INSERT", "NEW", "receivables_refresh_invoices"),
    ("payment_allocations", "DELETE", "OLD", "receivables_refresh_invoices"),
    ("invoices", "INSERT", "NEW", "receivables_refresh_balances"),
    ("invoices", "UPDATE", "NEW", "receivables_refresh_balances"),
)


def _create_triggers() -> None:
    op.execute(_REFRESH_INVOICES)
    op.execute(_REFRESH_BALANCES)
    for table, event, side, function in _TRIGGERS:
        op.execute(
            f"CREATE TRIGGER {table}_{event.lower()}_refresh AFTER {event} ON {table}"
            f" REFERENCING {side} TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION {function}()"
        )


def _create_worker_functions() -> None:
    # The outbox worker runs as the app role, which sees one tenant at a time;
    # these owner-run functions tell it which tenants have work, and nothing else.
    op.execute(
        """
        CREATE FUNCTION majlis_companies_with_pending_events(p_topics text[])
        RETURNS TABLE (company_id uuid)
        LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public AS
        $$ SELECT DISTINCT e.company_id FROM outbox_events e
            WHERE e.delivered_at IS NULL AND e.available_at <= now()
              AND e.topic = ANY(p_topics) $$
        """
    )
    op.execute(
        """
        CREATE FUNCTION majlis_receivables_companies()
        RETURNS TABLE (company_id uuid)
        LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public AS
        $$ SELECT c.id FROM companies c
            WHERE EXISTS (SELECT 1 FROM invoices i WHERE i.company_id = c.id) $$
        """
    )
    for signature in (
        "majlis_companies_with_pending_events(text[])",
        "majlis_receivables_companies()",
    ):
        op.execute(f"REVOKE ALL ON FUNCTION {signature} FROM PUBLIC")
        op.execute(f"GRANT EXECUTE ON FUNCTION {signature} TO {APP_ROLE}")


def upgrade() -> None:
    _create_enums()
    _settings_tables()
    _money_tables()
    _reminder_tables()
    _create_triggers()
    _create_worker_functions()


def downgrade() -> None:
    op.execute("DROP FUNCTION majlis_receivables_companies()")
    op.execute("DROP FUNCTION majlis_companies_with_pending_events(text[])")
    for table in (
        "email_logs",
        "customer_consolidated_reminders",
        "reminder_templates",
        "payment_allocations",
        "payments",
        "invoice_lines",
        "invoices",
        "customer_reminder_overrides",
        "reminder_settings",
    ):
        op.drop_table(table)
    op.execute("DROP FUNCTION receivables_refresh_balances()")
    op.execute("DROP FUNCTION receivables_refresh_invoices()")
    for name in reversed(ENUMS):
        op.execute(f"DROP TYPE {name}")
