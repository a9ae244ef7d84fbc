"""The demo shows a reminder run's savings; invoices and reminders join the customer timeline."""

from __future__ import annotations

import uuid

from majlis.core.db import tenant_session
from majlis.core.timeline import customer_timeline, registered_kinds
from majlis.receivables.demo import load_demo_data


def test_demo_data_shows_a_run_and_its_savings(app_engine, tenant, owner, new_customer) -> None:
    for _ in range(5):
        new_customer(owner)
    with tenant_session(app_engine, tenant.company_id) as session:
        lines = load_demo_data(session, tenant.actor())
    assert lines[0] == "receivables: 12 overdue invoices for 5 customers"
    assert "scheduled 5 email(s) instead of 12 (58.33% fewer)" in lines[1]
    with tenant_session(app_engine, tenant.company_id) as session:
        again = load_demo_data(session, tenant.actor())
    assert again[0] == "receivables: demo invoices already loaded"
    assert "no customer is due a reminder now" in again[1]
    risk = owner.get("/api/v1/invoices", params={"status": "paid"}).json()["items"]
    assert [invoice["number"] for invoice in risk] == ["DEMO-PAID-1"]


def test_invoices_and_reminders_appear_in_the_customer_timeline(
    app_engine, tenant, owner, new_customer, overdue_invoice
) -> None:
    assert {"invoice", "reminder"} <= set(registered_kinds())
    customer = new_customer(owner)
    invoice = overdue_invoice(owner, customer["id"], 8, "42.00")
    owner.post("/api/v1/reminders/run")
    with tenant_session(app_engine, tenant.company_id) as session:
        page = customer_timeline(session, tenant.actor(), uuid.UUID(customer["id"]))
    kinds = [entry.kind for entry in page.items]
    assert "invoice" in kinds and "reminder" in kinds
    entry = next(e for e in page.items if e.kind == "invoice")
    assert entry.title == f"Invoice {invoice['number']}: 42.00 AED"
