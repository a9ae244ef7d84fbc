"""Customer analytics answered from the materialized summary, never from the base table.

`customer_analytics_summary` is refreshed CONCURRENTLY (readers never wait) by
the worker's periodic job and on demand, together with the dashboard's other
summaries (migration 0011: the daily KPIs, reminder figures and open balances);
tenants read them only through views that filter by the transaction's company.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import text
from sqlalchemy.orm import Session

from majlis.core import audit
from majlis.core.permissions import ALL, NONE, Action, Actor, Matrix, Role, require

ENTITY = "customer_analytics"
# Everyone may read the figures; a refresh costs a pass over every customer, so
# only owners and managers may ask for one outside the schedule.
ANALYTICS: Matrix = {
    Role.OWNER: {Action.VIEW: ALL, Action.ADMINISTER: ALL},
    Role.MANAGER: {Action.VIEW: ALL, Action.ADMINISTER: ALL},
    Role.SALES: {Action.VIEW: ALL, Action.ADMINISTER: NONE},
    Role.ANALYST: {Action.VIEW: ALL, Action.ADMINISTER: NONE},
}


@dataclass(frozen=True)
class Bucket:
    bucket: str
    customers: int
    outstanding_total: Decimal


@dataclass(frozen=True)
class DailyPoint:
    day: date
    new_customers: int
    outstanding_total: Decimal


@dataclass(frozen=True)
class WeeklyPoint:
    week: date
    new_customers: int
    cumulative_customers: int
    change: int


@dataclass(frozen=True)
class CustomerAnalytics:
    refreshed_at: datetime | None
    dimensions: dict[str, list[Bucket]]
    daily: list[DailyPoint]
    weekly: list[WeeklyPoint]


def customer_analytics(session: Session, actor: Actor) -> CustomerAnalytics:
    """The company's summary by business type, source, activity, risk band, plus trends."""
    require(actor, ANALYTICS, Action.VIEW)
    rows = session.execute(
        text(
            "SELECT dimension, bucket, customers, outstanding_total, refreshed_at"
            "  FROM customer_analytics_current ORDER BY dimension, bucket"
        )
    ).all()
    dimensions: dict[str, list[Bucket]] = {}
    for dimension, bucket, customers, outstanding, _ in rows:
        if dimension not in ("day", "week"):
            dimensions.setdefault(dimension, []).append(Bucket(bucket, customers, outstanding))
    daily = session.execute(
        text(
            "SELECT day, new_customers, outstanding_total FROM customer_daily_performance"
            " ORDER BY day"
        )
    ).all()
    weekly = session.execute(
        text(
            "SELECT week, new_customers, cumulative_customers, change"
            "  FROM customer_weekly_trend ORDER BY week"
        )
    ).all()
    return CustomerAnalytics(
        refreshed_at=rows[0][4] if rows else None,
        dimensions=dimensions,
        daily=[DailyPoint(*row) for row in daily],
        weekly=[WeeklyPoint(*row) for row in weekly],
    )


def refresh_summary(session: Session) -> None:
    """Recompute the summaries for every company without blocking readers."""
    session.execute(text("SELECT refresh_customer_analytics()"))


def refresh_on_demand(session: Session, actor: Actor) -> None:
    """A user asked for fresh figures now."""
    require(actor, ANALYTICS, Action.ADMINISTER)
    refresh_summary(session)
    audit.record(session, actor, "analytics.refreshed", ENTITY, actor.company_id)
