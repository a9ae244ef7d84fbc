"""Templates: variables validated when saved, sandboxed rendering, Arabic right-to-left."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from majlis.receivables.models import EscalationLevel, ReminderLanguage, ReminderTemplate
from majlis.receivables.templates import InvoiceLineItem, render_reminder

TEMPLATE = {
    "name": "Polite, Arabic",
    "language": "ar",
    "escalation_level": "POLITE",
    "subject": "تذكير: {{ invoice_count }} فواتير",
    "body_html": (
        "<p>مرحباً {{ customer_name }}</p>"
        "{% for invoice in invoices %}<p>{{ invoice.number }}</p>{% endfor %}"
        "<p>{{ total_amount|money }} {{ currency }}</p>"
    ),
}


def test_saved_template_lists_its_variables_and_renders_right_to_left(owner) -> None:
    response = owner.post("/api/v1/reminder-templates", json=TEMPLATE)
    assert response.status_code == 201, response.text
    template = response.json()
    assert template["variables"] == [
        "currency",
        "customer_name",
        "invoice_count",
        "invoices",
        "total_amount",
    ]
    preview = owner.post(f"/api/v1/reminder-templates/{template['id']}/preview").json()
    assert '<html lang="ar" dir="rtl">' in preview["html"]
    assert "مرحباً Sample" in preview["html"]
    assert "200.00 AED" in preview["html"]
    assert preview["subject"] == "تذكير: 2 فواتير"
    # One template per language, level and consolidation support.
    assert owner.post("/api/v1/reminder-templates", json=TEMPLATE).status_code == 409


@pytest.mark.parametrize(
    ("field", "source", "message"),
    [
        ("body_html", "<p>{{ customer_nmae }}</p>", "unknown variable(s) customer_nmae"),
        ("body_html", "<p>{% for x in invoices %}</p>", "line 1"),
        ("subject", "{{ secret_key }}", "unknown variable(s) secret_key"),
        ("body_html", "{{ invoices.__class__.__mro__[1].__subclasses__() }}", "does not render"),
    ],
)
def test_bad_templates_are_refused_when_saved(owner, field: str, source: str, message: str) -> None:
    response = owner.post("/api/v1/reminder-templates", json={**TEMPLATE, field: source})
    assert response.status_code == 422, response.text
    (error,) = response.json()["errors"]
    assert error["field"] == field
    assert message in error["message"]
    assert owner.get("/api/v1/reminder-templates").json() == []


def test_values_are_escaped_in_html() -> None:
    template = ReminderTemplate(
        language=ReminderLanguage.EN,
        escalation_level=EscalationLevel.POLITE,
        max_invoice_count=10,
        subject="{{ customer_name }}",
        body_html=TEMPLATE["body_html"],
    )
    item = InvoiceLineItem(
        "<b>X</b>", date(2026, 1, 1), date(2026, 2, 1), Decimal(5), Decimal(5), 3
    )
    rendered = render_reminder(
        template,
        customer_name="<script>alert(1)</script>",
        company_name="Co",
        invoices=[item],
        currency="AED",
        level=EscalationLevel.POLITE,
    )
    assert "<script>" not in rendered.html and "&lt;script&gt;" in rendered.html
    assert "&lt;b&gt;X&lt;/b&gt;" in rendered.html
    assert '<html lang="en" dir="ltr">' in rendered.html


def test_company_template_is_used_for_sending(
    make_tenant, always_open, mailbox, deliver, new_customer, overdue_invoice
) -> None:
    tenant = make_tenant("TH")
    always_open(tenant)
    with tenant.client() as owner:
        custom = {
            **TEMPLATE,
            "language": "en",
            "name": "Our polite one",
            "subject": "Hello {{ customer_name }}",
            "body_html": "<p>Please pay {{ total_amount|money }} {{ currency }}.</p>",
        }
        assert owner.post("/api/v1/reminder-templates", json=custom).status_code == 201
        customer = new_customer(owner, name="Niran")
        overdue_invoice(owner, customer["id"], 3, "10.00", zone="Asia/Bangkok")
        overdue_invoice(owner, customer["id"], 4, "15.00", zone="Asia/Bangkok")
        owner.post("/api/v1/reminders/run")
        deliver()
        (message,) = mailbox.to(customer["email"])
        assert message["Subject"] == "Hello Niran"
        html = message.get_body(preferencelist=("html",)).get_content()
        assert "Please pay 25.00 THB." in html
