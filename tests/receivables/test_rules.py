"""The planner's pure rules: escalation, consolidation, reminder type, priority, risk bands."""

from __future__ import annotations

import uuid
from decimal import Decimal

import pytest

from majlis.receivables.ledger import risk_for
from majlis.receivables.models import Consolidation, EscalationLevel, ReminderType
from majlis.receivables.planner import (
    OverdueInvoice,
    Thresholds,
    escalation_level,
    group_invoices,
    priority_score,
    reminder_type,
    savings_pct,
)

DEFAULT = Thresholds()  # firm 15, urgent 30, final 60 days


@pytest.mark.parametrize(
    ("days", "sent", "level"),
    [
        (3, 0, "POLITE"),
        (3, 5, "POLITE"),  # sending more does not make a young debt urgent
        (20, 0, "POLITE"),  # never skip a step
        (20, 1, "FIRM"),
        (20, 4, "FIRM"),  # capped by age: under 30 days stays FIRM
        (45, 2, "URGENT"),
        (45, 3, "URGENT"),
        (60, 3, "FINAL"),
        (200, 1, "FIRM"),
        (200, 9, "FINAL"),
    ],
)
def test_escalation_is_the_lower_of_age_and_history(days: int, sent: int, level: str) -> None:
    assert escalation_level(days, sent, DEFAULT) is EscalationLevel(level)


def test_escalation_thresholds_are_configurable() -> None:
    quick = Thresholds(firm_after_days=1, urgent_after_days=2, final_after_days=3)
    assert escalation_level(3, 3, quick) is EscalationLevel.FINAL
    assert escalation_level(3, 3, DEFAULT) is EscalationLevel.POLITE


def _invoices(*balances: str) -> list[OverdueInvoice]:
    return [OverdueInvoice(uuid.uuid4(), Decimal(b), 10) for b in balances]


@pytest.mark.parametrize(
    ("preference", "balances", "groups"),
    [
        (Consolidation.AUTO, ("10", "20"), [2]),
        (Consolidation.AUTO, ("10",), [1]),
        (Consolidation.AUTO, ("600", "600"), [1, 1]),  # above the max: individually
        (Consolidation.AUTO, ("500", "500"), [2]),  # exactly the max: consolidated
        (Consolidation.ENABLED, ("600", "600", "600"), [3]),
        (Consolidation.ENABLED, ("600",), [1]),
        (Consolidation.DISABLED, ("10", "20", "30"), [1, 1, 1]),
    ],
)
def test_grouping(preference: Consolidation, balances: tuple[str, ...], groups: list[int]) -> None:
    grouped = group_invoices(_invoices(*balances), preference, Decimal(1000))
    assert [len(group) for group in grouped] == groups


@pytest.mark.parametrize(
    ("count", "level", "manual", "expected"),
    [
        (1, "FINAL", False, "SINGLE"),
        (1, "POLITE", True, "SINGLE"),
        (2, "POLITE", False, "CONSOLIDATED"),
        (2, "FIRM", False, "CONSOLIDATED"),
        (3, "URGENT", False, "URGENT_CONSOLIDATED"),
        (3, "FINAL", False, "FINAL_CONSOLIDATED"),
        (3, "FINAL", True, "MANUAL_CONSOLIDATED"),
    ],
)
def test_reminder_type(count: int, level: str, manual: bool, expected: str) -> None:
    assert reminder_type(count, EscalationLevel(level), manual) is ReminderType(expected)


def test_priority_formula() -> None:
    # 35·amount + 30·age + 15·relationship + 20·risk, each factor in 0..1.
    assert priority_score(Decimal(0), 0, Decimal(0), Decimal(0)) == 0
    assert priority_score(Decimal(10**9), 10_000, Decimal(10**9), Decimal(10)) == 100
    assert priority_score(Decimal(25_000), 45, Decimal(250_000), Decimal(5)) == 50
    assert priority_score(Decimal(0), 0, Decimal(0), None) == 10  # unknown risk counts as 5.0
    assert priority_score(Decimal(50_000), 0, Decimal(0), Decimal(0)) == 35


@pytest.mark.parametrize(
    ("average_days_late", "score"),
    [
        (None, "5.0"),
        (Decimal(-3), "1.0"),
        (Decimal(0), "1.0"),
        (Decimal("0.5"), "2.0"),
        (Decimal(5), "2.0"),
        (Decimal(15), "4.0"),
        (Decimal("15.1"), "6.0"),
        (Decimal(30), "6.0"),
        (Decimal(60), "8.0"),
        (Decimal(61), "9.0"),
    ],
)
def test_risk_bands(average_days_late: Decimal | None, score: str) -> None:
    assert risk_for(average_days_late) == Decimal(score)


def test_savings() -> None:
    assert savings_pct(1, 4) == Decimal("75.00")
    assert savings_pct(3, 3) == Decimal("0.00")
    assert savings_pct(0, 0) == Decimal(0)
