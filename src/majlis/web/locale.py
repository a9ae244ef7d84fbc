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
from functools import cache, lru_cache
from importlib import resources
from typing import Protocol
from zoneinfo import ZoneInfo

from babel import Locale
from babel.dates import format_date, format_datetime
from babel.numbers import (
    NumberPattern,
    get_currency_precision,
    get_currency_symbol,
    get_decimal_symbol,
    get_group_symbol,
)
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


@cache
def babel_locale(identifier: str) -> Locale:
    """The Babel locale, parsed once per process rather than once per request."""
    return Locale.parse(identifier)


@dataclass(frozen=True)
class NumberShape:
    """A CLDR number pattern resolved once for one locale (and currency).

    Babel's `format_currency`/`format_decimal` look the locale's symbols up
    again on every call, and `format_currency` also evaluates the currency's
    plural name (a plural rule) even when the pattern does not show it. A page
    formats the same few patterns hundreds of times, so the affixes (with the
    currency symbol filled in), grouping, precision and symbols are kept here
    and `format` renders exactly what Babel's `NumberPattern.apply` renders for
    these plain patterns (no scientific, significant-digit or per-mille form).
    """

    prefixes: tuple[str, str]  # (positive, negative)
    suffixes: tuple[str, str]
    min_integer: int
    grouping: tuple[int, int]  # (first group, later groups)
    min_fraction: int
    max_fraction: int
    group_symbol: str
    decimal_symbol: str

    def format(self, value: int | Decimal) -> str:
        if not isinstance(value, Decimal):
            value = Decimal(str(value))
        value = value.scaleb(0)  # rounds to the context's precision, as Babel does
        negative = int(value.is_signed())  # as Babel: -0 takes the negative affixes
        rounded = abs(value).normalize().quantize(Decimal(10) ** -self.max_fraction)
        whole, _, fraction = f"{rounded:f}".partition(".")
        return "".join(
            (
                self.prefixes[negative],
                self._grouped(whole),
                self._fraction(fraction or "0"),
                self.suffixes[negative],
            )
        )

    def _grouped(self, digits: str) -> str:
        digits = digits.rjust(self.min_integer, "0")
        size, groups = self.grouping[0], ""
        while len(digits) > size:
            groups = self.group_symbol + digits[-size:] + groups
            digits = digits[:-size]
            size = self.grouping[1]
        return digits + groups

    def _fraction(self, digits: str) -> str:
        digits = digits.ljust(self.min_fraction, "0")
        if self.max_fraction == 0 or (self.min_fraction == 0 and int(digits) == 0):
            return ""
        while len(digits) > self.min_fraction and digits.endswith("0"):
            digits = digits[:-1]
        return self.decimal_symbol + digits


def _affix(text: str, currency: str | None, locale: Locale) -> str:
    """An affix as Babel prints it: currency signs replaced, quoting removed."""
    if currency is not None:
        text = text.replace("¤¤", currency.upper())
        text = text.replace("¤", get_currency_symbol(currency, locale))
    return re.sub(r"'([^']*)'", lambda m: m.group(1) or "'", text)


def _shape(
    pattern: NumberPattern, locale: Locale, fraction: tuple[int, int], currency: str | None
) -> NumberShape:
    return NumberShape(
        prefixes=(
            _affix(pattern.prefix[0], currency, locale),
            _affix(pattern.prefix[1], currency, locale),
        ),
        suffixes=(
            _affix(pattern.suffix[0], currency, locale),
            _affix(pattern.suffix[1], currency, locale),
        ),
        min_integer=pattern.int_prec[0],
        grouping=pattern.grouping,
        min_fraction=fraction[0],
        max_fraction=fraction[1],
        group_symbol=get_group_symbol(locale, numbering_system="latn"),
        decimal_symbol=get_decimal_symbol(locale, numbering_system="latn"),
    )


@cache
def decimal_shape(identifier: str) -> NumberShape:
    """The locale's standard decimal pattern (what `format_decimal` uses)."""
    locale = babel_locale(identifier)
    pattern = locale.decimal_formats[None]
    return _shape(pattern, locale, pattern.frac_prec, None)


@lru_cache(maxsize=1024)  # bounded: currency codes come from stored records
def money_shape(identifier: str, currency: str) -> NumberShape:
    """The locale's standard currency pattern at the currency's precision (`format_currency`)."""
    locale = babel_locale(identifier)
    precision = get_currency_precision(currency)
    return _shape(locale.currency_formats["standard"], locale, (precision, precision), currency)


@lru_cache(maxsize=4096)
def calendar_date(language: Language, day: dt.date) -> str:
    """A date in the language's calendar habits; a page shows the same few days many times."""
    locale = babel_locale(language.babel_locale)
    if language.code == "ar":
        pattern = "d MMMM y"
    elif language.code == "th":
        pattern = _buddhist_pattern(locale.date_formats["medium"].pattern, day.year)
    else:
        pattern = str(locale.date_formats["medium"].pattern)
    text = format_date(day, pattern, locale=locale)
    hijri = hijri_date(day) if language.code == "ar" else None
    return f"{text} ({hijri})" if hijri else text


def hijri_date(day: dt.date) -> str | None:
    """The Umm al-Qura date in Arabic, or None outside the calendar's range (1924–2077)."""
    try:
        hijri = Gregorian(day.year, day.month, day.day).to_hijri()
    except (OverflowError, ValueError):
        return None
    return f"{hijri.day} {hijri.month_name('ar')} {hijri.year} {hijri.notation('ar')}"


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
        self.locale = babel_locale(language.babel_locale)
        self.zone = ZoneInfo(time_zone)

    def gettext(self, message: str, **values: object) -> str:
        """Translate `message`, then fill its `{name}` placeholders."""
        translated = catalog(self.language.code).get(message, message)
        return translated.format(**values) if values else translated

    def date(self, day: dt.date | None) -> str:
        """A calendar date; in Arabic with the Hijri date in brackets where it is defined."""
        if day is None:
            return ""
        if isinstance(day, dt.datetime):
            day = day.astimezone(self.zone).date()
        return calendar_date(self.language, day)

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
        return hijri_date(day)

    def money(self, amount: Decimal | None, currency: str) -> str:
        if amount is None:
            return ""
        return money_shape(self.language.babel_locale, currency).format(amount)

    def name_of(self, item: Bilingual) -> str:
        """The item's Arabic name for an Arabic reader when it has one, else its name."""
        return item.name_ar if self.language.code == "ar" and item.name_ar else item.name

    def number(self, value: int | Decimal | None) -> str:
        return "" if value is None else decimal_shape(self.language.babel_locale).format(value)
