"""The database itself refuses reminders and settings that break the rules."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import insert, text
from sqlalchemy.exc import IntegrityError

from majlis.core.db import tenant_session
from majlis.receivables.models import ConsolidatedReminder, Invoice, ReminderSettings


@pytest.fixture
def customer_id(owner, new_customer) -> uuid.UUID:
    return uuid.UUID(new_customer(owner)["id"])


def _reminder(tenant, customer_id: uuid.UUID, **overrides: Any) -> dict[str, Any]:
    values: dict[str, Any] = {
        "company_id": tenant.company_id,
        "id": uuid.uuid4(),
        "customer_id": customer_id,
        "invoice_ids": [uuid.uuid4(), uuid.uuid4()],
        "total_amount": 100,
        "currency": "AED",
        "reminder_type": "CONSOLIDATED",
        "escalation_level": "POLITE",
        "priority_score": 50,
        "oldest_days_overdue": 3,
        "channel": "email",
        "language": "en",
        "scheduled_at": datetime.now(UTC) + timedelta(hours=1),
    }
    return {**values, **overrides}


def _violates(app_engine, tenant, statement: Any, constraint: str) -> None:
    with (
        pytest.raises(IntegrityError, match=constraint),
        tenant_session(app_engine, tenant.company_id) as session,
    ):
        session.execute(statement)


def test_a_valid_reminder_is_accepted(app_engine, tenant, customer_id) -> None:
    with tenant_session(app_engine, tenant.company_id) as session:
        session.execute(insert(ConsolidatedReminder).values(_reminder(tenant, customer_id)))


@pytest.mark.parametrize(
    ("overrides", "constraint"),
    [
        ({"invoice_ids": [uuid.uuid4()]}, "consolidated_min_two"),
        (
            {"invoice_ids": [uuid.uuid4()], "reminder_type": "FINAL_CONSOLIDATED"},
            "consolidated_min_two",
        ),
        ({"reminder_type": "SINGLE"}, "single_has_one_invoice"),
        ({"priority_score": 101}, "priority_range"),
        ({"priority_score": -1}, "priority_range"),
        ({"total_amount": 0}, "amount_positive"),
        ({"total_amount": -5}, "amount_positive"),
        ({"scheduled_at": datetime.now(UTC) - timedelta(minutes=5)}, "schedule_not_in_past"),
        ({"delivery_status": "sent"}, "sending_has_idempotency_key"),
    ],
)
def test_reminder_rules_are_check_constraints(
    app_engine, tenant, customer_id, overrides: dict[str, Any], constraint: str
) -> None:
    statement = insert(ConsolidatedReminder).values(_reminder(tenant, customer_id, **overrides))
    _violates(app_engine, tenant, statement, constraint)


@pytest.mark.parametrize(
    ("values", "constraint"),
    [
        ({"preferred_contact_interval_days": 0}, "interval_positive"),
        ({"max_consolidation_amount": 0}, "max_amount_positive"),
        ({"firm_after_days": 30, "urgent_after_days": 20}, "thresholds_ordered"),
        ({"firm_after_days": 0}, "thresholds_ordered"),
    ],
)
def test_settings_rules_are_check_constraints(
    app_engine, tenant, values: dict[str, Any], constraint: str
) -> None:
    statement = insert(ReminderSettings).values(company_id=tenant.company_id, **values)
    _violates(app_engine, tenant, statement, constraint)


def test_override_interval_must_be_positive(app_engine, tenant, customer_id) -> None:
    statement = text(
        "INSERT INTO customer_reminder_overrides (company_id, customer_id,"
        " preferred_contact_interval_days) VALUES (:c, :id, -1)"
    )
    with (
        pytest.raises(IntegrityError, match="interval_positive"),
        tenant_session(app_engine, tenant.company_id) as session,
    ):
        session.execute(statement, {"c": tenant.company_id, "id": customer_id})


@pytest.mark.parametrize(
    ("values", "constraint"),
    [
        ({"amount": 0}, "amount_positive"),
        ({"due_date": datetime(2026, 1, 1).date()}, "due_after_issue"),
        ({"number": "  "}, "number_not_blank"),
    ],
)
def test_invoice_rules_are_check_constraints(
    app_engine, tenant, customer_id, values: dict[str, Any], constraint: str
) -> None:
    row = {
        "company_id": tenant.company_id,
        "id": uuid.uuid4(),
        "customer_id": customer_id,
        "number": "INV-X",
        "issue_date": datetime(2026, 2, 1).date(),
        "due_date": datetime(2026, 3, 1).date(),
        "amount": 10,
        **values,
    }
    _violates(app_engine, tenant, insert(Invoice).values(row), constraint)


def test_allocating_more_than_an_invoice_is_refused_by_the_database(
    app_engine, tenant, owner, customer_id, overdue_invoice
) -> None:
    invoice = overdue_invoice(owner, str(customer_id), 3, "100.00")
    payment_id = uuid.uuid4()
    with (
        pytest.raises(IntegrityError, match="paid_within_amount"),
        tenant_session(app_engine, tenant.company_id) as session,
    ):
        params = {"c": tenant.company_id, "p": payment_id, "cu": customer_id}
        session.execute(
            text(
                "INSERT INTO payments (company_id, id, customer_id, amount, received_on)"
                " VALUES (:c, :p, :cu, 500, current_date)"
            ),
            params,
        )
        session.execute(
            text(
                "INSERT INTO payment_allocations (company_id, id, payment_id, invoice_id,"
                " amount) VALUES (:c, gen_random_uuid(), :p, :i, 150)"
            ),
            {**params, "i": invoice["id"]},
        )
