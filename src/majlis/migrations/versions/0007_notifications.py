"""Notifications: in-app notices per user, announced on a LISTEN/NOTIFY channel.

Revision ID: 0007_notifications
Revises: 0007_loyalty
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import UUID

from majlis.core.schema import enable_tenant_rls, grant_to_app

revision = "0007_notifications"
down_revision = "0007_loyalty"
branch_labels = None
depends_on = None
# What this migration locks on tables that may already be large, and the way around it.
LOCKS = "none: creates new tables, their indexes and functions only; existing tables are untouched."

PRIORITIES = ("low", "normal", "high", "urgent")
CHANNEL = "majlis_notifications"


def upgrade() -> None:
    op.create_table(
        "notifications",
        sa.Column(
            "company_id", UUID(as_uuid=True), sa.ForeignKey("companies.id"), primary_key=True
        ),
        sa.Column("id", UUID(as_uuid=True), primary_key=True),
        sa.Column("user_id", UUID(as_uuid=True), nullable=False),
        sa.Column(
            "priority",
            sa.Enum(*PRIORITIES, name="notification_priority"),
            nullable=False,
            server_default="normal",
        ),
        sa.Column("title", sa.Text, nullable=False),
        sa.Column("body", sa.Text),
        sa.Column("action_url", sa.Text),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            nullable=False,
            server_default=sa.text("now()"),
        ),
        sa.Column("read_at", sa.DateTime(timezone=True)),
        sa.Column("expires_at", sa.DateTime(timezone=True)),
        sa.Column("dismissed_at", sa.DateTime(timezone=True)),
        sa.ForeignKeyConstraint(
            ["company_id", "user_id"],
            ["memberships.company_id", "memberships.user_id"],
            name="fk_notifications_user",
        ),
    )
    op.create_index(
        "ix_notifications_inbox",
        "notifications",
        ["company_id", "user_id", "id"],
        postgresql_where=sa.text("dismissed_at IS NULL"),
    )
    enable_tenant_rls("notifications")
    grant_to_app("notifications", "SELECT, INSERT, UPDATE (read_at, dismissed_at)")
    # Open streams LISTEN on one channel; the payload carries only ids, so nothing
    # readable leaves row-level security: the stream loads the row in the tenant's session.
    op.execute(
        f"""
        CREATE FUNCTION notifications_announce() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            PERFORM pg_notify('{CHANNEL}', json_build_object(
                'company_id', NEW.company_id, 'user_id', NEW.user_id, 'id', NEW.id)::text);
            RETURN NEW;
        END $$
        """
    )
    op.execute(
        "CREATE TRIGGER notifications_announce AFTER INSERT ON notifications"
        " FOR EACH ROW EXECUTE FUNCTION notifications_announce()"
    )


def downgrade() -> None:
    op.drop_table("notifications")
    op.execute("DROP FUNCTION notifications_announce()")
    op.execute("DROP TYPE notification_priority")
