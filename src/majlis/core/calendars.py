"""Working-time calendars: when a company may contact its customers.

A payment reminder that arrives on Eid, during Friday prayer, on a Saturday or
at 22:00 does more harm than good: our customers' customers read it as rude,
and in the UAE and Thailand a relationship survives a late payment far better
than a tactless message. So the reminder engine only sends inside the
company's own working time, as its customers experience it:

* in the company's time zone, on its working days and within its hours
  (the UAE moved to a Monday–Friday week in 2022, hence the default);
* never on a public holiday of the company's country. Islamic holidays follow
  the moon sighting, which the `holidays` package can only estimate, so each
  company can add and remove dates when the announcement differs;
* during Ramadan (Hijri month 9) with the shorter hours that UAE businesses
  keep while fasting;
* never during Friday prayer for UAE companies that work on Fridays.

Everything here is pure Python and deterministic: no database, no clock.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from types import MappingProxyType
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import holidays
from hijridate import Gregorian

__all__ = ["DEFAULT_SEARCH_DAYS", "WorkingCalendar"]

DEFAULT_SEARCH_DAYS = 60
"""How far `next_sendable` looks ahead. Eid plus a weekend is under a week, so
two months without a single sendable hour means the calendar is misconfigured,
not that the customer should wait."""

_RAMADAN_MONTH = 9
_FRIDAY = 4
# Countries whose businesses shorten their hours in Ramadan and pause for
# Friday prayer by default. Thai companies keep their hours (the Muslim south
# can opt in per company), so this is deliberately not "every country with
# Muslim customers".
_RAMADAN_HOURS_COUNTRIES = frozenset({"AE"})
_FRIDAY_PRAYER_COUNTRIES = frozenset({"AE"})
# Reasons are shown to staff in the reminder preview, which is English today;
# `holidays` would otherwise pick Arabic or Thai from the process locale.
_HOLIDAY_LANGUAGE = "en_US"
_COMPANY_HOLIDAY = "Company holiday"


@functools.lru_cache(maxsize=256)
def _public_holidays(country: str, year: int) -> Mapping[date, str]:
    """Public holidays of one country and year, built once per process.

    Building a `holidays` object computes the whole year (including lunar
    dates), which is far slower than a lookup; every reminder check would
    otherwise pay for it. A read-only plain mapping is cached rather than the
    `holidays` object itself, because looking a date up in that object can
    silently add other years to it, which is not safe to share between threads.
    """
    built = holidays.country_holidays(country, years=year, language=_HOLIDAY_LANGUAGE)
    return MappingProxyType(dict(built))


def _require_aware(moment: datetime) -> None:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(
            f"naive datetime {moment.isoformat()} is ambiguous: the company and its "
            "customers may be in different time zones; pass an aware datetime, "
            "e.g. datetime.now(UTC)"
        )


def _require_date(d: date) -> None:
    # A datetime is a date subclass, but its calendar day depends on the time
    # zone, and it never equals the plain dates in the override sets.
    if isinstance(d, datetime):
        raise TypeError(
            "expected a date, got a datetime; use is_sendable() for a moment, or pass "
            "moment.astimezone(calendar.zone).date()"
        )


def _hhmm(start: time, end: time) -> str:
    return f"{start:%H:%M}–{end:%H:%M}"


@dataclass(frozen=True)
class WorkingCalendar:
    """One company's working time. Frozen so it can be shared and cached safely.

    Windows are half-open, `[start, end)`, in the company's local wall-clock
    time: a company open 09:00–17:00 may send at 09:00:00 but not at 17:00:00.
    Windows that cross midnight are not supported.
    """

    country: str = "AE"
    """ISO 3166 country code used for public holidays, e.g. "AE" or "TH"."""
    tz: str = "Asia/Dubai"
    """IANA time zone name of the company's office."""
    working_days: frozenset[int] = frozenset({0, 1, 2, 3, 4})
    """Weekdays the company works, Monday=0 … Sunday=6."""
    start: time = time(9)
    end: time = time(17)
    ramadan_start: time = time(9)
    ramadan_end: time = time(15)
    """UAE labour law shortens private-sector days by two hours in Ramadan:
    the default 09:00–17:00 day becomes 09:00–15:00."""
    observe_ramadan: bool | None = None
    """Use the Ramadan hours in Ramadan; None follows the country's custom
    (on for AE, off elsewhere)."""
    friday_prayer_start: time = time(12)
    friday_prayer_end: time = time(14)
    """The UAE Friday sermon is at 13:15 all year; 12:00–14:00 leaves room for
    getting to the mosque and back."""
    observe_friday_prayer: bool | None = None
    """Pause during Friday prayer on Fridays the company works; None follows
    the country's custom (on for AE, off elsewhere)."""
    extra_holidays: frozenset[date] = field(default_factory=frozenset)
    """Company holidays, e.g. Eid one day later than the `holidays` estimate."""
    not_holidays: frozenset[date] = field(default_factory=frozenset)
    """Official holidays the company works anyway, e.g. the estimated Eid day
    that the moon sighting moved."""

    def __post_init__(self) -> None:
        # Callers building a calendar from a database row tend to pass sets or
        # lists; freezing them keeps the calendar hashable and immutable.
        for name in ("working_days", "extra_holidays", "not_holidays"):
            object.__setattr__(self, name, frozenset(getattr(self, name)))

        if self.country not in holidays.list_supported_countries():
            raise ValueError(f"no public holiday data for country {self.country!r}")
        try:
            ZoneInfo(self.tz)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {self.tz!r}") from exc
        if not self.working_days:
            raise ValueError("working_days is empty: the company could never be contacted")
        if not self.working_days <= set(range(7)):
            raise ValueError(f"working_days must be weekdays 0–6 (Monday=0): {self.working_days}")
        for label, start, end in (
            ("working hours", self.start, self.end),
            ("Ramadan hours", self.ramadan_start, self.ramadan_end),
            ("Friday prayer", self.friday_prayer_start, self.friday_prayer_end),
        ):
            if start.tzinfo is not None or end.tzinfo is not None:
                raise ValueError(f"{label} are local wall-clock times and must be naive")
            if not start < end:
                raise ValueError(f"{label} must start before they end: {_hhmm(start, end)}")
        both = self.extra_holidays & self.not_holidays
        if both:
            raise ValueError(f"dates both added and removed as holidays: {sorted(both)}")

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.tz)

    @property
    def observes_ramadan(self) -> bool:
        if self.observe_ramadan is None:
            return self.country in _RAMADAN_HOURS_COUNTRIES
        return self.observe_ramadan

    @property
    def observes_friday_prayer(self) -> bool:
        if self.observe_friday_prayer is None:
            return self.country in _FRIDAY_PRAYER_COUNTRIES
        return self.observe_friday_prayer

    def is_holiday(self, d: date) -> str | None:
        """The holiday's name if the company is closed for one on `d`, else None."""
        _require_date(d)
        if d in self.not_holidays:
            return None
        if d in self.extra_holidays:
            return _COMPANY_HOLIDAY
        return _public_holidays(self.country, d.year).get(d)

    def is_ramadan(self, d: date) -> bool:
        """Whether `d` falls in Ramadan by the Umm al-Qura calendar (hijridate)."""
        _require_date(d)
        try:
            hijri = Gregorian.fromdate(d).to_hijri()
        except OverflowError as exc:
            raise ValueError(f"{d} is outside the Hijri range hijridate supports") from exc
        return hijri.month == _RAMADAN_MONTH

    def _keeps_ramadan_hours(self, d: date) -> bool:
        return self.observes_ramadan and self.is_ramadan(d)

    def hours(self, d: date) -> tuple[time, time]:
        """Opening and closing wall-clock times that apply on `d` (Ramadan or not)."""
        _require_date(d)
        if self._keeps_ramadan_hours(d):
            return self.ramadan_start, self.ramadan_end
        return self.start, self.end

    def _is_working_day(self, d: date) -> bool:
        return d.weekday() in self.working_days and self.is_holiday(d) is None

    def _prays_on(self, d: date) -> bool:
        return self.observes_friday_prayer and d.weekday() == _FRIDAY

    def working_window(self, d: date) -> tuple[datetime, datetime] | None:
        """Opening and closing on `d` as aware datetimes in the company's zone.

        None on weekends and holidays. Friday prayer is a gap inside this
        window; see `sendable_windows` for the gaps taken out.
        """
        _require_date(d)
        if not self._is_working_day(d):
            return None
        opens, closes = self.hours(d)
        zone = self.zone
        return datetime.combine(d, opens, zone), datetime.combine(d, closes, zone)

    def sendable_windows(self, d: date) -> list[tuple[datetime, datetime]]:
        """The half-open periods of `d` when sending is allowed, in order."""
        _require_date(d)
        if not self._is_working_day(d):
            return []
        opens, closes = self.hours(d)
        periods = [(opens, closes)]
        if self._prays_on(d):
            gap_start, gap_end = self.friday_prayer_start, self.friday_prayer_end
            periods = [(opens, min(closes, gap_start)), (max(opens, gap_end), closes)]
        zone = self.zone
        return [
            (datetime.combine(d, a, zone), datetime.combine(d, b, zone))
            for a, b in periods
            if a < b
        ]

    def why_not_sendable(self, moment: datetime) -> str | None:
        """Why a reminder may not go out at `moment`, for staff; None if it may."""
        _require_aware(moment)
        local = moment.astimezone(self.zone)
        d, now = local.date(), local.time()
        holiday = self.is_holiday(d)
        if holiday == _COMPANY_HOLIDAY:
            return "company holiday"
        if holiday is not None:
            return f"public holiday: {holiday}"
        if d.weekday() not in self.working_days:
            return "weekend"
        opens, closes = self.hours(d)
        if not opens <= now < closes:
            ramadan = "Ramadan " if self._keeps_ramadan_hours(d) else ""
            return f"outside {ramadan}working hours {_hhmm(opens, closes)}"
        if self._prays_on(d) and self.friday_prayer_start <= now < self.friday_prayer_end:
            return "Friday prayer"
        return None

    def is_sendable(self, moment: datetime) -> bool:
        """Whether a reminder may go out at `moment` (aware, any time zone)."""
        return self.why_not_sendable(moment) is None

    def next_sendable(
        self, moment: datetime, *, search_days: int = DEFAULT_SEARCH_DAYS
    ) -> datetime:
        """The earliest time at or after `moment` when sending is allowed, in UTC.

        Raises ValueError if there is none within `search_days` local days,
        which only happens with a misconfigured calendar.
        """
        _require_aware(moment)
        moment_utc = moment.astimezone(UTC)
        first_day = moment.astimezone(self.zone).date()
        for offset in range(search_days + 1):
            for opens, closes in self.sendable_windows(first_day + timedelta(days=offset)):
                # Compared in UTC: aware datetimes sharing a tzinfo compare by
                # wall clock, which is wrong across a DST change.
                opens_utc, closes_utc = opens.astimezone(UTC), closes.astimezone(UTC)
                if moment_utc < closes_utc:
                    return max(opens_utc, moment_utc)
        raise ValueError(
            f"no sendable time within {search_days} days after {moment.isoformat()} "
            f"for {self.country} in {self.tz}; check working days, hours and holidays"
        )
