"""Receivables pages over the real server: overdue invoices, the queue, sent reminders, the tab."""

from __future__ import annotations

import html
import re
import uuid
from collections.abc import Callable
from datetime import date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from sqlalchemy import Engine, func, select, text
from tests.receivables.test_reminder_queue import many_debtors
from tests.web.conftest import Browser, WebCompany
from tests.web.test_page_safety import counting_statements

from majlis.core.db import tenant_session
from majlis.core.permissions import Role
from majlis.customers.models import Customer
from majlis.receivables import ledger, reminders
from majlis.receivables.models import ConsolidatedReminder
from majlis.receivables.reminders import QUEUE_COUNT_CAP
from majlis.receivables.schemas import InvoiceCreate, PaymentCreate
from majlis.web.receivables_pages import PAGE_SIZE

HOSTILE = "<script>alert(1)</script>"


def today() -> date:
    return datetime.now(ZoneInfo("Asia/Dubai")).date()


def invoice(
    company: WebCompany, customer: Customer, number: str, days_overdue: int, amount: str = "100"
) -> uuid.UUID:
    """An open invoice through the ledger service, due `days_overdue` days ago."""
    due = today() - timedelta(days=days_overdue)
    with tenant_session(company.engine, company.company_id) as session:
        created = ledger.create_invoice(
            session,
            company.actor(),
            InvoiceCreate(
                customer_id=customer.id,
                number=number,
                issue_date=due - timedelta(days=30),
                due_date=due,
                amount=Decimal(amount),
            ),
        )
        return created.id


def pay(company: WebCompany, customer: Customer, amount: str) -> None:
    with tenant_session(company.engine, company.company_id) as session:
        ledger.record_payment(
            session,
            company.actor(),
            PaymentCreate(customer_id=customer.id, amount=Decimal(amount), received_on=today()),
        )


def stored_reminders(company: WebCompany) -> int:
    with tenant_session(company.engine, company.company_id) as session:
        return int(session.scalar(select(func.count()).select_from(ConsolidatedReminder)) or 0)


def debtors(company: WebCompany) -> tuple[Customer, Customer]:
    """Two customers due a reminder: one with two overdue invoices, one with one."""
    amal = company.customer(name="Amal Trading", name_ar="أمل للتجارة", email="amal@example.ae")
    basim = company.customer(name=HOSTILE, email="basim@example.ae")
    invoice(company, amal, "INV-A1", 40, "1234.50")
    invoice(company, amal, "INV-A2", 10, "300")
    invoice(company, basim, "INV-B1", 5, "50")
    return amal, basim


def table_rows(page: str) -> list[str]:
    return re.findall(r"<tr>\s*<td>.*?</tr>", page, re.S)


# ----- overdue invoices ---------------------------------------------------------------------
def test_overdue_invoices_oldest_first_with_days_money_and_customer(
    company: WebCompany, browser: Browser
) -> None:
    amal, _ = debtors(company)
    invoice(company, amal, "INV-NOT-DUE", -3)
    page = browser.page("/receivables").text
    assert 'href="/receivables" aria-current="page"' in page  # the navigation entry
    rows = table_rows(page)
    assert [re.search(r"INV-\w+", row)[0] for row in rows] == ["INV-A1", "INV-A2", "INV-B1"]
    assert f'href="/customers/{amal.id}/receivables"' in rows[0]
    assert ">40<" in rows[0] and "AED1,234.50" in rows[0]
    # Names are escaped wherever they appear.
    assert HOSTILE not in page and html.escape(HOSTILE) in rows[2]
    arabic = company.browser(Role.ANALYST, **{"Accept-Language": "ar"}).page("/receivables").text
    assert 'dir="rtl"' in arabic and "الفواتير المتأخرة" in arabic
    assert "1,234.50" in table_rows(arabic)[0]


def test_overdue_invoices_page_by_cursor(company: WebCompany, browser: Browser) -> None:
    customer = company.customer(name="Many Invoices", email="many@example.ae")
    numbers = [f"N-{days:03d}" for days in range(PAGE_SIZE + 2, 0, -1)]
    for days, number in zip(range(PAGE_SIZE + 2, 0, -1), numbers, strict=True):
        invoice(company, customer, number, days)
    first = browser.page("/receivables").text
    assert re.findall(r"N-\d{3}", first) == numbers[:PAGE_SIZE]
    next_url = html.unescape(re.search(r'href="(/receivables\?cursor=[^"]+)"', first)[1])
    second = browser.page(next_url).text
    assert re.findall(r"N-\d{3}", second) == numbers[PAGE_SIZE:]
    assert "More invoices" not in second and "Back to the first page" in second
    assert browser.page("/receivables?cursor=not-a-cursor").status_code == 422


# ----- the reminder queue -------------------------------------------------------------------
def reminder_of(company: WebCompany, customer: Customer) -> uuid.UUID:
    """The customer's one stored reminder."""
    with tenant_session(company.engine, company.company_id) as session:
        return session.scalars(
            select(ConsolidatedReminder.id).where(ConsolidatedReminder.customer_id == customer.id)
        ).one()


def test_run_now_fills_the_queue_through_the_planner_with_csrf(
    company: WebCompany, browser: Browser
) -> None:
    amal, _ = debtors(company)
    assert "No reminder is waiting to be sent." in browser.page("/receivables/queue").text
    forged = browser.post("/receivables/queue/run", data={"csrf_token": "wrong"})
    assert forged.status_code == 403 and stored_reminders(company) == 0
    response = browser.submit("/receivables/queue/run")
    assert response.status_code == 303 and response.headers["location"] == "/receivables/queue"
    assert stored_reminders(company) == 2

    page = browser.page("/receivables/queue").text
    assert "The reminder run was scheduled." in page
    assert "2 reminder(s) waiting, the highest priority first." in page
    assert f'href="/receivables/reminders/{reminder_of(company, amal)}?lang=ar"' in page
    assert len(table_rows(page)) == 2 and HOSTILE not in page and html.escape(HOSTILE) in page
    # A second run plans nothing: nobody with a reminder waiting is reminded twice.
    browser.submit("/receivables/queue/run")
    assert stored_reminders(company) == 2


def test_queue_pages_by_priority_with_a_more_link(company: WebCompany, browser: Browser) -> None:
    # One invoice each, three days older per customer: the older, the higher the priority.
    for days in range(1, PAGE_SIZE + 3):
        customer = company.customer(name=f"Late {days:03d}", email=f"late{days}@example.ae")
        invoice(company, customer, f"L-{days:03d}", days * 3)
    browser.submit("/receivables/queue/run")
    first = browser.page("/receivables/queue").text
    assert f"{PAGE_SIZE + 2} reminder(s) waiting" in first
    next_url = html.unescape(re.search(r'href="(/receivables/queue\?cursor=[^"]+)"', first)[1])
    second = browser.page(next_url).text
    names = re.findall(r"<bdi>(Late \d{3})</bdi></a></td>", first + second)
    assert names == [f"Late {days:03d}" for days in range(PAGE_SIZE + 2, 0, -1)]
    assert len(re.findall(r"<bdi>(Late \d{3})</bdi></a></td>", first)) == PAGE_SIZE
    assert "More reminders" not in second and "Back to the first page" in second
    assert browser.page("/receivables/queue?cursor=not-a-cursor").status_code == 422


def test_queue_counts_waiting_reminders_up_to_a_cap(
    company: WebCompany, browser: Browser, admin_engine: Engine
) -> None:
    many_debtors(admin_engine, company.company_id, QUEUE_COUNT_CAP + 1)
    browser.submit("/receivables/queue/run")
    page = browser.page("/receivables/queue").text
    assert "1,000+ reminder(s) waiting" in page
    assert len(table_rows(page)) == PAGE_SIZE and "More reminders" in page


def test_each_email_previews_in_english_and_arabic_in_a_sandbox(
    company: WebCompany, browser: Browser
) -> None:
    amal, _ = debtors(company)
    browser.submit("/receivables/queue/run")
    reminder_id = reminder_of(company, amal)
    preview = browser.page(f"/receivables/reminders/{reminder_id}?lang=ar").text
    frame = re.search(r"<iframe [^>]*>", preview, re.S)[0]
    assert 'sandbox=""' in frame and 'title="Reminder email in Arabic"' in frame
    src = html.unescape(re.search(r'src="([^"]+)"', frame)[1])
    assert src == f"/receivables/reminders/{reminder_id}/email?lang=ar"

    arabic = browser.get(src)
    assert arabic.status_code == 200
    assert '<html lang="ar" dir="rtl">' in arabic.text
    assert "أمل للتجارة" in arabic.text and "INV-A1" in arabic.text and "INV-A2" in arabic.text
    policy = arabic.headers["Content-Security-Policy"]
    assert "sandbox" in policy and "frame-ancestors 'self'" in policy
    assert "script-src" not in policy and "default-src 'none'" in policy
    assert arabic.headers["X-Frame-Options"] == "SAMEORIGIN"

    english = browser.get(src.replace("lang=ar", "lang=en")).text
    assert '<html lang="en" dir="ltr">' in english and "Dear Amal Trading" in english
    # Without a language the preview is the one the reminder goes out in (English here).
    assert (
        'aria-current="page">English' in browser.page(f"/receivables/reminders/{reminder_id}").text
    )
    assert browser.page(f"/receivables/reminders/{uuid.uuid4()}").status_code == 404


def test_hostile_names_are_escaped_in_the_email_preview(
    company: WebCompany, browser: Browser
) -> None:
    _, basim = debtors(company)
    browser.submit("/receivables/queue/run")
    email = browser.get(f"/receivables/reminders/{reminder_of(company, basim)}/email?lang=en").text
    assert HOSTILE not in email and html.escape(HOSTILE) in email


def test_analysts_see_the_queue_but_cannot_run_it(company: WebCompany) -> None:
    debtors(company)
    analyst = company.browser(Role.ANALYST)
    assert "Run now" not in analyst.page("/receivables/queue").text
    response = analyst.submit("/receivables/queue/run")
    assert response.status_code == 403 and stored_reminders(company) == 0
    # Sales may run reminders: the receivables matrix lets them.
    sales = company.browser(Role.SALES)
    assert "Run now" in sales.page("/receivables/queue").text
    assert sales.submit("/receivables/queue/run").status_code == 303
    assert stored_reminders(company) == 2
    assert "2 reminder(s) waiting" in analyst.page("/receivables/queue").text


# ----- sent reminders -----------------------------------------------------------------------
def mark_sent(admin_engine: Engine, company: WebCompany) -> None:
    """What the worker does after SMTP accepted the emails (delivery is tested in receivables)."""
    with admin_engine.begin() as connection:
        connection.execute(
            text(
                "UPDATE customer_consolidated_reminders SET delivery_status = 'sent',"
                " idempotency_key = 'sent:' || id, message_id = '<' || id || '@test>',"
                " sent_at = now() WHERE company_id = :company_id"
            ),
            {"company_id": company.company_id},
        )


def test_sent_reminders_show_outcomes_and_savings(
    company: WebCompany, browser: Browser, admin_engine: Engine
) -> None:
    amal, basim = debtors(company)
    browser.submit("/receivables/queue/run")
    mark_sent(admin_engine, company)
    with tenant_session(company.engine, company.company_id) as session:
        (basim_reminder,) = session.scalars(
            select(ConsolidatedReminder).where(ConsolidatedReminder.customer_id == basim.id)
        )
        reminders.record_response(session, company.actor(), basim_reminder.id, "replied")
    pay(company, amal, "1534.50")
    before_refresh = browser.page("/receivables/sent").text
    assert re.search(r'id="emails-sent">0<', before_refresh)
    assert "Figures are added up every 15 minutes." in before_refresh

    # The figures come from the analytics refresh (every 15 minutes, or on demand).
    assert browser.submit("/dashboard/refresh").status_code == 303
    page = browser.page("/receivables/sent").text
    assert re.search(r'id="figures-as-of">Figures as of ', page)
    assert re.search(r'id="emails-sent">2<', page)
    assert re.search(r'id="savings">33\.33%<', page)
    rows = {("amal" if "Amal" in row else "basim"): row for row in table_rows(page)}
    assert "Paid after reminder" in rows["amal"] and ">Sent<" in rows["amal"]
    assert "Replied" in rows["basim"] and ">Delivered<" in rows["basim"]
    assert "Paid after reminder" not in rows["basim"]


# ----- the customer tab ---------------------------------------------------------------------
def test_customer_tab_lists_invoices_balance_and_explained_risk(
    company: WebCompany, browser: Browser
) -> None:
    amal, _ = debtors(company)
    late = invoice(company, amal, "INV-OLD", 80, "200")
    pay(company, amal, "200")  # oldest first: settles INV-OLD, 80 days after its due date
    profile = browser.page(f"/customers/{amal.id}").text
    assert f'href="/customers/{amal.id}/receivables"' in profile
    assert "Invoices and reminders" in profile

    page = browser.page(f"/customers/{amal.id}/receivables").text
    assert 'aria-current="page">Invoices and reminders' in page
    assert re.search(r'id="balance">AED1,534\.50<', page)
    assert re.search(r'id="risk-score">9<', page)
    assert "Based on 1 paid invoice(s), paid on average 80 day(s) after the due date." in page
    assert sorted(re.findall(r"INV-[A-Z0-9]+", page)) == ["INV-A1", "INV-A2", "INV-OLD"]
    assert page.count(">Overdue<") == 2 and ">Paid<" in page
    assert str(late) not in page  # invoices are shown by number, not internal id

    fresh = company.customer(name="No History")
    neutral = browser.page(f"/customers/{fresh.id}/receivables").text
    assert "No paid invoices yet, so the score is the neutral 5." in neutral
    assert "No invoices yet." in neutral and "No reminders yet." in neutral


# ----- tenancy ------------------------------------------------------------------------------
def test_another_companys_customer_is_a_404_page(
    company: WebCompany, browser: Browser, make_company: Callable[..., WebCompany]
) -> None:
    other = make_company()
    theirs, _ = debtors(other)
    other.browser().submit("/receivables/queue/run")
    their_reminder = reminder_of(other, theirs)
    for path, kind in (
        (f"/customers/{theirs.id}/receivables", "customer"),
        (f"/receivables/reminders/{their_reminder}?lang=ar", "reminder"),
        (f"/receivables/reminders/{their_reminder}/email?lang=en", "reminder"),
    ):
        response = browser.page(path)
        assert response.status_code == 404, path
        assert kind in response.text
        assert "INV-A1" not in response.text and "Amal" not in response.text
    assert "Nothing is overdue." in browser.page("/receivables").text
    assert "No reminder is waiting to be sent." in browser.page("/receivables/queue").text


# ----- no N+1 -------------------------------------------------------------------------------
def test_page_queries_do_not_grow_with_the_data(
    company: WebCompany, browser: Browser, app_engine: Engine
) -> None:
    """Each page costs the same statements for two debtors or a dozen with reminders sent."""
    amal, _ = debtors(company)
    browser.submit("/receivables/queue/run")
    amal_reminder = reminder_of(company, amal)
    pages = (
        "/receivables",
        "/receivables/queue",
        f"/receivables/reminders/{amal_reminder}",
        f"/receivables/reminders/{amal_reminder}/email?lang=ar",
        "/receivables/sent",
        f"/customers/{amal.id}/receivables",
    )

    def statements_per_page() -> list[int]:
        counts = []
        for path in pages:
            with counting_statements(app_engine) as statements:
                assert browser.get(path).status_code == 200, path
            counts.append(len(statements))
        return counts

    statements_per_page()  # the first visit stores the company's default reminder settings
    few = statements_per_page()
    for number in range(10):
        customer = company.customer(name=f"Debtor {number}", email=f"d{number}@example.ae")
        invoice(company, customer, f"D{number}-1", 20)
        invoice(company, customer, f"D{number}-2", 3)
    for number in range(3):
        invoice(company, amal, f"INV-A-MORE-{number}", 7 + number)
    browser.submit("/receivables/queue/run")
    assert statements_per_page() == few
