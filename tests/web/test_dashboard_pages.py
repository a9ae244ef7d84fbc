"""The dashboard over the real server: every chart shows the services' numbers, twice."""

from __future__ import annotations

import html
import re
from collections.abc import Callable
from dataclasses import replace
from datetime import timedelta

import pytest
from sqlalchemy import Engine
from tests.web.conftest import Browser, WebCompany
from tests.web.test_page_safety import counting_statements
from tests.web.test_receivables_pages import debtors, invoice, mark_sent, today

from majlis.analytics import service as analytics
from majlis.core.db import tenant_session
from majlis.core.permissions import Role
from majlis.journeys import service as journeys
from majlis.receivables import analytics as receivables
from majlis.web.charts import Point, bar_chart, column_chart, nice_step

EMPTY = "No data yet."


def chart_numbers(page: str, chart_id: str) -> tuple[dict[str, str], dict[str, str]]:
    """(label → number) as the SVG's hover titles say, and as the table under it says."""
    svg = re.search(rf'<svg id="chart-{chart_id}".*?</svg>', page, re.S)
    table = re.search(rf'<table class="data" id="table-{chart_id}">.*?</table>', page, re.S)
    assert svg and table, f"chart {chart_id} is missing"
    titles = re.findall(r"<title>(.*?): (.*?)</title>", svg[0])
    rows = re.findall(r'<th scope="row"><bdi>(.*?)</bdi></th><td class="num">(.*?)</td>', table[0])
    return _unescaped(titles), _unescaped(rows)


def _unescaped(pairs: list[tuple[str, str]]) -> dict[str, str]:
    return {html.unescape(label): html.unescape(number) for label, number in pairs}


def assert_chart(page: str, chart_id: str, expected: dict[str, str]) -> None:
    titles, rows = chart_numbers(page, chart_id)
    assert titles == expected
    assert rows == expected
    assert re.search(
        rf'<svg id="chart-{chart_id}" class="chart[^"]*" role="img" aria-labelledby="[\w-]+"', page
    )


def planted(company: WebCompany, browser: Browser, admin_engine: Engine) -> None:
    """Four customers from three sources, invoices in three ageing buckets, a reminder run,
    a stage move, then the summary refreshed through the dashboard's own button."""
    debtors(company)  # two manual customers, unscored, owing 40, 10 and 5 days late
    chatty = company.customer(name="Chatty", source="chat", risk_score=8)
    company.customer(name="Imported", source="import", risk_score=5)
    invoice(company, chatty, "INV-C1", -20, "70")  # due in 20 days
    browser.page("/receivables/queue")
    assert browser.submit("/receivables/queue/run").status_code == 303
    mark_sent(admin_engine, company)
    with tenant_session(company.engine, company.company_id) as session:
        journeys.move_stage(session, company.actor(), chatty.id, "contacted")
    browser.page("/dashboard")
    assert browser.submit("/dashboard/refresh").status_code == 303


def test_each_chart_and_its_table_show_the_services_numbers(
    company: WebCompany, browser: Browser, admin_engine: Engine
) -> None:
    planted(company, browser, admin_engine)
    response = browser.page("/dashboard")
    assert response.status_code == 200
    page = response.text
    assert "The figures were refreshed." in page
    assert 'href="/dashboard" aria-current="page"' in page

    assert_chart(page, "sources", {"Manual": "2", "Chat": "1", "Import": "1"})
    assert_chart(page, "risk", {"Medium risk": "1", "High risk": "1", "Not scored": "2"})
    assert_chart(
        page,
        "ageing-aed",
        {
            "Not yet due": "AED70.00",
            "1–30 days late": "AED350.00",
            "31–60 days late": "AED1,234.50",
            "61–90 days late": "AED0.00",
            "Over 90 days late": "AED0.00",
        },
    )
    assert_chart(page, "savings", {"One email per invoice": "3", "Emails sent": "2"})
    assert re.search(r'id="savings-pct">33\.33%<', page)
    funnel = {"Lead": "3", "Contacted": "1"}
    titles, _ = chart_numbers(page, "funnel")
    assert {stage: n for stage, n in titles.items() if n != "0"} == funnel
    growth_titles, growth_rows = chart_numbers(page, "growth")
    assert list(growth_titles.values()) == ["4"] == list(growth_rows.values())

    # The same figures, asked of the services the JSON API uses.
    with tenant_session(company.engine, company.company_id) as session:
        actor = company.actor(Role.ANALYST)
        summary = analytics.customer_analytics(session, actor)
        sources = {b.bucket: b.customers for b in summary.dimensions["source"]}
        ageing = receivables.receivables_ageing(session, actor, today())
        summarised_ageing = receivables.summarised_receivables_ageing(session, actor, today())
        figures = receivables.reminder_analytics(
            session, actor, today() - timedelta(days=90), today()
        )
        # the dashboard's reminder figures come from the refresh's summary: the same sums
        summarised = receivables.summarised_reminder_analytics(
            session, actor, today() - timedelta(days=90), today()
        )
        stages = {row.stage.name: row.customers for row in journeys.funnel_by_stage(session, actor)}
        # the dashboard's funnel is the refresh's exact count per stage: the same numbers
        summarised_stages = journeys.summarised_funnel(session, actor)
    assert sources == {"manual": 2, "chat": 1, "import": 1}
    assert [str(b.outstanding) for b in ageing["AED"]] == ["70.00", "350.00", "1234.50", "0", "0"]
    assert (figures.emails_sent, figures.individual_reminders_replaced) == (2, 3)
    assert replace(summarised, as_of=None) == figures and summarised.as_of is not None
    assert summarised_ageing == ageing
    assert {k: v for k, v in stages.items() if v} == {"Lead": 3, "Contacted": 1}
    assert {stage.name: n for stage, n in summarised_stages.customers} == stages
    assert summarised_stages.refreshed_at is not None

    # Daily KPIs, newest day first: four new customers today, against a baseline of none
    # on the last eight same weekdays, is flagged, with the service's reason.
    kpis = re.search(r'<table class="data" id="kpis">.*?</table>', page, re.S)[0]
    assert len(re.findall(r"<tr>", kpis)) == 1 + 14
    today_row = re.search(r"<tbody>\s*<tr>(.*?)</tr>", kpis, re.S)[1]
    assert re.search(
        r'<td class="num anomaly">4 <span class="badge overdue">Unusual</span>', today_row
    )
    assert "Unusual days" in page and "new customers on" in page


def test_an_empty_company_says_no_data_yet(company: WebCompany, browser: Browser) -> None:
    response = browser.page("/dashboard")
    assert response.status_code == 200
    page = response.text
    assert '<svg id="chart-' not in page
    # growth, sources, risk, ageing, savings, funnel
    assert page.count(EMPTY) == 6


def test_company_b_sees_none_of_company_a(
    make_company: Callable[..., WebCompany], admin_engine: Engine
) -> None:
    a, b = make_company(), make_company()
    owner_a = a.browser()
    planted(a, owner_a, admin_engine)
    invoice(a, a.customer(name="Big Debtor"), "INV-BIG", 100, "98765.43")
    owner_a.page("/dashboard")
    owner_a.submit("/dashboard/refresh")
    assert "AED98,765.43" in owner_a.page("/dashboard").text
    page = b.browser().page("/dashboard").text
    assert "98,765.43" not in page and "1,234.50" not in page
    assert '<svg id="chart-' not in page and page.count(EMPTY) == 6


def test_refresh_is_for_owners_and_managers_with_csrf(company: WebCompany) -> None:
    analyst = company.browser(Role.ANALYST)
    page = analyst.page("/dashboard").text
    assert "Refresh the figures" not in page
    assert analyst.submit("/dashboard/refresh").status_code == 403
    manager = company.browser(Role.MANAGER)
    assert "Refresh the figures" in manager.page("/dashboard").text
    assert manager.post("/dashboard/refresh", data={"csrf_token": "forged"}).status_code == 403
    assert manager.submit("/dashboard/refresh").status_code == 303


def test_arabic_dashboard_mirrors_its_charts(
    company: WebCompany, browser: Browser, admin_engine: Engine
) -> None:
    planted(company, browser, admin_engine)
    page = company.browser(Role.SALES, **{"Accept-Language": "ar"}).page("/dashboard").text
    assert '<html lang="ar" dir="rtl">' in page
    svg = re.search(r'<svg id="chart-sources".*?</svg>', page, re.S)[0]
    # Bars grow leftwards from the right-hand axis; text runs right to left.
    bars = re.findall(r'<rect class="bar" x="([\d.]+)" y="[\d.]+" width="([\d.]+)"', svg)
    assert bars and all(abs(float(x) + float(w) - 250) < 0.2 for x, w in bars)
    assert 'direction="rtl"' in svg and "يدوي" in svg


def test_the_page_costs_the_same_statements_with_or_without_data(
    make_company: Callable[..., WebCompany], app_engine: Engine, admin_engine: Engine
) -> None:
    empty, full = make_company(), make_company()
    empty_owner, full_owner = empty.browser(), full.browser()
    planted(full, full_owner, admin_engine)
    counts = []
    for owner in (empty_owner, full_owner):
        owner.page("/dashboard")  # first use creates the default workflow
        with counting_statements(app_engine) as statements:
            assert owner.get("/dashboard").status_code == 200
        counts.append(len(statements))
    assert counts[0] == counts[1] <= 25


# ----- the chart helpers -------------------------------------------------------------------
@pytest.mark.parametrize(
    ("largest", "step"), [(0, 1), (3, 1), (7, 2), (40, 10), (1234.5, 500), (0.3, 0.1)]
)
def test_tick_steps_are_round(largest: float, step: float) -> None:
    assert nice_step(largest) == pytest.approx(step)


def test_columns_run_right_to_left_in_arabic() -> None:
    points = [Point(f"w{n}", n, str(n)) for n in (1, 2, 3)]
    ltr = column_chart("c", points, rtl=False, shown=str, label_heading="", value_heading="")
    rtl = column_chart("c", points, rtl=True, shown=str, label_heading="", value_heading="")
    assert [m.x for m in ltr.marks] == sorted(m.x for m in ltr.marks)
    assert [m.x for m in rtl.marks] == sorted((m.x for m in rtl.marks), reverse=True)
    assert [t.shown for t in ltr.ticks] == ["0", "1", "2", "3"]
    assert not ltr.empty and bar_chart("b", [], rtl=False, label_heading="", value_heading="").empty
