"""Script-neutral name keys: Arabic ↔ Latin, spelling variants, normalisation."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from majlis.core.i18n import normalize_text
from majlis.dedupe.features import (
    DIFFERENT,
    EXACT,
    NICKNAME,
    PHONETIC,
    TRANSLIT,
    token_agreement,
)
from majlis.dedupe.transliteration import (
    alternative_keys,
    name_keys,
    name_tokens,
    nickname_root,
    normalize,
    phonetic_code,
    same_name,
    script_of,
    transliteration_key,
)


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("Mohammed", "Muhammad"),
        ("Mohammed", "Mohamad"),
        ("Muhammad", "محمد"),
        ("Mohamad", "محمد"),
        ("Mohd", "محمد"),
        ("Abdul Rahman", "عبد الرحمن"),
        ("Abdulrahman", "عبدالرحمن"),
        ("Abdurrahman", "Abd al-Rahman"),
        ("Abdullah", "عبد الله"),
        ("Abdulla", "Abdallah"),
        ("Abdel Aziz", "عبدالعزيز"),
        ("Mohammed Al Mansouri", "محمد المنصوري"),
        ("Al Mansouri Mohammed", "محمد المنصوري"),
        ("Mohammed Almansouri", "Muhammad Al-Mansoori"),
        ("Fatima", "فاطمة"),
        ("Fatimah", "Fatima"),
        ("Aisha", "عائشة"),
        ("Ayesha", "Aisha"),
        ("Yousef", "يوسف"),
        ("Yusuf", "Youssef"),
        ("Khalifa", "خليفة"),
        ("Omar", "عمر"),
        ("Ali", "علي"),
        ("Saleh", "صالح"),
        ("Juma", "جمعة"),
        ("Ibrahim", "إبراهيم"),
        ("Dhaheri", "الظاهري"),
        ("Ash Shamsi", "الشامسي"),
        ("Ka'abi", "الكعبي"),
        ("Hessa", "حصة"),
    ],
)
def test_same_name_across_spellings_and_scripts(a: str, b: str) -> None:
    assert same_name(a, b)


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("Ali", "Omar"),
        ("Aisha", "Eissa"),  # ش vs س
        ("Khalid", "Hamad"),
        ("Mohammed Al Mansouri", "Mohammed Al Hashimi"),
        ("Zayed", "Dawood"),
    ],
)
def test_different_names_do_not_share_keys(a: str, b: str) -> None:
    assert not same_name(a, b)


def test_the_four_spellings_of_mohammed_have_one_key() -> None:
    keys = {transliteration_key(name) for name in ("mohammed", "muhammad", "mohamad", "محمد")}
    assert keys == {"mhmd"}


def test_abd_compounds_are_one_token() -> None:
    assert name_tokens("Abdul Rahman Al Suwaidi") == ["abd_rahman", "suwaidi"]
    assert name_keys("عبد الرحمن السويدي") == name_keys("Abdurrahman Suwaidi")


@pytest.mark.parametrize("variant", ["أحمد", "احمد", "أَحْمَد", "احـــمد", "إحمد"])
def test_arabic_normalisation_folds_hamza_tashkeel_and_tatweel(variant: str) -> None:
    assert name_tokens(variant) == ["احمد"]
    assert transliteration_key(name_tokens(variant)[0]) == transliteration_key("ahmed")


def test_ta_marbuta_and_alef_maqsura_are_folded() -> None:
    assert name_tokens("فاطمة") == name_tokens("فاطمه")
    assert name_tokens("عيسى") == name_tokens("عيسي")


def test_glued_article_is_stripped_only_from_arabic_style_names() -> None:
    assert name_tokens("Almansouri") == ["mansouri"]
    assert name_tokens("المنصوري") == ["منصوري"]
    assert name_tokens("Alexander Albert") == ["alexander", "albert"]


def test_particles_and_honorifics_are_dropped() -> None:
    assert name_tokens("Sheikh Mohammed bin Rashid Al Maktoum") == [
        "mohammed",
        "rashid",
        "maktoum",
    ]
    assert name_tokens("الشيخ محمد بن راشد") == ["محمد", "راشد"]
    assert name_tokens("นาย สมชาย ใจดี") == ["สมชาย", "ใจดี"]


def test_gulf_g_and_dh_have_alternative_readings() -> None:
    assert transliteration_key("النقبي".removeprefix("ال")) in alternative_keys("nagbi")
    assert transliteration_key("رمضان") in alternative_keys("ramadhan")
    assert token_agreement("nagbi", "نقبي") == TRANSLIT


def test_thai_key_ignores_tone_marks() -> None:
    assert transliteration_key("ทองอยู่") == transliteration_key("ทองอยู")
    assert script_of("สมชาย") == "thai"


@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [
        ("catherine", "kathryn", "K0RN"),
        ("smith", "smyth", "SM0"),
        ("knight", "night", "NT"),
    ],
)
def test_phonetic_codes_for_latin_script(a: str, b: str, expected: str) -> None:
    assert phonetic_code(a) == phonetic_code(b) == expected


def test_phonetic_code_is_empty_for_arabic() -> None:
    assert phonetic_code("محمد") == ""


def test_token_agreement_categories() -> None:
    assert token_agreement("khan", "khan") == EXACT
    assert token_agreement("mohammed", "محمد") == TRANSLIT
    assert token_agreement("bob", "robert") == NICKNAME
    assert token_agreement("knight", "night") == PHONETIC
    assert token_agreement("khalid", "hamad") == DIFFERENT


def test_nickname_roots() -> None:
    assert nickname_root("bob") == "robert"
    assert nickname_root("liz") == "elizabeth"
    assert nickname_root("mohammed") == "mohammed"


@given(st.text(alphabet=st.characters(max_codepoint=0x7F), max_size=30))
def test_fast_normalise_matches_core_normalisation_for_ascii(text: str) -> None:
    assert normalize(text) == normalize_text(text)


@given(st.text(max_size=20))
def test_fast_normalise_matches_core_normalisation_for_any_text(text: str) -> None:
    assert normalize(text) == normalize_text(text)
