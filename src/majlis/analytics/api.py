"""GET /api/v1/analytics/customers, answered from the materialized summary."""

from __future__ import annotations

from dataclasses import asdict

from fastapi import APIRouter

from majlis.analytics import service
from majlis.analytics.schemas import CustomerAnalyticsOut
from majlis.core.http import Context

router = APIRouter(prefix="/api/v1/analytics", tags=["analytics"])


def _out(analytics: service.CustomerAnalytics) -> CustomerAnalyticsOut:
    return CustomerAnalyticsOut.model_validate(asdict(analytics))


@router.get("/customers", response_model=CustomerAnalyticsOut)
def customer_analytics(ctx: Context) -> CustomerAnalyticsOut:
    """Counts and balances by business type, source, activity and risk band; daily and weekly
    trends. Figures are as of `refreshed_at` (refreshed every 15 minutes, or on demand)."""
    return _out(service.customer_analytics(ctx.session, ctx.actor))


@router.post("/customers/refresh", response_model=CustomerAnalyticsOut)
def refresh_customer_analytics(ctx: Context) -> CustomerAnalyticsOut:
    """Recompute the summary now and answer from the fresh figures."""
    service.refresh_on_demand(ctx.session, ctx.actor)
    return _out(service.customer_analytics(ctx.session, ctx.actor))
