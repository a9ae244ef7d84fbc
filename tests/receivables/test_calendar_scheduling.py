"""Reminders are scheduled inside the company's working time: holidays, weekends, Ramadan."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from majlis.core.calendars import WorkingCalendar
from majlis.core.db import tenant_session
from majlis.receivables.planner import run_reminders

DUBAI, BANGKOK = ZoneInfo("Asia/Dubai"), ZoneInfo("Asia/Bangkok")


def _next_day(start: date, wanted: Callable[[date], bool]) -> date:
    """The first date after `start` (within two years) that satisfies `wanted`."""
    day = start + timedelta(days=2)
    while not wanted(day):
        day += timedelta(days=1)
        assert day < start + timedelta(days=800), "no such day in two years"
    return day


def _scheduled_at(app_engine, tenant, owner, new_customer, overdue_invoice, now: datetime):
    customer = new_customer(owner)
    # Due long before `now`, so it is overdue then; planned as of that moment.
    overdue_invoice(owner, customer["id"], 5)
    with tenant_session(app_engine, tenant.company_id) as session:
        result = run_reminders(session, tenant.actor(), now=now)
    assert {p.customer_id for p in result.planned} == {uuid.UUID(customer["id"])}
    return result.scheduled_at


def test_uae_public_holiday_moves_the_send_to_the_next_working_morning(
    app_engine, tenant, owner, new_customer, overdue_invoice
) -> None:
    uae = WorkingCalendar()
    today = datetime.now(DUBAI).date()
    holiday = _next_day(today, lambda d: d.weekday() < 5 and uae.is_holiday(d) is not None)
    now = datetime.combine(holiday, time(10), DUBAI)
    scheduled = _scheduled_at(app_engine, tenant, owner, new_customer, overdue_invoice, now)
    local = scheduled.astimezone(DUBAI)
    assert local.date() > holiday
    assert uae.is_holiday(local.date()) is None and local.weekday() < 5
    assert local.time() == uae.hours(local.date())[0]  # opening time
    assert scheduled.tzinfo is UTC


def test_weekend_moves_the_send_to_monday(
    app_engine, tenant, owner, new_customer, overdue_invoice
) -> None:
    uae = WorkingCalendar()
    today = datetime.now(DUBAI).date()
    saturday = _next_day(
        today,
        lambda d: d.weekday() == 5 and not any(uae.is_holiday(d + timedelta(n)) for n in (1, 2)),
    )
    now = datetime.combine(saturday, time(11), DUBAI)
    scheduled = _scheduled_at(app_engine, tenant, owner, new_customer, overdue_invoice, now)
    expected = datetime.combine(saturday + timedelta(days=2), uae.hours(saturday)[0], DUBAI)
    assert scheduled == expected


def test_ramadan_hours_end_the_sending_day_earlier(
    app_engine, tenant, owner, new_customer, overdue_invoice
) -> None:
    uae = WorkingCalendar()
    today = datetime.now(DUBAI).date()
    # A Ramadan Monday–Thursday whose next day is also a Ramadan working day.
    day = _next_day(
        today,
        lambda d: (
            d.weekday() < 4
            and uae.is_ramadan(d)
            and uae.is_ramadan(d + timedelta(1))
            and uae.is_holiday(d) is None
            and uae.is_holiday(d + timedelta(1)) is None
        ),
    )
    assert uae.hours(day) == (time(9), time(15))
    # 16:00 is inside normal hours but after the Ramadan closing: wait for tomorrow 09:00.
    now = datetime.combine(day, time(16), DUBAI)
    scheduled = _scheduled_at(app_engine, tenant, owner, new_customer, overdue_invoice, now)
    assert scheduled == datetime.combine(day + timedelta(1), time(9), DUBAI)
    # 14:00 is still inside Ramadan hours: send right away.
    inside = datetime.combine(day, time(14), DUBAI)
    assert _scheduled_at(app_engine, tenant, owner, new_customer, overdue_invoice, inside) == inside


def test_thai_public_holiday_is_skipped_for_a_thai_company(
    app_engine, make_tenant, new_customer, overdue_invoice
) -> None:
    tenant = make_tenant("TH")
    thai = WorkingCalendar(country="TH", tz="Asia/Bangkok")
    today = datetime.now(BANGKOK).date()
    holiday = _next_day(today, lambda d: d.weekday() < 5 and thai.is_holiday(d) is not None)
    now = datetime.combine(holiday, time(10), BANGKOK)
    with tenant.client() as owner:
        scheduled = _scheduled_at(app_engine, tenant, owner, new_customer, overdue_invoice, now)
    local = scheduled.astimezone(BANGKOK)
    assert local.date() > holiday and thai.is_holiday(local.date()) is None
    assert local.time() == time(9)


def test_friday_prayer_pauses_a_uae_company(
    app_engine, tenant, owner, new_customer, overdue_invoice
) -> None:
    uae = WorkingCalendar()
    friday = _next_day(
        datetime.now(DUBAI).date(),
        lambda d: d.weekday() == 4 and uae.is_holiday(d) is None and not uae.is_ramadan(d),
    )
    now = datetime.combine(friday, time(12, 30), DUBAI)
    scheduled = _scheduled_at(app_engine, tenant, owner, new_customer, overdue_invoice, now)
    assert scheduled == datetime.combine(friday, time(14), DUBAI)


def test_moon_sighting_override_adds_a_company_holiday(
    app_engine, tenant, owner, new_customer, overdue_invoice
) -> None:
    uae = WorkingCalendar()
    day = _next_day(
        datetime.now(DUBAI).date(),
        lambda d: (
            d.weekday() < 4
            and uae.is_holiday(d) is None
            and uae.is_holiday(d + timedelta(1)) is None
            and not uae.is_ramadan(d)
        ),
    )
    response = owner.patch("/api/v1/reminder-settings", json={"holiday_additions": [str(day)]})
    assert response.status_code == 200, response.text
    now = datetime.combine(day, time(10), DUBAI)
    scheduled = _scheduled_at(app_engine, tenant, owner, new_customer, overdue_invoice, now)
    assert scheduled == datetime.combine(day + timedelta(1), time(9), DUBAI)
