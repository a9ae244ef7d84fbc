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

    days = {d["day"]: d for d in owner.get("/api/v1/insights/kpis", params={"days": 14}).json()}
    surge = days[day.isoformat()]
    assert surge["values"]["churn_risk"] == 20
    (anomaly,) = [a for a in surge["anomalies"] if a["metric"] == "churn_risk"]
    assert anomaly["baseline"] == 1 and anomaly["robust_z"] >= 3.5
    assert "churn risk on" in anomaly["why"] and "was 20, above the usual 1" in anomaly["why"]
    ordinary = days[(day - timedelta(weeks=1)).isoformat()]
    assert ordinary["values"]["churn_risk"] == 1
    assert [a for a in ordinary["anomalies"] if a["metric"] == "churn_risk"] == []
