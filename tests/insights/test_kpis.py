"""Daily KPIs: a planted spike is flagged (with why), ordinary days are not, alerts go once."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import text

from majlis.core.db import get_engine, tenant_session
from majlis.insights.kpis import CHURN_SILENCE, alert_anomalies, robust_anomaly

DUBAI = ZoneInfo("Asia/Dubai")


def _plant(admin_engine, company_id, day, count: int) -> None:
    at = datetime.combine(day, time(12), tzinfo=DUBAI)
    with admin_engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO customers (company_id, id, kind, name, created_at)"
                " SELECT :c, gen_random_uuid(), 'individual', 'Planted ' || g, :at"
                " FROM generate_series(1, :n) g"
            ),
            {"c": company_id, "at": at, "n": count},
        )


def _refresh(admin_engine) -> None:
    """The analytics job's refresh: the KPIs are read from its summary."""
    with admin_engine.begin() as conn:
        conn.execute(text("SELECT refresh_customer_analytics()"))


def test_robust_baseline_ignores_one_old_spike() -> None:
    day = datetime(2026, 3, 10).date()
    assert robust_anomaly("new_customers", day, 3, [2, 3, 2, 40, 3, 2, 2, 3]) is None
    flagged = robust_anomaly("new_customers", day, 30, [2, 3, 2, 40, 3, 2, 2, 3])
    assert flagged is not None and flagged.baseline == 2.5 and flagged.robust_z > 3.5
    assert "above the usual 2.5 (median of the last 8 Tuesdays)" in flagged.why
    low = robust_anomaly("revenue", day, 0, [900, 1000, 1100, 950, 1000, 1050, 980, 1020])
    assert low is not None and "below" in low.why


def test_planted_anomaly_is_flagged_over_http(tenant, owner, admin_engine) -> None:
    yesterday = datetime.now(DUBAI).date() - timedelta(days=1)
    for weeks in range(1, 9):
        _plant(admin_engine, tenant.company_id, yesterday - timedelta(weeks=weeks), 2)
    _plant(admin_engine, tenant.company_id, yesterday, 25)
    _refresh(admin_engine)
    days = {d["day"]: d for d in owner.get("/api/v1/insights/kpis", params={"days": 14}).json()}
    spike = days[yesterday.isoformat()]
    assert spike["values"]["new_customers"] == 25
    (anomaly,) = spike["anomalies"]
    assert (anomaly["metric"], anomaly["baseline"]) == ("new_customers", 2)
    assert anomaly["robust_z"] >= 3.5 and "was 25, above the usual 2" in anomaly["why"]
    ordinary = days[(yesterday - timedelta(weeks=1)).isoformat()]
    assert ordinary["values"]["new_customers"] == 2 and ordinary["anomalies"] == []

    with tenant_session(get_engine("app"), tenant.company_id) as session:
        assert len(alert_anomalies(session, tenant.actor(), yesterday)) == 1
    with tenant_session(get_engine("app"), tenant.company_id) as session:
        assert alert_anomalies(session, tenant.actor(), yesterday) == []
    notices = owner.get("/api/v1/notifications").json()["items"]
    assert [n["title"] for n in notices] == ["Unusual day: new customers"]
    assert notices[0]["priority"] == "high"


def _plant_silent(admin_engine, company_id, day, count: int, seen_since: bool = False) -> None:
    """`count` customers whose last contact was 60 days before `day` (local noon)."""
    at = datetime.combine(day - CHURN_SILENCE, time(12), tzinfo=DUBAI)
    with admin_engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO customers (company_id, id, kind, name, created_at, last_seen_at)"
                " SELECT :c, gen_random_uuid(), 'individual', 'Silent ' || g, :at,"
                "  CASE WHEN :seen THEN now() ELSE :at END"
                " FROM generate_series(1, :n) g"
            ),
            {"c": company_id, "at": at, "n": count, "seen": seen_since},
        )


def test_churn_risk_flags_a_cohort_falling_silent(tenant, owner, admin_engine) -> None:
    day = datetime.now(DUBAI).date() - timedelta(days=1)
    for weeks in range(1, 9):
        _plant_silent(admin_engine, tenant.company_id, day - timedelta(weeks=weeks), 1)
    _plant_silent(admin_engine, tenant.company_id, day, 20)
    _plant_silent(admin_engine, tenant.company_id, day, 5, seen_since=True)  # not silent
    _refresh(admin_engine)

    days = {d["day"]: d for d in owner.get("/api/v1/insights/kpis", params={"days": 14}).json()}
    surge = days[day.isoformat()]
    assert surge["values"]["churn_risk"] == 20
    (anomaly,) = [a for a in surge["anomalies"] if a["metric"] == "churn_risk"]
    assert anomaly["baseline"] == 1 and anomaly["robust_z"] >= 3.5
    assert "churn risk on" in anomaly["why"] and "was 20, above the usual 1" in anomaly["why"]
    ordinary = days[(day - timedelta(weeks=1)).isoformat()]
    assert ordinary["values"]["churn_risk"] == 1
    assert [a for a in ordinary["anomalies"] if a["metric"] == "churn_risk"] == []


# The live counts the summary replaced (per local day of the company's zone), run directly.
DIRECT_COUNTS = {
    "new_customers": """
        SELECT timezone(:zone, created_at)::date, count(*) FROM customers
         WHERE company_id = :c GROUP BY 1""",
    "churn_risk": """
        SELECT timezone(:zone, greatest(c.created_at, c.last_seen_at,
                 (SELECT max(occurred_at) FROM workflow_actions w
                   WHERE w.company_id = c.company_id AND w.customer_id = c.id))
                 + interval '60 days')::date, count(*)
          FROM customers c
         WHERE c.company_id = :c AND c.deleted_at IS NULL AND c.is_active GROUP BY 1""",
    "conversions": """
        SELECT timezone(:zone, occurred_at)::date, count(*) FROM workflow_actions
         WHERE company_id = :c AND to_stage = 'won' GROUP BY 1""",
    "revenue": """
        SELECT received_on, sum(amount) FROM payments WHERE company_id = :c GROUP BY 1""",
    "invoices_falling_due": """
        SELECT due_date, count(*) FROM invoices
         WHERE company_id = :c AND status IN ('open', 'partially_paid') GROUP BY 1""",
}


def _plant_mixed(admin_engine, company_id, today) -> None:
    """Customers either side of local midnight, a deleted and an inactive one, a customer
    silenced 60 days ago but moved on a journey since, won moves, payments and invoices."""
    at_local = [
        datetime.combine(today - timedelta(days=d), time(h, 30), tzinfo=DUBAI)
        for d, h in ((1, 0), (1, 23), (2, 3), (9, 12), (60, 1), (61, 23), (75, 10))
    ]
    with admin_engine.begin() as conn:
        for n, at in enumerate(at_local):
            conn.execute(
                text(
                    "INSERT INTO customers (company_id, id, kind, name, created_at, last_seen_at,"
                    " deleted_at, is_active)"
                    " VALUES (:c, gen_random_uuid(), 'individual', 'Mixed ' || :n, :at, :at,"
                    "  CASE WHEN :n = 3 THEN now() END, :n <> 4)"
                ),
                {"c": company_id, "at": at, "n": n},
            )
        ids = conn.execute(
            text("SELECT id FROM customers WHERE company_id = :c ORDER BY created_at"),
            {"c": company_id},
        ).scalars()
        for n, customer_id in enumerate(ids):
            moved = datetime.combine(today - timedelta(days=n), time(22), tzinfo=DUBAI)
            conn.execute(
                text(
                    "INSERT INTO workflow_actions (company_id, id, customer_id, to_stage,"
                    " actor_kind, occurred_at)"
                    " VALUES (:c, gen_random_uuid(), :id, CASE WHEN :n < 4 THEN 'won'"
                    "  ELSE 'contacted' END, 'system', :at)"
                ),
                {"c": company_id, "id": customer_id, "n": n, "at": moved},
            )
            conn.execute(
                text(
                    "INSERT INTO payments (company_id, id, customer_id, amount, received_on)"
                    " VALUES (:c, gen_random_uuid(), :id, :amount, :on)"
                ),
                {"c": company_id, "id": customer_id, "amount": 10 + n, "on": today - timedelta(n)},
            )
            # two currencies on one due date, and a paid invoice that is no longer due
            conn.execute(
                text(
                    "INSERT INTO invoices (company_id, id, customer_id, number, issue_date,"
                    " due_date, amount, currency, status)"
                    " VALUES (:c, gen_random_uuid(), :id, 'INV-' || :n, :due - 30, :due, 100,"
                    "  :currency, CAST(:status AS invoice_status))"
                ),
                {
                    "c": company_id,
                    "id": customer_id,
                    "n": n,
                    "due": today - timedelta(days=n // 2),
                    "currency": "USD" if n % 2 else "AED",
                    "status": "paid" if n == 2 else "open",
                },
            )


def test_summarised_figures_match_a_direct_count(tenant, owner, admin_engine) -> None:
    today = datetime.now(DUBAI).date()
    _plant_mixed(admin_engine, tenant.company_id, today)
    _plant_silent(admin_engine, tenant.company_id, today - timedelta(days=3), 2)
    _refresh(admin_engine)

    days = owner.get("/api/v1/insights/kpis", params={"days": 92}).json()
    shown = {
        metric: {d["day"]: d["values"][metric] for d in days if d["values"][metric]}
        for metric in DIRECT_COUNTS
    }
    first = days[0]["day"]
    with admin_engine.connect() as conn:
        for metric, query in DIRECT_COUNTS.items():
            rows = conn.execute(text(query), {"c": tenant.company_id, "zone": "Asia/Dubai"})
            direct = {
                day.isoformat(): float(value)
                for day, value in rows
                if first <= day.isoformat() <= today.isoformat()
            }
            assert shown[metric] == direct, metric
    assert sum(shown["new_customers"].values()) == 7 + 2
    assert sum(shown["conversions"].values()) == 4
    assert shown["churn_risk"] and shown["revenue"]
    assert sum(shown["invoices_falling_due"].values()) == 6
