"""Thin routes over the merges service."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query

from majlis.core.http import Context
from majlis.core.pagination import DEFAULT_LIMIT, MAX_LIMIT
from majlis.merges import service
from majlis.merges.models import CustomerMerge
from majlis.merges.schemas import (
    MergeDetailOut,
    MergeOut,
    MergePage,
    MergeRequest,
    MergeResultOut,
    MovedOut,
)

router = APIRouter(prefix="/api/v1", tags=["merges"])


def _detail(ctx: Context, merge: CustomerMerge) -> MergeDetailOut:
    moved = service.moved_counts(ctx.session, ctx.actor, merge.id)
    return MergeDetailOut.model_validate(
        {
            **MergeOut.model_validate(merge).model_dump(),
            "snapshots": merge.snapshots,
            "survivor_before": merge.survivor_before,
            "moved": [MovedOut.model_validate(count) for count in moved],
        }
    )


@router.post("/customers/merge", response_model=MergeResultOut)
def merge_customers(ctx: Context, body: MergeRequest) -> MergeResultOut:
    """Merge `other_ids` into `survivor_id`; with `dry_run` nothing is written."""
    result = service.merge_customers(
        ctx.session, ctx.actor, body.survivor_id, body.other_ids, body.choices, body.dry_run
    )
    return MergeResultOut.model_validate(result)


@router.get("/merges", response_model=MergePage)
def list_merges(
    ctx: Context,
    cursor: str | None = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = DEFAULT_LIMIT,
) -> MergePage:
    page = service.list_merges(ctx.session, ctx.actor, cursor=cursor, limit=limit)
    return MergePage(
        items=[MergeOut.model_validate(m) for m in page.items], next_cursor=page.next_cursor
    )


@router.get("/merges/{merge_id}", response_model=MergeDetailOut)
def get_merge(ctx: Context, merge_id: uuid.UUID) -> MergeDetailOut:
    return _detail(ctx, service.get_merge(ctx.session, ctx.actor, merge_id))


@router.post("/merges/{merge_id}/undo", response_model=MergeDetailOut)
def undo_merge(ctx: Context, merge_id: uuid.UUID) -> MergeDetailOut:
    """Restore the merged customers and move back the rows; 409 with a `reason` if refused."""
    return _detail(ctx, service.undo_merge(ctx.session, ctx.actor, merge_id))
