"""Rendering speed-ups that must not change a byte: formatters, the template cache, board cards."""

from __future__ import annotations

import datetime as dt
import re
import uuid
from dataclasses import dataclass, field
from decimal import Decimal

import pytest
from babel.numbers import format_currency, format_decimal
from hypothesis import given
from hypothesis import strategies as st

from majlis.web.locale import LANGUAGES, Formatter
from majlis.web.rendering import templates

# What Babel's `format_currency`/`format_decimal`/`format_date` printed before the formatters
# were cached: the faster path must print exactly this, directional marks included.
EXPECTED = {
    "en": {
        "money": ["AED1,234,567.89", "-THB0.50", "$0.00", "¥1,500", "KWD12.346"],
        "number": ["1,234,567", "-1,234.568", "0"],
        "date": ["Mar 4, 2025", "Jan 1, 1900", "Jan 1, 2026 3:05\u202fAM"],
    },
    "ar": {
        "money": [
            "\u200f1,234,567.89\xa0د.إ.\u200f",
            "\u200f-0.50\xa0฿",
            "\u200f0.00\xa0US$",
            "\u200f1,500\xa0JP¥",
            "\u200f12.346\xa0د.ك.\u200f",
        ],
        "number": ["1,234,567", "-1,234.568", "0"],
        "date": [
            "4 مارس 2025 (4 رمضان 1446 هـ)",
            "1 يناير 1900",
            "1 يناير 2026 (12 رجب 1447 هـ) 3:05 ص",
        ],
    },
    "th": {
        "money": ["AED1,234,567.89", "-฿0.50", "US$0.00", "¥1,500", "KWD12.346"],
        "number": ["1,234,567", "-1,234.568", "0"],
        "date": ["4 มี.ค. 2568", "1 ม.ค. 2443", "1 ม.ค. 2569 03:05"],
    },
}
CURRENCIES = ("AED", "SAR", "KWD", "BHD", "THB", "USD", "EUR", "JPY", "XXX")


def formatter(code: str) -> Formatter:
    return Formatter(LANGUAGES[code], "Asia/Bangkok")


@pytest.mark.parametrize("code", sorted(EXPECTED))
def test_money_numbers_and_dates_print_exactly_as_before(code: str) -> None:
    fmt = formatter(code)
    money = [
        fmt.money(Decimal("1234567.891"), "AED"),
        fmt.money(Decimal("-0.5"), "THB"),
        fmt.money(Decimal("0"), "USD"),
        fmt.money(Decimal("1500"), "JPY"),
        fmt.money(Decimal("12.3456"), "KWD"),
    ]
    numbers = [fmt.number(1234567), fmt.number(Decimal("-1234.5678")), fmt.number(0)]
    dates = [
        fmt.date(dt.date(2025, 3, 4)),
        fmt.date(dt.date(1900, 1, 1)),  # before the Umm al-Qura range: no Hijri date
        fmt.datetime(dt.datetime(2025, 12, 31, 20, 5, tzinfo=dt.UTC)),
    ]
    assert {"money": money, "number": numbers, "date": dates} == EXPECTED[code]
    assert fmt.money(None, "AED") == fmt.number(None) == fmt.date(None) == ""


amounts = st.decimals(
    min_value=Decimal("-1e15"), max_value=Decimal("1e15"), allow_nan=False, places=4
) | st.integers(min_value=-(10**15), max_value=10**15)


@given(
    amount=amounts,
    currency=st.sampled_from(CURRENCIES),
    code=st.sampled_from(sorted(LANGUAGES)),
)
def test_cached_money_and_number_formats_match_babel(
    amount: Decimal | int, currency: str, code: str
) -> None:
    fmt = formatter(code)
    assert fmt.money(amount, currency) == format_currency(amount, currency, locale=fmt.locale)
    assert fmt.number(amount) == format_decimal(amount, locale=fmt.locale)


def test_negative_zero_keeps_babels_minus_sign() -> None:
    assert formatter("en").money(Decimal("-0.001"), "AED") == format_currency(
        Decimal("-0.001"), "AED", locale="en"
    )


def test_templates_are_not_re_checked_on_every_render() -> None:
    assert templates.auto_reload is False


# ----- journey board cards ---------------------------------------------------------------
@dataclass
class Stage:
    key: str
    name: str
    name_ar: str | None
    next_stages: list[str] = field(default_factory=list)


@dataclass
class Card:
    customer_id: uuid.UUID
    name: str
    deal_value: Decimal
    entered_at: dt.datetime
    assignee_name: str | None
    days_in_stage: int


STAGES = [
    Stage("lead", "Lead", "عميل محتمل", ["contacted"]),
    Stage("contacted", "Contacted", None, ["won"]),
    Stage("won", "Won", "فاز", []),
]
CARDS_TEMPLATE = (
    '{% from "journeys/_card.html" import board_card, form_fields, stage_options with context %}'
    "{% set options = stage_options(stage, stages) %}{% set fields = form_fields(back) %}"
    '{% for card in cards %}{{ board_card(card, stage.next_stages|join(" "), options, fields,'
    " draggable=true) }}{% endfor %}"
)


def render_cards(code: str, cards: list[Card], stage: Stage) -> str:
    fmt = formatter(code)
    return templates.from_string(CARDS_TEMPLATE).render(
        _=fmt.gettext,
        fmt=fmt,
        csrf="token",
        mine=False,
        can_move=True,
        currency="AED",
        stage=stage,
        stages=STAGES,
        cards=cards,
        back="/journeys",
        stage_name=fmt.name_of,
    )


def a_card(name: str) -> Card:
    return Card(
        uuid.uuid4(), name, Decimal("1250.5"), dt.datetime(2025, 1, 1, tzinfo=dt.UTC), None, 3
    )


def test_each_card_offers_every_other_stage_with_the_next_one_chosen() -> None:
    cards = [a_card("Sara"), a_card("<script>alert(1)</script>")]
    page = render_cards("ar", cards, STAGES[0])
    menus = re.findall(r"<select[^>]*>(.*?)</select>", page, re.S)
    assert len(menus) == 2 and menus[0] == menus[1]
    assert re.findall(r'<option value="(\w+)"', menus[0]) == ["contacted", "won"]
    assert '<option value="contacted" selected>Contacted</option>' in menus[0]
    assert '<option value="won">فاز</option>' in menus[0]
    assert "\u200f1,250.50\xa0د.إ.\u200f" in page
    assert "&lt;script&gt;" in page and "<script>" not in page
    assert page.count('draggable="true"') == 2
