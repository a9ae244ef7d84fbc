"""Conversations remember the organization contact they were matched through.

Revision ID: 0008_contact_links
Revises: 0003_relationships
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import UUID

revision = "0008_contact_links"
down_revision = "0003_relationships"
branch_labels = None
depends_on = None
# What this migration locks on tables that may already be large, and the way around it.
LOCKS = (
    "conversations: ADD COLUMN (catalog-only) and a foreign key validated at once (a "
    "scan of conversations under SHARE ROW EXCLUSIVE: blocks writes while it runs); "
    "contacts and conversations: CREATE INDEX blocks writes while it builds. "
    "Concurrent path: add the FK NOT VALID and VALIDATE it separately; CREATE INDEX "
    "CONCURRENTLY outside the transaction."
)


def upgrade() -> None:
    op.add_column("conversations", sa.Column("matched_contact_id", UUID(as_uuid=True)))
    # A contact is archived, not deleted; should one be purged, the conversation keeps its
    # organization and only forgets the person (company_id stays: it leads the key).
    op.execute(
        "ALTER TABLE conversations ADD CONSTRAINT fk_conversations_matched_contact"
        " FOREIGN KEY (company_id, matched_contact_id) REFERENCES contacts (company_id, id)"
        " ON DELETE SET NULL (matched_contact_id)"
    )
    op.create_index(
        "ix_conversations_matched_contact",
        "conversations",
        ["company_id", "matched_contact_id"],
        postgresql_where=sa.text("matched_contact_id IS NOT NULL"),
    )
    # The sync probes contacts by phone as it already does by email (ix_contacts_email).
    op.create_index("ix_contacts_phone", "contacts", ["company_id", "phone"])


def downgrade() -> None:
    op.drop_index("ix_contacts_phone", table_name="contacts")
    op.drop_index("ix_conversations_matched_contact", table_name="conversations")
    op.drop_constraint("fk_conversations_matched_contact", "conversations", type_="foreignkey")
    op.drop_column("conversations", "matched_contact_id")
