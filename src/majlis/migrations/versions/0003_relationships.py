"""Relationships: organizations' contacts and projects, conversations, interactions, privacy.

Revision ID: 0003_relationships
Revises: 0002_customers
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import ARRAY, ENUM, JSONB, UUID

from majlis.core.i18n import strip_accents
from majlis.core.schema import APP_ROLE, enable_tenant_rls, grant_to_app

revision = "0003_relationships"
down_revision = "0002_customers"
branch_labels = ("relationships",)
depends_on = None
# What this migration locks on tables that may already be large, and the way around it.
LOCKS = (
    "customers: ADD COLUMN (nullable, no default) takes ACCESS EXCLUSIVE for a "
    "catalog-only change, no rewrite, milliseconds at any size; run with a short "
    "lock_timeout and retry. Everything else is new tables."
)

ENUMS = {
    "project_status": ("planned", "active", "on_hold", "completed", "cancelled"),
    "contact_point_role": (
        "decision_maker",
        "billing",
        "technical",
        "operations",
        "procurement",
        "other",
    ),
    "conversation_link_source": ("auto_sync", "manual", "migration"),
    "conversation_sync_state": ("pending", "linked", "ambiguous", "anonymous"),
    "interaction_kind": ("viewed", "edited", "loaded_into_chat", "exported"),
    "consent_channel": ("email", "sms", "whatsapp", "phone", "post"),
    "erasure_status": ("pending", "completed", "rejected"),
}
TABLES = (
    "erasure_requests",
    "consent_log",
    "customer_consents",
    "customer_interactions",
    "conversations",
    "project_contact_points",
    "projects",
    "contacts",
)
MATCH_NAME_COLUMNS = ("match_name", "match_name_ar")
CUSTOMER_COLUMNS = ("conversation_count", "erased_at", "pseudonym", *MATCH_NAME_COLUMNS)
SECONDARY_COLUMNS = ("secondary_emails", "secondary_phones")

_ACCENTED = "".join(
    ch
    for ch in map(chr, range(0xC0, 0x250))
    if len(strip_accents(ch)) == 1 and strip_accents(ch) != ch
)
_FOLD_FROM = (
    _ACCENTED
    + "أإآٱىةؤئ"
    + "".join(chr(0x0660 + i) + chr(0x06F0 + i) + chr(0x0E50 + i) for i in range(10))
)
_FOLD_TO = (
    "".join(strip_accents(ch) for ch in _ACCENTED)
    + "اااايهوي"
    + "".join(str(i) * 3 for i in range(10))
)
# Arabic marks and tatweel, then bidi controls and zero-width characters (as core/i18n.py).
_DROPPED = (
    r"[\u0610-\u061a\u064b-\u065f\u0670\u06d6-\u06ed\u0640"
    r"\u200b-\u200f\u202a-\u202e\u2066-\u2069\ufeff]"
)


def _enum(name: str) -> ENUM:
    return ENUM(*ENUMS[name], name=name, create_type=False)


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


def _customer_fk(column: str, name: str, ondelete: str | None = None) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["company_id", column],
        ["customers.company_id", "customers.id"],
        name=name,
        ondelete=ondelete,
    )


def _member_fk(column: str, name: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["company_id", column], ["memberships.company_id", "memberships.user_id"], name=name
    )


def _functions() -> None:
    # The SQL twin of core/i18n.normalize_text for names, so an index can serve name matching.
    op.execute(
        f"""
        CREATE FUNCTION majlis_match_name(value text) RETURNS text
        LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS
        $$ SELECT btrim(regexp_replace(lower(translate(
               regexp_replace(value, '{_DROPPED}', '', 'g'), '{_FOLD_FROM}', '{_FOLD_TO}')),
             '\\s+', ' ', 'g')) $$
        """
    )
    # UUIDv7 for rows written by set-based SQL (bulk sync), like core/ids.new_id().
    op.execute(
        """
        CREATE FUNCTION majlis_new_id() RETURNS uuid LANGUAGE sql VOLATILE AS
        $$ SELECT encode(set_bit(set_bit(overlay(uuid_send(gen_random_uuid()) PLACING
               substring(int8send(floor(extract(epoch FROM clock_timestamp()) * 1000)::bigint)
               FROM 3) FROM 1 FOR 6), 52, 1), 53, 1), 'hex')::uuid $$
        """
    )
    op.execute(f"GRANT EXECUTE ON FUNCTION majlis_match_name(text), majlis_new_id() TO {APP_ROLE}")
    # Erasure must blank personal data inside the append-only audit log. The app role may not
    # UPDATE it, so this narrow owner function does exactly that, for the caller's company
    # and one entity, and nothing else.
    op.execute(
        """
        CREATE FUNCTION majlis_redact_audit(p_entity_type text, p_entity_id uuid)
        RETURNS integer LANGUAGE plpgsql SECURITY DEFINER SET search_path = public AS $$
        DECLARE redacted integer;
        BEGIN
          UPDATE audit_log SET before = NULL, after = jsonb_build_object('redacted', true)
           WHERE company_id = majlis_current_company()
             AND entity_type = p_entity_type AND entity_id = p_entity_id
             AND (before IS NOT NULL OR after IS DISTINCT FROM '{"redacted": true}'::jsonb);
          GET DIAGNOSTICS redacted = ROW_COUNT;
          RETURN redacted;
        END $$
        """
    )
    op.execute("REVOKE ALL ON FUNCTION majlis_redact_audit(text, uuid) FROM PUBLIC")
    op.execute(f"GRANT EXECUTE ON FUNCTION majlis_redact_audit(text, uuid) TO {APP_ROLE}")


def _customer_columns() -> None:
    op.add_column(
        "customers",
        sa.Column("conversation_count", sa.Integer, nullable=False, server_default="0"),
    )
    op.add_column("customers", sa.Column("erased_at", sa.DateTime(timezone=True)))
    op.add_column("customers", sa.Column("pseudonym", sa.Text))
    # Stored, because under RLS only leakproof quals use an index: an expression index on
    # majlis_match_name(name) would never serve, a plain column compared with = does. Kept by
    # a trigger that fires only when a name changes, so the many updates that touch other
    # columns (enrichment bumps every linked customer) do not pay for the normalisation.
    for column in MATCH_NAME_COLUMNS:
        op.add_column("customers", sa.Column(column, sa.Text))
        op.create_index(
            f"ix_customers_{column}",
            "customers",
            ["company_id", column],
            postgresql_where=sa.text("deleted_at IS NULL"),
        )
    op.execute(
        """
        CREATE FUNCTION majlis_customers_match_names() RETURNS trigger
        LANGUAGE plpgsql AS $$
        BEGIN
          NEW.match_name := majlis_match_name(NEW.name);
          NEW.match_name_ar := majlis_match_name(NEW.name_ar);
          RETURN NEW;
        END $$
        """
    )
    op.execute(
        "CREATE TRIGGER customers_match_names BEFORE INSERT OR UPDATE OF name, name_ar"
        " ON customers FOR EACH ROW EXECUTE FUNCTION majlis_customers_match_names()"
    )
    op.execute("UPDATE customers SET name = name")
    # Under RLS the array operators (not leakproof) cannot use the GIN indexes, so matching
    # on secondary emails/phones reads just the customers that have any, found by these.
    for column in SECONDARY_COLUMNS:
        op.create_index(
            f"ix_customers_has_{column}",
            "customers",
            ["company_id"],
            postgresql_where=sa.text(f"deleted_at IS NULL AND {column} <> '{{}}'"),
        )


def _organizations() -> None:
    op.create_table(
        "contacts",
        _company(),
        _id(),
        sa.Column("organization_id", UUID(as_uuid=True), nullable=False),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("name_ar", sa.Text),
        sa.Column("email", sa.Text),
        sa.Column("phone", sa.Text),
        sa.Column("role_title", sa.Text),
        sa.Column("description", sa.Text),
        sa.Column("is_primary_contact", sa.Boolean, nullable=False, server_default="false"),
        sa.Column("converted_from_customer_id", UUID(as_uuid=True)),
        sa.Column("archived_at", sa.DateTime(timezone=True)),
        sa.Column("created_by", UUID(as_uuid=True)),
        _now("created_at"),
        _now("updated_at"),
        _customer_fk("organization_id", "fk_contacts_organization"),
        _customer_fk("converted_from_customer_id", "fk_contacts_converted_from"),
        _member_fk("created_by", "fk_contacts_created_by"),
        sa.UniqueConstraint("company_id", "organization_id", "id", name="uq_contacts_organization"),
        sa.CheckConstraint("btrim(name) <> ''", name="name_not_blank"),
    )
    op.create_index(
        "uq_contacts_primary",
        "contacts",
        ["company_id", "organization_id"],
        unique=True,
        postgresql_where=sa.text("is_primary_contact AND archived_at IS NULL"),
    )
    op.create_index(
        "ix_contacts_by_name", "contacts", ["company_id", "organization_id", "name", "id"]
    )
    op.create_index("ix_contacts_email", "contacts", ["company_id", "email"])
    op.create_index(
        "ix_contacts_converted_from", "contacts", ["company_id", "converted_from_customer_id"]
    )
    op.create_table(
        "projects",
        _company(),
        _id(),
        sa.Column("organization_id", UUID(as_uuid=True), nullable=False),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("status", _enum("project_status"), nullable=False, server_default="planned"),
        sa.Column("value", sa.Numeric(14, 2)),
        sa.Column("currency", sa.String(3), nullable=False, server_default="AED"),
        sa.Column("start_date", sa.Date),
        sa.Column("end_date", sa.Date),
        sa.Column("owner_id", UUID(as_uuid=True)),
        sa.Column("description", sa.Text),
        sa.Column("archived_at", sa.DateTime(timezone=True)),
        sa.Column("created_by", UUID(as_uuid=True)),
        _now("created_at"),
        _now("updated_at"),
        _customer_fk("organization_id", "fk_projects_organization"),
        _member_fk("owner_id", "fk_projects_owner"),
        _member_fk("created_by", "fk_projects_created_by"),
        sa.UniqueConstraint("company_id", "organization_id", "id", name="uq_projects_organization"),
        sa.CheckConstraint("btrim(name) <> ''", name="name_not_blank"),
        sa.CheckConstraint("value >= 0", name="value_not_negative"),
        sa.CheckConstraint("end_date >= start_date", name="dates_in_order"),
    )
    op.create_index(
        "ix_projects_by_name", "projects", ["company_id", "organization_id", "name", "id"]
    )
    op.create_index("ix_projects_owner", "projects", ["company_id", "owner_id"])
    op.create_table(
        "project_contact_points",
        _company(),
        _id(),
        sa.Column("organization_id", UUID(as_uuid=True), nullable=False),
        sa.Column("project_id", UUID(as_uuid=True), nullable=False),
        sa.Column("contact_id", UUID(as_uuid=True), nullable=False),
        sa.Column("role", _enum("contact_point_role"), nullable=False),
        sa.Column("is_primary", sa.Boolean, nullable=False, server_default="false"),
        _now("created_at"),
        # Both keys carry the organization, so a contact of another organization cannot be
        # attached to the project even by SQL that skips the service.
        sa.ForeignKeyConstraint(
            ["company_id", "organization_id", "project_id"],
            ["projects.company_id", "projects.organization_id", "projects.id"],
            name="fk_project_contact_points_project",
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["company_id", "organization_id", "contact_id"],
            ["contacts.company_id", "contacts.organization_id", "contacts.id"],
            name="fk_project_contact_points_contact",
            ondelete="CASCADE",
        ),
        sa.UniqueConstraint(
            "company_id", "project_id", "contact_id", "role", name="uq_project_contact_points_role"
        ),
    )
    op.create_index(
        "uq_project_contact_points_primary",
        "project_contact_points",
        ["company_id", "project_id"],
        unique=True,
        postgresql_where=sa.text("is_primary"),
    )
    op.create_index(
        "ix_project_contact_points_contact",
        "project_contact_points",
        ["company_id", "organization_id", "contact_id"],
    )


def _conversations() -> None:
    op.create_table(
        "conversations",
        _company(),
        _id(),
        sa.Column("channel", sa.Text, nullable=False),
        sa.Column("session_id", sa.Text, nullable=False),
        sa.Column("channel_user", sa.Text),
        sa.Column("interaction_number", sa.Integer),
        sa.Column("contact_name", sa.Text),
        sa.Column("contact_email", sa.Text),
        sa.Column("contact_phone", sa.Text),
        sa.Column("contact_address", sa.Text),
        sa.Column("contact_trn", sa.Text),
        sa.Column("contact_external_ref", sa.Text),
        sa.Column("match_email", sa.Text),
        sa.Column("match_phone", sa.Text),
        sa.Column("match_trn", sa.Text),
        sa.Column("match_name", sa.Text),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ended_at", sa.DateTime(timezone=True)),
        sa.Column("summary", sa.Text),
        sa.Column("messages", JSONB, nullable=False, server_default="[]"),
        sa.Column("customer_id", UUID(as_uuid=True)),
        sa.Column("customer_linked_at", sa.DateTime(timezone=True)),
        sa.Column("link_source", _enum("conversation_link_source")),
        sa.Column(
            "sync_state", _enum("conversation_sync_state"), nullable=False, server_default="pending"
        ),
        sa.Column("match_reason", sa.Text),
        sa.Column("match_confidence", sa.Numeric(4, 3)),
        sa.Column(
            "ambiguous_candidates", ARRAY(UUID(as_uuid=True)), nullable=False, server_default="{}"
        ),
        sa.Column("anonymised_at", sa.DateTime(timezone=True)),
        _now("created_at"),
        _customer_fk("customer_id", "fk_conversations_customer", ondelete="CASCADE"),
        sa.UniqueConstraint("company_id", "channel", "session_id", name="uq_conversations_session"),
        sa.CheckConstraint("ended_at >= started_at", name="ended_after_start"),
        sa.CheckConstraint(
            "(customer_id IS NULL) = (link_source IS NULL)", name="link_source_with_customer"
        ),
    )
    op.create_index(
        "ix_conversations_customer",
        "conversations",
        ["company_id", "customer_id", "started_at", "id"],
    )
    op.create_index(
        "ix_conversations_unlinked",
        "conversations",
        ["company_id", "id"],
        postgresql_where=sa.text("customer_id IS NULL"),
    )
    op.create_index("ix_conversations_started", "conversations", ["company_id", "started_at"])
    op.create_index(
        "ix_conversations_sync", "conversations", ["company_id", "sync_state", "link_source"]
    )


def _interactions() -> None:
    op.create_table(
        "customer_interactions",
        _company(),
        _id(),
        sa.Column("customer_id", UUID(as_uuid=True), nullable=False),
        sa.Column("kind", _enum("interaction_kind"), nullable=False),
        sa.Column("actor_kind", sa.Text, nullable=False),
        sa.Column("actor_id", UUID(as_uuid=True)),
        sa.Column("sensitive_fields", ARRAY(sa.Text), nullable=False, server_default="{}"),
        _now("occurred_at"),
        _customer_fk("customer_id", "fk_customer_interactions_customer", ondelete="CASCADE"),
    )
    op.create_index(
        "ix_customer_interactions_customer",
        "customer_interactions",
        ["company_id", "customer_id", "occurred_at", "id"],
    )


def _privacy() -> None:
    op.create_table(
        "customer_consents",
        _company(),
        _id(),
        sa.Column("customer_id", UUID(as_uuid=True), nullable=False),
        sa.Column("channel", _enum("consent_channel"), nullable=False),
        sa.Column("marketing_consent", sa.Boolean, nullable=False),
        sa.Column("opted_out", sa.Boolean, nullable=False),
        sa.Column("updated_by", UUID(as_uuid=True)),
        _now("updated_at"),
        _customer_fk("customer_id", "fk_customer_consents_customer", ondelete="CASCADE"),
        sa.UniqueConstraint(
            "company_id", "customer_id", "channel", name="uq_customer_consents_channel"
        ),
        sa.CheckConstraint("NOT (marketing_consent AND opted_out)", name="consent_or_opt_out"),
    )
    op.create_table(
        "consent_log",
        _company(),
        _id(),
        sa.Column("customer_id", UUID(as_uuid=True), nullable=False),
        sa.Column("channel", _enum("consent_channel"), nullable=False),
        sa.Column("marketing_consent", sa.Boolean, nullable=False),
        sa.Column("opted_out", sa.Boolean, nullable=False),
        sa.Column("source", sa.Text, nullable=False),
        sa.Column("note", sa.Text),
        sa.Column("actor_kind", sa.Text, nullable=False),
        sa.Column("actor_id", UUID(as_uuid=True)),
        _now("occurred_at"),
        _customer_fk("customer_id", "fk_consent_log_customer", ondelete="CASCADE"),
    )
    op.create_index(
        "ix_consent_log_customer", "consent_log", ["company_id", "customer_id", "occurred_at", "id"]
    )
    op.create_table(
        "erasure_requests",
        _company(),
        _id(),
        sa.Column("customer_id", UUID(as_uuid=True)),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("requested_by", sa.Text, nullable=False),
        sa.Column("status", _enum("erasure_status"), nullable=False, server_default="pending"),
        _now("received_at"),
        sa.Column("deadline_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("recorded_by", UUID(as_uuid=True)),
        sa.Column("completed_at", sa.DateTime(timezone=True)),
        sa.Column("completed_by", UUID(as_uuid=True)),
        sa.Column("pseudonym", sa.Text),
        sa.Column("outcome", JSONB),
        sa.CheckConstraint("btrim(reason) <> ''", name="reason_not_blank"),
    )
    # The request is the legal record: it outlives a purged customer, losing only the link.
    op.execute(
        "ALTER TABLE erasure_requests ADD CONSTRAINT fk_erasure_requests_customer"
        " FOREIGN KEY (company_id, customer_id) REFERENCES customers (company_id, id)"
        " ON DELETE SET NULL (customer_id)"
    )
    op.create_index(
        "ix_erasure_requests_customer", "erasure_requests", ["company_id", "customer_id"]
    )
    op.create_index(
        "ix_erasure_requests_deadline", "erasure_requests", ["company_id", "status", "deadline_at"]
    )


def upgrade() -> None:
    for name, labels in ENUMS.items():
        ENUM(*labels, name=name).create(op.get_bind())
    _functions()
    _customer_columns()
    _organizations()
    _conversations()
    _interactions()
    _privacy()
    for table in TABLES:
        enable_tenant_rls(table)
    for table in ("customer_interactions", "consent_log"):
        grant_to_app(table, "SELECT, INSERT")
    for table in set(TABLES) - {"customer_interactions", "consent_log"}:
        grant_to_app(table)


def downgrade() -> None:
    for table in TABLES:
        op.drop_table(table)
    op.execute("DROP TRIGGER customers_match_names ON customers")
    op.execute("DROP FUNCTION majlis_customers_match_names()")
    for index in (
        *(f"ix_customers_{column}" for column in MATCH_NAME_COLUMNS),
        *(f"ix_customers_has_{column}" for column in SECONDARY_COLUMNS),
    ):
        op.drop_index(index, table_name="customers")
    for column in CUSTOMER_COLUMNS:
        op.drop_column("customers", column)
    op.execute("DROP FUNCTION majlis_redact_audit(text, uuid)")
    op.execute("DROP FUNCTION majlis_new_id()")
    op.execute("DROP FUNCTION majlis_match_name(text)")
    for name in reversed(ENUMS):
        op.execute(f"DROP TYPE {name}")
