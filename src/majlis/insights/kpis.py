"""Daily KPIs with anomaly flags against a robust seasonal baseline.

Each KPI is counted per day in the company's time zone. A day is compared
with the same weekday of the previous eight weeks (weekly seasonality: a
Friday is judged against Fridays): the baseline is their median and the
spread their median absolute deviation (MAD, scaled by 1.4826 to read like a
standard deviation, and never below 1 so quiet series do not flag every
blip). A day whose robust z-score reaches 3.5 is flagged, with how unusual it
is and why in words. Medians ignore the odd spike in history, which is what
makes the baseline robust.

**Churn risk** counts, per day, the active customers who *fell silent* that
day: their last contact (creation, last seen in a conversation or
interaction, or a journey stage move; `journeys.sweeps.last_contact_at`, the
same silence the no-contact rule trigger uses) was exactly `CHURN_SILENCE`
(60 days) before it, and nothing has been heard from them since. A surge
means a cohort is slipping away together (a campaign's leads, a season's
patients) and is flagged like any other KPI. Because a customer contacted
again drops out of the day they once fell silent on, past days read a little
lower than they were at the time; the baseline is therefore conservative
(a surge today is, if anything, flagged slightly early).

**Freshness.** Every KPI is read from the summaries the analytics refresh
(every 15 minutes, or the dashboard's refresh button) keeps per company and
day (migration 0011: `customer_kpi_days` per local day, `open_balance_days`
per due date), so a view costs one small read at any company size: figures
are as of the refresh time the dashboard shows. The summary's churn silence
is the same greatest-of (creation, last seen, last stage move) as
`last_contact_at`.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import text
from sqlalchemy.orm import Session

from majlis.accounts.service import get_company
from majlis.core import outbox
from majlis.core.permissions import CUSTOMERS, Action, Actor, require
from majlis.notifications.models import Priority
from majlis.notifications.service import notify_owners

SEASON_WEEKS = 8
CHURN_SILENCE = timedelta(days=60)
THRESHOLD = 3.5
MAD_TO_SIGMA = 1.4826
KPIS = ("new_customers", "conversions", "revenue", "invoices_falling_due", "churn_risk")
# Invoices falling due are the open invoices per due date, summed over currencies.
_SUMMARISED = text(
    """
    SELECT metric, day, value FROM customer_kpi_days_current WHERE day BETWEEN :since AND :end
    UNION ALL
    SELECT 'invoices_falling_due', due_date, sum(invoices) FROM open_balance_days_current
     WHERE due_date BETWEEN :since AND :end GROUP BY due_date
    """
)


@dataclass(frozen=True)
class Anomaly:
    metric: str
    day: date
    value: float
    baseline: float
    robust_z: float
    why: str


@dataclass
class DayKpis:
    day: date
    values: dict[str, float]
    anomalies: list[Anomaly] = field(default_factory=list)


def _summarised(session: Session, since: date, end: date) -> dict[str, dict[date, float]]:
    """Each KPI per day from the summaries the analytics refresh keeps (migration 0011).

    Counted live, they would read every customer, stage move, payment and open
    invoice of the company on every view.
    """
    rows = session.execute(_SUMMARISED, {"since": since, "end": end})
    series: dict[str, dict[date, float]] = {metric: {} for metric in KPIS}
    for metric, day, value in rows:
        series[metric][day] = float(value)
    return series


def robust_anomaly(metric: str, day: date, value: float, history: list[float]) -> Anomaly | None:
    """Flag `value` when it sits 3.5 robust standard deviations from the seasonal median."""
    baseline = statistics.median(history)
    mad = statistics.median(abs(x - baseline) for x in history)
    scale = max(mad * MAD_TO_SIGMA, 1.0)
    z = (value - baseline) / scale
    if abs(z) < THRESHOLD:
        return None
    direction = "above" if z > 0 else "below"
    why = (
        f"{metric.replace('_', ' ')} on {day:%A %d %b} was {value:g}, {direction} the usual "
        f"{baseline:g} (median of the last {len(history)} {day:%A}s), robust z {z:+.1f}"
    )
    return Anomaly(metric, day, value, baseline, round(z, 1), why)


def daily_kpis(
    session: Session, actor: Actor, days: int = 14, today: date | None = None
) -> list[DayKpis]:
    """The last `days` days of KPIs, each checked against its weekday's baseline."""
    require(actor, CUSTOMERS, Action.VIEW)
    zone = get_company(session, actor.company_id).time_zone
    end = today or datetime.now(ZoneInfo(zone)).date()
    first = end - timedelta(days=days - 1)
    since = first - timedelta(weeks=SEASON_WEEKS)
    series = _summarised(session, since, end)
    result = []
    for offset in range(days):
        day = first + timedelta(days=offset)
        values = {name: points.get(day, 0.0) for name, points in series.items()}
        kpis = DayKpis(day, values)
        for name, points in series.items():
            weeks_back = range(1, SEASON_WEEKS + 1)
            history = [points.get(day - timedelta(weeks=w), 0.0) for w in weeks_back]
            anomaly = robust_anomaly(name, day, values[name], history)
            if anomaly is not None:
                kpis.anomalies.append(anomaly)
        result.append(kpis)
    return result


def alert_anomalies(session: Session, actor: Actor, day: date) -> list[Anomaly]:
    """Tell the owners about `day`'s anomalies, once each (an outbox key guards repeats)."""
    (kpis,) = daily_kpis(session, actor, days=1, today=day)
    alerted = []
    for anomaly in kpis.anomalies:
        key = f"kpi-anomaly:{anomaly.day}:{anomaly.metric}"
        if outbox.emit(session, actor, "insights.anomaly", {"why": anomaly.why}, dedupe_key=key):
            notify_owners(
                session,
                actor,
                "Unusual day: " + anomaly.metric.replace("_", " "),
                anomaly.why,
                Priority.HIGH,
            )
            alerted.append(anomaly)
    return alerted
