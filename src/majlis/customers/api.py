"""Thin routes over the customers service: parse, call, shape the answer."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Header, Query, Request, Response, status
from fastapi.responses import JSONResponse

from majlis.core.errors import ValidationFailed
from majlis.core.http import Context
from majlis.core.pagination import DEFAULT_LIMIT, MAX_LIMIT
from majlis.customers import service
from majlis.customers.models import BusinessType, Customer, CustomerKind, CustomerSource
from majlis.customers.schemas import (
    CustomerCreate,
    CustomerOut,
    CustomerPage,
    CustomerSort,
    CustomerUpdate,
    CustomerWritten,
    HistoryEntryOut,
    HistoryPage,
)

router = APIRouter(prefix="/api/v1/customers", tags=["customers"])
Limit = Annotated[int, Query(ge=1, le=MAX_LIMIT)]


def etag(customer: Customer) -> str:
    return f'"{customer.version}"'


def parse_if_match(if_match: str | None) -> int | None:
    """The version a client last saw, from `If-Match: "<version>"`."""
    if if_match is None or if_match.strip() == "*":
        return None
    raw = if_match.strip().removeprefix("W/").strip('"')
    if not raw.isdigit():
        raise ValidationFailed.single("If-Match", 'must be the ETag of the customer, e.g. "3"')
    return int(raw)


def written(customer: Customer, warnings: list[str]) -> CustomerWritten:
    return CustomerWritten.model_validate(
        {**CustomerOut.model_validate(customer).model_dump(), "warnings": warnings}
    )


@router.get("", response_model=CustomerPage, summary="List customers (keyset pages)")
def list_customers(
    ctx: Context,
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
    sort: CustomerSort = "name",
    cursor: str | None = None,
    limit: Limit = DEFAULT_LIMIT,
) -> CustomerPage:
    filters = service.CustomerFilters(
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
    )
    page = service.list_customers(
        ctx.session, ctx.actor, filters, sort=sort, cursor=cursor, limit=limit
    )
    return CustomerPage(
        items=[CustomerOut.model_validate(c) for c in page.items], next_cursor=page.next_cursor
    )


@router.post("", response_model=CustomerWritten, status_code=status.HTTP_201_CREATED)
def create_customer(
    ctx: Context, body: CustomerCreate, request: Request, response: Response
) -> CustomerWritten:
    customer, warnings = service.create_customer(ctx.session, ctx.actor, body)
    response.headers["ETag"] = etag(customer)
    response.headers["Location"] = f"{request.url.path}/{customer.id}"
    return written(customer, warnings)


@router.get("/{customer_id}", response_model=CustomerOut)
def get_customer(ctx: Context, customer_id: uuid.UUID, response: Response) -> CustomerOut:
    customer = service.get_customer(ctx.session, ctx.actor, customer_id)
    response.headers["ETag"] = etag(customer)
    return CustomerOut.model_validate(customer)


@router.patch(
    "/{customer_id}",
    response_model=CustomerWritten,
    responses={412: {"description": "stale version"}},
)
def update_customer(
    ctx: Context,
    customer_id: uuid.UUID,
    body: CustomerUpdate,
    response: Response,
    if_match: Annotated[str | None, Header()] = None,
) -> CustomerWritten:
    customer, warnings = service.update_customer(
        ctx.session, ctx.actor, customer_id, body, expected_version=parse_if_match(if_match)
    )
    response.headers["ETag"] = etag(customer)
    return written(customer, warnings)


@router.delete("/{customer_id}", status_code=status.HTTP_204_NO_CONTENT)
def delete_customer(ctx: Context, customer_id: uuid.UUID) -> Response:
    service.delete_customer(ctx.session, ctx.actor, customer_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post("/{customer_id}/restore", response_model=CustomerOut)
def restore_customer(ctx: Context, customer_id: uuid.UUID) -> JSONResponse:
    customer = service.restore_customer(ctx.session, ctx.actor, customer_id)
    body = CustomerOut.model_validate(customer).model_dump(mode="json")
    return JSONResponse(body, headers={"ETag": etag(customer)})


@router.get("/{customer_id}/history", response_model=HistoryPage)
def customer_history(
    ctx: Context, customer_id: uuid.UUID, cursor: str | None = None, limit: Limit = DEFAULT_LIMIT
) -> HistoryPage:
    page = service.customer_history(ctx.session, ctx.actor, customer_id, cursor=cursor, limit=limit)
    return HistoryPage(
        items=[HistoryEntryOut.model_validate(e) for e in page.items], next_cursor=page.next_cursor
    )
