"""Receivables fixtures: a real local SMTP server, always-open companies, invoice helpers."""

from __future__ import annotations

import os
import signal
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import Engine, text

from majlis.core.calendars import WorkingCalendar
from majlis.core.db import get_engine
from majlis.core.embedded import free_loopback_port
from majlis.core.worker import OutboxWorker, WorkerStats
from majlis.receivables import tasks  # noqa: F401 - registers the reminder.send handler


@dataclass
class Mailbox:
    """What the local SMTP server received; optionally kills a process on the next message."""

    messages: list[EmailMessage] = field(default_factory=list)
    kill_on_receipt: tuple[str, int] | None = None  # (recipient, pid)
    kill_signal: int = signal.SIGKILL

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        message = message_from_bytes(envelope.original_content, policy=policy.default)
        self.messages.append(message)  # type: ignore[arg-type]
        if self.kill_on_receipt is not None and self.kill_on_receipt[0] == message["To"]:
            # The message has arrived; the sender dies before it hears "250 OK",
            # i.e. between the SMTP send and the commit that records it.
            os.kill(self.kill_on_receipt[1], self.kill_signal)
            self.kill_on_receipt, self.kill_signal = None, signal.SIGKILL
        return "250 Message accepted for delivery"

    def to(self, address: str) -> list[EmailMessage]:
        return [m for m in self.messages if m["To"] == address]


@pytest.fixture(scope="session")
def mailbox() -> Iterator[Mailbox]:
    box = Mailbox()
    port = free_loopback_port()
    controller = Controller(box, hostname="127.0.0.1", port=port)
    controller.start()
    os.environ["MAJLIS_SMTP_HOST"], os.environ["MAJLIS_SMTP_PORT"] = "127.0.0.1", str(port)
    yield box
    controller.stop()


def company_today(zone: str = "Asia/Dubai") -> date:
    return datetime.now(ZoneInfo(zone)).date()


@pytest.fixture
def always_open(app_engine: Engine) -> Callable[[Any], None]:
    """Make a company's calendar open every day, all day (for delivery tests run at any hour).

    Thai companies keep no Ramadan hours or Friday prayer; today is removed as a holiday.
    """

    def make(tenant: Any) -> None:
        calendar = WorkingCalendar(country="TH", tz="Asia/Bangkok")
        today = company_today("Asia/Bangkok")
        holidays = [d for d in (today, today + timedelta(days=1)) if calendar.is_holiday(d)]
        with get_engine("admin").begin() as conn:
            conn.execute(
                text(
                    "UPDATE companies SET working_days = '{0,1,2,3,4,5,6}', work_starts = '00:00',"
                    " work_ends = '23:59:59.999999' WHERE id = :id"
                ),
                {"id": tenant.company_id},
            )
            conn.execute(
                text(
                    "INSERT INTO reminder_settings (company_id, holiday_removals)"
                    " VALUES (:id, :days) ON CONFLICT (company_id)"
                    " DO UPDATE SET holiday_removals = excluded.holiday_removals"
                ),
                {"id": tenant.company_id, "days": holidays},
            )

    return make


@pytest.fixture
def open_tenant(make_tenant: Callable[..., Any], always_open: Callable[[Any], None]) -> Any:
    """A Thai company whose calendar is open around the clock, so sends are never deferred."""
    tenant = make_tenant("TH")
    always_open(tenant)
    return tenant


@pytest.fixture
def new_customer() -> Callable[..., dict[str, Any]]:
    def make(client: httpx.Client, **fields: Any) -> dict[str, Any]:
        body = {"name": f"Customer {uuid.uuid4().hex[:6]}", **fields}
        if "email" not in fields:
            body["email"] = f"c-{uuid.uuid4().hex[:10]}@example.ae"
        response = client.post("/api/v1/customers", json=body)
        assert response.status_code == 201, response.text
        return dict(response.json())

    return make


@pytest.fixture
def overdue_invoice() -> Callable[..., dict[str, Any]]:
    """An open invoice `days_overdue` days past due (in the company's zone)."""

    def make(
        client: httpx.Client,
        customer_id: str,
        days_overdue: int,
        amount: str | Decimal = "1000.00",
        zone: str = "Asia/Dubai",
        **fields: Any,
    ) -> dict[str, Any]:
        due = company_today(zone) - timedelta(days=days_overdue)
        body = {
            "customer_id": customer_id,
            "number": f"INV-{uuid.uuid4().hex[:10]}",
            "issue_date": (due - timedelta(days=30)).isoformat(),
            "due_date": due.isoformat(),
            "amount": str(amount),
            **fields,
        }
        response = client.post("/api/v1/invoices", json=body)
        assert response.status_code == 201, response.text
        return dict(response.json())

    return make


@pytest.fixture
def deliver(mailbox: Mailbox, app_engine: Engine) -> Callable[[], WorkerStats]:
    """Run the real outbox worker once, as `majlis worker --once` would."""
    return lambda: OutboxWorker(app_engine).run_once()
