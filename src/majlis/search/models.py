"""The search tables and indexes, declared so `majlis db check` verifies they exist.

Migration 0008_search_tiers creates them (0004_search added the normalised
columns, mapped on `Customer` in customers/models.py, "search (issue 4)"),
0012_search_words the word postings. Rows of `customer_search_keys` are written
by triggers on `customers`, those of `customer_search_words` by triggers on
`customer_search_keys`, never by the application.
"""

from __future__ import annotations

import uuid

from sqlalchemy import ForeignKeyConstraint, Index, SmallInteger, Text, func, text
from sqlalchemy.dialects.postgresql import UUID
from sqlalchemy.orm import Mapped, mapped_column

from majlis.core.models import Base
from majlis.customers.models import Customer

LIVE = text("deleted_at IS NULL")


class CustomerSearchKey(Base):
    """One lookup key of a customer: a word suffix of a name, a secondary e-mail, a phone."""

    __tablename__ = "customer_search_keys"
    __table_args__ = (
        ForeignKeyConstraint(
            ["company_id", "customer_id"],
            ["customers.company_id", "customers.id"],
            ondelete="CASCADE",
        ),
        Index(
            "ix_customer_search_keys_lookup",
            "company_id",
            text("key text_pattern_ops"),
            "field",
            postgresql_include=["customer_id", "position"],
        ),
    )

    company_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    customer_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    field: Mapped[str] = mapped_column(Text, primary_key=True)
    position: Mapped[int] = mapped_column(SmallInteger, primary_key=True)
    key: Mapped[str] = mapped_column(Text)


class CustomerSearchWord(Base):
    """One word of a customer's name at its position, keyed so a word's customers come by id.

    Written by triggers on `customer_search_keys` (migration 0012_search_words).
    """

    __tablename__ = "customer_search_words"

    company_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    word: Mapped[str] = mapped_column(Text(collation="C"), primary_key=True)
    customer_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    field: Mapped[str] = mapped_column(Text, primary_key=True)
    position: Mapped[int] = mapped_column(SmallInteger, primary_key=True)


def _knn_index(name: str, arabic: bool) -> Index:
    return Index(
        name,
        Customer.company_id,
        func.majlis_search_words(
            Customer.name_norm,
            Customer.name_ar_norm,
            Customer.business_name_norm,
            Customer.business_name_ar_norm,
            Customer.email,
            arabic,
        ),
        postgresql_using="gist",
        postgresql_where=LIVE,
    )


SEARCH_KNN_INDEXES = (
    _knn_index("ix_customers_search_knn", arabic=False),
    _knn_index("ix_customers_search_knn_arabic", arabic=True),
)
