"""Every supported question form, in English and Arabic, and a clear 'not understood'."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from majlis.core.permissions import Role


def _customer(client, name: str, city: str, owed: str | None = None, days_overdue: int = 0):
    customer = client.post("/api/v1/customers", json={"name": name, "city": city}).json()["id"]
    if owed:
        due = date.today() - timedelta(days=days_overdue) if days_overdue else date.today()
        invoice = {
            "customer_id": customer,
            "number": f"INV-{name}",
            "amount": owed,
            "issue_date": (due - timedelta(days=30)).isoformat(),
            "due_date": (due + timedelta(days=0 if days_overdue else 30)).isoformat(),
        }
        assert client.post("/api/v1/invoices", json=invoice).status_code == 201
    return customer


@pytest.fixture
def book(tenant, owner) -> dict[str, str]:
    return {
        "big_dubai": _customer(owner, "Big Dubai", "Dubai", "9000.00", days_overdue=20),
        "small_dubai": _customer(owner, "Small Dubai", "Dubai", "1500.00"),
        "sharjah": _customer(owner, "Sharjah Co", "Sharjah", "5000.00", days_overdue=3),
        "none": _customer(owner, "Paid Up", "Dubai"),
    }


def _ask(client, question: str) -> dict:
    response = client.get("/api/v1/insights/ask", params={"q": question})
    assert response.status_code == 200, response.text
    return response.json()


@pytest.mark.parametrize(
    "question",
    [
        "top 10 customers by outstanding balance in Dubai",
        "Top customers by balance in dubai?",
        "أعلى ١٠ عملاء حسب الرصيد المستحق في دبي",
        "اعلى 10 عملاء حسب المستحقات في دبي؟",
    ],
)
def test_top_customers_by_balance_in_a_city(owner, book, question) -> None:
    answer = _ask(owner, question)
    assert answer["question"] == "top_customers_by_balance"
    assert answer["parameters"]["city"] == "Dubai"
    assert [c["name"] for c in answer["answer"]["customers"]] == ["Big Dubai", "Small Dubai"]


def test_top_n_without_city(owner, book) -> None:
    answer = _ask(owner, "top 2 customers by balance")
    assert [c["name"] for c in answer["answer"]["customers"]] == ["Big Dubai", "Sharjah Co"]
    assert answer["language"] == "en"


@pytest.mark.parametrize(
    "question",
    [
        "how many new leads this week",
        "كم عدد العملاء الجدد هذا الأسبوع",
        "how many new customers today",
    ],
)
def test_new_leads(owner, book, question) -> None:
    answer = _ask(owner, question)
    assert (answer["question"], answer["answer"]["count"]) == ("new_customers", 4)


@pytest.mark.parametrize(
    "question",
    ["which customers are late in payment", "العملاء المتأخرون في الدفع", "customers overdue"],
)
def test_overdue_customers(owner, book, question) -> None:
    answer = _ask(owner, question)
    assert answer["question"] == "overdue_customers"
    assert [c["name"] for c in answer["answer"]["customers"]] == ["Big Dubai", "Sharjah Co"]


@pytest.mark.parametrize(
    "question", ["how many customers in stage contacted", "العملاء في مرحلة contacted"]
)
def test_customers_in_stage(owner, book, question) -> None:
    owner.post(f"/api/v1/customers/{book['none']}/journey/move", json={"to_stage": "contacted"})
    assert _ask(owner, question)["answer"] == {"count": 1}


@pytest.mark.parametrize("question", ["my open tasks", "مهامي المفتوحة"])
def test_my_open_tasks(tenant, question) -> None:
    with tenant.client(Role.SALES) as sales:
        sales.post(
            "/api/v1/tasks",
            json={
                "kind": "call",
                "title": "Call Omar",
                "due_at": "2030-01-01T09:00:00Z",
                "assigned_to": str(tenant.user_ids[Role.SALES]),
            },
        )
        answer = _ask(sales, question)
    assert [t["title"] for t in answer["answer"]["tasks"]] == ["Call Omar"]


def test_unknown_questions_are_said_so_and_never_run(owner, book) -> None:
    for question in ("DROP TABLE customers", "what is the meaning of life", "أين القهوة"):
        answer = _ask(owner, question)
        assert answer["understood"] is False
        assert "did not understand" in answer["message"]
        assert "how many new leads this week" in answer["answer"]["examples"]
    assert owner.get("/api/v1/insights/ask", params={"q": ""}).status_code == 422


def test_answers_stay_within_the_company(make_tenant) -> None:
    a, b = make_tenant(), make_tenant()
    with a.client() as a_client, b.client() as b_client:
        _customer(b_client, "B owes", "Dubai", "7000.00", days_overdue=5)
        assert _ask(a_client, "top 10 customers by balance")["answer"]["customers"] == []
        assert _ask(a_client, "customers overdue")["answer"]["customers"] == []
        assert _ask(a_client, "how many new leads today")["answer"]["count"] == 0
