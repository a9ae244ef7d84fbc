from datetime import UTC, date, datetime, time
from zoneinfo import ZoneInfo

import pytest
from hijridate import Gregorian
from hypothesis import given, settings
from hypothesis import strategies as st

from majlis.core.calendars import WorkingCalendar

DUBAI = ZoneInfo("Asia/Dubai")
BANGKOK = ZoneInfo("Asia/Bangkok")

UAE = WorkingCalendar()  # the default company: AE, Asia/Dubai, Mon–Fri 09:00–17:00
THAI = WorkingCalendar(country="TH", tz="Asia/Bangkok")
UAE_MON_SAT = WorkingCalendar(working_days=frozenset({0, 1, 2, 3, 4, 5}))
UAE_SUN_FRI = WorkingCalendar(working_days=frozenset({6, 0, 1, 2, 3, 4}))


def dubai(
    year: int, month: int, day: int, hour: int = 0, minute: int = 0, sec: int = 0
) -> datetime:
    return datetime(year, month, day, hour, minute, sec, tzinfo=DUBAI)


def bangkok(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=BANGKOK)


# --- holidays ---------------------------------------------------------------


def test_uae_national_day_is_a_holiday() -> None:
    national_day = date(2026, 12, 2)  # a Wednesday
    assert UAE.is_holiday(national_day) == "National Day"
    assert UAE.working_window(national_day) is None
    assert not UAE.is_sendable(dubai(2026, 12, 2, 10))
    assert UAE.why_not_sendable(dubai(2026, 12, 2, 10)) == "public holiday: National Day"


def test_thai_company_skips_songkran_but_uae_company_does_not() -> None:
    songkran = date(2026, 4, 13)  # a Monday
    assert THAI.is_holiday(songkran) == "Songkran Festival"
    assert THAI.why_not_sendable(bangkok(2026, 4, 13, 10)) == "public holiday: Songkran Festival"
    assert UAE.is_holiday(songkran) is None
    assert UAE.is_sendable(dubai(2026, 4, 13, 10))


def test_moon_sighting_override_moves_eid_by_a_day() -> None:
    # `holidays` estimates Eid al-Fitr 2027 as Tue 9 – Thu 11 March; if the
    # moon is sighted a day late, the company shifts it to Wed 10 – Fri 12.
    estimated_first_day, sighted_last_day = date(2027, 3, 9), date(2027, 3, 12)
    assert UAE.is_holiday(estimated_first_day) == "Eid al-Fitr (estimated)"
    assert UAE.is_holiday(sighted_last_day) is None

    shifted = WorkingCalendar(
        extra_holidays=frozenset({sighted_last_day}),
        not_holidays=frozenset({estimated_first_day}),
    )
    assert shifted.is_holiday(estimated_first_day) is None
    assert shifted.is_sendable(dubai(2027, 3, 9, 10))
    assert shifted.is_holiday(sighted_last_day) == "Company holiday"
    assert shifted.why_not_sendable(dubai(2027, 3, 12, 10)) == "company holiday"
    assert shifted.is_holiday(date(2027, 3, 10)) == "Eid al-Fitr Holiday (estimated)"


# --- weekends and hours -----------------------------------------------------


def test_saturday_is_weekend_for_a_mon_fri_uae_company() -> None:
    saturday = date(2026, 12, 5)
    assert UAE.working_window(saturday) is None
    assert UAE.why_not_sendable(dubai(2026, 12, 5, 10)) == "weekend"
    assert UAE_MON_SAT.is_sendable(dubai(2026, 12, 5, 10))


def test_working_window_is_aware_in_company_zone() -> None:
    window = UAE.working_window(date(2026, 6, 10))
    assert window == (dubai(2026, 6, 10, 9), dubai(2026, 6, 10, 17))
    assert all(moment.tzinfo == DUBAI for moment in window or ())


def test_hours_are_half_open() -> None:
    assert not UAE.is_sendable(dubai(2026, 6, 10, 8, 59, 59))
    assert UAE.is_sendable(dubai(2026, 6, 10, 9))
    assert UAE.is_sendable(dubai(2026, 6, 10, 16, 59, 59))
    assert UAE.why_not_sendable(dubai(2026, 6, 10, 17)) == "outside working hours 09:00–17:00"


def test_ramadan_uses_shorter_hours() -> None:
    in_ramadan, after_ramadan = date(2026, 3, 4), date(2026, 4, 15)
    # Checked against the Hijri calendar rather than assumed.
    assert Gregorian.fromdate(in_ramadan).to_hijri().month == 9
    assert Gregorian.fromdate(after_ramadan).to_hijri().month == 10
    assert UAE.is_ramadan(in_ramadan)
    assert not UAE.is_ramadan(after_ramadan)

    assert UAE.hours(in_ramadan) == (time(9), time(15))
    assert UAE.working_window(in_ramadan) == (dubai(2026, 3, 4, 9), dubai(2026, 3, 4, 15))
    assert UAE.is_sendable(dubai(2026, 3, 4, 14, 30))
    assert UAE.why_not_sendable(dubai(2026, 3, 4, 16)) == (
        "outside Ramadan working hours 09:00–15:00"
    )
    assert UAE.is_sendable(dubai(2026, 4, 15, 16))


def test_ramadan_bounds_2026_match_hijri_calendar() -> None:
    assert not UAE.is_ramadan(date(2026, 2, 17))
    assert UAE.is_ramadan(date(2026, 2, 18))
    assert UAE.is_ramadan(date(2026, 3, 19))
    assert not UAE.is_ramadan(date(2026, 3, 20))


def test_thai_company_keeps_normal_hours_in_ramadan() -> None:
    assert THAI.hours(date(2026, 3, 4)) == (time(9), time(17))
    assert THAI.is_sendable(bangkok(2026, 3, 4, 16))


# --- Friday prayer ----------------------------------------------------------


@pytest.mark.parametrize(
    "calendar", [UAE, UAE_MON_SAT, UAE_SUN_FRI], ids=["mon-fri", "mon-sat", "sun-fri"]
)
def test_no_reminders_during_friday_prayer_in_uae(calendar: WorkingCalendar) -> None:
    friday = date(2026, 1, 9)
    assert calendar.is_sendable(dubai(2026, 1, 9, 11, 59))
    assert calendar.why_not_sendable(dubai(2026, 1, 9, 12)) == "Friday prayer"
    assert calendar.why_not_sendable(dubai(2026, 1, 9, 13, 15)) == "Friday prayer"
    assert calendar.is_sendable(dubai(2026, 1, 9, 14))
    assert calendar.sendable_windows(friday) == [
        (dubai(2026, 1, 9, 9), dubai(2026, 1, 9, 12)),
        (dubai(2026, 1, 9, 14), dubai(2026, 1, 9, 17)),
    ]
    assert calendar.next_sendable(dubai(2026, 1, 9, 12, 30)) == datetime(2026, 1, 9, 10, tzinfo=UTC)


def test_friday_prayer_inside_ramadan_hours() -> None:
    friday_in_ramadan = date(2026, 3, 6)
    assert UAE.sendable_windows(friday_in_ramadan) == [
        (dubai(2026, 3, 6, 9), dubai(2026, 3, 6, 12)),
        (dubai(2026, 3, 6, 14), dubai(2026, 3, 6, 15)),
    ]


def test_thai_company_has_no_friday_prayer_pause() -> None:
    assert THAI.is_sendable(bangkok(2026, 1, 9, 13))


# --- next_sendable and time zones --------------------------------------------


def test_next_sendable_skips_weekend_and_national_day() -> None:
    # Friday 28 Nov 2025 after closing; Sat–Sun weekend; Mon 1 and Tue 2 Dec
    # are National Day; the office opens again Wednesday 3 Dec at 09:00.
    assert UAE.is_holiday(date(2025, 12, 1)) and UAE.is_holiday(date(2025, 12, 2))
    result = UAE.next_sendable(dubai(2025, 11, 28, 17, 30))
    assert result == dubai(2025, 12, 3, 9)
    assert result.tzinfo is UTC
    assert result == datetime(2025, 12, 3, 5, tzinfo=UTC)


def test_next_sendable_skips_eid_after_ramadan_closing() -> None:
    # Wed 18 Mar 2026, after the 15:00 Ramadan closing; Eid holidays Thu–Sun.
    assert UAE.next_sendable(dubai(2026, 3, 18, 15)) == dubai(2026, 3, 23, 9)


def test_next_sendable_returns_the_moment_itself_when_allowed() -> None:
    moment = datetime(2026, 6, 10, 8, 12, 34, 567, tzinfo=UTC)  # 12:12 in Dubai
    assert UAE.next_sendable(moment) == moment
    assert UAE.next_sendable(moment).tzinfo is UTC


def test_same_utc_moment_inside_dubai_hours_but_not_bangkok() -> None:
    moment = datetime(2026, 6, 10, 11, tzinfo=UTC)  # 15:00 Dubai, 18:00 Bangkok
    assert UAE.is_sendable(moment)
    assert THAI.why_not_sendable(moment) == "outside working hours 09:00–17:00"
    assert THAI.next_sendable(moment) == bangkok(2026, 6, 11, 9)
    assert THAI.next_sendable(moment) == datetime(2026, 6, 11, 2, tzinfo=UTC)


def test_local_date_decides_the_holiday() -> None:
    # 1 Dec 2026 21:00 UTC is already 2 Dec 01:00 in Dubai: National Day
    # (2–3 Dec), so the next chance is Friday 4 Dec at opening.
    late_utc = datetime(2026, 12, 1, 21, tzinfo=UTC)
    assert UAE.why_not_sendable(late_utc) == "public holiday: National Day"
    assert UAE.why_not_sendable(datetime(2026, 12, 1, 19, tzinfo=UTC)) == (
        "outside working hours 09:00–17:00"
    )
    assert UAE.next_sendable(late_utc) == dubai(2026, 12, 4, 9)


def test_next_sendable_gives_up_with_a_clear_error() -> None:
    start = date(2026, 1, 1)
    closed = frozenset(date.fromordinal(start.toordinal() + i) for i in range(120))
    calendar = WorkingCalendar(extra_holidays=closed)
    with pytest.raises(ValueError, match="no sendable time within 60 days"):
        calendar.next_sendable(dubai(2026, 1, 1, 10))


# --- input validation --------------------------------------------------------


@pytest.mark.parametrize("method", ["is_sendable", "why_not_sendable", "next_sendable"])
def test_naive_datetime_is_rejected(method: str) -> None:
    with pytest.raises(ValueError, match="naive datetime"):
        getattr(UAE, method)(datetime(2026, 6, 10, 10))


def test_datetime_is_not_accepted_as_a_date() -> None:
    with pytest.raises(TypeError, match="expected a date"):
        UAE.is_holiday(dubai(2026, 12, 2, 10))


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"country": "XX"}, "no public holiday data"),
        ({"tz": "Asia/Atlantis"}, "unknown time zone"),
        ({"working_days": frozenset()}, "working_days is empty"),
        ({"working_days": frozenset({7})}, "weekdays 0–6"),
        ({"start": time(17), "end": time(9)}, "working hours must start before"),
        (
            {"extra_holidays": {date(2026, 1, 5)}, "not_holidays": {date(2026, 1, 5)}},
            "both added and removed",
        ),
    ],
)
def test_invalid_calendars_are_rejected(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        WorkingCalendar(**kwargs)  # type: ignore[arg-type]


def test_sets_are_frozen_so_calendars_stay_hashable() -> None:
    calendar = WorkingCalendar(working_days={0, 1, 2, 3, 4})  # type: ignore[arg-type]
    assert calendar == UAE
    assert hash(calendar) == hash(UAE)


# --- property ----------------------------------------------------------------

CALENDARS = [
    UAE,
    THAI,
    UAE_MON_SAT,
    UAE_SUN_FRI,
    WorkingCalendar(country="AE", tz="Europe/London"),  # zone with DST
]
ZONES = [UTC, DUBAI, BANGKOK, ZoneInfo("America/New_York")]


@settings(max_examples=300, deadline=None)
@given(
    calendar=st.sampled_from(CALENDARS),
    moment=st.datetimes(
        min_value=datetime(2025, 1, 1),
        max_value=datetime(2027, 12, 31, 23, 59, 59),
        timezones=st.sampled_from(ZONES),
        allow_imaginary=False,
    ),
)
def test_next_sendable_is_sendable_and_not_earlier(
    calendar: WorkingCalendar, moment: datetime
) -> None:
    result = calendar.next_sendable(moment)
    assert result >= moment
    assert result.tzinfo is UTC
    assert calendar.is_sendable(result)
    # Compared in UTC: Python reports an ambiguous wall time (DST fold) as
    # unequal to every datetime in another zone, even the same instant.
    assert calendar.is_sendable(moment) == (result == moment.astimezone(UTC))
