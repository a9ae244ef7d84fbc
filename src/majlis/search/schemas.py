"""Shapes of search results in the customer list."""

from __future__ import annotations

from pydantic import BaseModel

from majlis.customers.schemas import CustomerOut


class CustomerHitOut(CustomerOut):
    """A customer in a list; with `q`, also where it ranked and which field matched."""

    rank: int | None = None
    tier: str | None = None
    matched_field: str | None = None


class CountOut(BaseModel):
    value: int
    estimated: bool


class CustomerSearchPage(BaseModel):
    items: list[CustomerHitOut]
    next_cursor: str | None
    count: CountOut | None = None
