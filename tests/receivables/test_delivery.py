"""Sending through the outbox worker over real SMTP: once, or not at all when it must not."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import text

from majlis.core.db import get_engine
from majlis.core.embedded import free_loopback_port


def _reminder(client, customer_id: str) -> dict:
    items = client.get("/api/v1/reminders", params={"customer_id": customer_id}).json()["items"]
    assert len(items) == 1, items
    return items[0]


def _email_logs(reminder_id: str) -> list[dict]:
    with get_engine("admin").connect() as conn:
        rows = conn.execute(
            text("SELECT * FROM email_logs WHERE reminder_id = :r ORDER BY created_at"),
            {"r": reminder_id},
        )
        return [dict(row._mapping) for row in rows]


def _html(message) -> str:
    return message.get_body(preferencelist=("html",)).get_content()


def test_consolidated_email_really_arrives_once(
    open_tenant, mailbox, deliver, new_customer, overdue_invoice
) -> None:
    with open_tenant.client() as owner:
        customer = new_customer(owner, name="Somchai Jaidee")
        first = overdue_invoice(owner, customer["id"], 5, "1200.50", zone="Asia/Bangkok")
        second = overdue_invoice(owner, customer["id"], 20, "800.00", zone="Asia/Bangkok")
        assert owner.post("/api/v1/reminders/run").json()["reminders"] == 1

        deliver()
        deliver()  # a second pass finds nothing left to send

        messages = mailbox.to(customer["email"])
        assert len(messages) == 1
        message = messages[0]
        reminder = _reminder(owner, customer["id"])
        assert reminder["delivery_status"] == "sent"
        assert message["Message-ID"] == f"<reminder.{reminder['id']}@majlis>"
        assert "2 overdue invoices" in message["Subject"]
        html = _html(message)
        assert first["number"] in html and second["number"] in html
        assert "2,000.50 THB" in html
        assert '<html lang="en" dir="ltr">' in html

        (log,) = _email_logs(reminder["id"])
        assert log["delivery_status"] == "sent"
        assert log["invoice_count"] == 2
        assert str(log["consolidation_savings_pct"]) == "50.00"
        assert log["message_id"] == reminder["message_id"]


def test_arabic_reminder_is_right_to_left(
    open_tenant, mailbox, deliver, new_customer, overdue_invoice
) -> None:
    with open_tenant.client() as owner:
        customer = new_customer(
            owner, name="Fatima Hassan", name_ar="فاطمة حسن", preferred_language="ar"
        )
        overdue_invoice(owner, customer["id"], 5, zone="Asia/Bangkok")
        overdue_invoice(owner, customer["id"], 6, zone="Asia/Bangkok")
        owner.post("/api/v1/reminders/run")
        deliver()
        (message,) = mailbox.to(customer["email"])
        html = _html(message)
        assert '<html lang="ar" dir="rtl">' in html
        assert "direction: rtl" in html
        assert "عزيزنا فاطمة حسن" in html
        assert "تذكير بالدفع" in message["Subject"]
        assert message["Content-Language"] == "ar"


def test_customer_who_paid_since_scheduling_is_not_reminded(
    open_tenant, mailbox, deliver, new_customer, overdue_invoice
) -> None:
    with open_tenant.client() as owner:
        customer = new_customer(owner)
        invoice = overdue_invoice(owner, customer["id"], 9, "300.00", zone="Asia/Bangkok")
        owner.post("/api/v1/reminders/run")
        paid = owner.post(
            "/api/v1/payments",
            json={
                "customer_id": customer["id"],
                "amount": "300.00",
                "received_on": date.today().isoformat(),
            },
        )
        assert paid.status_code == 201, paid.text
        assert owner.get(f"/api/v1/invoices/{invoice['id']}").json()["status"] == "paid"

        deliver()
        assert mailbox.to(customer["email"]) == []
        reminder = _reminder(owner, customer["id"])
        assert reminder["delivery_status"] == "skipped"
        # A paid invoice also drops out of the next run.
        assert owner.post("/api/v1/reminders/run").json()["planned"] == []


def test_opt_out_after_scheduling_is_honoured(
    open_tenant, mailbox, deliver, new_customer, overdue_invoice
) -> None:
    with open_tenant.client() as owner:
        customer = new_customer(owner)
        overdue_invoice(owner, customer["id"], 9, zone="Asia/Bangkok")
        owner.post("/api/v1/reminders/run")
        owner.put(f"/api/v1/customers/{customer['id']}/reminder-settings", json={"opt_out": True})
        deliver()
        assert mailbox.to(customer["email"]) == []
        assert _reminder(owner, customer["id"])["delivery_status"] == "cancelled"


def test_many_invoices_become_a_summary_with_a_statement_attached(
    open_tenant, mailbox, deliver, new_customer, overdue_invoice
) -> None:
    with open_tenant.client() as owner:
        customer = new_customer(owner)
        numbers = [
            overdue_invoice(owner, customer["id"], 3 + i, "10.00", zone="Asia/Bangkok")["number"]
            for i in range(12)
        ]
        owner.post("/api/v1/reminders/run")
        deliver()
        (message,) = mailbox.to(customer["email"])
        html = _html(message)
        assert "The attached statement lists every invoice." in html
        assert numbers[0] not in html
        (attachment,) = list(message.iter_attachments())
        assert attachment.get_filename() == "statement.csv"
        statement = attachment.get_content()
        assert all(number in statement for number in numbers)


def test_smtp_outage_is_retried_and_then_sent_once(
    open_tenant, mailbox, deliver, new_customer, overdue_invoice, monkeypatch
) -> None:
    with open_tenant.client() as owner:
        customer = new_customer(owner)
        overdue_invoice(owner, customer["id"], 9, zone="Asia/Bangkok")
        owner.post("/api/v1/reminders/run")
        reminder = _reminder(owner, customer["id"])

        # A real refused connection: nothing listens on this port.
        monkeypatch.setenv("MAJLIS_SMTP_PORT", str(free_loopback_port()))
        deliver()
        after_failure = _reminder(owner, customer["id"])
        assert after_failure["delivery_status"] == "scheduled"
        assert "SMTP" in after_failure["status_reason"]
        with get_engine("admin").begin() as conn:
            event = conn.execute(
                text(
                    "SELECT attempts, available_at > now() + interval '20 seconds' AS backed_off,"
                    " last_error FROM outbox_events WHERE dedupe_key = :k"
                ),
                {"k": f"reminder.send:{reminder['id']}"},
            ).one()
            assert event.attempts == 1 and event.backed_off and event.last_error
            conn.execute(
                text("UPDATE outbox_events SET available_at = now() WHERE dedupe_key = :k"),
                {"k": f"reminder.send:{reminder['id']}"},
            )
        monkeypatch.undo()
        deliver()
        assert len(mailbox.to(customer["email"])) == 1
        assert _reminder(owner, customer["id"])["delivery_status"] == "sent"


def test_worker_killed_between_send_and_commit_never_sends_twice(
    open_tenant, mailbox, deliver, new_customer, overdue_invoice
) -> None:
    with open_tenant.client() as owner:
        customer = new_customer(owner)
        overdue_invoice(owner, customer["id"], 4, zone="Asia/Bangkok")
        overdue_invoice(owner, customer["id"], 14, zone="Asia/Bangkok")
        owner.post("/api/v1/reminders/run")
        reminder = _reminder(owner, customer["id"])

        # A real `majlis worker --once` process; the SMTP server SIGKILLs it the moment
        # the message has arrived, before the worker can commit "sent".
        worker = subprocess.Popen(
            [sys.executable, "-m", "majlis.cli", "worker", "--once"],
            env=os.environ.copy(),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        mailbox.kill_on_receipt = (customer["email"], worker.pid)
        worker.wait(timeout=120)
        assert worker.returncode == -9, worker.communicate()
        assert len(mailbox.to(customer["email"])) == 1
        assert _reminder(owner, customer["id"])["delivery_status"] == "sending"

        # The dead worker's lease would expire in five minutes; expire it now.
        with get_engine("admin").begin() as conn:
            conn.execute(
                text("UPDATE outbox_events SET available_at = now() WHERE dedupe_key = :k"),
                {"k": f"reminder.send:{reminder['id']}"},
            )
        deliver()
        deliver()

        assert len(mailbox.to(customer["email"])) == 1
        final = _reminder(owner, customer["id"])
        assert final["delivery_status"] == "unconfirmed"
        assert "not resent" in final["status_reason"]
        (log,) = _email_logs(reminder["id"])
        assert log["delivery_status"] == "unconfirmed"


def test_outside_working_hours_the_send_waits_for_the_calendar(
    make_tenant, mailbox, deliver, new_customer, overdue_invoice
) -> None:
    tenant = make_tenant("AE")
    with get_engine("admin").begin() as conn:
        # Open only on a weekday that is not today: today is never sendable.
        tomorrow = (datetime.now(ZoneInfo("Asia/Dubai")) + timedelta(days=1)).weekday()
        conn.execute(
            text("UPDATE companies SET working_days = ARRAY[:d] WHERE id = :id"),
            {"d": tomorrow, "id": tenant.company_id},
        )
    with tenant.client() as owner:
        customer = new_customer(owner)
        overdue_invoice(owner, customer["id"], 9)
        run = owner.post("/api/v1/reminders/run").json()
        scheduled = datetime.fromisoformat(run["scheduled_at"])
        assert scheduled > datetime.now(UTC)
        deliver()
        assert mailbox.to(customer["email"]) == []
        assert _reminder(owner, customer["id"])["delivery_status"] == "scheduled"
