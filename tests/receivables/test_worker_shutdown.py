"""`majlis worker` stops gracefully: SIGTERM mid-send still ends with the send recorded."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

from sqlalchemy import text

from majlis.core.db import get_engine


def test_sigterm_during_a_send_finishes_it_and_exits_cleanly(
    open_tenant, mailbox, new_customer, overdue_invoice
) -> None:
    with open_tenant.client() as owner:
        customer = new_customer(owner)
        overdue_invoice(owner, customer["id"], 6, zone="Asia/Bangkok")
        owner.post("/api/v1/reminders/run")

        worker = subprocess.Popen(
            [sys.executable, "-m", "majlis.cli", "worker", "--poll-seconds", "0.2"],
            env=os.environ.copy(),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        # The service manager's SIGTERM arrives while the message is on the wire.
        mailbox.kill_signal = signal.SIGTERM
        mailbox.kill_on_receipt = (customer["email"], worker.pid)
        out, err = worker.communicate(timeout=120)

        assert worker.returncode == 0, err
        assert "finishing its work in hand" in out
        assert len(mailbox.to(customer["email"])) == 1
        items = owner.get("/api/v1/reminders", params={"customer_id": customer["id"]}).json()
        assert [item["delivery_status"] for item in items["items"]] == ["sent"]
        with get_engine("admin").connect() as conn:
            pending = conn.execute(
                text(
                    "SELECT count(*) FROM outbox_events"
                    " WHERE company_id = :c AND delivered_at IS NULL AND topic = 'reminder.send'"
                ),
                {"c": open_tenant.company_id},
            ).scalar_one()
        assert pending == 0
