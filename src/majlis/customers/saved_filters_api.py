"""Thin routes over saved filters: the customer list's named filters, per user."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Response, status
from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from majlis.core.http import Context
from majlis.customers import saved_filters

router = APIRouter(prefix="/api/v1/saved-filters", tags=["saved filters"])
FilterValue = Annotated[str, StringConstraints(max_length=saved_filters.VALUE_MAX)]


class SavedFilterIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=80)]
    query: dict[str, FilterValue] = Field(
        default_factory=dict,
        description=f"Customer-list parameters; keys among {', '.join(saved_filters.FILTER_KEYS)}",
    )
    shared: bool = False


class SavedFilterOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    user_id: uuid.UUID
    name: str
    query: dict[str, str]
    shared: bool
    created_at: datetime


class SavedFilterList(BaseModel):
    items: list[SavedFilterOut]


@router.get("", response_model=SavedFilterList, summary="Your saved filters and shared ones")
def list_saved_filters(ctx: Context) -> SavedFilterList:
    found = saved_filters.list_saved_filters(ctx.session, ctx.actor)
    return SavedFilterList(items=[SavedFilterOut.model_validate(item) for item in found])


@router.post("", response_model=SavedFilterOut, status_code=status.HTTP_201_CREATED)
def create_saved_filter(ctx: Context, body: SavedFilterIn) -> SavedFilterOut:
    """Save a filter under a name unique for you (409 when you already use the name)."""
    saved = saved_filters.create_saved_filter(
        ctx.session, ctx.actor, body.name, body.query, shared=body.shared
    )
    return SavedFilterOut.model_validate(saved)


@router.delete(
    "/{saved_filter_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Delete one of your saved filters",
)
def delete_saved_filter(ctx: Context, saved_filter_id: uuid.UUID) -> Response:
    saved_filters.delete_saved_filter(ctx.session, ctx.actor, saved_filter_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
