"""Record preparation and per-feature comparison levels for duplicate matching.

A raw customer record (a plain dict) is turned once into a `PreparedRecord`
holding every normalised value the comparisons need. Each `Comparison` maps a
pair of prepared records to a *comparison level* (0 is always "null": one side
is missing the value, which is neither evidence for nor against a match) and,
for term-frequency-adjusted features, the value the pair agreed on.

There are two paths with identical results (a test checks it):

* `compare_records(a, b)` — one pair, used for explanations and on-save checks;
* `Comparison.compare_batch(batch, left, right)` — many pairs at once, with
  numpy for exact-match features and a cache over *distinct value pairs* for
  the fuzzy ones (names repeat a lot, so most fuzzy work is shared).
"""

from __future__ import annotations

import gc
import re
from abc import ABC, abstractmethod
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime
from functools import cached_property, lru_cache
from itertools import chain
from typing import Any, TypeVar

import numpy as np
import phonenumbers
from rapidfuzz import fuzz, process
from rapidfuzz.distance import JaroWinkler, Levenshtein

from majlis.core.i18n import ascii_digits, digits_only
from majlis.dedupe.transliteration import (
    ABD_MARK,
    alternative_keys,
    name_tokens,
    nickname_root,
    normalize,
    normalize_unique,
    phonetic_code,
    script_of,
    transliteration_key,
)

_Form = TypeVar("_Form", "PersonName", "BusinessName")

# ---------------------------------------------------------------------------
# Identifiers: email, phone, TRN, external reference
# ---------------------------------------------------------------------------

_GMAIL_DOMAINS = frozenset({"gmail.com", "googlemail.com"})
_E164 = re.compile(r"^\+[1-9]\d{6,14}$")
_PHONE_PUNCTUATION = re.compile(r"[\s\-().]")
# Region → (country code, national significant number lengths).
_NATIONAL_FORMATS = {"AE": ("971", frozenset({8, 9})), "TH": ("66", frozenset({8, 9}))}


def normalize_email(email: str | None) -> str:
    """Comparable form of an email address, or "" if it is not one.

    Case-folded and trimmed; a ``+tag`` suffix is dropped for every domain
    (all large providers deliver plus-addressed mail to the base mailbox); for
    Gmail only, dots in the local part are dropped and googlemail.com becomes
    gmail.com, because Gmail ignores them. Other providers treat dots as
    significant, so we keep them.
    """
    if not email:
        return ""
    text = normalize_unique(email).replace(" ", "").removeprefix("mailto:")
    local, at, domain = text.rpartition("@")
    if not at or not local or "." not in domain:
        return ""
    local = local.split("+", 1)[0]
    if domain in _GMAIL_DOMAINS:
        local, domain = local.replace(".", ""), "gmail.com"
    return f"{local}@{domain}" if local else ""


def normalize_phone(phone: str | None, default_region: str = "AE") -> str:
    """A phone number in E.164 ("+971501234567"), or "" if it cannot be read.

    Already-E.164 input (the stored form) takes a fast path; local formats
    ("050 123 4567", "٠٥٠١٢٣٤٥٦٧", "00971…") are parsed with libphonenumber
    using the record's country as the default region.
    """
    if not phone:
        return ""
    # str.translate with a mapping is slow; stored numbers are ASCII already.
    text = phone if phone.isascii() else ascii_digits(phone)
    compact = _PHONE_PUNCTUATION.sub("", text)
    if _E164.match(compact):
        return compact
    if compact.startswith("00"):
        compact = "+" + compact[2:]
        return compact if _E164.match(compact) else ""
    national = _NATIONAL_FORMATS.get(default_region)
    if national and compact.isdigit() and compact.startswith("0"):
        # Trunk prefix 0 + subscriber number: what libphonenumber would
        # produce for these lengths, without its (slow) parser.
        country_code, lengths = national
        if len(compact) - 1 in lengths:
            return f"+{country_code}{compact[1:]}"
    try:
        parsed = phonenumbers.parse(compact, default_region)
    except phonenumbers.NumberParseException:
        return ""
    if not phonenumbers.is_possible_number(parsed):
        return ""
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def normalize_trn(trn: str | None) -> str:
    """A UAE Tax Registration Number as its 15 ASCII digits, else ""."""
    if not trn:
        return ""
    digits = "".join(ch for ch in trn if ch.isdigit()) if trn.isascii() else digits_only(trn)
    return digits if len(digits) == 15 else ""


def normalize_identifier(value: str | None) -> str:
    """External references compare without case, spaces or punctuation."""
    return _NON_WORD.sub("", normalize_unique(value)) if value else ""


_NON_WORD = re.compile(r"[\W_]+")


# ---------------------------------------------------------------------------
# Business names
# ---------------------------------------------------------------------------

# Tokens (after dots are deleted, so L.L.C. → llc and ذ.م.م → ذمم) that denote
# the legal form, not the business.
# Every word list below goes through `normalize` like the text it is matched
# against (NFKD splits Thai SARA AM "ำ" into "ํา", for instance).
LEGAL_FORM_TOKENS = frozenset(
    normalize(token)
    for token in {
        "llc",
        "fze",
        "fzco",
        "fzc",
        "fz",
        "fzllc",
        "fzs",
        "dmcc",
        "ltd",
        "limited",
        "inc",
        "incorporated",
        "corp",
        "corporation",
        "plc",
        "pjsc",
        "psc",
        "pvt",
        "private",
        "est",
        "establishment",
        "co",
        "company",
        "spc",
        "spllc",
        "sole",
        "proprietorship",
        "llp",
        "gmbh",
        "ذمم",
        "شذمم",
        "ممح",
        "شمح",
        "شمع",
        "شمخ",
        "موسسه",
        "شركه",
        "pcl",
        "บริษัท",
        "จำกัด",
        "มหาชน",
        "หจก",
        "บจก",
        "บมจ",
        "หสน",
    }
)
# Thai legal prefixes are often glued to the name ("หจก.คำลือ…").
_THAI_LEGAL_PREFIX = re.compile(
    normalize(r"^(?:บริษัท|ห้างหุ้นส่วนจำกัด|ห้างหุ้นส่วนสามัญ|ห้างหุ้นส่วน|หจก\.?|บจก\.?|บมจ\.?|หสน\.?)\s*")
)
_THAI_LEGAL_SUFFIX = re.compile(normalize(r"\s*(?:จำกัด)?\s*\(?\s*(?:มหาชน)?\s*\)?\s*$"))
_BUSINESS_PUNCTUATION = re.compile(r"[,;:/\\&()\[\]{}'\"`|+*!?@#%$-]+")

# Generic activity words, canonicalised so "Trading" and "للتجارة" agree. They
# are kept for the exact/transliteration levels but do not identify a business.
_DESCRIPTOR_GROUPS: dict[str, tuple[str, ...]] = {
    "trading": ("trading", "trade", "traders", "تجاره", "تجاريه"),
    "general": ("general", "gen", "عامه"),
    "contracting": ("contracting", "contractors", "contracts", "مقاولات"),
    "services": ("services", "service", "svcs", "خدمات"),
    "restaurant": ("restaurant", "restaurants", "مطعم", "مطاعم"),
    "cafe": ("cafe", "cafeteria", "coffee", "مقهي", "كافيه", "كافتيريا"),
    "technical": ("technical", "technologies", "technology", "tech", "فنيه", "تقنيه"),
    "electronics": ("electronics", "electronic", "الكترونيات"),
    "property": ("properties", "property", "realty", "عقارات", "عقاريه"),
    "group": ("group", "holding", "holdings", "مجموعه", "قابضه"),
    "industries": ("industries", "industrial", "industry", "صناعات", "صناعيه"),
    "transport": ("transport", "transportation", "logistics", "نقل", "لوجستيه"),
    "travel": ("travel", "travels", "tourism", "tours", "سياحه", "سفر", "رحلات"),
    "consulting": ("consulting", "consultancy", "consultants", "استشارات"),
    "maintenance": ("maintenance", "صيانه"),
    "cleaning": ("cleaning", "تنظيف"),
    "supermarket": ("supermarket", "hypermarket", "سوبرماركت", "هايبرماركت"),
    "grocery": ("grocery", "groceries", "بقاله"),
    "jewellery": ("jewellery", "jewelry", "jewellers", "jewelers", "مجوهرات"),
    "pharmacy": ("pharmacy", "pharmacies", "صيدليه"),
    "medical": ("medical", "clinic", "clinics", "طبيه", "طبي", "عياده"),
    "salon": ("salon", "beauty", "صالون", "تجميل"),
    "auto": ("auto", "automobiles", "cars", "motors", "سيارات"),
    "foodstuff": ("foodstuff", "foodstuffs", "foods", "food", "غذائيه"),
    "textiles": ("textiles", "textile", "fabrics", "اقمشه", "منسوجات"),
    "furniture": ("furniture", "اثاث", "مفروشات"),
    "printing": ("printing", "press", "طباعه"),
    "and": ("and", "و", "n"),
}
_DESCRIPTORS = {
    normalize(variant): canon for canon, group in _DESCRIPTOR_GROUPS.items() for variant in group
}


def _descriptor(token: str) -> str | None:
    """Canonical activity word for a token, seeing through Arabic ل/ال/و prefixes."""
    if token in _DESCRIPTORS:
        return _DESCRIPTORS[token]
    for prefix in ("وال", "لل", "ال", "و", "ل"):
        if token.startswith(prefix) and token[len(prefix) :] in _DESCRIPTORS:
            return _DESCRIPTORS[token[len(prefix) :]]
    return None


@lru_cache(maxsize=100_000)
def strip_legal_suffixes(name: str | None) -> str:
    """Normalised business name without its legal form, in any of our scripts.

    "Al Futtaim Trading L.L.C." → "al futtaim trading";
    "الفطيم للتجارة ذ.م.م" → "الفطيم للتجاره"; "บริษัท สยามค้าส่ง จำกัด" → "สยามค้าส่ง".
    """
    text = normalize_unique(name)
    if not text:
        return ""
    text = _THAI_LEGAL_PREFIX.sub("", text)
    text = _THAI_LEGAL_SUFFIX.sub("", text)
    text = _BUSINESS_PUNCTUATION.sub(" ", text.replace(".", ""))
    kept = [
        token
        for token in text.split()
        if token not in LEGAL_FORM_TOKENS and not _is_arabic_initial(token)
    ]
    return " ".join(kept)


def _is_arabic_initial(token: str) -> bool:
    """Single Arabic letters are the spaced-out "ذ م م" / "ش م ع" legal forms."""
    return len(token) == 1 and script_of(token) == "arabic"


@dataclass(frozen=True, slots=True)
class BusinessName:
    """One spelling of a business name (Latin, Arabic or Thai)."""

    text: str  # normalised, legal form removed
    keys: tuple[str, ...]  # sorted transliteration keys; descriptors canonical
    distinctive: frozenset[str]  # keys of the non-descriptor tokens

    @property
    def key_text(self) -> str:
        """The sorted keys as one string (blocking and TF value)."""
        return " ".join(self.keys)


@lru_cache(maxsize=100_000)
def prepare_business_name(name: str | None) -> BusinessName | None:
    """Strip the legal form and compute script-neutral keys of a business name."""
    text = strip_legal_suffixes(name)
    if not text:
        return None
    keys: list[str] = []
    distinctive: set[str] = set()
    for token in name_tokens(text):
        descriptor = _descriptor(token)
        if descriptor == "and":
            continue
        if descriptor:
            keys.append(descriptor)
            continue
        key = transliteration_key(token)
        if key:
            keys.append(key)
            distinctive.add(key)
    if not keys:
        return None
    return BusinessName(text=text, keys=tuple(sorted(keys)), distinctive=frozenset(distinctive))


# ---------------------------------------------------------------------------
# Places and dates
# ---------------------------------------------------------------------------

_CITY_ALIASES: dict[str, tuple[str, ...]] = {
    "dubai": ("dubai", "dxb", "دبي"),
    "abu dhabi": ("abu dhabi", "abudhabi", "auh", "ابوظبي", "ابو ظبي"),
    "sharjah": ("sharjah", "sharja", "shj", "الشارقه", "شارقه"),
    "ajman": ("ajman", "عجمان"),
    "ras al khaimah": ("ras al khaimah", "ras al-khaimah", "rak", "راس الخيمه"),
    "fujairah": ("fujairah", "fujeirah", "الفجيره"),
    "umm al quwain": ("umm al quwain", "umm al-quwain", "uaq", "ام القيوين"),
    "al ain": ("al ain", "alain", "العين"),
    "bangkok": ("bangkok", "bkk", "krung thep", "กรุงเทพ", "กรุงเทพมหานคร", "กทม"),
    "chiang mai": ("chiang mai", "chiangmai", "เชียงใหม่"),
    "phuket": ("phuket", "ภูเก็ต"),
    "pattaya": ("pattaya", "พัทยา"),
    "nonthaburi": ("nonthaburi", "นนทบุรี"),
    "khon kaen": ("khon kaen", "ขอนแก่น"),
}
_CITIES = {normalize(alias): canon for canon, aliases in _CITY_ALIASES.items() for alias in aliases}


@lru_cache(maxsize=10_000)
def canonical_city(city: str | None) -> str:
    """Canonical English city name, so "دبي", "DXB" and "Dubai" agree."""
    text = normalize(city).replace(".", "").replace("-", " ")
    return _CITIES.get(text, text)


_ADDRESS_ABBREVIATIONS = {
    "st": "street",
    "str": "street",
    "rd": "road",
    "ave": "avenue",
    "av": "avenue",
    "bldg": "building",
    "blg": "building",
    "bld": "building",
    "apt": "apartment",
    "flat": "apartment",
    "fl": "floor",
    "flr": "floor",
    "no": "number",
    "nr": "near",
    "opp": "opposite",
    "twr": "tower",
    "شارع": "street",
    "طريق": "road",
    "بنايه": "building",
    "مبني": "building",
    "شقه": "apartment",
    "طابق": "floor",
    "ถนน": "road",
    "ถ": "road",
    "ซอย": "soi",
    "ซ": "soi",
}
_ADDRESS_PUNCTUATION = re.compile(r"[^\w\s\u0e31\u0e34-\u0e3a\u0e47-\u0e4e]+")


@lru_cache(maxsize=100_000)
def normalize_address(address: str | None) -> str:
    """Address line with punctuation removed and common abbreviations expanded."""
    text = _ADDRESS_PUNCTUATION.sub(" ", normalize_unique(address))
    return " ".join(_ADDRESS_ABBREVIATIONS.get(token, token) for token in text.split())


def parse_date(value: str | date | None) -> date | None:
    """A date of birth from an ISO string, a date or a datetime; None if unreadable."""
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(ascii_digits(str(value)).strip()[:10])
    except ValueError:
        return None


# ---------------------------------------------------------------------------
# Personal names
# ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PersonName:
    """One spelling of a personal name: tokens plus their keys and codes."""

    script: str
    tokens: tuple[str, ...]
    keys: tuple[str, ...]
    phonetics: tuple[str, ...]
    alternatives: tuple[frozenset[str], ...]  # every plausible key per token

    @property
    def has_surname(self) -> bool:
        """A single-token name has a first name only."""
        return len(self.tokens) >= 2


@lru_cache(maxsize=200_000)
def prepare_person_name(name: str | None) -> PersonName | None:
    """Tokens, transliteration keys and phonetic codes of a personal name."""
    tokens = tuple(token for token in name_tokens(name) if transliteration_key(token))
    if not tokens:
        return None
    return PersonName(
        script=script_of(" ".join(tokens)),
        tokens=tokens,
        keys=tuple(transliteration_key(token) for token in tokens),
        phonetics=tuple(phonetic_code(token) for token in tokens),
        alternatives=tuple(alternative_keys(token) for token in tokens),
    )


# Token agreement categories, strongest first. The first-name and surname
# features map them to their own level lists.
EXACT, TRANSLIT, NICKNAME, PHONETIC, INITIAL, JW_HIGH, JW_MEDIUM, DIFFERENT = range(8)
JW_HIGH_THRESHOLD = 0.92
JW_MEDIUM_THRESHOLD = 0.80


@lru_cache(maxsize=1_000_000)
def token_agreement(token_a: str, token_b: str) -> int:
    """How well two name tokens agree (a category, EXACT … DIFFERENT).

    Symmetric, and cached: the same pairs of given names recur constantly.
    """
    if token_a == token_b:
        return EXACT
    key_a, key_b = transliteration_key(token_a), transliteration_key(token_b)
    if key_a == key_b or key_a in alternative_keys(token_b) or key_b in alternative_keys(token_a):
        return TRANSLIT
    same_script = script_of(token_a) == script_of(token_b)
    if same_script and nickname_root(token_a) == nickname_root(token_b):
        return NICKNAME
    phonetic_a = phonetic_code(token_a)
    if phonetic_a and phonetic_a == phonetic_code(token_b):
        return PHONETIC
    if (len(token_a) == 1 or len(token_b) == 1) and key_a[:1] == key_b[:1]:
        return INITIAL
    return fuzzy_token_agreement(token_a, token_b)


def fuzzy_token_agreement(token_a: str, token_b: str) -> int:
    """The last steps of `token_agreement`: typo levels, once the tokens are
    known not to be equal, transliterations, nicknames, phonetic or initials."""
    key_a, key_b = transliteration_key(token_a), transliteration_key(token_b)
    same_script = script_of(token_a) == script_of(token_b)
    abd_a, abd_b = token_a.startswith(ABD_MARK), token_b.startswith(ABD_MARK)
    if abd_a != abd_b:
        return DIFFERENT  # "Abd …" names are never typos of other names
    if abd_a:  # compare what follows "Abd": Abdul Rahman vs Abdul Rahim
        token_a, token_b = token_a[len(ABD_MARK) :], token_b[len(ABD_MARK) :]
        key_a, key_b = key_a[3:], key_b[3:]
    if not same_script:
        return _cross_script_typo(key_a, key_b)
    similarity = JaroWinkler.normalized_similarity(token_a, token_b)
    if similarity >= JW_HIGH_THRESHOLD:
        return JW_HIGH
    # One letter off a four-letter name is usually another name (Amal/Amna,
    # احمد/محمد), so the weaker level needs longer tokens.
    if similarity >= JW_MEDIUM_THRESHOLD and min(len(token_a), len(token_b)) >= 5:
        return JW_MEDIUM
    return DIFFERENT


def _cross_script_typo(key_a: str, key_b: str) -> int:
    """Across scripts only the consonant keys can be compared, and they are
    short: Jaro–Winkler would call "abrhm" (Ibrahim) and "abdrhmn" (Abdul
    Rahman) similar. One edit between keys of ≥ 4 letters counts as a typo."""
    if min(len(key_a), len(key_b)) >= 4 and Levenshtein.distance(key_a, key_b, score_cutoff=1) <= 1:
        return JW_HIGH
    return DIFFERENT


@dataclass(frozen=True, slots=True)
class NameAgreement:
    """Best alignment of two personal names: first-name and surname categories."""

    first: int | None
    first_key: str | None  # key of a's token, when the agreement is exact/transliteration
    surname: int | None
    surname_key: str | None


# Cost of a missing surname when ranking alignments (between JW_MEDIUM and DIFFERENT).
_MISSING_SURNAME_COST = 3


def compare_person_names(
    names_a: Sequence[PersonName], names_b: Sequence[PersonName]
) -> NameAgreement:
    """Align every spelling of a against every spelling of b, direct and swapped.

    Token order is free: "Al Mansouri Mohammed" is aligned with
    "Mohammed Al Mansouri" by trying the swapped orientation. The best
    alignment (smallest sum of categories; the first one on ties, in the order
    a-spellings × b-spellings × (direct, swapped)) wins. Keys reported for TF
    adjustment are those of a's tokens.
    """
    best: tuple[int, NameAgreement] | None = None
    for a in names_a:
        for b in names_b:
            for candidate in _alignments(a, b):
                cost = _alignment_cost(candidate.first) + _alignment_cost(candidate.surname)
                if best is None or cost < best[0]:
                    best = (cost, candidate)
    return best[1] if best is not None else NameAgreement(None, None, None, None)


def _alignment_cost(category: int | None) -> int:
    return _MISSING_SURNAME_COST if category is None else category


def _alignments(a: PersonName, b: PersonName) -> Iterable[NameAgreement]:
    first_a, last_a = a.tokens[0], a.tokens[-1]
    first_b, last_b = b.tokens[0], b.tokens[-1]
    first = token_agreement(first_a, first_b)
    both_have_surnames = a.has_surname and b.has_surname
    surname = token_agreement(last_a, last_b) if both_have_surnames else None
    yield NameAgreement(
        first,
        a.keys[0] if first <= TRANSLIT else None,
        surname,
        a.keys[-1] if surname is not None and surname <= TRANSLIT else None,
    )
    if both_have_surnames:
        swapped_first = token_agreement(first_a, last_b)
        swapped_surname = token_agreement(last_a, first_b)
        yield NameAgreement(
            swapped_first,
            a.keys[0] if swapped_first <= TRANSLIT else None,
            swapped_surname,
            a.keys[-1] if swapped_surname <= TRANSLIT else None,
        )


# ---------------------------------------------------------------------------
# Prepared records
# ---------------------------------------------------------------------------


@dataclass(slots=True)
class PreparedRecord:
    """Every normalised value the comparisons and blocking rules need.

    Treat as immutable. (Not a frozen dataclass only because frozen
    construction costs ~4 µs per record, ~4 s per million-record scan.)
    """

    id: Any
    kind: str
    person_names: tuple[PersonName, ...]
    business_names: tuple[BusinessName, ...]
    emails: tuple[str, ...]  # every distinct address, the primary one first
    phones: tuple[str, ...]  # every distinct number, the primary one first
    primary_email: str  # "" when only secondary addresses were given
    primary_phone: str  # "" when only secondary numbers were given
    trn: str
    external_ref: str
    address: str
    city: str
    postal_code: str
    dob: date | None
    business_type: str
    # Keys (incl. alternative readings) of the first / last token of every
    # spelling; stored because several blocking rules read them.
    first_name_keys: frozenset[str]
    surname_keys: frozenset[str]

    @property
    def name_token_keys(self) -> frozenset[str]:
        """Primary keys of first and last tokens, for the name TF table."""
        return frozenset(key for name in self.person_names for key in {name.keys[0], name.keys[-1]})

    @property
    def business_keys(self) -> frozenset[str]:
        """Key text of every spelling of the trading name, for the TF table."""
        return frozenset(name.key_text for name in self.business_names)


def _with_secondary(
    primary: str, secondary: Any, normaliser: Callable[[str], str]
) -> tuple[str, ...]:
    """Distinct normalised values, the (already normalised) primary first."""
    if not secondary:
        return (primary,) if primary else ()
    raw = [secondary] if isinstance(secondary, str) else secondary
    values = [primary] if primary else []
    values.extend(normaliser(value) for value in raw if value)
    return tuple(dict.fromkeys(value for value in values if value))


_THAI_COUNTRY = frozenset({"TH", "THAILAND", "ประเทศไทย"})


def _default_region(country: str | None) -> str:
    return "TH" if country and normalize(country).upper() in _THAI_COUNTRY else "AE"


def prepare_record(record: Mapping[str, Any]) -> PreparedRecord:
    """Normalise a raw customer dict once, for blocking and comparison.

    Organisations without a business name are matched on their ``name``; for
    everyone else ``name``/``name_ar`` are personal names and
    ``business_name``/``business_name_ar`` the trading name.
    """
    get = record.get
    kind = normalize(get("kind"))
    person_fields: tuple[Any, ...] = (get("name"), get("name_ar"))
    business_fields: tuple[Any, ...] = (get("business_name"), get("business_name_ar"))
    if kind == "organization" and not any(business_fields):
        business_fields, person_fields = person_fields, ()
    region = _default_region(get("country"))
    primary_email = normalize_email(get("email"))
    primary_phone = normalize_phone(get("phone"), region)
    person_names = _unique_forms([prepare_person_name(v) for v in person_fields if v])
    return PreparedRecord(
        id=get("id"),
        kind=kind,
        person_names=person_names,
        business_names=_unique_forms([prepare_business_name(v) for v in business_fields if v]),
        emails=_with_secondary(primary_email, get("secondary_emails"), normalize_email),
        phones=_with_secondary(
            primary_phone, get("secondary_phones"), lambda phone: normalize_phone(phone, region)
        ),
        primary_email=primary_email,
        primary_phone=primary_phone,
        trn=normalize_trn(get("trn")),
        external_ref=normalize_identifier(get("external_ref")),
        address=normalize_address(get("address_line1")),
        city=canonical_city(get("city") or get("emirate")),
        postal_code=normalize_identifier(get("postal_code")),
        dob=parse_date(get("date_of_birth")),
        business_type=normalize(get("business_type")),
        first_name_keys=frozenset().union(*(name.alternatives[0] for name in person_names)),
        surname_keys=frozenset().union(
            *(name.alternatives[-1] for name in person_names if name.has_surname)
        ),
    )


def _unique_forms(forms: list[_Form | None]) -> tuple[_Form, ...]:
    if len(forms) == 1:
        return (forms[0],) if forms[0] is not None else ()
    return tuple(dict.fromkeys(form for form in forms if form is not None))


# ---------------------------------------------------------------------------
# Comparisons
# ---------------------------------------------------------------------------

# (level, value the pair agreed on for term-frequency adjustment or None)
LevelResult = tuple[int, str | None]
NULL = 0


class Comparison(ABC):
    """One feature of the model: an ordered list of levels, 0 being null."""

    name: str = ""
    levels: tuple[str, ...] = ()
    # Levels whose weight is adjusted by how common the agreed value is.
    tf_levels: frozenset[int] = frozenset()
    # {other feature: its levels} under which this feature's `conditional_levels`
    # carry no evidence of their own and are set to null (`apply_conditional_nulls`).
    ignored_when: Mapping[str, frozenset[int]] = {}
    conditional_levels: frozenset[int] = frozenset()

    @abstractmethod
    def compare(self, a: PreparedRecord, b: PreparedRecord) -> LevelResult:
        """Level (and agreed value for TF levels) of one pair."""

    def compare_batch(
        self, batch: PreparedBatch, left: np.ndarray, right: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """Levels (int8) and agreed-value term frequencies (NaN if none) of many pairs.

        The default implementation caches `compare` over distinct value pairs.
        """
        return batch.memoised_compare(self, left, right)

    @abstractmethod
    def signature(self, record: PreparedRecord) -> Any:
        """The part of a record this comparison reads (hashable; None if missing)."""


class ExactComparison(Comparison):
    """null / exact / different on one normalised scalar attribute."""

    def __init__(self, name: str, attribute: str, *, tf: bool = False) -> None:
        self.name = name
        self.attribute = attribute
        self.levels = ("null", "exact", "different")
        self.tf_levels = frozenset({1}) if tf else frozenset()

    def signature(self, record: PreparedRecord) -> Any:
        return getattr(record, self.attribute) or None

    def compare(self, a: PreparedRecord, b: PreparedRecord) -> LevelResult:
        value_a, value_b = self.signature(a), self.signature(b)
        if value_a is None or value_b is None:
            return NULL, None
        if value_a == value_b:
            return 1, value_a
        return 2, None

    def compare_batch(
        self, batch: PreparedBatch, left: np.ndarray, right: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        codes = batch.scalar_codes(self)
        code_a, code_b = codes[left], codes[right]
        levels = np.where(code_a == code_b, 1, 2).astype(np.int8)
        levels[(code_a < 0) | (code_b < 0)] = NULL
        tf = np.full(len(left), np.nan)
        if self.tf_levels:
            exact = levels == 1
            tf[exact] = batch.code_frequencies(self)[code_a[exact]]
        return levels, tf


# Several values of one record (primary + secondary phones) that agree with the
# other record travel as one string; TF lookup then uses the rarest of them.
VALUE_SEPARATOR = "\x1f"
# Phone numbers / emails per record considered in batch scoring (primary first).
MAX_VALUES_PER_RECORD = 4

# Agreement categories of the phone and address parts of `ContactComparison`.
PHONE_NONE, PHONE_PRIMARY, PHONE_SHARED, PHONE_TYPO, PHONE_DIFFERENT = range(5)
ADDRESS_NONE, ADDRESS_EXACT, ADDRESS_SIMILAR, ADDRESS_DIFFERENT = range(4)
ADDRESS_SIMILARITY_THRESHOLD = 85
# Level of the joint comparison for (phone category, address category).
_CONTACT_LEVELS = np.array(
    [
        # address: none, exact, similar, different
        [0, 6, 7, 10],  # phone: none
        [2, 1, 2, 2],  # phone: primary numbers equal
        [4, 3, 4, 4],  # phone: a secondary number shared
        [5, 5, 5, 5],  # phone: one-digit typo
        [9, 6, 7, 8],  # phone: different
    ],
    dtype=np.int8,
)


def _shared_values(values_a: tuple[str, ...], values_b: tuple[str, ...]) -> str | None:
    shared = set(values_a).intersection(values_b)
    return VALUE_SEPARATOR.join(sorted(shared)) if shared else None


def phone_agreement(a: PreparedRecord, b: PreparedRecord) -> tuple[int, str | None]:
    """Phone category of a pair and the shared number(s).

    "Primary" needs both records' *primary* numbers to be equal: a landline
    that two relatives list as a secondary number is only "shared".
    """
    if not a.phones or not b.phones:
        return PHONE_NONE, None
    shared = _shared_values(a.phones[:MAX_VALUES_PER_RECORD], b.phones[:MAX_VALUES_PER_RECORD])
    if a.primary_phone and a.primary_phone == b.primary_phone:
        return PHONE_PRIMARY, shared
    if shared:
        return PHONE_SHARED, shared
    if a.primary_phone and b.primary_phone and one_digit_typo(a.primary_phone, b.primary_phone):
        return PHONE_TYPO, None
    return PHONE_DIFFERENT, None


def one_digit_typo(a: str, b: str) -> bool:
    """Same length and one digit replaced, or two adjacent digits swapped."""
    if len(a) != len(b):
        return False
    differing = [i for i, (x, y) in enumerate(zip(a, b, strict=True)) if x != y]
    if len(differing) == 1:
        return True
    if len(differing) == 2 and differing[1] == differing[0] + 1:
        i = differing[0]
        return a[i] == b[i + 1] and a[i + 1] == b[i]
    return False


def address_agreement(address_a: str, address_b: str) -> int:
    """Address category: exact, similar or different.

    Similar = the same house, flat and street numbers and a token-sorted ratio
    ≥ 85 (a misspelt word). Requiring equal numbers keeps "Villa 3" and
    "Villa 8" apart and lets batch scoring skip the fuzzy ratio for almost
    every pair.
    """
    if not address_a or not address_b:
        return ADDRESS_NONE
    if address_a == address_b:
        return ADDRESS_EXACT
    if (
        address_numbers(address_a) == address_numbers(address_b)
        and fuzz.token_sort_ratio(address_a, address_b) >= ADDRESS_SIMILARITY_THRESHOLD
    ):
        return ADDRESS_SIMILAR
    return ADDRESS_DIFFERENT


_NUMBERS = re.compile(r"\d+")


def address_numbers(address: str) -> str:
    """The numbers of an address line, in order ("villa 3 street 7" → "3 7")."""
    return " ".join(_NUMBERS.findall(address))


class ContactComparison(Comparison):
    """Phone numbers (E.164, incl. secondary) and address line, compared jointly.

    They are one feature, not two, because they are not independent among
    *different* customers: family members share an address and often a home
    landline, so "same address" and "shared landline" must not be counted as
    two separate pieces of evidence. Each combination has its own m and u.
    Levels with a shared number are TF-adjusted: a company switchboard used
    by 500 customers counts far less than a personal mobile.
    """

    name = "phone_and_address"
    levels = (
        "null",
        "phone_primary+address_exact",
        "phone_primary",
        "phone_shared+address_exact",
        "phone_shared",
        "phone_one_digit_typo",
        "address_exact",
        "address_similar",
        "phone_different+address_different",
        "phone_different",
        "address_different",
    )
    tf_levels = frozenset({1, 2, 3, 4})

    def signature(self, record: PreparedRecord) -> Any:
        if not record.phones and not record.address:
            return None
        return (record.phones, record.primary_phone, record.address)

    def compare(self, a: PreparedRecord, b: PreparedRecord) -> LevelResult:
        phone, shared = phone_agreement(a, b)
        address = address_agreement(a.address, b.address)
        level = int(_CONTACT_LEVELS[phone, address])
        return level, shared if level in self.tf_levels else None

    def compare_batch(
        self, batch: PreparedBatch, left: np.ndarray, right: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        phone, tf = batch.multi_value_agreement("phones", "primary_phone", left, right)
        typo = phone == PHONE_DIFFERENT
        typo[typo] = batch.phone_typos(left[typo], right[typo])
        phone[typo] = PHONE_TYPO
        address = batch.address_agreements(left, right)
        levels = _CONTACT_LEVELS[phone, address]
        tf[~np.isin(levels, list(self.tf_levels))] = np.nan
        return levels, tf


# Contact levels that say "same home": the same address line, or a shared
# *secondary* number (a family landline listed beside each member's own
# mobile). Relatives share these, and with a rare family name the surname
# would otherwise be counted twice. Equal *primary* numbers are not among
# them: that is as often a company switchboard (colleagues, other surnames)
# as a family line, and term-frequency adjustment already discounts
# switchboards.
SAME_HOME_LEVELS = frozenset({1, 3, 4, 6})
_SAME_HOME = {"phone_and_address": SAME_HOME_LEVELS}


class EmailComparison(Comparison):
    """Normalised emails incl. secondary ones."""

    name = "email"
    levels = ("null", "primary_exact", "any_shared", "different")
    tf_levels = frozenset({1, 2})

    def signature(self, record: PreparedRecord) -> Any:
        return (record.emails, record.primary_email) if record.emails else None

    def compare(self, a: PreparedRecord, b: PreparedRecord) -> LevelResult:
        # No "similar mailbox" level: mailboxes are derived from names, so
        # mohammed.khan@gmail.com and mohammed.khan@yahoo.com are namesakes as
        # often as they are one person, and one-letter-off addresses are
        # different accounts. Only shared addresses count.
        if not a.emails or not b.emails:
            return NULL, None
        shared = _shared_values(a.emails[:MAX_VALUES_PER_RECORD], b.emails[:MAX_VALUES_PER_RECORD])
        if a.primary_email and a.primary_email == b.primary_email:
            return 1, shared
        return (2, shared) if shared else (3, None)

    def compare_batch(
        self, batch: PreparedBatch, left: np.ndarray, right: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        agreement, tf = batch.multi_value_agreement("emails", "primary_email", left, right)
        levels = np.array([0, 1, 2, 3, 3], dtype=np.int8)[agreement]
        return levels, tf


class _NameComparison(Comparison):
    """First name and surname come from one alignment, computed once per pair."""

    def signature(self, record: PreparedRecord) -> Any:
        return record.person_names or None

    def agreement(self, a: PreparedRecord, b: PreparedRecord) -> NameAgreement | None:
        if not a.person_names or not b.person_names:
            return None
        return compare_person_names(a.person_names, b.person_names)

    @abstractmethod
    def from_agreement(self, agreement: NameAgreement) -> LevelResult:
        """The level of one pair from its name alignment."""

    def compare(self, a: PreparedRecord, b: PreparedRecord) -> LevelResult:
        agreement = self.agreement(a, b)
        return (NULL, None) if agreement is None else self.from_agreement(agreement)

    def compare_batch(
        self, batch: PreparedBatch, left: np.ndarray, right: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        alignment = batch.name_alignments(left, right)
        return self.levels_from_alignment(alignment)

    @abstractmethod
    def levels_from_alignment(self, alignment: NameAlignments) -> tuple[np.ndarray, np.ndarray]:
        """Levels and term frequencies of many pairs from their name alignments."""


class FirstNameComparison(_NameComparison):
    """Given name: transliteration, nicknames, phonetics, initials, Jaro–Winkler."""

    name = "first_name"
    levels = (
        "null",
        "exact",
        "transliteration",
        "nickname",
        "phonetic",
        "initial",
        "jaro_winkler>=0.92",
        "jaro_winkler>=0.80",
        "different",
    )
    tf_levels = frozenset({1, 2})

    def from_agreement(self, agreement: NameAgreement) -> LevelResult:
        if agreement.first is None:
            return NULL, None
        return agreement.first + 1, agreement.first_key

    def levels_from_alignment(self, alignment: NameAlignments) -> tuple[np.ndarray, np.ndarray]:
        levels = np.where(alignment.first >= 0, alignment.first + 1, NULL).astype(np.int8)
        tf = np.where(
            (alignment.first >= 0) & (alignment.first <= TRANSLIT), alignment.first_tf, np.nan
        )
        return levels, tf


_SURNAME_LEVEL = {
    EXACT: 1,
    TRANSLIT: 2,
    NICKNAME: 5,
    PHONETIC: 3,
    INITIAL: 5,
    JW_HIGH: 4,
    JW_MEDIUM: 5,
    DIFFERENT: 6,
}


_SURNAME_LEVELS = np.array([_SURNAME_LEVEL[category] for category in range(8)], dtype=np.int8)


class SurnameComparison(_NameComparison):
    """Family name (last token), TF-adjusted so "Khan" or "Mohammed" counts less."""

    name = "surname"
    # At a shared home, relatives agree on the family name as often as
    # duplicates do: agreement is then no evidence (disagreement still is).
    ignored_when = _SAME_HOME
    conditional_levels = frozenset({1, 2, 3, 4, 5})
    levels = (
        "null",
        "exact",
        "transliteration",
        "phonetic",
        "jaro_winkler>=0.92",
        "jaro_winkler>=0.80",
        "different",
    )
    tf_levels = frozenset({1, 2})

    def from_agreement(self, agreement: NameAgreement) -> LevelResult:
        if agreement.surname is None:
            return NULL, None
        return _SURNAME_LEVEL[agreement.surname], agreement.surname_key

    def levels_from_alignment(self, alignment: NameAlignments) -> tuple[np.ndarray, np.ndarray]:
        surname = alignment.surname
        levels = np.where(surname >= 0, _SURNAME_LEVELS[np.maximum(surname, 0)], NULL)
        agreed = (surname >= 0) & (surname <= TRANSLIT)
        return levels.astype(np.int8), np.where(agreed, alignment.surname_tf, np.nan)


class BusinessNameComparison(Comparison):
    """Trading name without legal form, in either script."""

    name = "business_name"
    levels = ("null", "exact", "transliteration", "distinctive_subset", "fuzzy", "different")
    tf_levels = frozenset({1, 2})

    def signature(self, record: PreparedRecord) -> Any:
        return record.business_names or None

    def compare(self, a: PreparedRecord, b: PreparedRecord) -> LevelResult:
        if not a.business_names or not b.business_names:
            return NULL, None
        return min(
            (_business_agreement(x, y) for x in a.business_names for y in b.business_names),
            key=lambda result: result[0],
        )


def _business_agreement(a: BusinessName, b: BusinessName) -> LevelResult:
    if a.text == b.text:
        return 1, a.key_text
    if a.keys == b.keys:
        return 2, a.key_text
    if (
        a.distinctive
        and b.distinctive
        and (a.distinctive <= b.distinctive or b.distinctive <= a.distinctive)
    ):
        return 3, None
    same_script = script_of(a.text) == script_of(b.text)
    similarity = fuzz.token_sort_ratio(a.text, b.text) if same_script else 0.0
    similarity = max(similarity, fuzz.token_sort_ratio(a.key_text, b.key_text))
    return (4, None) if similarity >= 85 else (5, None)


class DateOfBirthComparison(Comparison):
    """Date of birth, tolerant of day/month swaps (US vs UAE order) and one typo."""

    name = "date_of_birth"
    levels = ("null", "exact", "day_month_swapped", "one_part_differs", "different")

    def signature(self, record: PreparedRecord) -> Any:
        return record.dob

    def compare(self, a: PreparedRecord, b: PreparedRecord) -> LevelResult:
        if a.dob is None or b.dob is None:
            return NULL, None
        return _dob_pair_level(a.dob, b.dob), None

    def compare_batch(
        self, batch: PreparedBatch, left: np.ndarray, right: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        year, month, day = batch.dob_parts
        levels = _dob_level(
            year[left], month[left], day[left], year[right], month[right], day[right]
        )
        levels[(year[left] == 0) | (year[right] == 0)] = NULL
        return levels, np.full(len(left), np.nan)


def _dob_level(
    ya: np.ndarray, ma: np.ndarray, da: np.ndarray, yb: np.ndarray, mb: np.ndarray, db: np.ndarray
) -> np.ndarray:
    same_y, same_m, same_d = ya == yb, ma == mb, da == db
    levels = np.full(len(ya), 4, dtype=np.int8)
    levels[(same_y.astype(int) + same_m + same_d) == 2] = 3
    levels[same_y & (da == mb) & (ma == db) & ~same_d] = 2
    levels[same_y & same_m & same_d] = 1
    return levels


def _dob_pair_level(a: date, b: date) -> int:
    """`_dob_level` of one pair in plain Python (numpy costs ~20 µs per call on one pair)."""
    same_y, same_m, same_d = a.year == b.year, a.month == b.month, a.day == b.day
    if same_y and same_m and same_d:
        return 1
    if same_y and a.day == b.month and a.month == b.day:
        return 2
    return 3 if same_y + same_m + same_d == 2 else 4


class KindComparison(ExactComparison):
    """Individual vs organization: agreement is weak evidence, disagreement strong."""

    def __init__(self) -> None:
        super().__init__("kind", "kind")
        self.levels = ("null", "same", "different")


class CityComparison(ExactComparison):
    """City (or emirate), TF-adjusted; not counted again when the address is shared."""

    ignored_when = _SAME_HOME
    conditional_levels = frozenset({1})

    def __init__(self) -> None:
        super().__init__("city", "city", tf=True)


def apply_conditional_nulls(levels: np.ndarray, comparisons: Sequence[Comparison]) -> np.ndarray:
    """Null the features that carry no evidence given another feature's level.

    Fellegi–Sunter multiplies Bayes factors as if features were independent.
    They are not for relatives at one home: sharing an address or landline
    makes a shared surname and city near-certain for family members too, so
    counting them again would credit the same fact (one household) three
    times. Given a shared home, their Bayes factor is ≈ 1 and they are set to
    the null level (this is the factorisation P(surname, contact) =
    P(contact) · P(surname | contact) with the second factor ≈ 1 for both
    classes). Works on a pairs × features matrix in place and returns it.
    """
    index = {comparison.name: f for f, comparison in enumerate(comparisons)}
    for f, comparison in enumerate(comparisons):
        for other, other_levels in comparison.ignored_when.items():
            if other in index:
                condition = np.isin(levels[:, index[other]], list(other_levels))
                condition &= np.isin(levels[:, f], list(comparison.conditional_levels))
                levels[condition, f] = NULL
    return levels


def default_comparisons() -> tuple[Comparison, ...]:
    """The features of the default model, in evidence order."""
    return (
        ExactComparison("trn", "trn"),
        ExactComparison("external_ref", "external_ref"),
        EmailComparison(),
        ContactComparison(),
        FirstNameComparison(),
        SurnameComparison(),
        BusinessNameComparison(),
        DateOfBirthComparison(),
        CityComparison(),
        ExactComparison("postal_code", "postal_code"),
        ExactComparison("business_type", "business_type"),
        KindComparison(),
    )


def compare_records(
    a: PreparedRecord, b: PreparedRecord, comparisons: Sequence[Comparison] | None = None
) -> list[LevelResult]:
    """Comparison levels of one pair, one (level, agreed value) per feature."""
    comparisons = comparisons or default_comparisons()
    results = [comparison.compare(a, b) for comparison in comparisons]
    levels = conditional_nulls([level for level, _ in results], comparisons)
    return [
        (level, value if level else None) for level, (_, value) in zip(levels, results, strict=True)
    ]


def conditional_nulls(levels: list[int], comparisons: Sequence[Comparison]) -> list[int]:
    """`apply_conditional_nulls` for one pair, in plain Python (in place, returned).

    Same rules in the same order, so a pair gets the levels the batch path
    gives it; numpy's per-call overhead made the one-row version half the
    cost of scoring a pair.
    """
    index = {comparison.name: f for f, comparison in enumerate(comparisons)}
    for f, comparison in enumerate(comparisons):
        for other, other_levels in comparison.ignored_when.items():
            if (
                other in index
                and levels[index[other]] in other_levels
                and levels[f] in comparison.conditional_levels
            ):
                levels[f] = NULL
    return levels


# ---------------------------------------------------------------------------
# Batches
# ---------------------------------------------------------------------------


@contextmanager
def cyclic_gc_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector for bulk work that creates no cycles.

    Preparing a million records creates tens of millions of objects, and each
    full collection walks all of them again: measured at 1M, 44 s of
    preparation with the collector on against 32 s with it paused. Prepared
    records are acyclic (strings, tuples, slotted dataclasses), so reference
    counting frees all of it; the collector is restored as it was on exit.
    Processes forked inside the block inherit the pause, which also spares
    them from copying every page the collector would otherwise touch.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


class PreparedBatch:
    """Prepared records plus column caches for scoring many pairs.

    It also defines the term frequencies used for TF adjustment: how common a
    value is *in this dataset* (a company's customers), which is what the
    Fellegi–Sunter u-probability of agreeing on that value should reflect.
    """

    def __init__(self, records: Sequence[PreparedRecord]) -> None:
        self.records = list(records)
        self._codes: dict[str, tuple[np.ndarray, list[PreparedRecord]]] = {}
        self._frequencies: dict[str, np.ndarray] = {}
        self._memo: dict[str, dict[int, Any]] = {}
        self._multi: dict[str, tuple[np.ndarray, np.ndarray, list[str]]] = {}
        self._last_alignment: tuple[np.ndarray, np.ndarray, NameAlignments] | None = None

    @classmethod
    def from_records(cls, records: Iterable[Mapping[str, Any]]) -> PreparedBatch:
        """Prepare raw customer dicts."""
        with cyclic_gc_paused():
            return cls([prepare_record(record) for record in records])

    def __len__(self) -> int:
        return len(self.records)

    @cached_property
    def term_frequencies(self) -> TermFrequencies:
        """Value → share of records, for every TF-adjusted feature."""
        return TermFrequencies.from_records(self.records)

    @cached_property
    def dob_parts(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Year, month, day arrays (0 where unknown)."""
        parts = np.zeros((3, len(self.records)), dtype=np.int32)
        for i, record in enumerate(self.records):
            if record.dob is not None:
                parts[:, i] = (record.dob.year, record.dob.month, record.dob.day)
        return parts[0], parts[1], parts[2]

    # -- scalar signatures ---------------------------------------------------

    def codes(
        self, key: str, signature: Callable[[PreparedRecord], Any]
    ) -> tuple[np.ndarray, list[PreparedRecord]]:
        """Integer code per record of a signature (-1 when missing), and one
        representative record per code."""
        if key not in self._codes:
            vocabulary: dict[Any, int] = {}
            code_of = vocabulary.setdefault
            codes = np.fromiter(
                (
                    -1 if (value := signature(record)) is None else code_of(value, len(vocabulary))
                    for record in self.records
                ),
                dtype=np.int64,
                count=len(self.records),
            )
            # Codes are numbered in order of first appearance.
            _, first_seen = np.unique(codes[codes >= 0], return_index=True)
            present = np.flatnonzero(codes >= 0)
            representatives = [self.records[i] for i in present[first_seen].tolist()]
            self._codes[key] = (codes, representatives)
        return self._codes[key]

    def scalar_codes(self, comparison: Comparison) -> np.ndarray:
        """Codes of a comparison's signature."""
        return self.codes(comparison.name, comparison.signature)[0]

    def code_frequencies(self, comparison: Comparison) -> np.ndarray:
        """Share of records carrying each code of a scalar comparison."""
        if comparison.name not in self._frequencies:
            codes, representatives = self.codes(comparison.name, comparison.signature)
            counts = np.bincount(codes[codes >= 0], minlength=len(representatives))
            self._frequencies[comparison.name] = counts / max(len(self.records), 1)
        return self._frequencies[comparison.name]

    def map_distinct(
        self,
        key: str,
        signature: Callable[[PreparedRecord], Any],
        left: np.ndarray,
        right: np.ndarray,
        function: Callable[[PreparedRecord, PreparedRecord], Any],
    ) -> tuple[np.ndarray, list[Any], np.ndarray]:
        """Apply a symmetric pair function once per distinct (signature, signature).

        Returns the mask of pairs where both signatures exist, the results
        per distinct pair, and for each present pair the index of its result.
        Results are cached under `key` for the life of the batch.
        """
        codes, representatives = self.codes(key, signature)
        size = max(len(representatives), 1)
        code_a, code_b = codes[left], codes[right]
        present = (code_a >= 0) & (code_b >= 0)
        # Symmetric functions: (x, y) and (y, x) share one cache entry.
        combined = np.minimum(code_a, code_b) * size + np.maximum(code_a, code_b)
        distinct, inverse = np.unique(combined[present], return_inverse=True)
        memo = self._memo.setdefault(key, {})
        results = []
        for value in distinct.tolist():
            result = memo.get(value)
            if result is None:
                low, high = divmod(value, size)
                result = memo[value] = function(representatives[low], representatives[high])
            results.append(result)
        return present, results, inverse.reshape(-1)

    def memoised_compare(
        self, comparison: Comparison, left: np.ndarray, right: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """Run `comparison.compare` once per distinct (signature, signature) pair."""
        present, results, inverse = self.map_distinct(
            comparison.name, comparison.signature, left, right, comparison.compare
        )
        return self.results_to_arrays(comparison, present, results, inverse)

    def results_to_arrays(
        self,
        comparison: Comparison,
        present: np.ndarray,
        results: Sequence[LevelResult],
        inverse: np.ndarray,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Spread per-distinct-pair results back to level and TF arrays."""
        frequencies = self.term_frequencies
        distinct_levels = np.fromiter((level for level, _ in results), np.int8, len(results))
        distinct_tf = np.array(
            [
                np.nan
                if value is None or level not in comparison.tf_levels
                else frequencies.lookup(comparison.name, value) or np.nan
                for level, value in results
            ],
            dtype=float,
        )
        levels = np.zeros(len(present), dtype=np.int8)
        tf = np.full(len(present), np.nan)
        levels[present] = distinct_levels[inverse] if len(results) else 0
        tf[present] = distinct_tf[inverse] if len(results) else np.nan
        return levels, tf

    # -- personal names ----------------------------------------------------------

    @cached_property
    def name_tokens(self) -> _NameTokenColumns:
        """First/last token codes of up to two spellings per record."""
        return _NameTokenColumns.build(self.records, self.term_frequencies.table("name"))

    def name_alignments(self, left: np.ndarray, right: np.ndarray) -> NameAlignments:
        """`compare_person_names` for many pairs, vectorised over token codes.

        Token pairs are compared once each (`token_agreement`), then all
        spelling × orientation alignments are costed in numpy and the first
        cheapest one is kept — the same choice the scalar function makes.
        The result is reused by the surname feature for the same arrays.
        """
        cached = self._last_alignment
        if cached is not None and cached[0] is left and cached[1] is right:
            return cached[2]
        columns = self.name_tokens
        first, last = columns.first, columns.last
        spellings = [(i, j) for i in range(first.shape[1]) for j in range(first.shape[1])]
        # Every token pair of every alignment goes through one `agreements`
        # call: one cache lookup per chunk instead of one per alignment.
        queries = []
        for i, j in spellings:
            fa, la, fb, lb = first[left, i], last[left, i], first[right, j], last[right, j]
            queries += [(fa, fb), (la, lb), (fa, lb), (la, fb)]
        answers = iter(columns.agreements(queries))
        candidates = []  # (first category, surname category, first tf, surname tf)
        for i, j in spellings:
            fa_tf, la_tf = columns.tf_of(first[left, i]), columns.tf_of(last[left, i])
            direct_first, direct_surname = next(answers), next(answers)
            candidates.append((direct_first, direct_surname, fa_tf, la_tf))
            swappable = (last[left, i] >= 0) & (last[right, j] >= 0)
            swapped_first = np.where(swappable, next(answers), -1)
            swapped_surname = np.where(swappable, next(answers), -1)
            candidates.append((swapped_first, swapped_surname, fa_tf, la_tf))
        costs = np.stack(
            [
                np.where(f >= 0, f + np.where(s >= 0, s, _MISSING_SURNAME_COST), 10_000)
                for f, s, _, _ in candidates
            ]
        )
        best = costs.argmin(axis=0)
        rows = np.arange(len(left))

        def pick(k: int) -> np.ndarray:
            return np.stack([candidate[k] for candidate in candidates])[best, rows]

        result = NameAlignments(
            first=pick(0), surname=pick(1), first_tf=pick(2), surname_tf=pick(3)
        )
        self._last_alignment = (left, right, result)
        return result

    # -- multi-valued attributes (phones, emails) ------------------------------

    def multi_values(
        self, attribute: str, primary_attribute: str
    ) -> tuple[np.ndarray, np.ndarray, list[str]]:
        """Codes (records × MAX_VALUES_PER_RECORD, -1 padded; column 0 is the
        primary value or -1), per-code share of records, and each code's value."""
        if attribute not in self._multi:
            vocabulary: dict[str, int] = {}
            codes = np.full((len(self.records), MAX_VALUES_PER_RECORD), -1, dtype=np.int64)
            for i, record in enumerate(self.records):
                values = getattr(record, attribute)[:MAX_VALUES_PER_RECORD]
                start = 0 if getattr(record, primary_attribute) else 1
                for j, value in enumerate(values[: MAX_VALUES_PER_RECORD - start], start):
                    codes[i, j] = vocabulary.setdefault(value, len(vocabulary))
            # Only as many columns as some record uses: most have one value.
            used = np.flatnonzero((codes >= 0).any(axis=0))
            codes = codes[:, : (int(used.max()) + 1 if len(used) else 1)]
            # At least one slot so that indexing padded codes never fails.
            counts = np.bincount(codes[codes >= 0], minlength=max(len(vocabulary), 1))
            values = list(vocabulary)
            self._multi[attribute] = (codes, counts / max(len(self.records), 1), values)
        return self._multi[attribute]

    def multi_value_agreement(
        self, attribute: str, primary_attribute: str, left: np.ndarray, right: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """Phone-style categories (none/primary/shared/different) and the
        frequency of the rarest shared value, for many pairs."""
        codes, frequencies, _ = self.multi_values(attribute, primary_attribute)
        code_a, code_b = codes[left], codes[right]
        equal = (code_a[:, :, None] == code_b[:, None, :]) & (code_a[:, :, None] >= 0)
        shared_in_a = equal.any(axis=2)
        category = np.full(len(left), PHONE_DIFFERENT, dtype=np.int8)
        category[shared_in_a.any(axis=1)] = PHONE_SHARED
        category[(code_a[:, 0] == code_b[:, 0]) & (code_a[:, 0] >= 0)] = PHONE_PRIMARY
        category[(code_a < 0).all(axis=1) | (code_b < 0).all(axis=1)] = PHONE_NONE
        value_frequency = np.where(shared_in_a, frequencies[np.maximum(code_a, 0)], np.inf)
        rarest = value_frequency.min(axis=1)
        tf = np.where(np.isfinite(rarest), rarest, np.nan)
        return category, tf

    def phone_typos(self, left: np.ndarray, right: np.ndarray) -> np.ndarray:
        """`one_digit_typo` of the primary phones, vectorised over pairs."""
        digits, lengths = self.primary_phone_digits
        a, b = digits[left], digits[right]
        differs = a != b
        count = differs.sum(axis=1)
        same_length = lengths[left] == lengths[right]
        first = differs.argmax(axis=1)
        rows = np.arange(len(left))
        second = np.minimum(first + 1, digits.shape[1] - 1)
        swapped = (
            (count == 2)
            & differs[rows, second]
            & (a[rows, first] == b[rows, second])
            & (a[rows, second] == b[rows, first])
        )
        return same_length & ((count == 1) | swapped)

    @cached_property
    def primary_phone_digits(self) -> tuple[np.ndarray, np.ndarray]:
        """Primary phone as a fixed-width byte matrix, and its length."""
        phones = [record.primary_phone.encode("ascii", "replace") for record in self.records]
        width = max((len(p) for p in phones), default=1) or 1
        # Fixed-width bytes pad with NUL, which is exactly the zero padding wanted.
        matrix = np.array(phones, dtype=f"S{width}").view(np.uint8).reshape(len(phones), width)
        lengths = np.fromiter((len(p) for p in phones), dtype=np.int16, count=len(phones))
        return matrix, lengths

    def address_agreements(self, left: np.ndarray, right: np.ndarray) -> np.ndarray:
        """`address_agreement` categories, fuzzy part cached per distinct pair."""
        codes, _ = self.codes("address", _address_signature)
        numbers, _ = self.codes("address_numbers", _address_numbers_signature)
        code_a, code_b = codes[left], codes[right]
        category = np.full(len(left), ADDRESS_NONE, dtype=np.int8)
        both = (code_a >= 0) & (code_b >= 0)
        category[both & (code_a == code_b)] = ADDRESS_EXACT
        category[both & (code_a != code_b)] = ADDRESS_DIFFERENT
        fuzzy = both & (code_a != code_b) & (numbers[left] == numbers[right])
        if fuzzy.any():
            _, results, inverse = self.map_distinct(
                "address",
                _address_signature,
                left[fuzzy],
                right[fuzzy],
                lambda a, b: address_agreement(a.address, b.address),
            )
            category[fuzzy] = np.asarray(results, dtype=np.int8)[inverse]
        return category


@dataclass
class NameAlignments:
    """Best name alignment per pair: categories (-1 = not comparable) and the
    term frequency of a's agreeing token (NaN when unknown)."""

    first: np.ndarray
    surname: np.ndarray
    first_tf: np.ndarray
    surname_tf: np.ndarray


@dataclass
class _NameTokenColumns:
    """Token codes of the first and last token of each spelling of each record."""

    first: np.ndarray  # records × 2, -1 where the spelling is missing
    last: np.ndarray  # records × 2, -1 where missing or a single-token name
    tokens: list[str]
    token_tf: np.ndarray  # frequency of each token's key in the name TF table
    attributes: _TokenAttributes
    # Token-pair categories computed so far, as sorted combined codes → category.
    known_pairs: np.ndarray = field(default_factory=lambda: np.empty(0, dtype=np.int64))
    known_categories: np.ndarray = field(default_factory=lambda: np.empty(0, dtype=np.int64))

    @classmethod
    def build(
        cls, records: Sequence[PreparedRecord], name_tf: Mapping[str, float]
    ) -> _NameTokenColumns:
        vocabulary: dict[str, int] = {}
        first = np.full((len(records), 2), -1, dtype=np.int64)
        last = np.full((len(records), 2), -1, dtype=np.int64)
        for i, record in enumerate(records):
            for j, name in enumerate(record.person_names[:2]):
                first[i, j] = vocabulary.setdefault(name.tokens[0], len(vocabulary))
                if name.has_surname:
                    last[i, j] = vocabulary.setdefault(name.tokens[-1], len(vocabulary))
        tokens = list(vocabulary)
        token_tf = np.array(
            [name_tf.get(transliteration_key(token), np.nan) for token in tokens] or [np.nan]
        )
        return cls(first, last, tokens, token_tf, _TokenAttributes.build(tokens))

    def tf_of(self, codes: np.ndarray) -> np.ndarray:
        return np.where(codes >= 0, self.token_tf[np.maximum(codes, 0)], np.nan)

    def agreements(self, queries: Sequence[tuple[np.ndarray, np.ndarray]]) -> list[np.ndarray]:
        """`agreement` of several (codes_a, codes_b) arrays, computed together."""
        if not queries:
            return []
        sizes = [len(codes_a) for codes_a, _ in queries]
        result = self.agreement(
            np.concatenate([codes_a for codes_a, _ in queries]),
            np.concatenate([codes_b for _, codes_b in queries]),
        )
        return np.split(result, np.cumsum(sizes)[:-1])

    def agreement(self, codes_a: np.ndarray, codes_b: np.ndarray) -> np.ndarray:
        """`token_agreement` per pair of token codes (-1 if either is missing)."""
        result = np.full(len(codes_a), -1, dtype=np.int64)
        both = (codes_a >= 0) & (codes_b >= 0)
        same = both & (codes_a == codes_b)
        result[same] = EXACT  # the common case needs no lookup
        present = both & ~same
        if not present.any():
            return result
        size = max(len(self.tokens), 1)
        low = np.minimum(codes_a[present], codes_b[present])
        high = np.maximum(codes_a[present], codes_b[present])
        distinct, inverse = np.unique(low * size + high, return_inverse=True)
        result[present] = self._categories(distinct, size)[inverse.reshape(-1)]
        return result

    def _categories(self, distinct: np.ndarray, size: int) -> np.ndarray:
        """Categories of sorted distinct combined codes: known ones by binary
        search, new ones computed (in Python, once) and remembered."""
        position = np.searchsorted(self.known_pairs, distinct)
        position = np.minimum(position, max(len(self.known_pairs) - 1, 0))
        known = (
            self.known_pairs[position] == distinct
            if len(self.known_pairs)
            else np.zeros(len(distinct), dtype=bool)
        )
        values = np.empty(len(distinct), dtype=np.int64)
        values[known] = self.known_categories[position[known]]
        new_pairs = distinct[~known]
        if len(new_pairs):
            low, high = np.divmod(new_pairs, size)
            new_values = self.attributes.categories(low, high)
            values[~known] = new_values
            # Both are sorted and disjoint: a linear merge keeps the cache sorted.
            slots = np.searchsorted(self.known_pairs, new_pairs)
            self.known_pairs = np.insert(self.known_pairs, slots, new_pairs)
            self.known_categories = np.insert(self.known_categories, slots, new_values)
        return values


@dataclass
class _TokenAttributes:
    """Per-token codes that let `token_agreement`'s cheap checks run in numpy,
    and the per-token inputs of its typo checks (computed once per token, not
    once per token pair: with realistic name pools most pairs are new)."""

    key: np.ndarray  # code of the transliteration key
    alternatives: np.ndarray  # codes of alternative keys, -1 padded
    script: np.ndarray
    nickname: np.ndarray  # code of the nickname root
    phonetic: np.ndarray  # code of the phonetic code, -1 if none
    initial: np.ndarray  # code of the key's first letter
    single_letter: np.ndarray
    abd: np.ndarray  # an "Abd …" compound
    typo_form: np.ndarray  # object array: the token without its "Abd" mark
    typo_form_length: np.ndarray
    typo_key: np.ndarray  # object array: the key without its "abd"
    typo_key_length: np.ndarray

    @classmethod
    def build(cls, tokens: Sequence[str]) -> _TokenAttributes:
        codes: dict[str, int] = {}

        def code(value: str) -> int:
            return codes.setdefault(value, len(codes))

        keys = [transliteration_key(token) for token in tokens]
        width = max((len(alternative_keys(token)) for token in tokens), default=1)
        alternatives = np.full((max(len(tokens), 1), max(width, 1)), -1, dtype=np.int64)
        for i, token in enumerate(tokens):
            for j, key in enumerate(sorted(alternative_keys(token))):
                alternatives[i, j] = code(key)
        scripts = {"latin": 0, "arabic": 1, "thai": 2}

        def column(values: Iterable[int]) -> np.ndarray:
            return np.fromiter(values, dtype=np.int64, count=len(tokens))

        abd = [token.startswith(ABD_MARK) for token in tokens]
        cut = len(ABD_MARK)
        typo_forms = [t[cut:] if marked else t for t, marked in zip(tokens, abd, strict=True)]
        typo_keys = [k[3:] if marked else k for k, marked in zip(keys, abd, strict=True)]
        return cls(
            key=column(code(key) for key in keys),
            alternatives=alternatives,
            script=column(scripts.get(script_of(token), 3) for token in tokens),
            nickname=column(code("nick:" + nickname_root(token)) for token in tokens),
            phonetic=column(
                code("phon:" + p) if (p := phonetic_code(token)) else -1 for token in tokens
            ),
            initial=column(code(key[:1]) for key in keys),
            single_letter=column(len(token) == 1 for token in tokens),
            abd=np.array(abd, dtype=bool),
            typo_form=_object_column(typo_forms),
            typo_form_length=column(len(form) for form in typo_forms),
            typo_key=_object_column(typo_keys),
            typo_key_length=column(len(key) for key in typo_keys),
        )

    def categories(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """`token_agreement` for distinct, unequal token pairs (x, y)."""
        key_x, key_y = self.key[x], self.key[y]
        translit = (
            (key_x == key_y)
            | (self.alternatives[y] == key_x[:, None]).any(axis=1)
            | (self.alternatives[x] == key_y[:, None]).any(axis=1)
        )
        same_script = self.script[x] == self.script[y]
        nickname = same_script & (self.nickname[x] == self.nickname[y])
        phonetic = (self.phonetic[x] >= 0) & (self.phonetic[x] == self.phonetic[y])
        initial = (self.single_letter[x] | self.single_letter[y]).astype(bool) & (
            self.initial[x] == self.initial[y]
        )
        result = np.select(
            [translit, nickname, phonetic, initial],
            [TRANSLIT, NICKNAME, PHONETIC, INITIAL],
            default=-1,
        ).astype(np.int64)
        fuzzy = np.flatnonzero(result < 0)
        if len(fuzzy):
            result[fuzzy] = self._fuzzy_categories(x[fuzzy], y[fuzzy])
        return result

    def _fuzzy_categories(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """`fuzzy_token_agreement` with rapidfuzz's element-wise `cpdist`."""
        result = np.full(len(x), DIFFERENT, dtype=np.int64)
        comparable = self.abd[x] == self.abd[y]  # an "Abd …" name is never a typo of another
        same_script = self.script[x] == self.script[y]
        within = np.flatnonzero(comparable & same_script)
        if len(within):
            a, b = x[within], y[within]
            similarity = process.cpdist(
                self.typo_form[a].tolist(),
                self.typo_form[b].tolist(),
                scorer=JaroWinkler.normalized_similarity,
                dtype=np.float64,
            )
            shortest = np.minimum(self.typo_form_length[a], self.typo_form_length[b])
            medium = (similarity >= JW_MEDIUM_THRESHOLD) & (shortest >= 5)
            result[within] = np.select(
                [similarity >= JW_HIGH_THRESHOLD, medium], [JW_HIGH, JW_MEDIUM], DIFFERENT
            )
        # Across scripts: one edit between keys of >= 4 letters. An edit distance
        # is at least the length difference, so only near-equal lengths are compared.
        length_a, length_b = self.typo_key_length[x], self.typo_key_length[y]
        across = np.flatnonzero(
            comparable
            & ~same_script
            & (np.minimum(length_a, length_b) >= 4)
            & (np.abs(length_a - length_b) <= 1)
        )
        if len(across):
            distance = process.cpdist(
                self.typo_key[x[across]].tolist(),
                self.typo_key[y[across]].tolist(),
                scorer=Levenshtein.distance,
                dtype=np.int64,
            )
            result[across] = np.where(distance <= 1, JW_HIGH, DIFFERENT)
        return result


def _object_column(values: Sequence[str]) -> np.ndarray:
    """Strings in a numpy object array, so that fancy indexing picks them."""
    column = np.empty(max(len(values), 1), dtype=object)
    column[: len(values)] = values
    return column


def _address_signature(record: PreparedRecord) -> Any:
    return record.address or None


def _address_numbers_signature(record: PreparedRecord) -> Any:
    return address_numbers(record.address) if record.address else None


# ---------------------------------------------------------------------------
# Term frequencies
# ---------------------------------------------------------------------------


# Features whose TF table is named after the attribute they adjust on.
# First names and surnames share one table: a swapped name compares a first
# name with a surname, and Arab family names are often given names (Saleh).
TF_TABLE_OF = {"phone_and_address": "phone", "first_name": "name", "surname": "name"}


# The values a record contributes to each TF table (each counted once per record;
# phones and emails are already distinct within a record).
_TF_VALUES: dict[str, Callable[[PreparedRecord], Iterable[str]]] = {
    "name": lambda record: record.name_token_keys,
    "business_name": lambda record: record.business_keys,
    "phone": lambda record: record.phones,
    "email": lambda record: record.emails,
    "city": lambda record: (record.city,) if record.city else (),
}


@dataclass
class TermFrequencies:
    """Share of records carrying each value, per TF-adjusted feature."""

    frequencies: dict[str, dict[str, float]]
    n_records: int

    @classmethod
    def from_records(cls, records: Sequence[PreparedRecord]) -> TermFrequencies:
        counters = {
            feature: Counter(chain.from_iterable(map(values, records)))
            for feature, values in _TF_VALUES.items()
        }
        n = max(len(records), 1)
        return cls(
            frequencies={
                feature: {value: count / n for value, count in counter.items()}
                for feature, counter in counters.items()
            },
            n_records=len(records),
        )

    def table(self, feature: str) -> dict[str, float]:
        return self.frequencies.get(feature, {})

    def lookup(self, feature: str, value: str | None) -> float | None:
        """Frequency of a value, or None when unknown (no adjustment then).

        Several shared values (joined by VALUE_SEPARATOR) count as the rarest.
        """
        if value is None:
            return None
        table = self.frequencies.get(TF_TABLE_OF.get(feature, feature), {})
        known = [table[part] for part in value.split(VALUE_SEPARATOR) if part in table]
        return min(known) if known else None

    def most_common(self, limit: int, features: Iterable[str] | None = None) -> TermFrequencies:
        """The `limit` most frequent values of some tables (for shipping in JSON)."""
        wanted = set(self.frequencies if features is None else features)
        return TermFrequencies(
            frequencies={
                feature: dict(sorted(table.items(), key=lambda kv: (-kv[1], kv[0]))[:limit])
                for feature, table in self.frequencies.items()
                if feature in wanted
            },
            n_records=self.n_records,
        )
