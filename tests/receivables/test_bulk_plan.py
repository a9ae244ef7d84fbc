"""The set-based run plans exactly what the per-customer rules plan, and stores it whole.

A reminder run is one SQL statement (`planner.plan_run`); the manual reminder and
the customer preview use the Python rules (`customers_due` + `plan_customer`). One
company with every kind of customer is planned both ways and must agree row for row.
"""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Any

from sqlalchemy import text

from majlis.core.db import get_engine, tenant_session
from majlis.receivables import planner


def _admin(sql: str, **params: Any) -> None:
    with get_engine("admin").begin() as conn:
        conn.execute(text(sql), params)


def _sent_history(customer_id: str, days_ago: tuple[int, ...]) -> None:
    """Reminders that went out `days_ago` days ago (history for escalation and the interval)."""
    for days in days_ago:
        _admin(
            "INSERT INTO customer_consolidated_reminders (company_id, id, customer_id,"
            " invoice_ids, total_amount, currency, reminder_type, escalation_level,"
            " priority_score, oldest_days_overdue, channel, language, created_at, scheduled_at,"
            " delivery_status, idempotency_key, message_id, sent_at)"
            " SELECT company_id, gen_random_uuid(), id, ARRAY[gen_random_uuid()], 10, 'AED',"
            " 'SINGLE', 'POLITE', 10, 1, 'email', 'en', now() - make_interval(days => :d),"
            " now() - make_interval(days => :d), 'sent', 'k', 'm',"
            " now() - make_interval(days => :d) FROM customers WHERE id = :c",
            c=customer_id,
            d=days,
        )


def varied_company(owner, new_customer, overdue_invoice) -> None:
    """Customers covering each rule: consolidation modes and cap, escalation by age and by
    history, the contact interval and its override, languages, risk, relationship, opt-out,
    no email, nothing overdue, and invoices not yet due or part paid."""
    owner.patch(
        "/api/v1/reminder-settings",
        json={"max_consolidation_amount": "5000.00", "firm_after_days": 10},
    )

    def customer(invoices: tuple[tuple[int, str], ...], **fields: Any) -> str:
        override = fields.pop("override", None)
        customer_id = str(new_customer(owner, **fields)["id"])
        for days, amount in invoices:
            overdue_invoice(owner, customer_id, days, amount)
        if override is not None:
            response = owner.put(
                f"/api/v1/customers/{customer_id}/reminder-settings", json=override
            )
            assert response.status_code == 200, response.text
        return customer_id

    customer(((3, "100.00"), (40, "250.50"), (-4, "900.00")))  # AUTO, one not yet due
    customer(((12, "3000.00"), (70, "2500.00")))  # AUTO over the cap: individually
    customer(((20, "80.00"), (5, "80.00")), override={"consolidation": "DISABLED"})
    customer(((95, "40000.00"), (61, "30000.00")), override={"consolidation": "ENABLED"})
    customer(((2, "10.00"),), preferred_language="ar")
    customer(((33, "700.00"), (31, "1.00")), preferred_language="ar", override={"language": "en"})
    customer(((9, "55.55"),), override={"opt_out": True})
    customer(((9, "55.55"),), email=None)
    customer(())
    escalated = customer(((65, "1200.00"), (15, "300.00")))
    _sent_history(escalated, (8, 20, 40, 90))  # three since the oldest fell due
    recent = customer(((45, "500.00"),))
    _sent_history(recent, (3,))  # inside the 7-day interval
    longer_interval = customer(((45, "500.00"),), override={"preferred_contact_interval_days": 30})
    _sent_history(longer_interval, (10,))
    shorter_interval = customer(((45, "500.00"),), override={"preferred_contact_interval_days": 2})
    _sent_history(shorter_interval, (3,))
    loyal = customer(((25, "640.00"), (18, "10.00")))
    _admin("UPDATE customers SET risk_score = 8.5 WHERE id = :c", c=loyal)
    overdue_invoice(owner, loyal, 400, "123456.78")
    _admin(
        "UPDATE invoices SET status = 'paid' WHERE customer_id = :c AND amount = 123456.78",
        c=loyal,
    )
    part_paid = customer(((16, "1000.00"),))
    _admin(
        "UPDATE invoices SET status = 'partially_paid', amount_paid = 400 WHERE customer_id = :c",
        c=part_paid,
    )


def _python_plan(session, ctx: planner.RunContext) -> list[planner.PlannedReminder]:
    thresholds = planner.Thresholds.of(ctx.settings)
    return [
        reminder
        for due in planner.customers_due(session, ctx)
        for reminder in planner.plan_customer(due, thresholds, ctx.scheduled_at)
    ]


def _key(reminder: planner.PlannedReminder) -> tuple[uuid.UUID, list[uuid.UUID]]:
    return reminder.customer_id, reminder.invoice_ids


def test_set_based_run_plans_what_the_per_customer_rules_plan(
    app_engine, tenant, owner, new_customer, overdue_invoice
) -> None:
    varied_company(owner, new_customer, overdue_invoice)
    with tenant_session(app_engine, tenant.company_id) as session:
        ctx = planner.run_context(session, tenant.actor())
        in_sql = planner.plan_run(session, ctx, None)
        in_python = _python_plan(session, ctx)

    assert sorted(in_sql, key=_key) == sorted(in_python, key=_key)
    kinds = {(p.reminder_type, p.escalation_level, p.language) for p in in_sql}
    assert len(in_sql) == 12 and len(kinds) >= 5, kinds  # the company really is varied
    priorities = [p.priority_score for p in in_sql]
    assert priorities == sorted(priorities, reverse=True)
    assert any(p.total_amount == Decimal("600.00") for p in in_sql)  # the part-paid balance


def test_run_stores_the_preview_with_one_send_event_per_reminder(
    app_engine, tenant, owner, new_customer, overdue_invoice
) -> None:
    varied_company(owner, new_customer, overdue_invoice)
    preview = owner.post("/api/v1/reminders/preview").json()
    run = owner.post("/api/v1/reminders/run").json()

    def comparable(result: dict[str, Any]) -> list[tuple[Any, ...]]:
        return sorted(
            (p["customer_id"], tuple(p["invoice_ids"]), p["reminder_type"], p["priority_score"])
            for p in result["planned"]
        )

    assert comparable(run) == comparable(preview) and run["reminders"] == 12
    with tenant_session(app_engine, tenant.company_id) as session:
        stored = session.execute(
            text(
                "SELECT r.id, r.scheduled_at, e.available_at, e.payload->>'reminder_id' AS sent"
                " FROM customer_consolidated_reminders r"
                " LEFT JOIN outbox_events e ON e.company_id = r.company_id"
                "  AND e.dedupe_key = 'reminder.send:' || r.id"
                " WHERE r.company_id = :c AND r.run_id = :run"
            ),
            {"c": tenant.company_id, "run": run["run_id"]},
        ).all()
    assert len(stored) == 12
    assert all(row.sent == str(row.id) and row.available_at == row.scheduled_at for row in stored)


def test_eligibility_check_agrees_with_the_run_and_ignores_other_companies(
    app_engine, make_tenant, tenant, owner, new_customer, overdue_invoice
) -> None:
    varied_company(owner, new_customer, overdue_invoice)
    with make_tenant().client() as other:
        stranger = new_customer(other)["id"]
        overdue_invoice(other, stranger, 30)
    with tenant_session(app_engine, tenant.company_id) as session:
        ctx = planner.run_context(session, tenant.actor())
        asked = [
            *session.scalars(
                text("SELECT id FROM customers WHERE company_id = :c ORDER BY id DESC"),
                {"c": tenant.company_id},
            ),
            uuid.UUID(stranger),
        ]
        eligible = planner.eligible_customer_ids(session, tenant.actor(), asked)
        planned = {due.customer_id for due in planner.customers_due(session, ctx)}

    assert set(eligible) == planned and len(planned) == 10
    assert eligible == [customer for customer in asked if customer in planned]  # asked order


def test_the_eligibility_statement_is_planned_once_per_connection(app_engine, tenant) -> None:
    # Its parsing and planning cost more than its execution; if preparation is ever
    # switched off again (psycopg silently ignores `prepare=True` when the engine's
    # prepare_threshold is None), this fails.
    with tenant_session(app_engine, tenant.company_id) as session:
        for _ in range(3):
            planner.eligible_customer_ids(session, tenant.actor(), [uuid.uuid4()])
        executions = session.scalar(
            text(
                "SELECT generic_plans + custom_plans FROM pg_prepared_statements"
                " WHERE statement LIKE '%found AS MATERIALIZED%'"
            )
        )
    assert executions is not None and executions >= 3
