"""What reminders saved and recovered; finished reminders purged after the retention."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import text

from majlis.core.db import get_engine, tenant_session
from majlis.receivables.retention import purge_expired_reminders


@pytest.fixture
def sent_reminders(make_tenant, always_open, deliver, new_customer, overdue_invoice):
    """A TH company with a consolidated reminder (3 invoices) and a single one, both sent."""
    tenant = make_tenant("TH")
    always_open(tenant)
    with tenant.client() as owner:
        payer, silent = new_customer(owner), new_customer(owner)
        for days in (3, 5, 7):
            overdue_invoice(owner, payer["id"], days, "100.00", zone="Asia/Bangkok")
        overdue_invoice(owner, silent["id"], 4, "50.00", zone="Asia/Bangkok")
        owner.post("/api/v1/reminders/run")
        deliver()
        reminders = {r["customer_id"]: r for r in owner.get("/api/v1/reminders").json()["items"]}
    return tenant, payer, silent, reminders


def test_analytics_show_savings_responses_and_money_recovered(sent_reminders) -> None:
    tenant, payer, _, reminders = sent_reminders
    with tenant.client() as owner:
        opened = owner.post(
            f"/api/v1/reminders/{reminders[payer['id']]['id']}/responses", json={"event": "opened"}
        )
        assert opened.status_code == 200 and opened.json()["delivery_status"] == "delivered"
        paid = owner.post(
            "/api/v1/payments",
            json={
                "customer_id": payer["id"],
                "amount": "300.00",
                "received_on": date.today().isoformat(),
            },
        )
        assert paid.status_code == 201
        reminder = owner.get(f"/api/v1/reminders/{reminders[payer['id']]['id']}").json()
        assert reminder["paid_after_reminder_at"] is not None

        today = datetime.now(UTC).date()
        figures = owner.get(
            "/api/v1/analytics/reminders",
            params={"date_from": str(today - timedelta(days=30)), "date_to": str(today)},
        ).json()
    assert figures["emails_sent"] == 2
    assert figures["individual_reminders_replaced"] == 4
    assert figures["savings_pct"] == "50.00"
    assert figures["amount_recovered"] == "300.00"
    assert figures["average_days_to_pay"] == "0.0"
    (polite,) = figures["by_level"]
    assert polite == {
        "escalation_level": "POLITE",
        "sent": 2,
        "response_rate": "50.00",
        "paid_after_reminder_rate": "50.00",
    }


def test_analytics_range_is_validated(owner) -> None:
    response = owner.get(
        "/api/v1/analytics/reminders", params={"date_from": "2026-05-01", "date_to": "2026-04-01"}
    )
    assert response.status_code == 422


def _age(reminder_id: str, years: int) -> None:
    with get_engine("admin").begin() as conn:
        conn.execute(
            text(
                "UPDATE customer_consolidated_reminders SET"
                " created_at = created_at - make_interval(years => :y),"
                " scheduled_at = scheduled_at - make_interval(years => :y),"
                " sent_at = sent_at - make_interval(years => :y) WHERE id = :id"
            ),
            {"id": reminder_id, "y": years},
        )


def _exists(table: str, column: str, reminder_id: str) -> bool:
    with get_engine("admin").connect() as conn:
        return bool(
            conn.execute(
                text(f"SELECT count(*) FROM {table} WHERE {column} = :id"), {"id": reminder_id}
            ).scalar_one()
        )


def test_retention_purges_old_finished_reminders_but_never_while_an_invoice_is_open(
    app_engine, sent_reminders
) -> None:
    tenant, payer, silent, reminders = sent_reminders
    paid_id, open_id = reminders[payer["id"]]["id"], reminders[silent["id"]]["id"]
    with tenant.client() as owner:
        owner.post(
            "/api/v1/payments",
            json={"customer_id": payer["id"], "amount": "300.00", "received_on": "2026-01-01"},
        )
    _age(paid_id, 3)
    _age(open_id, 3)
    with tenant_session(app_engine, tenant.company_id) as session:
        assert purge_expired_reminders(session, tenant.actor()) == (1, 1)
    assert not _exists("customer_consolidated_reminders", "id", paid_id)
    assert not _exists("email_logs", "reminder_id", paid_id)
    # The silent customer still owes: the record of asking stays.
    assert _exists("customer_consolidated_reminders", "id", open_id)
    assert _exists("email_logs", "reminder_id", open_id)
    with get_engine("admin").connect() as conn:
        audited = conn.execute(
            text(
                "SELECT after FROM audit_log WHERE company_id = :c AND action = 'reminders.purged'"
            ),
            {"c": tenant.company_id},
        ).scalar_one()
    assert audited["reminders"] == 1 and audited["email_logs"] == 1


def test_recent_reminders_are_kept(app_engine, sent_reminders) -> None:
    tenant, payer, _, reminders = sent_reminders
    with tenant.client() as owner:
        owner.post(
            "/api/v1/payments",
            json={"customer_id": payer["id"], "amount": "300.00", "received_on": "2026-01-01"},
        )
    _age(reminders[payer["id"]]["id"], 1)  # one year < the default two
    with tenant_session(app_engine, tenant.company_id) as session:
        assert purge_expired_reminders(session, tenant.actor()) == (0, 0)
