"""The dashboard: the analytics as charts, each with its numbers on hover and as a table.

Every figure comes from the service behind its JSON API: customer growth,
sources and risk bands from `majlis.analytics.service.customer_analytics` (the
materialized summary, so the page costs three small reads however many
customers there are), receivables ageing and reminder savings from
`majlis.receivables.analytics`, the funnel from `majlis.journeys.service`, and
the daily KPIs with their anomaly flags from `majlis.insights.kpis`. The
ageing, the reminder savings and most KPIs are read from the summaries the same
refresh keeps (migration 0011), so every statement is bounded at any company
size (the funnel's counts are capped) and the page shows one "as of" time.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from babel.dates import format_date
from fastapi import APIRouter, Request, Response

from majlis.analytics import service as analytics
from majlis.core.permissions import Action, can
from majlis.insights import kpis
from majlis.journeys import service as journeys
from majlis.receivables import analytics as receivables
from majlis.web.charts import Chart, Number, Point, bar_chart, column_chart
from majlis.web.forms import VerifiedForm
from majlis.web.locale import N_
from majlis.web.rendering import Page, PageRoute, redirect, signed_in

router = APIRouter(route_class=PageRoute, include_in_schema=False)

REMINDER_DAYS = 90
KPI_DAYS = 14
SOURCE_LABELS = {"manual": N_("Manual"), "chat": N_("Chat"), "import": N_("Import")}
RISK_LABELS = {
    "low": N_("Low risk"),
    "medium": N_("Medium risk"),
    "high": N_("High risk"),
    "unscored": N_("Not scored"),
}
AGEING_LABELS = {
    "current": N_("Not yet due"),
    "1-30": N_("1–30 days late"),
    "31-60": N_("31–60 days late"),
    "61-90": N_("61–90 days late"),
    "90+": N_("Over 90 days late"),
}
KPI_LABELS = {
    "new_customers": N_("New customers"),
    "conversions": N_("Deals won"),
    "revenue": N_("Payments received"),
    "invoices_falling_due": N_("Invoices falling due"),
    "churn_risk": N_("Fell silent"),
}
CUSTOMERS = N_("Customers")


@dataclass(frozen=True)
class AgeingChart:
    currency: str
    chart: Chart


def _weeks(weekly: list[analytics.WeeklyPoint]) -> list[tuple[date, int]]:
    """New customers per week from the first week with any, empty weeks shown as zero."""
    if not weekly:
        return []
    counts = {point.week: point.new_customers for point in weekly}
    first, last = weekly[0].week, weekly[-1].week
    weeks = [first + timedelta(weeks=n) for n in range((last - first).days // 7 + 1)]
    return [(week, counts.get(week, 0)) for week in weeks]


def growth_chart(page: Page, weekly: list[analytics.WeeklyPoint]) -> Chart:
    fmt = page.fmt
    points = [
        Point(
            fmt.gettext(N_("Week of {day}"), day=fmt.date(week)),
            count,
            fmt.number(count),
            format_date(week, "d MMM", locale=fmt.locale),
        )
        for week, count in _weeks(weekly)
    ]
    return column_chart(
        "growth",
        points,
        rtl=fmt.language.direction == "rtl",
        shown=fmt.number,
        label_heading=fmt.gettext(N_("Week")),
        value_heading=fmt.gettext(N_("New customers")),
    )


def category_chart(
    page: Page,
    chart_id: str,
    pairs: list[tuple[str, Number]],
    shown: Callable[[Number], str],
    label_heading: str,
    value_heading: str = CUSTOMERS,
) -> Chart:
    """Horizontal bars for (already translated label, value) pairs."""
    fmt = page.fmt
    return bar_chart(
        chart_id,
        [Point(label, value, shown(value)) for label, value in pairs],
        rtl=fmt.language.direction == "rtl",
        label_heading=fmt.gettext(label_heading),
        value_heading=fmt.gettext(value_heading),
    )


def _dimension(
    page: Page, found: analytics.CustomerAnalytics, name: str, labels: dict[str, str]
) -> list[tuple[str, Number]]:
    """A summary dimension's buckets, known ones first in our order, each label translated."""
    counts = {bucket.bucket: bucket.customers for bucket in found.dimensions.get(name, [])}
    order = [key for key in labels if key in counts] + sorted(counts.keys() - labels.keys())
    return [(page.fmt.gettext(labels.get(key, key)), counts[key]) for key in order]


def _money_in(page: Page, currency: str) -> Callable[[Number], str]:
    return lambda value: page.fmt.money(Decimal(value), currency)


def ageing_charts(page: Page, today: date) -> list[AgeingChart]:
    """One chart per currency owed (most companies bill in one), as of the last refresh."""
    fmt = page.fmt
    charts = []
    owed = receivables.summarised_receivables_ageing(page.db, page.actor, today)
    for currency, buckets in owed.items():
        pairs: list[tuple[str, Number]] = [
            (fmt.gettext(AGEING_LABELS[b.bucket]), b.outstanding) for b in buckets
        ]
        charts.append(
            AgeingChart(
                currency,
                category_chart(
                    page,
                    f"ageing-{currency.lower()}",
                    pairs,
                    _money_in(page, currency),
                    N_("Days past due"),
                    N_("Amount outstanding"),
                ),
            )
        )
    return charts


def savings_chart(page: Page, figures: receivables.ReminderFigures) -> Chart:
    fmt = page.fmt
    pairs: list[tuple[str, Number]] = [
        (fmt.gettext(N_("One email per invoice")), figures.individual_reminders_replaced),
        (fmt.gettext(N_("Emails sent")), figures.emails_sent),
    ]
    return category_chart(page, "savings", pairs, fmt.number, N_("Reminder emails"), N_("Emails"))


def capped_count(page: Page, count: Number, cap: int) -> str:
    """A count that stops past `cap` (services cap what would read every row): "1,000+"."""
    return f"{page.fmt.number(cap)}+" if count > cap else page.fmt.number(count)


def funnel_chart(page: Page) -> Chart:
    """Customers per stage, exact, as of the analytics refresh like the other figures."""
    pairs: list[tuple[str, Number]] = [
        (page.fmt.name_of(stage), customers)
        for stage, customers in journeys.summarised_funnel(page.db, page.actor).customers
    ]
    return category_chart(page, "funnel", pairs, page.fmt.number, N_("Stage"))


def _company_today(page: Page) -> date:
    return datetime.now(UTC).astimezone(page.fmt.zone).date()


@router.get("/dashboard")
def dashboard(request: Request) -> Response:
    """Every chart of the dashboard, drawn on the server from the services' figures."""
    with signed_in(request) as page:
        today = _company_today(page)
        found = analytics.customer_analytics(page.db, page.actor)
        figures = receivables.summarised_reminder_analytics(
            page.db, page.actor, today - timedelta(days=REMINDER_DAYS), today
        )
        days = kpis.daily_kpis(page.db, page.actor, KPI_DAYS, today)
        return page.render(
            "dashboard/dashboard.html",
            refreshed_at=found.refreshed_at,
            growth=growth_chart(page, found.weekly),
            sources=category_chart(
                page,
                "sources",
                _dimension(page, found, "source", SOURCE_LABELS),
                page.fmt.number,
                N_("Source"),
            ),
            risk=category_chart(
                page,
                "risk",
                _dimension(page, found, "risk_band", RISK_LABELS),
                page.fmt.number,
                N_("Risk band"),
            ),
            ageing=ageing_charts(page, today),
            figures=figures,
            reminder_days=REMINDER_DAYS,
            savings=savings_chart(page, figures),
            funnel=funnel_chart(page),
            kpi_days=list(reversed(days)),
            kpi_labels=KPI_LABELS,
            anomalies=[anomaly for day in days for anomaly in day.anomalies],
            can_refresh=can(page.actor, analytics.ANALYTICS, Action.ADMINISTER),
        )


@router.post("/dashboard/refresh")
def refresh(request: Request, form: VerifiedForm) -> Response:
    """The service behind `POST /api/v1/analytics/customers/refresh`: figures recomputed now."""
    with signed_in(request) as page:
        analytics.refresh_on_demand(page.db, page.actor)
        page.web.update(flash=N_("The figures were refreshed."))
        return redirect(request, "/dashboard")
