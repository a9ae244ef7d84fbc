"""Text normalisation shared by validation, search and duplicate matching.

Staff type Arabic with and without diacritics, with different hamza forms and
with Arabic-Indic or Persian digits; the same person must look the same to
every part of Majlis. The SQL function `majlis_normalize_text` (migrations)
implements exactly these rules so that indexes and Python agree.
"""

from __future__ import annotations

import re
import unicodedata

# Arabic-Indic (U+0660..0669), Persian (U+06F0..06F9) and Thai (U+0E50..0E59) digits.
_DIGIT_TABLE = {
    **{0x0660 + i: str(i) for i in range(10)},
    **{0x06F0 + i: str(i) for i in range(10)},
    **{0x0E50 + i: str(i) for i in range(10)},
}

# Letter variants folded to one canonical letter, and marks dropped entirely.
_ARABIC_LETTER_FOLDS = {
    "أ": "ا",
    "إ": "ا",
    "آ": "ا",
    "ٱ": "ا",
    "ى": "ي",
    "ة": "ه",
    "ؤ": "و",
    "ئ": "ي",
}
_TATWEEL = "\u0640"
# Harakat, tanween, shadda, sukun, superscript alef and Quranic marks.
_ARABIC_MARKS = re.compile("[\u0610-\u061a\u064b-\u065f\u0670\u06d6-\u06ed]")
# Bidi controls and zero-width characters that users paste from chat apps.
_INVISIBLES = re.compile("[\u200b-\u200f\u202a-\u202e\u2066-\u2069\ufeff]")
_SPACES = re.compile(r"\s+")

ARABIC_LETTERS = re.compile("[\u0600-\u06ff]")


def ascii_digits(text: str) -> str:
    """Replace Arabic-Indic, Persian and Thai digits with ASCII ones."""
    return text.translate(_DIGIT_TABLE)


def strip_invisibles(text: str) -> str:
    """Drop bidi controls and zero-width characters."""
    return _INVISIBLES.sub("", text)


def normalize_arabic(text: str) -> str:
    """Fold Arabic spelling variants: tashkeel, tatweel, hamza forms, ى, ة."""
    text = _ARABIC_MARKS.sub("", text).replace(_TATWEEL, "")
    return "".join(_ARABIC_LETTER_FOLDS.get(ch, ch) for ch in text)


def strip_accents(text: str) -> str:
    """Remove Latin accents (é → e) without touching Arabic or Thai letters."""
    decomposed = unicodedata.normalize("NFKD", text)
    kept = (ch for ch in decomposed if not (unicodedata.combining(ch) and ord(ch) < 0x0600))
    return unicodedata.normalize("NFC", "".join(kept))


def normalize_text(text: str | None) -> str:
    """The canonical comparable form of a name or free-text term.

    Lower-case, accent-free, Arabic folded, digits ASCII, invisibles removed,
    whitespace collapsed. Used on both the stored side and the query side.
    """
    if not text:
        return ""
    text = strip_invisibles(ascii_digits(text))
    text = normalize_arabic(strip_accents(text)).casefold()
    return _SPACES.sub(" ", text).strip()


def digits_only(text: str | None) -> str:
    """All digits of a phone number or identifier, in ASCII."""
    if not text:
        return ""
    return "".join(ch for ch in ascii_digits(text) if ch.isdigit())


def has_arabic(text: str) -> bool:
    return bool(ARABIC_LETTERS.search(text))
