"""Reminder runs through the API: consolidation, eligibility, escalation, overrides, manual."""

from __future__ import annotations

from sqlalchemy import text

from majlis.core.db import get_engine


def _run(client, path: str = "/api/v1/reminders/run") -> dict:
    response = client.post(path)
    assert response.status_code == 200, response.text
    return response.json()


def _by_customer(run: dict) -> dict[str, list[dict]]:
    grouped: dict[str, list[dict]] = {}
    for planned in run["planned"]:
        grouped.setdefault(planned["customer_id"], []).append(planned)
    return grouped


def _mark_sent(reminder_customer: str, days_ago: int) -> None:
    """Pretend the customer's waiting reminders went out `days_ago` days ago."""
    with get_engine("admin").begin() as conn:
        conn.execute(
            text(
                "UPDATE customer_consolidated_reminders SET delivery_status = 'sent',"
                " idempotency_key = 'k', message_id = 'm',"
                " created_at = now() - make_interval(days => :d),"
                " scheduled_at = now() - make_interval(days => :d),"
                " sent_at = now() - make_interval(days => :d)"
                " WHERE customer_id = :c AND delivery_status = 'scheduled'"
            ),
            {"c": reminder_customer, "d": days_ago},
        )


def test_one_consolidated_reminder_per_customer_and_single_for_one_invoice(
    owner, new_customer, overdue_invoice
) -> None:
    many, one = new_customer(owner), new_customer(owner)
    for days in (3, 10, 20):
        overdue_invoice(owner, many["id"], days, "500.00")
    overdue_invoice(owner, one["id"], 5, "250.00")
    overdue_invoice(owner, one["id"], -5, "999.00")  # not yet due: not in any reminder

    run = _run(owner)
    grouped = _by_customer(run)
    assert len(grouped[many["id"]]) == 1
    consolidated = grouped[many["id"]][0]
    assert consolidated["reminder_type"] == "CONSOLIDATED"
    assert consolidated["invoice_count"] == 3
    assert consolidated["total_amount"] == "1500.00"
    assert consolidated["oldest_days_overdue"] == 20
    assert [p["reminder_type"] for p in grouped[one["id"]]] == ["SINGLE"]
    assert grouped[one["id"]][0]["total_amount"] == "250.00"
    assert run["reminders"] == 2 and run["individual_reminders_replaced"] == 4
    assert run["savings_pct"] == "50.00"

    stored = owner.get("/api/v1/reminders", params={"customer_id": many["id"]}).json()["items"]
    assert len(stored) == 1 and stored[0]["delivery_status"] == "scheduled"
    # A reminder is already waiting: the next run plans nothing for these customers.
    assert _run(owner)["planned"] == []


def test_preview_plans_without_saving(owner, new_customer, overdue_invoice) -> None:
    customer = new_customer(owner)
    overdue_invoice(owner, customer["id"], 4)
    overdue_invoice(owner, customer["id"], 6)
    preview = _run(owner, "/api/v1/reminders/preview")
    assert preview["dry_run"] is True and preview["run_id"] is None
    assert preview["planned"][0]["reminder_type"] == "CONSOLIDATED"
    assert owner.get("/api/v1/reminders").json()["items"] == []
    assert len(_run(owner)["planned"]) == 1


def test_customers_without_email_or_opted_out_or_nothing_overdue_are_not_eligible(
    owner, new_customer, overdue_invoice
) -> None:
    no_email = new_customer(owner, email=None)
    opted_out = new_customer(owner)
    not_due = new_customer(owner)
    eligible = new_customer(owner)
    for customer in (no_email, opted_out, eligible):
        overdue_invoice(owner, customer["id"], 12)
    overdue_invoice(owner, not_due["id"], 0)  # due today: not overdue yet
    response = owner.put(
        f"/api/v1/customers/{opted_out['id']}/reminder-settings", json={"opt_out": True}
    )
    assert response.status_code == 200, response.text

    run = _run(owner)
    assert set(_by_customer(run)) == {eligible["id"]}
    assert run["eligible_customers"] == 1


def test_contact_interval_then_escalation_step_by_step(
    owner, new_customer, overdue_invoice
) -> None:
    customer = new_customer(owner)
    overdue_invoice(owner, customer["id"], 70)
    overdue_invoice(owner, customer["id"], 40)
    # 70 days overdue allows FINAL, but nothing was sent yet: never skip a step.
    assert _run(owner)["planned"][0]["escalation_level"] == "POLITE"

    _mark_sent(customer["id"], days_ago=3)
    assert _run(owner)["planned"] == []  # inside the default 7-day interval

    with get_engine("admin").begin() as conn:
        conn.execute(
            text(
                "UPDATE customer_consolidated_reminders SET sent_at = now() - interval '8 days'"
                " WHERE customer_id = :c"
            ),
            {"c": customer["id"]},
        )
    second = _run(owner)["planned"][0]
    assert (second["escalation_level"], second["reminder_type"]) == ("FIRM", "CONSOLIDATED")

    for expected_level, expected_type in (
        ("URGENT", "URGENT_CONSOLIDATED"),
        ("FINAL", "FINAL_CONSOLIDATED"),
        ("FINAL", "FINAL_CONSOLIDATED"),
    ):
        _mark_sent(customer["id"], days_ago=8)
        planned = _run(owner)["planned"][0]
        assert (planned["escalation_level"], planned["reminder_type"]) == (
            expected_level,
            expected_type,
        )


def test_age_caps_escalation_with_configurable_thresholds(
    owner, new_customer, overdue_invoice
) -> None:
    response = owner.patch(
        "/api/v1/reminder-settings",
        json={
            "firm_after_days": 2,
            "urgent_after_days": 4,
            "final_after_days": 100,
            "preferred_contact_interval_days": 1,
        },
    )
    assert response.status_code == 200, response.text
    customer = new_customer(owner)
    overdue_invoice(owner, customer["id"], 5)
    overdue_invoice(owner, customer["id"], 1)
    levels = []
    for _ in range(4):
        levels.append(_run(owner)["planned"][0]["escalation_level"])
        _mark_sent(customer["id"], days_ago=2)
    # Reminders sent push the level up, but a 5-day-old debt stops at URGENT (< 100 days).
    assert levels == ["POLITE", "FIRM", "URGENT", "URGENT"]


def test_thresholds_must_rise(owner) -> None:
    response = owner.patch("/api/v1/reminder-settings", json={"urgent_after_days": 10})
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "firm_after_days"
    response = owner.patch("/api/v1/reminder-settings", json={"preferred_contact_interval_days": 0})
    assert response.status_code == 422


def test_consolidation_preferences_and_max_amount(owner, new_customer, overdue_invoice) -> None:
    owner.patch("/api/v1/reminder-settings", json={"max_consolidation_amount": "1000.00"})
    auto_small, auto_large, disabled, enabled_large = (new_customer(owner) for _ in range(4))
    for customer, amount in (
        (auto_small, "300.00"),
        (auto_large, "800.00"),
        (disabled, "100.00"),
        (enabled_large, "800.00"),
    ):
        overdue_invoice(owner, customer["id"], 3, amount)
        overdue_invoice(owner, customer["id"], 9, amount)
    for customer, preference in ((disabled, "DISABLED"), (enabled_large, "ENABLED")):
        response = owner.put(
            f"/api/v1/customers/{customer['id']}/reminder-settings",
            json={"consolidation": preference},
        )
        assert response.status_code == 200, response.text

    grouped = _by_customer(_run(owner))
    types = {cid: sorted(p["reminder_type"] for p in plans) for cid, plans in grouped.items()}
    assert types[auto_small["id"]] == ["CONSOLIDATED"]  # AUTO, 600 ≤ 1000
    assert types[auto_large["id"]] == ["SINGLE", "SINGLE"]  # AUTO, 1600 > 1000: individually
    assert types[disabled["id"]] == ["SINGLE", "SINGLE"]
    assert types[enabled_large["id"]] == ["CONSOLIDATED"]  # ENABLED ignores the cap


def test_arabic_language_follows_override_then_customer_then_company(
    owner, new_customer, overdue_invoice
) -> None:
    arabic_reader = new_customer(owner, preferred_language="ar")
    english_override = new_customer(owner, preferred_language="ar")
    default = new_customer(owner)
    for customer in (arabic_reader, english_override, default):
        overdue_invoice(owner, customer["id"], 3)
    owner.put(
        f"/api/v1/customers/{english_override['id']}/reminder-settings", json={"language": "en"}
    )
    grouped = _by_customer(_run(owner))
    assert grouped[arabic_reader["id"]][0]["language"] == "ar"
    assert grouped[english_override["id"]][0]["language"] == "en"
    assert grouped[default["id"]][0]["language"] == "en"


def test_priority_ranks_big_old_debts_first(owner, new_customer, overdue_invoice) -> None:
    small, big = new_customer(owner), new_customer(owner)
    overdue_invoice(owner, small["id"], 2, "100.00")
    overdue_invoice(owner, big["id"], 80, "40000.00")
    run = _run(owner)
    planned = run["planned"]
    assert [p["customer_id"] for p in planned] == [big["id"], small["id"]], run
    assert all(0 <= p["priority_score"] <= 100 for p in planned)


def test_manual_reminder_respects_opt_out_and_asks_confirmation_inside_interval(
    owner, new_customer, overdue_invoice
) -> None:
    customer = new_customer(owner)
    overdue_invoice(owner, customer["id"], 3)
    overdue_invoice(owner, customer["id"], 30)
    path = f"/api/v1/customers/{customer['id']}/reminders"

    manual = owner.post(path)
    assert manual.status_code == 201, manual.text
    assert manual.json()["reminder_type"] == "MANUAL_CONSOLIDATED"
    assert manual.json()["manual"] is True

    _mark_sent(customer["id"], days_ago=1)
    again = owner.post(path)
    assert again.status_code == 409
    assert again.json()["requires_confirmation"] is True
    confirmed = owner.post(path, json={"confirm": True})
    assert confirmed.status_code == 201, confirmed.text

    owner.put(f"/api/v1/customers/{customer['id']}/reminder-settings", json={"opt_out": True})
    refused = owner.post(path, json={"confirm": True})
    assert refused.status_code == 409
    assert "opted out" in refused.json()["detail"]


def test_manual_reminder_for_a_customer_with_nothing_overdue_is_refused(
    owner, new_customer
) -> None:
    customer = new_customer(owner)
    response = owner.post(f"/api/v1/customers/{customer['id']}/reminders")
    assert response.status_code == 409


def test_paused_company_plans_nothing(owner, new_customer, overdue_invoice) -> None:
    customer = new_customer(owner)
    overdue_invoice(owner, customer["id"], 3)
    owner.patch("/api/v1/reminder-settings", json={"reminders_paused": True})
    assert _run(owner)["planned"] == []


def test_sales_may_run_but_analyst_may_only_preview(tenant, new_customer, overdue_invoice) -> None:
    from majlis.core.permissions import Role

    with tenant.client(Role.ANALYST) as analyst, tenant.client(Role.SALES) as sales:
        customer = new_customer(sales)
        overdue_invoice(sales, customer["id"], 3)
        assert analyst.post("/api/v1/reminders/run").status_code == 403
        assert analyst.post("/api/v1/reminders/preview").status_code == 200
        assert analyst.patch("/api/v1/reminder-settings", json={}).status_code == 403
        assert sales.post("/api/v1/reminders/run").status_code == 200
