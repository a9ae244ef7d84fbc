"""What consolidation saved and what reminders recovered, over a date range.

`reminder_analytics` and `receivables_ageing` count live (the API's exact
figures); their `summarised_` twins add up the same sums from `reminder_days`
and `open_balance_days`, kept by the analytics refresh (migration 0011), for
the dashboard, whose cost must not grow with the reminders sent or the
invoices open.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import Row, text
from sqlalchemy.orm import Session

from majlis.core.errors import ValidationFailed
from majlis.core.permissions import Action, Actor, require
from majlis.receivables.ledger import RECEIVABLES
from majlis.receivables.models import EscalationLevel
from majlis.receivables.planner import savings_pct

MAX_RANGE = timedelta(days=731)

# One pass over the range's sent reminders (index on (company_id, sent_at)).
_BY_LEVEL = text(
    """
    SELECT escalation_level,
           count(*) AS sent,
           sum(invoice_count) AS replaced,
           count(*) FILTER (WHERE opened_at IS NOT NULL OR clicked_at IS NOT NULL
                             OR replied_at IS NOT NULL) AS responded,
           count(*) FILTER (WHERE paid_after_reminder_at IS NOT NULL) AS paid,
           coalesce(sum(total_amount) FILTER (WHERE paid_after_reminder_at IS NOT NULL), 0)
             AS recovered,
           sum(extract(epoch FROM paid_after_reminder_at - sent_at) / 86400)
             FILTER (WHERE paid_after_reminder_at IS NOT NULL) AS days_to_pay
      FROM customer_consolidated_reminders
     WHERE company_id = :company_id AND sent_at IS NOT NULL
       AND sent_at >= :starts AND sent_at < :ends
     GROUP BY escalation_level
    """
)
# The same sums from the refresh's per-day summary; `day` is the UTC day of sending.
_SUMMARISED_BY_LEVEL = text(
    """
    SELECT escalation_level, sum(sent) AS sent, sum(replaced) AS replaced,
           sum(responded) AS responded, sum(paid) AS paid, sum(recovered) AS recovered,
           sum(days_to_pay) AS days_to_pay, max(refreshed_at) AS refreshed_at
      FROM reminder_days_current
     WHERE day BETWEEN :date_from AND :date_to
     GROUP BY escalation_level
    """
)
SUMMARY_DAYS = 100  # how far back `reminder_days` reaches


@dataclass(frozen=True)
class LevelFigures:
    escalation_level: EscalationLevel
    sent: int
    response_rate: Decimal
    paid_after_reminder_rate: Decimal


@dataclass(frozen=True)
class ReminderFigures:
    date_from: date
    date_to: date
    emails_sent: int
    individual_reminders_replaced: int
    savings_pct: Decimal
    amount_recovered: Decimal
    average_days_to_pay: Decimal | None
    by_level: list[LevelFigures]
    # When the summary they were added up from was refreshed; None when counted live or
    # when the summary holds nothing for the range.
    as_of: datetime | None = None


def _rate(part: int, whole: int) -> Decimal:
    return (Decimal(100) * part / whole).quantize(Decimal("0.01")) if whole else Decimal(0)


def _checked_range(actor: Actor, date_from: date, date_to: date) -> None:
    require(actor, RECEIVABLES, Action.VIEW)
    if date_to < date_from:
        raise ValidationFailed.single("date_to", "must not be before date_from")
    if date_to - date_from > MAX_RANGE:
        raise ValidationFailed.single("date_to", "the range may span at most two years")


def reminder_analytics(
    session: Session, actor: Actor, date_from: date, date_to: date
) -> ReminderFigures:
    """Emails sent vs the per-invoice reminders they replaced, rates by level, money back."""
    _checked_range(actor, date_from, date_to)
    rows = session.execute(
        _BY_LEVEL,
        {
            "company_id": actor.company_id,
            # timestamptz bounds, so the range is an index condition, not a filter
            "starts": datetime.combine(date_from, time(), UTC),
            "ends": datetime.combine(date_to + timedelta(days=1), time(), UTC),
        },
    )
    return _figures(date_from, date_to, rows)


def summarised_reminder_analytics(
    session: Session, actor: Actor, date_from: date, date_to: date
) -> ReminderFigures:
    """`reminder_analytics` as of the last analytics refresh, from at most `SUMMARY_DAYS` back."""
    _checked_range(actor, date_from, date_to)
    # a day's margin for a refresh that ran yesterday
    if date_from < datetime.now(UTC).date() - timedelta(days=SUMMARY_DAYS - 1):
        raise ValidationFailed.single("date_from", f"the summary reaches {SUMMARY_DAYS} days back")
    rows = session.execute(_SUMMARISED_BY_LEVEL, {"date_from": date_from, "date_to": date_to}).all()
    figures = _figures(date_from, date_to, rows)
    return replace(figures, as_of=max((row.refreshed_at for row in rows), default=None))


def _figures(date_from: date, date_to: date, found: Iterable[Row[Any]]) -> ReminderFigures:
    """The figures from one row per escalation level of the range's sums."""
    rows = {EscalationLevel(row.escalation_level): row for row in found}
    sent = sum(int(r.sent) for r in rows.values())
    replaced = sum(int(r.replaced) for r in rows.values())
    paid = sum(int(r.paid) for r in rows.values())
    days = sum((Decimal(r.days_to_pay) for r in rows.values() if r.days_to_pay), Decimal(0))
    return ReminderFigures(
        date_from=date_from,
        date_to=date_to,
        emails_sent=sent,
        individual_reminders_replaced=replaced,
        savings_pct=savings_pct(sent, replaced),
        amount_recovered=sum((Decimal(r.recovered) for r in rows.values()), Decimal(0)),
        average_days_to_pay=(days / paid).quantize(Decimal("0.1")) if paid else None,
        by_level=[
            LevelFigures(
                level,
                int(rows[level].sent),
                _rate(int(rows[level].responded), int(rows[level].sent)),
                _rate(int(rows[level].paid), int(rows[level].sent)),
            )
            for level in EscalationLevel
            if level in rows
        ],
    )


# Ageing: open balances by days past due, one pass over the open-invoice index (live) or
# over the refresh's open balances per currency and due date (summarised).
AGEING_BUCKETS = ("current", "1-30", "31-60", "61-90", "90+")
_DAYS_PAST_DUE = """
    CASE WHEN due_date >= :today THEN 'current'
         WHEN due_date >= :today - 30 THEN '1-30'
         WHEN due_date >= :today - 60 THEN '31-60'
         WHEN due_date >= :today - 90 THEN '61-90'
         ELSE '90+' END
"""
_AGEING = text(
    f"""
    SELECT {_DAYS_PAST_DUE} AS bucket, currency,
           sum(amount - amount_paid) AS outstanding, count(*) AS invoices
      FROM invoices
     WHERE company_id = :company_id AND status IN ('open', 'partially_paid')
     GROUP BY 1, 2
    """
)
_SUMMARISED_AGEING = text(
    f"""
    SELECT {_DAYS_PAST_DUE} AS bucket, currency,
           sum(outstanding) AS outstanding, sum(invoices) AS invoices
      FROM open_balance_days_current
     GROUP BY 1, 2
    """
)


@dataclass(frozen=True)
class AgeingBucket:
    bucket: str
    outstanding: Decimal
    invoices: int


def receivables_ageing(
    session: Session, actor: Actor, today: date
) -> dict[str, list[AgeingBucket]]:
    """Open balances per currency in the buckets current, 1–30, 31–60, 61–90 and 90+ days late.

    Every bucket is present (zero when empty), in that order, for each currency owed.
    """
    require(actor, RECEIVABLES, Action.VIEW)
    return _ageing(session.execute(_AGEING, {"company_id": actor.company_id, "today": today}))


def summarised_receivables_ageing(
    session: Session, actor: Actor, today: date
) -> dict[str, list[AgeingBucket]]:
    """`receivables_ageing` as of the last analytics refresh (a row per currency and due date)."""
    require(actor, RECEIVABLES, Action.VIEW)
    return _ageing(session.execute(_SUMMARISED_AGEING, {"today": today}))


def _ageing(rows: Iterable[Row[Any]]) -> dict[str, list[AgeingBucket]]:
    found: dict[str, dict[str, AgeingBucket]] = {}
    for row in rows:
        found.setdefault(row.currency, {})[row.bucket] = AgeingBucket(
            row.bucket, Decimal(row.outstanding), int(row.invoices)
        )
    return {
        currency: [buckets.get(name, AgeingBucket(name, Decimal(0), 0)) for name in AGEING_BUCKETS]
        for currency, buckets in sorted(found.items())
    }
