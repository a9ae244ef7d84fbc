import pytest

from majlis.core.i18n import digits_only, has_arabic, normalize_arabic, normalize_text


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("مُحَمَّد", "محمد"),  # tashkeel removed
        ("محـــمد", "محمد"),  # tatweel removed
        ("أحمد", "احمد"),
        ("إبراهيم", "ابراهيم"),
        ("آمنة", "امنه"),  # آ → ا and ة → ه
        ("مصطفى", "مصطفي"),  # ى → ي
    ],
)
def test_arabic_spelling_variants_fold_together(raw: str, expected: str) -> None:
    assert normalize_arabic(raw) == expected


def test_normalize_text_folds_case_accents_digits_and_invisibles() -> None:
    assert normalize_text("  José   GARCÍA ") == "jose garcia"
    assert normalize_text("\u200fأحمد\u200e ٣٤") == "احمد 34"
    assert normalize_text("۱۲۳") == "123"  # Persian digits
    assert normalize_text("สมชาย ๑๒") == "สมชาย 12"  # Thai letters kept, Thai digits folded
    assert normalize_text(None) == ""


def test_digits_only_reads_any_script() -> None:
    assert digits_only("+971 (50) ١٢٣-4567") == "971501234567"
    assert digits_only("") == ""


def test_has_arabic() -> None:
    assert has_arabic("Ali علي")
    assert not has_arabic("Ali")
