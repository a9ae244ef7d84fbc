"""A create's round trips to the database are counted, so a new one is a decision, not a drift.

Each statement is a round trip on the request's connection; at 100 concurrent
creates on two cores they add up (issue 4). Today's eight through SQLAlchemy:
authenticate the token, size the company (duplicate check), the savepoint around
the INSERT and its release, the INSERT (server-made values come back by RETURNING,
not by a reload), the duplicate-check keys (inserted only: a new customer has none
to replace), the audit entry and the outbox event. The duplicate check's candidate lookup,
prepared on the driver itself (see `dedupe.store`), is one more. The company's
phone region and default currency are read once per process, not per create
(`accounts.service.company_region`).
"""

from __future__ import annotations

from tests.web.test_page_safety import counting_statements

ROUND_TRIPS_PER_CREATE = 8


def test_a_create_costs_a_fixed_number_of_statements(owner, app_engine) -> None:
    owner.post("/api/v1/customers", json={"name": "Warm Up", "phone": "0501234567"})
    with counting_statements(app_engine) as statements:
        response = owner.post(
            "/api/v1/customers",
            json={"name": "Counted Once", "trn": "100123456700003", "phone": "0501234568"},
        )
    assert response.status_code == 201, response.text
    assert len(statements) <= ROUND_TRIPS_PER_CREATE, "\n".join(statements)
    assert not any(s.lstrip().upper().startswith("SELECT CUSTOMERS.") for s in statements)
    assert not any(s.lstrip().upper().startswith("DELETE") for s in statements)
    body = response.json()
    assert body["version"] == 1 and body["created_at"] and body["currency"] == "AED"
