"""Catalogs, calendars and number formats of the pages, and the sign-in throttle's rules."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from decimal import Decimal
from importlib import resources
from pathlib import Path

import pytest

from majlis.web.locale import LANGUAGES, Formatter, catalog_parts, negotiate_language
from majlis.web.security import SignInThrottle

WEB = Path(str(resources.files("majlis.web")))
TEMPLATE_MESSAGE = re.compile(r"""\b_\(\s*(["'])(.*?)\1""")
CODE_MESSAGE = re.compile(r"""\bN_\(\s*"(.*?)"\s*\)""")


def messages_in_use() -> set[str]:
    """Every message the templates translate (`_("...")`) or the code marks (`N_("...")`)."""
    found = {
        match[1]
        for template in (WEB / "templates").rglob("*.html")
        for match in TEMPLATE_MESSAGE.findall(template.read_text(encoding="utf-8"))
    }
    for module in WEB.rglob("*.py"):
        found |= set(CODE_MESSAGE.findall(module.read_text(encoding="utf-8")))
    return found


@pytest.mark.parametrize("code", ["ar", "th"])
def test_catalogs_translate_every_message_and_nothing_else(code: str) -> None:
    parts = catalog_parts(code)
    catalog = {message: text for part in parts for message, text in part.items()}
    assert sum(len(part) for part in parts) == len(catalog), "a message is in two catalog files"
    in_use = messages_in_use()
    assert len(in_use) > 100
    assert sorted(in_use - catalog.keys()) == []
    assert sorted(catalog.keys() - in_use) == []
    for message, translation in catalog.items():
        placeholders = set(re.findall(r"\{(\w+)\}", message))
        assert set(re.findall(r"\{(\w+)\}", translation)) == placeholders, message


def formatter(code: str, zone: str = "Asia/Dubai") -> Formatter:
    return Formatter(LANGUAGES[code], zone)


def test_thai_dates_use_buddhist_era_years() -> None:
    assert formatter("th").date(date(2026, 11, 22)) == "22 พ.ย. 2569"
    assert formatter("en").date(date(2026, 11, 22)) == "Nov 22, 2026"


def test_arabic_dates_show_the_hijri_date_beside_the_gregorian() -> None:
    shown = formatter("ar").date(date(2026, 11, 22))
    assert shown == "22 نوفمبر 2026 (12 جمادى الآخرة 1448 هـ)"
    # Outside the Umm al-Qura table only the Gregorian date is shown.
    assert formatter("ar").date(date(1900, 1, 1)) == "1 يناير 1900"


def test_times_are_shown_in_the_company_time_zone() -> None:
    moment = datetime(2026, 11, 22, 21, 30, tzinfo=UTC)
    assert formatter("en", "Asia/Dubai").datetime(moment) == "Nov 23, 2026 1:30\u202fAM"
    assert formatter("th", "Asia/Bangkok").datetime(moment) == "23 พ.ย. 2569 04:30"


def test_money_follows_the_locale() -> None:
    assert formatter("en").money(Decimal("1234.5"), "AED") == "AED1,234.50"
    assert formatter("th").money(Decimal("1234.5"), "THB") == "฿1,234.50"
    assert "1,234.50" in formatter("ar").money(Decimal("1234.5"), "AED")


def test_messages_fill_placeholders_after_translation() -> None:
    assert formatter("ar").gettext("by {person}", person="Omar") == "بواسطة Omar"
    assert formatter("en").gettext("Never translated") == "Never translated"


@pytest.mark.parametrize(
    ("header", "code"),
    [("ar-AE,ar;q=0.9", "ar"), ("th", "th"), ("fr-FR,en;q=0.5", "en"), (None, "en"), ("", "en")],
)
def test_language_negotiation(header: str | None, code: str) -> None:
    assert negotiate_language(header) == code


def test_throttle_counts_per_email_and_per_address() -> None:
    throttle = SignInThrottle(max_per_email=3, max_per_address=5)
    for _ in range(3):
        throttle.record_failure("A@x.example", "10.0.0.1")
    assert throttle.retry_after("a@x.example ", "10.0.0.9") > 0  # email case and spaces ignored
    assert throttle.retry_after("b@x.example", "10.0.0.1") == 0
    for _ in range(2):
        throttle.record_failure("c@x.example", "10.0.0.1")
    assert throttle.retry_after("d@x.example", "10.0.0.1") > 0  # the address is now blocked too
    throttle.record_success("A@x.example")
    assert throttle.retry_after("a@x.example", "10.0.0.2") == 0


def test_throttle_forgets_after_its_window_and_stays_bounded() -> None:
    expired = SignInThrottle(max_per_email=1, window_s=0)
    expired.record_failure("a@x.example", "10.0.0.1")
    assert expired.retry_after("a@x.example", "10.0.0.1") == 0
    small = SignInThrottle(capacity=4)
    for number in range(10):
        small.record_failure(f"{number}@x.example", f"10.0.0.{number}")
    assert len(small._failures) == 4
