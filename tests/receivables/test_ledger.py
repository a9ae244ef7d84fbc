"""Invoices, payments, credit and risk: balances kept exact by the database."""

from __future__ import annotations

import uuid
from datetime import date, timedelta
from decimal import Decimal

from sqlalchemy import text

from majlis.core.db import get_engine, tenant_session
from majlis.receivables.ledger import recompute_risk_scores


def _stored_balance(customer_id: str) -> tuple[Decimal, date | None]:
    """The customer row's outstanding balance and oldest open due date, as kept by triggers."""
    with get_engine("admin").connect() as conn:
        balance, oldest_due = conn.execute(
            text("SELECT outstanding_balance, oldest_open_due_date FROM customers WHERE id = :id"),
            {"id": customer_id},
        ).one()
        return Decimal(balance), oldest_due


def _recomputed_balance(customer_id: str) -> tuple[Decimal, date | None]:
    with get_engine("admin").connect() as conn:
        balance, oldest_due = conn.execute(
            text(
                "SELECT coalesce(sum(amount - amount_paid), 0), min(due_date) FROM invoices"
                " WHERE customer_id = :id AND status IN ('open', 'partially_paid')"
            ),
            {"id": customer_id},
        ).one()
        return Decimal(balance), oldest_due


def _pay(client, customer_id: str, amount: str, allocations=None, received_on=None) -> dict:
    body = {
        "customer_id": customer_id,
        "amount": amount,
        "received_on": (received_on or date.today()).isoformat(),
    }
    if allocations is not None:
        body["allocations"] = allocations
    response = client.post("/api/v1/payments", json=body)
    assert response.status_code == 201, response.text
    return dict(response.json())


def test_balance_stays_exact_through_every_operation(owner, new_customer, overdue_invoice) -> None:
    customer = new_customer(owner)
    cid = customer["id"]

    def check(expected: str) -> None:
        stored = _stored_balance(cid)
        assert stored == _recomputed_balance(cid) and stored[0] == Decimal(expected)
        balance = owner.get(f"/api/v1/customers/{cid}/balance").json()
        assert Decimal(balance["outstanding_balance"]) == Decimal(expected)

    a = overdue_invoice(owner, cid, 10, "1000.00")
    b = overdue_invoice(owner, cid, 5, "500.00")
    overdue_invoice(owner, cid, 1, "70.00", status="draft")  # drafts are not owed yet
    check("1500.00")

    partial = _pay(owner, cid, "400.00")  # oldest first: 400 of A
    assert partial["allocations"] == [{"invoice_id": a["id"], "amount": "400.00"}]
    assert owner.get(f"/api/v1/invoices/{a['id']}").json()["status"] == "partially_paid"
    check("1100.00")

    over = _pay(owner, cid, "1300.00")  # 600 closes A, 500 closes B, 200 is credit
    assert over["credit"] == "200.00"
    check("0.00")
    assert owner.get(f"/api/v1/customers/{cid}/balance").json()["credit"] == "200.00"

    c = overdue_invoice(owner, cid, 0, "350.00")
    check("350.00")
    applied = owner.post(f"/api/v1/customers/{cid}/apply-credit")
    assert applied.status_code == 200, applied.text
    assert applied.json() == {
        "customer_id": cid,
        "outstanding_balance": "150.00",
        "credit": "0.00",
        "currency": "AED",
    }
    check("150.00")

    d = overdue_invoice(owner, cid, 0, "80.00")
    check("230.00")
    assert owner.post(f"/api/v1/invoices/{d['id']}/void").json()["status"] == "void"
    check("150.00")
    # An invoice with money against it cannot be voided.
    assert owner.post(f"/api/v1/invoices/{c['id']}/void").status_code == 409
    assert owner.get(f"/api/v1/invoices/{b['id']}").json()["status"] == "paid"


def test_balance_survives_a_bulk_statement(app_engine, tenant, owner, new_customer) -> None:
    """One INSERT of many invoices for many customers: one set-based recomputation."""
    customers = [new_customer(owner)["id"] for _ in range(3)]
    with tenant_session(app_engine, tenant.company_id) as session:
        session.execute(
            text(
                "INSERT INTO invoices (company_id, id, customer_id, number, issue_date, due_date,"
                " amount) SELECT :c, gen_random_uuid(), cust, 'BULK-' || cust || '-' || n,"
                " current_date, current_date, n * 10"
                " FROM unnest(CAST(:ids AS uuid[])) cust, generate_series(1, 4) n"
            ),
            {"c": tenant.company_id, "ids": customers},
        )
    for cid in customers:
        stored = _stored_balance(cid)
        assert stored == _recomputed_balance(cid) == (Decimal("100.00"), date.today())


def test_explicit_allocations_are_validated(owner, new_customer, overdue_invoice) -> None:
    customer = new_customer(owner)
    other = new_customer(owner)
    mine = overdue_invoice(owner, customer["id"], 3, "100.00")
    theirs = overdue_invoice(owner, other["id"], 3, "100.00")
    body = {"customer_id": customer["id"], "amount": "100.00", "received_on": "2026-01-05"}

    too_much = owner.post(
        "/api/v1/payments",
        json={**body, "allocations": [{"invoice_id": mine["id"], "amount": "150.00"}]},
    )
    assert too_much.status_code == 422
    assert too_much.json()["errors"][0]["field"] == "allocations.0.amount"

    wrong_customer = owner.post(
        "/api/v1/payments",
        json={**body, "allocations": [{"invoice_id": theirs["id"], "amount": "10.00"}]},
    )
    assert wrong_customer.status_code == 422
    assert wrong_customer.json()["errors"][0]["field"] == "allocations.0.invoice_id"
    assert _stored_balance(customer["id"])[0] == Decimal("100.00")  # nothing half-written

    exact = owner.post(
        "/api/v1/payments",
        json={**body, "allocations": [{"invoice_id": mine["id"], "amount": "60.00"}]},
    )
    assert exact.status_code == 201
    assert exact.json()["credit"] == "40.00"


def test_invoice_input_is_validated(owner, new_customer) -> None:
    customer = new_customer(owner)
    base = {
        "customer_id": customer["id"],
        "number": "INV-100",
        "issue_date": "2026-01-01",
        "due_date": "2026-01-31",
    }
    with_lines = owner.post(
        "/api/v1/invoices",
        json={
            **base,
            "lines": [
                {"description": "Dates, 5 kg", "quantity": "2", "unit_price": "45.50"},
                {"description": "Delivery", "unit_price": "9.00"},
            ],
        },
    )
    assert with_lines.status_code == 201, with_lines.text
    assert with_lines.json()["amount"] == "100.00"
    assert len(with_lines.json()["lines"]) == 2
    assert with_lines.json()["currency"] == "AED"

    duplicate = owner.post("/api/v1/invoices", json={**base, "amount": "5"})
    assert duplicate.status_code == 409
    mismatch = owner.post(
        "/api/v1/invoices",
        json={
            **base,
            "number": "INV-101",
            "amount": "5",
            "lines": [{"description": "x", "unit_price": "4"}],
        },
    )
    assert mismatch.status_code == 422
    backwards = owner.post(
        "/api/v1/invoices",
        json={**base, "number": "INV-102", "amount": "5", "due_date": "2025-12-01"},
    )
    assert backwards.status_code == 422
    foreign = owner.post(
        "/api/v1/invoices", json={**base, "number": "INV-103", "amount": "5", "currency": "USD"}
    )
    assert foreign.status_code == 422 and foreign.json()["errors"][0]["field"] == "currency"
    unknown = owner.post(
        "/api/v1/invoices",
        json={**base, "number": "INV-104", "amount": "5", "customer_id": str(uuid.uuid4())},
    )
    assert unknown.status_code == 422
    extra = owner.post(
        "/api/v1/invoices", json={**base, "number": "INV-105", "amount": "5", "surprise": 1}
    )
    assert extra.status_code == 422
    listed = owner.get("/api/v1/invoices", params={"customer_id": customer["id"]}).json()
    assert [i["number"] for i in listed["items"]] == ["INV-100"]


def test_risk_score_from_payment_history_is_explained(owner, new_customer) -> None:
    customer = new_customer(owner)
    cid = customer["id"]
    explained = owner.get(f"/api/v1/customers/{cid}/risk").json()
    assert explained["risk_score"] == "5.0" and explained["paid_invoice_count"] == 0
    assert explained["average_days_paid_after_due"] is None

    due = date(2026, 3, 1)
    for number, days_late in (("R-1", 4), ("R-2", 20)):
        invoice = owner.post(
            "/api/v1/invoices",
            json={
                "customer_id": cid,
                "number": f"{number}-{cid[:8]}",
                "issue_date": "2026-02-01",
                "due_date": due.isoformat(),
                "amount": "100.00",
            },
        ).json()
        _pay(
            owner,
            cid,
            "100.00",
            allocations=[{"invoice_id": invoice["id"], "amount": "100.00"}],
            received_on=due + timedelta(days=days_late),
        )
    # Average 12 days late → ≤ 15 band → 4.0, stored on the customer as payments landed.
    explained = owner.get(f"/api/v1/customers/{cid}/risk").json()
    assert explained["risk_score"] == "4.0"
    assert explained["paid_invoice_count"] == 2
    assert explained["average_days_paid_after_due"] == "12.0"
    assert [b["score"] for b in explained["bands"]] == ["1.0", "2.0", "4.0", "6.0", "8.0", "9.0"]
    assert owner.get(f"/api/v1/customers/{cid}").json()["risk_score"] == "4.0"


def test_nightly_recompute_scores_customers_without_history(
    app_engine, tenant, owner, new_customer
) -> None:
    customer = new_customer(owner)
    assert owner.get(f"/api/v1/customers/{customer['id']}").json()["risk_score"] is None
    with tenant_session(app_engine, tenant.company_id) as session:
        assert recompute_risk_scores(session, tenant.actor()) >= 1
    assert owner.get(f"/api/v1/customers/{customer['id']}").json()["risk_score"] == "5.0"
