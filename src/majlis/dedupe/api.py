"""Thin routes: the online duplicate check, batch scans and the review queue."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, status

from majlis.core.errors import ValidationFailed
from majlis.core.http import Context
from majlis.core.pagination import DEFAULT_LIMIT, MAX_LIMIT, decode_cursor, encode_cursor
from majlis.customers.schemas import CustomerCreate
from majlis.dedupe import arrivals, review, service
from majlis.dedupe.models import PairStatus
from majlis.dedupe.schemas import (
    BulkAcceptIn,
    BulkAcceptOut,
    DecisionIn,
    DuplicateCheckOut,
    DuplicateMatchOut,
    ImportMatchesPage,
    ImportRowMatchesOut,
    PairOut,
    PairPage,
    PairResultOut,
    ScanOut,
)

router = APIRouter(tags=["duplicates"])
Limit = Annotated[int, Query(ge=1, le=MAX_LIMIT)]


def matches_out(matches: list[service.DuplicateMatch]) -> list[DuplicateMatchOut]:
    return [DuplicateMatchOut.model_validate(match) for match in matches]


@router.post(
    "/api/v1/customers/duplicates/check",
    response_model=DuplicateCheckOut,
    summary="Existing customers that may be the same as a draft customer",
)
def check_duplicates(
    ctx: Context,
    body: CustomerCreate,
    customer_id: Annotated[
        uuid.UUID | None,
        Query(description="The draft is this existing customer: skip it and its 'not duplicate's"),
    ] = None,
) -> DuplicateCheckOut:
    matches = service.check_draft(ctx.session, ctx.actor, body, customer_id=customer_id)
    return DuplicateCheckOut(matches=matches_out(matches))


def _row_cursor(cursor: str | None) -> int:
    """The last row number a previous page read (0 for the first page)."""
    if not cursor:
        return 0
    row = decode_cursor(cursor, 1)[0]
    if not isinstance(row, int) or isinstance(row, bool):
        raise ValidationFailed.single("cursor", "is not a cursor this API issued")
    return row


@router.get(
    "/api/v1/imports/{job_id}/duplicates",
    response_model=ImportMatchesPage,
    summary="Possible duplicates of an import's rows (preview)",
)
def import_duplicates(
    ctx: Context, job_id: uuid.UUID, cursor: str | None = None, limit: Limit = DEFAULT_LIMIT
) -> ImportMatchesPage:
    """Reads `limit` rows per page: a page may hold fewer rows (only those with matches)."""
    after = _row_cursor(cursor)
    found, last = arrivals.import_row_matches(
        ctx.session, ctx.actor, job_id, after=after, limit=limit
    )
    return ImportMatchesPage(
        items=[ImportRowMatchesOut(row=r.row, matches=matches_out(r.matches)) for r in found],
        next_cursor=encode_cursor([last]) if last is not None else None,
    )


@router.get("/api/v1/dedupe/pairs", response_model=PairPage, summary="The review queue")
def list_pairs(
    ctx: Context,
    pair_status: Annotated[PairStatus, Query(alias="status")] = PairStatus.PENDING,
    cluster_id: uuid.UUID | None = None,
    cursor: str | None = None,
    limit: Limit = DEFAULT_LIMIT,
) -> PairPage:
    """Pairs of one status (default pending), most probable first, keyset paginated."""
    page = review.list_pairs(
        ctx.session,
        ctx.actor,
        status=pair_status,
        cluster_id=cluster_id,
        cursor=cursor,
        limit=limit,
    )
    return PairPage(
        items=[PairOut.model_validate(p) for p in page.items], next_cursor=page.next_cursor
    )


@router.post("/api/v1/dedupe/pairs/bulk-accept", response_model=BulkAcceptOut)
def bulk_accept(ctx: Context, body: BulkAcceptIn) -> BulkAcceptOut:
    """Merge the pending pairs at or above `min_probability`, cluster by cluster."""
    outcomes = review.bulk_accept(ctx.session, ctx.actor, body.min_probability, body.limit)
    return BulkAcceptOut(
        results=[
            PairResultOut(
                pair_id=o.pair_id, outcome=o.outcome, merged_into=o.merged_into, detail=o.detail
            )
            for o in outcomes
        ]
    )


@router.post("/api/v1/dedupe/pairs/{pair_id}/decision", response_model=PairOut)
def decide(ctx: Context, pair_id: uuid.UUID, body: DecisionIn) -> PairOut:
    pair = review.decide(ctx.session, ctx.actor, pair_id, body.decision, body.survivor_id)
    return PairOut.model_validate(pair)


@router.post("/api/v1/dedupe/scans", response_model=ScanOut, status_code=status.HTTP_202_ACCEPTED)
def request_scan(ctx: Context) -> ScanOut:
    """Queue a scan of the whole company; poll `GET /api/v1/dedupe/scans/{id}`."""
    return ScanOut.model_validate(review.request_scan(ctx.session, ctx.actor))


@router.get("/api/v1/dedupe/scans/{scan_id}", response_model=ScanOut)
def get_scan(ctx: Context, scan_id: uuid.UUID) -> ScanOut:
    return ScanOut.model_validate(review.get_scan(ctx.session, ctx.actor, scan_id))
