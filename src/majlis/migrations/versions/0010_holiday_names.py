"""Receivables: an optional name for each holiday override.

`reminder_settings.holiday_names` maps an override's ISO date to the name the
owner gave it ("Founders' day", "Eid al-Fitr, sighted a day late"). The
override lists stay plain date arrays, so the working calendar reads them as
before; the names are for people (the settings page and the API).

Revision ID: 0010_holiday_names
Revises: 0009_oldest_open_due
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0010_holiday_names"
down_revision = "0009_oldest_open_due"
branch_labels = None
depends_on = None
# What this migration locks on tables that may already be large, and the way around it.
LOCKS = (
    "reminder_settings: ADD COLUMN with a constant default is catalog-only, but the CHECK "
    "scans the table under ACCESS EXCLUSIVE; the table holds one row per company, so this "
    "is milliseconds even at 100,000 companies. Concurrent path: add the column alone, then "
    "ADD CONSTRAINT ... NOT VALID and VALIDATE CONSTRAINT in a later transaction (SHARE "
    "UPDATE EXCLUSIVE, which blocks neither reads nor writes)."
)


def upgrade() -> None:
    op.add_column(
        "reminder_settings",
        sa.Column("holiday_names", JSONB, nullable=False, server_default="{}"),
    )
    op.execute(
        "ALTER TABLE reminder_settings ADD CONSTRAINT ck_reminder_settings_holiday_names_object"
        " CHECK (jsonb_typeof(holiday_names) = 'object')"
    )


def downgrade() -> None:
    # Dropping the column drops its CHECK with it.
    op.drop_column("reminder_settings", "holiday_names")
