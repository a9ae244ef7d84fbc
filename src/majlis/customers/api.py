"""Thin routes over the customers service: parse, call, shape the answer."""

from __future__ import annotations

import json
import uuid
from typing import Annotated

from fastapi import APIRouter, Header, Query, Request, Response, status
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from majlis.core.errors import ValidationFailed
from majlis.core.http import Context, RequestContext, in_request_context
from majlis.core.pagination import DEFAULT_LIMIT, MAX_LIMIT
from majlis.customers import service
from majlis.customers.documents import json_array
from majlis.customers.models import Customer
from majlis.customers.schemas import (
    CustomerCreate,
    CustomerOut,
    CustomerUpdate,
    CustomerWritten,
    HistoryEntryOut,
    HistoryPage,
)
from majlis.dedupe.schemas import DuplicateMatchOut
from majlis.dedupe.service import DuplicateMatch, check_new_customer
from majlis.search import service as search
from majlis.search.params import CustomerListQuery, parse_query, query_parameters
from majlis.search.schemas import CountOut, CustomerSearchPage

router = APIRouter(prefix="/api/v1/customers", tags=["customers"])
Limit = Annotated[int, Query(ge=1, le=MAX_LIMIT)]


def json_response(
    body: BaseModel, headers: dict[str, str] | None = None, status_code: int = status.HTTP_200_OK
) -> Response:
    """The body serialised once, here: a returned model would be validated again by
    FastAPI, on another hop through the thread pool, before being serialised."""
    return Response(
        body.model_dump_json(),
        status_code=status_code,
        media_type="application/json",
        headers=headers,
    )


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


def written(
    customer: Customer, warnings: list[str], duplicates: list[DuplicateMatch] | None = None
) -> CustomerWritten:
    return CustomerWritten.model_validate(
        {
            **CustomerOut.model_validate(customer).model_dump(),
            "warnings": warnings,
            "duplicate_warnings": [DuplicateMatchOut.model_validate(d) for d in duplicates or []],
        }
    )


@router.get(
    "",
    response_model=CustomerSearchPage,
    summary="List or search customers (keyset pages)",
    openapi_extra=query_parameters(CustomerListQuery),
)
async def list_customers(request: Request) -> Response:
    """With `q`, results are ranked (`sort` is ignored) and each says which field matched."""

    def answer(ctx: RequestContext) -> Response:
        filters, query = parse_query(CustomerListQuery, request)
        total = (
            search.count_customers(ctx.session, ctx.actor, filters, term=query.q, lang=query.lang)
            if query.count
            else None
        )
        counted = CountOut(value=total.value, estimated=total.estimated) if total else None
        if query.q and query.q.strip():
            hits = search.search_customers(
                ctx.session,
                ctx.actor,
                query.q,
                filters,
                lang=query.lang,
                cursor=query.cursor,
                limit=query.limit,
                shown=search.HIT_DOCUMENT,
            )
            documents = [hit.customer for hit in hits.items]
            return _page_response(documents, hits.next_cursor, counted)
        page = service.list_customer_documents(
            ctx.session, ctx.actor, filters, sort=query.sort, cursor=query.cursor, limit=query.limit
        )
        return _page_response(page.items, page.next_cursor, counted)

    return await in_request_context(request, answer)


def _page_response(
    documents: list[str], next_cursor: str | None, count: CountOut | None
) -> Response:
    """A `CustomerSearchPage` around customer documents PostgreSQL wrote (customers.documents)."""
    parts = (
        f'"items":{json_array(documents)}',
        f'"next_cursor":{json.dumps(next_cursor)}',
        f'"count":{count.model_dump_json() if count else "null"}',
    )
    return Response("{" + ",".join(parts) + "}", media_type="application/json")


@router.post("", response_model=CustomerWritten, status_code=status.HTTP_201_CREATED)
def create_customer(
    ctx: Context,
    body: CustomerCreate,
    request: Request,
    block_on_duplicate: Annotated[
        bool, Query(description="Refuse (409, nothing written) when a likely duplicate exists")
    ] = False,
) -> Response:
    """Possible duplicates come back in `duplicate_warnings` (see docs/dedupe.md)."""
    block = block_on_duplicate or body.block_on_duplicate
    duplicates = check_new_customer(ctx.session, ctx.actor, body, block=block)
    customer, warnings = service.create_customer(ctx.session, ctx.actor, body)
    headers = {"ETag": etag(customer), "Location": f"{request.url.path}/{customer.id}"}
    return json_response(written(customer, warnings, duplicates), headers, status.HTTP_201_CREATED)


@router.get("/{customer_id}", response_model=CustomerOut)
async def get_customer(request: Request, customer_id: uuid.UUID) -> Response:
    def answer(ctx: RequestContext) -> Response:
        customer = service.view_customer(ctx.session, ctx.actor, customer_id)
        shown = CustomerOut.model_validate(customer)
        return json_response(shown, headers={"ETag": f'"{shown.version}"'})

    return await in_request_context(request, answer)


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
    from majlis.conversations.interactions import record_interaction
    from majlis.conversations.models import InteractionKind

    customer, warnings = service.update_customer(
        ctx.session, ctx.actor, customer_id, body, expected_version=parse_if_match(if_match)
    )
    record_interaction(ctx.session, ctx.actor, customer.id, InteractionKind.EDITED)
    response.headers["ETag"] = etag(customer)
    return written(customer, warnings)


@router.delete(
    "/{customer_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses={409: {"description": "other records hang off the customer (see archive_all)"}},
)
def delete_customer(
    ctx: Context,
    customer_id: uuid.UUID,
    archive_all: Annotated[
        bool,
        Query(
            description="Also archive what hangs off the customer (an organization's"
            " projects and contacts) instead of refusing"
        ),
    ] = False,
) -> Response:
    service.delete_customer(ctx.session, ctx.actor, customer_id, archive_all=archive_all)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post("/{customer_id}/restore", response_model=CustomerOut)
def restore_customer(ctx: Context, customer_id: uuid.UUID) -> JSONResponse:
    customer = service.restore_customer(ctx.session, ctx.actor, customer_id)
    body = CustomerOut.model_validate(customer).model_dump(mode="json")
    return JSONResponse(body, headers={"ETag": etag(customer)})


@router.get("/{customer_id}/history", response_model=HistoryPage)
async def customer_history(
    request: Request,
    customer_id: uuid.UUID,
    cursor: str | None = None,
    limit: Limit = DEFAULT_LIMIT,
) -> Response:
    def answer(ctx: RequestContext) -> Response:
        page = service.customer_history(
            ctx.session, ctx.actor, customer_id, cursor=cursor, limit=limit
        )
        items = [HistoryEntryOut.model_validate(e) for e in page.items]
        return json_response(HistoryPage(items=items, next_cursor=page.next_cursor))

    return await in_request_context(request, answer)
