"""The search indexes on `customers`, declared so `majlis db check` verifies they exist.

Migration 0004_search creates them; the normalised columns they cover are
mapped on `Customer` (customers/models.py, "search (issue 4)").
"""

from __future__ import annotations

from sqlalchemy import Index, func, text

from majlis.customers.models import Customer

LIVE = text("deleted_at IS NULL")

SEARCH_TRIGRAM_INDEX = Index(
    "ix_customers_search_trgm",
    Customer.company_id,
    func.majlis_search_document(
        Customer.name_norm,
        Customer.name_ar_norm,
        Customer.business_name_norm,
        Customer.business_name_ar_norm,
        Customer.email,
    ),
    postgresql_using="gin",
    postgresql_where=LIVE,
)
PHONE_SUFFIX_INDEX = Index(
    "ix_customers_phone_suffix",
    Customer.company_id,
    func.reverse(Customer.phone_digits),
    postgresql_where=LIVE,
)
