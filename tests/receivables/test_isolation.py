"""Company B's invoices, payments, customers, reminders and templates answer 404 to company A."""

from __future__ import annotations

from datetime import date

import pytest

ENDPOINTS = [
    ("GET", "/api/v1/invoices/{invoice}", None),
    ("POST", "/api/v1/invoices/{invoice}/void", None),
    ("GET", "/api/v1/payments/{payment}", None),
    ("GET", "/api/v1/customers/{customer}/balance", None),
    ("POST", "/api/v1/customers/{customer}/apply-credit", None),
    ("GET", "/api/v1/customers/{customer}/risk", None),
    ("GET", "/api/v1/customers/{customer}/reminder-settings", None),
    ("PUT", "/api/v1/customers/{customer}/reminder-settings", {"opt_out": True}),
    ("POST", "/api/v1/customers/{customer}/reminders", {"confirm": True}),
    ("GET", "/api/v1/reminders/{reminder}", None),
    ("POST", "/api/v1/reminders/{reminder}/responses", {"event": "opened"}),
    ("GET", "/api/v1/reminder-templates/{template}", None),
    ("PUT", "/api/v1/reminder-templates/{template}", "template"),
    ("POST", "/api/v1/reminder-templates/{template}/preview", None),
]
TEMPLATE = {
    "name": "t",
    "language": "en",
    "escalation_level": "FIRM",
    "subject": "Reminder",
    "body_html": "<p>{{ customer_name }}</p>",
}


@pytest.fixture
def b_ids(make_tenant, new_customer, overdue_invoice) -> dict[str, str]:
    b = make_tenant()
    with b.client() as client:
        customer = new_customer(client)
        invoice = overdue_invoice(client, customer["id"], 5)
        overdue_invoice(client, customer["id"], 6)
        payment = client.post(
            "/api/v1/payments",
            json={"customer_id": customer["id"], "amount": "1.00", "received_on": "2026-01-01"},
        ).json()
        client.post("/api/v1/reminders/run")
        reminder = client.get("/api/v1/reminders").json()["items"][0]
        template = client.post("/api/v1/reminder-templates", json=TEMPLATE).json()
    return {
        "customer": customer["id"],
        "invoice": invoice["id"],
        "payment": payment["id"],
        "reminder": reminder["id"],
        "template": template["id"],
    }


def test_other_companys_ids_are_404_on_every_endpoint(make_tenant, b_ids) -> None:
    a = make_tenant()
    with a.client() as a_client:
        for method, path, body in ENDPOINTS:
            json_body = TEMPLATE if body == "template" else body
            response = a_client.request(method, path.format(**b_ids), json=json_body)
            assert response.status_code == 404, (method, path, response.text)


def test_lists_runs_and_analytics_never_show_another_company(make_tenant, b_ids) -> None:
    a = make_tenant()
    with a.client() as a_client:
        assert a_client.get("/api/v1/invoices").json()["items"] == []
        assert a_client.get("/api/v1/reminders").json()["items"] == []
        assert a_client.get("/api/v1/reminder-templates").json() == []
        assert a_client.post("/api/v1/reminders/preview").json()["planned"] == []
        figures = a_client.get(
            "/api/v1/analytics/reminders",
            params={"date_from": "2026-01-01", "date_to": date.today().isoformat()},
        ).json()
        assert figures["emails_sent"] == 0
        # B's customer cannot be billed or paid for by A.
        for path, body in (
            (
                "/api/v1/invoices",
                {
                    "number": "X",
                    "issue_date": "2026-01-01",
                    "due_date": "2026-01-02",
                    "amount": "5",
                },
            ),
            ("/api/v1/payments", {"amount": "5", "received_on": "2026-01-01"}),
        ):
            response = a_client.post(path, json={**body, "customer_id": b_ids["customer"]})
            assert response.status_code == 422
            assert response.json()["errors"][0]["field"] == "customer_id"
