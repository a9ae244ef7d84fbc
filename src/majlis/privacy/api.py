"""Thin routes over the privacy service: export, erasure requests, consent, retention."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Query, status

from majlis.core.http import Context
from majlis.core.pagination import DEFAULT_LIMIT, MAX_LIMIT
from majlis.privacy import service
from majlis.privacy import timeline as _timeline_sources  # noqa: F401  (registers sources)
from majlis.privacy.models import ConsentChannel, ErasureStatus
from majlis.privacy.schemas import (
    ConsentIn,
    ConsentLogOut,
    ConsentOut,
    ConsentsOut,
    ErasureRequestIn,
    ErasureRequestOut,
    ErasureRequestPage,
    PurgeOut,
    RetentionIn,
    RetentionOut,
)

router = APIRouter(prefix="/api/v1", tags=["privacy"])
Limit = Annotated[int, Query(ge=1, le=MAX_LIMIT)]


@router.get(
    "/customers/{customer_id}/export",
    summary="Everything held about a customer, as machine-readable JSON",
)
def export_customer(ctx: Context, customer_id: uuid.UUID) -> dict[str, Any]:
    return service.export_customer(ctx.session, ctx.actor, customer_id)


@router.get("/customers/{customer_id}/consents", response_model=ConsentsOut)
def customer_consents(ctx: Context, customer_id: uuid.UUID) -> ConsentsOut:
    current, log = service.customer_consents(ctx.session, ctx.actor, customer_id)
    return ConsentsOut(
        current=[ConsentOut.model_validate(row) for row in current],
        log=[ConsentLogOut.model_validate(row) for row in log],
    )


@router.put("/customers/{customer_id}/consents/{channel}", response_model=ConsentOut)
def set_consent(
    ctx: Context, customer_id: uuid.UUID, channel: ConsentChannel, body: ConsentIn
) -> ConsentOut:
    return ConsentOut.model_validate(
        service.set_consent(ctx.session, ctx.actor, customer_id, channel, body)
    )


@router.post(
    "/customers/{customer_id}/erasure-requests",
    response_model=ErasureRequestOut,
    status_code=status.HTTP_201_CREATED,
    summary="Log an erasure request (answer due within 30 days)",
)
def request_erasure(
    ctx: Context, customer_id: uuid.UUID, body: ErasureRequestIn
) -> ErasureRequestOut:
    return ErasureRequestOut.model_validate(
        service.request_erasure(ctx.session, ctx.actor, customer_id, body)
    )


@router.get("/erasure-requests", response_model=ErasureRequestPage)
def list_erasure_requests(
    ctx: Context,
    status: ErasureStatus | None = None,
    overdue: bool = False,
    cursor: str | None = None,
    limit: Limit = DEFAULT_LIMIT,
) -> ErasureRequestPage:
    page = service.list_erasure_requests(
        ctx.session, ctx.actor, status=status, overdue=overdue, cursor=cursor, limit=limit
    )
    return ErasureRequestPage(
        items=[ErasureRequestOut.model_validate(r) for r in page.items],
        next_cursor=page.next_cursor,
    )


@router.get("/erasure-requests/{request_id}", response_model=ErasureRequestOut)
def get_erasure_request(ctx: Context, request_id: uuid.UUID) -> ErasureRequestOut:
    return ErasureRequestOut.model_validate(
        service.get_erasure_request(ctx.session, ctx.actor, request_id)
    )


@router.post(
    "/erasure-requests/{request_id}/carry-out",
    response_model=ErasureRequestOut,
    summary="Anonymise the customer and their conversations; keep what the law requires",
)
def carry_out_erasure(ctx: Context, request_id: uuid.UUID) -> ErasureRequestOut:
    return ErasureRequestOut.model_validate(
        service.carry_out_erasure(ctx.session, ctx.actor, request_id)
    )


@router.get("/privacy/retention", response_model=RetentionOut)
def get_retention(ctx: Context) -> RetentionOut:
    return RetentionOut(retention_days=service.retention_days(ctx.session, ctx.actor))


@router.put("/privacy/retention", response_model=RetentionOut)
def set_retention(ctx: Context, body: RetentionIn) -> RetentionOut:
    days = service.set_retention_days(ctx.session, ctx.actor, body.retention_days)
    return RetentionOut(retention_days=days)


@router.post(
    "/privacy/retention/purge",
    response_model=PurgeOut,
    summary="Run the retention purge now (the job does the same on its schedule)",
)
def purge(ctx: Context) -> PurgeOut:
    result = service.purge_expired(ctx.session, ctx.actor)
    return PurgeOut.model_validate(result.__dict__)
