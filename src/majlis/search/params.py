"""Query parameters shared by the customer list, search and export routes."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Literal

from fastapi import Query

from majlis.customers.models import BusinessType, CustomerKind, CustomerSource
from majlis.customers.service import CustomerFilters

SearchTerm = Annotated[
    str | None,
    Query(
        max_length=200,
        description="Search name (English/Arabic/Thai), e-mail, phone digits, TRN or reference",
    ),
]
SearchLanguage = Annotated[
    Literal["en", "ar"] | None, Query(description="Rank names in this language first")
]


async def customer_filters(
    is_active: bool | None = None,
    business_type: BusinessType | None = None,
    source: CustomerSource | None = None,
    kind: CustomerKind | None = None,
    tag: str | None = None,
    owner: uuid.UUID | None = None,
    has_email: bool | None = None,
    has_phone: bool | None = None,
    created_from: datetime | None = None,
    created_to: datetime | None = None,
    trn: str | None = None,
    email: str | None = None,
    phone: str | None = None,
    external_ref: str | None = None,
    emirate: str | None = None,
    city: str | None = None,
) -> CustomerFilters:
    """The list filters from the query string (a FastAPI dependency).

    `async` although it awaits nothing: FastAPI runs a plain function dependency in
    a worker thread, and this one is too cheap to be worth the trip.
    """
    return CustomerFilters(
        is_active=is_active,
        business_type=business_type,
        source=source,
        kind=kind,
        tag=tag,
        owner_id=owner,
        has_email=has_email,
        has_phone=has_phone,
        created_from=created_from,
        created_to=created_to,
        trn=trn,
        email=email,
        phone=phone,
        external_ref=external_ref,
        emirate=emirate,
        city=city,
    )
