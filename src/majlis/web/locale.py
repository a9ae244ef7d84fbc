"""Languages of the pages: message catalogs, text direction, and locale-aware formatting.

Catalogs are flat JSON files (`catalogs/<lang>.json`) mapping the English
message to its translation; English needs no catalog, and a missing
translation falls back to English (a test keeps the catalogs complete).
Dates follow the reader's calendar habits: Thai years are Buddhist-era, and
Arabic pages show the Umm al-Qura (Hijri) date beside the Gregorian one.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from dataclasses import dataclass
from decimal import Decimal
from functools import cache
from importlib import resources
from typing import Protocol
from zoneinfo import ZoneInfo

from babel import Locale
from babel.dates import format_date, format_datetime
from babel.numbers import format_currency, format_decimal
from hijridate import Gregorian

BUDDHIST_ERA_OFFSET = 543


@dataclass(frozen=True)
class Language:
    code: str
    native_name: str
    direction: str
    babel_locale: str


LANGUAGES = {
    "en": Language("en", "English", "ltr", "en"),
    "ar": Language("ar", "العربية", "rtl", "ar_AE"),
    "th": Language("th", "ไทย", "ltr", "th_TH"),
}
DEFAULT_LANGUAGE = "en"


def N_(message: str) -> str:
    """Mark a message for the catalogs where it is defined; it is translated when rendered."""
    return message


def negotiate_language(accept_language: str | None) -> str:
    """The first of our languages named in an Accept-Language header, else English."""
    for part in (accept_language or "").split(","):
        code = part.split(";")[0].strip().lower()[:2]
        if code in LANGUAGES:
            return code
    return DEFAULT_LANGUAGE


def catalog_parts(code: str) -> list[dict[str, str]]:
    """One language's catalog files: `catalogs/<code>.json`, then `catalogs/<area>/<code>.json`.

    Each area of the app (merges, imports, journeys…) keeps its own file, so
    people working on different pages never edit the same catalog.
    """
    root = resources.files("majlis.web").joinpath("catalogs")
    sources = [root.joinpath(f"{code}.json")]
    sources += sorted(
        (area.joinpath(f"{code}.json") for area in root.iterdir() if area.is_dir()), key=str
    )
    return [json.loads(s.read_text(encoding="utf-8")) for s in sources if s.is_file()]


@cache
def catalog(code: str) -> dict[str, str]:
    """The translations of one language (empty for English, whose messages are the keys)."""
    if code == DEFAULT_LANGUAGE:
        return {}
    merged: dict[str, str] = {}
    for part in catalog_parts(code):
        merged |= part
    return merged


def _buddhist_pattern(pattern: str, year: int) -> str:
    """A CLDR date pattern with its year field replaced by a quoted Buddhist-era year."""
    return re.sub(r"y+", f"'{year + BUDDHIST_ERA_OFFSET}'", pattern)


class Bilingual(Protocol):
    """Anything named in English with an optional Arabic name: stages, tiers, customers."""

    @property
    def name(self) -> str: ...

    @property
    def name_ar(self) -> str | None: ...


class Formatter:
    """Formats dates, times, money and numbers for one language and one time zone."""

    def __init__(self, language: Language, time_zone: str) -> None:
        self.language = language
        self.locale = Locale.parse(language.babel_locale)
        self.zone = ZoneInfo(time_zone)

    def gettext(self, message: str, **values: object) -> str:
        """Translate `message`, then fill its `{name}` placeholders."""
        translated = catalog(self.language.code).get(message, message)
        return translated.format(**values) if values else translated

    def _date_pattern(self, day: dt.date) -> str:
        if self.language.code == "ar":
            return "d MMMM y"
        pattern = self.locale.date_formats["medium"].pattern
        if self.language.code == "th":
            return _buddhist_pattern(pattern, day.year)
        return str(pattern)

    def date(self, day: dt.date | None) -> str:
        """A calendar date; in Arabic with the Hijri date in brackets where it is defined."""
        if day is None:
            return ""
        if isinstance(day, dt.datetime):
            day = day.astimezone(self.zone).date()
        text = format_date(day, self._date_pattern(day), locale=self.locale)
        hijri = self.hijri(day) if self.language.code == "ar" else None
        return f"{text} ({hijri})" if hijri else text

    def datetime(self, moment: dt.datetime | None) -> str:
        """A moment in the company's time zone: date (as `date`) and short time."""
        if moment is None:
            return ""
        local = moment.astimezone(self.zone)
        time_text = format_datetime(
            local, self.locale.time_formats["short"].pattern, locale=self.locale
        )
        return f"{self.date(local.date())} {time_text}"

    def hijri(self, day: dt.date) -> str | None:
        """The Umm al-Qura date in Arabic, or None outside the calendar's range (1924–2077)."""
        try:
            hijri = Gregorian(day.year, day.month, day.day).to_hijri()
        except (OverflowError, ValueError):
            return None
        return f"{hijri.day} {hijri.month_name('ar')} {hijri.year} {hijri.notation('ar')}"

    def money(self, amount: Decimal | None, currency: str) -> str:
        if amount is None:
            return ""
        return str(format_currency(amount, currency, locale=self.locale))

    def name_of(self, item: Bilingual) -> str:
        """The item's Arabic name for an Arabic reader when it has one, else its name."""
        return item.name_ar if self.language.code == "ar" and item.name_ar else item.name

    def number(self, value: int | Decimal | None) -> str:
        return "" if value is None else str(format_decimal(value, locale=self.locale))
