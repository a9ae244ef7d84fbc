"""Shapes of the analytics HTTP API."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from pydantic import BaseModel


class BucketOut(BaseModel):
    bucket: str
    customers: int
    outstanding_total: Decimal


class DailyPointOut(BaseModel):
    day: date
    new_customers: int
    outstanding_total: Decimal


class WeeklyPointOut(BaseModel):
    week: date
    new_customers: int
    cumulative_customers: int
    change: int


class CustomerAnalyticsOut(BaseModel):
    refreshed_at: datetime | None
    dimensions: dict[str, list[BucketOut]]
    daily: list[DailyPointOut]
    weekly: list[WeeklyPointOut]
