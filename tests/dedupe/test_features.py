"""Normalisers and comparison levels, one matching feature at a time."""

from __future__ import annotations

import gc
import math
from typing import Any

import numpy as np
import pytest

from majlis.bench.dedupe_truth import generate_benchmark
from majlis.core.i18n import normalize_text
from majlis.dedupe.blocking import generate_candidate_pairs
from majlis.dedupe.features import (
    BusinessNameComparison,
    ContactComparison,
    DateOfBirthComparison,
    EmailComparison,
    FirstNameComparison,
    PreparedBatch,
    PreparedRecord,
    SurnameComparison,
    canonical_city,
    compare_records,
    cyclic_gc_paused,
    default_comparisons,
    normalize_address,
    normalize_email,
    normalize_phone,
    normalize_trn,
    one_digit_typo,
    prepare_business_name,
    prepare_record,
    strip_legal_suffixes,
    token_agreement,
)
from majlis.dedupe.model import FellegiSunterModel


def levels_by_feature(a: PreparedRecord, b: PreparedRecord) -> dict[str, tuple[int, Any]]:
    """(level, agreed value) per feature of the default comparisons."""
    names = [comparison.name for comparison in default_comparisons()]
    return dict(zip(names, compare_records(a, b), strict=True))


def level(comparison: Any, a: dict[str, Any], b: dict[str, Any]) -> str:
    """Label of the level a comparison gives two raw records."""
    index, _ = comparison.compare(prepare_record(a), prepare_record(b))
    return comparison.levels[index]


# -- business names --------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Al Futtaim Trading LLC", "al futtaim trading"),
        ("Al Futtaim Trading L.L.C.", "al futtaim trading"),
        ("Al Futtaim Trading L.L.C", "al futtaim trading"),
        ("Golden Falcon FZE", "golden falcon"),
        ("Golden Falcon F.Z.E.", "golden falcon"),
        ("Golden Falcon FZCO", "golden falcon"),
        ("Blue Ocean FZ-LLC", "blue ocean"),
        ("Blue Ocean Co. LLC", "blue ocean"),
        ("الفطيم للتجارة ذ.م.م", "الفطيم للتجاره"),
        ("الفطيم للتجارة ذ م م", "الفطيم للتجاره"),
        ("الفطيم للتجارة ش.ذ.م.م", "الفطيم للتجاره"),
        ("บริษัท สยามค้าส่ง จำกัด", "สยามค้าส่ง"),
        ("บริษัท สยามค้าส่ง จำกัด (มหาชน)", "สยามค้าส่ง"),
        ("หจก.คำลืออะไหล่ยนต์", "คำลืออะไหล่ยนต์"),
        ("Siam Wholesale Co., Ltd.", "siam wholesale"),
    ],
)
def test_legal_suffixes_are_stripped_in_every_script(raw: str, expected: str) -> None:
    # Expected values are normalised as in search (NFKD splits Thai "ำ").
    assert strip_legal_suffixes(raw) == normalize_text(expected)


def test_business_name_keys_agree_across_scripts_and_suffixes() -> None:
    latin = prepare_business_name("Al Futtaim General Trading L.L.C.")
    arabic = prepare_business_name("الفطيم للتجارة العامة ذ.م.م")
    assert latin is not None and arabic is not None
    assert latin.keys == arabic.keys
    assert latin.distinctive == arabic.distinctive == frozenset({"ftm"})


@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [
        ("Al Futtaim Trading LLC", "Al Futtaim Trading FZE", "exact"),
        ("Al Futtaim Trading LLC", "الفطيم للتجارة ذ.م.م", "transliteration"),
        ("Al Futtaim Trading LLC", "Al Futtaim General Trading", "distinctive_subset"),
        ("Golden Falcon Trading", "Golden Falcn Trading", "transliteration"),
        ("Golden Falcon Trading", "Golden Falcons Trading", "fuzzy"),
        ("Golden Falcon Trading", "Blue Ocean Trading", "different"),
    ],
)
def test_business_name_levels(a: str, b: str, expected: str) -> None:
    org = {"kind": "organization"}
    comparison = BusinessNameComparison()
    assert level(comparison, {**org, "business_name": a}, {**org, "business_name": b}) == expected


def test_organisation_without_business_name_is_matched_on_name() -> None:
    record = prepare_record({"kind": "organization", "name": "Blue Ocean LLC"})
    assert record.person_names == ()
    assert record.business_names[0].text == "blue ocean"


# -- identifiers -----------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Ahmed.Khan@Example.COM", "ahmed.khan@example.com"),
        (" ahmed.khan@example.com ", "ahmed.khan@example.com"),
        ("ahmed.khan+shop@example.com", "ahmed.khan@example.com"),
        ("Ahmed.Khan@gmail.com", "ahmedkhan@gmail.com"),
        ("a.h.m.e.d.khan+news@googlemail.com", "ahmedkhan@gmail.com"),
        ("not-an-email", ""),
        (None, ""),
    ],
)
def test_email_normalisation(raw: str | None, expected: str) -> None:
    assert normalize_email(raw) == expected


def test_dots_matter_outside_gmail() -> None:
    assert normalize_email("a.khan@outlook.com") != normalize_email("akhan@outlook.com")


@pytest.mark.parametrize(
    ("raw", "region", "expected"),
    [
        ("+971501234567", "AE", "+971501234567"),
        ("050 123 4567", "AE", "+971501234567"),
        ("050-123-4567", "AE", "+971501234567"),
        ("٠٥٠١٢٣٤٥٦٧", "AE", "+971501234567"),
        ("00971501234567", "AE", "+971501234567"),
        ("04 123 4567", "AE", "+97141234567"),
        ("081-234-5678", "TH", "+66812345678"),
        ("+66 81 234 5678", "TH", "+66812345678"),
        ("12", "AE", ""),
    ],
)
def test_phone_normalisation_to_e164(raw: str, region: str, expected: str) -> None:
    assert normalize_phone(raw, region) == expected


def test_thai_records_parse_local_numbers_as_thai() -> None:
    record = prepare_record({"country": "TH", "phone": "081-234-5678"})
    assert record.phones == ("+66812345678",)


def test_trn_is_fifteen_ascii_digits() -> None:
    assert normalize_trn("100-1234-5678-9012") == "100123456789012"
    assert normalize_trn("١٠٠١٢٣٤٥٦٧٨٩٠١٢") == "100123456789012"
    assert normalize_trn("12345") == ""


def test_email_levels_include_secondary_addresses() -> None:
    comparison = EmailComparison()
    a = {"email": "A.Khan@Gmail.com"}
    assert level(comparison, a, {"email": "akhan@gmail.com"}) == "primary_exact"
    assert (
        level(comparison, a, {"email": "x@y.com", "secondary_emails": ["akhan@gmail.com"]})
        == "any_shared"
    )
    assert level(comparison, a, {"email": "x@y.com"}) == "different"
    assert level(comparison, a, {}) == "null"


@pytest.mark.parametrize(
    ("b", "expected"),
    [
        ({"phone": "050 123 4567"}, "phone_primary"),
        (
            {"phone": "+971501234567", "address_line1": "Villa 3, Street 7"},
            "phone_primary+address_exact",
        ),
        ({"phone": "+971559999999", "secondary_phones": ["+971501234567"]}, "phone_shared"),
        ({"phone": "+971501234576"}, "phone_one_digit_typo"),
        ({"phone": "+971501234568"}, "phone_one_digit_typo"),
        ({"phone": "+971559999999", "address_line1": "Villa 3, St. 7"}, "address_exact"),
        ({"phone": "+971559999999", "address_line1": "Villa 3, Steet 7"}, "address_similar"),
        ({"phone": "+971559999999"}, "phone_different"),
        ({"address_line1": "Office 9, Airport Road"}, "address_different"),
        ({}, "null"),
    ],
)
def test_phone_and_address_levels(b: dict[str, Any], expected: str) -> None:
    a = {"phone": "+971501234567", "address_line1": "Villa 3, Street 7"}
    if expected in ("phone_primary", "phone_shared", "phone_one_digit_typo", "phone_different"):
        a = {"phone": "+971501234567"}
    assert level(ContactComparison(), a, b) == expected


def test_one_digit_typo_is_a_substitution_or_adjacent_swap() -> None:
    assert one_digit_typo("+971501234567", "+971501234568")
    assert one_digit_typo("+971501234567", "+971501234576")
    assert not one_digit_typo("+971501234567", "+971501234699")
    assert not one_digit_typo("+971501234567", "+97150123456")


def test_addresses_expand_abbreviations() -> None:
    expanded = normalize_address("Villa 3 Street 7 Building 2")
    assert normalize_address("Villa 3, St. 7, Bldg 2") == expanded


@pytest.mark.parametrize(
    ("alias", "canonical"),
    [("دبي", "dubai"), ("DXB", "dubai"), ("أبوظبي", "abu dhabi"), ("กรุงเทพมหานคร", "bangkok")],
)
def test_city_aliases(alias: str, canonical: str) -> None:
    assert canonical_city(alias) == canonical


# -- dates of birth --------------------------------------------------------


@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [
        ("1985-03-07", "1985-03-07", "exact"),
        ("1985-03-07", "1985-07-03", "day_month_swapped"),
        ("1985-03-07", "1986-03-07", "one_part_differs"),
        ("1985-03-07", "1985-03-17", "one_part_differs"),
        ("1985-03-07", "1991-11-23", "different"),
        ("1985-03-07", None, "null"),
        ("1985-03-07", "not a date", "null"),
    ],
)
def test_date_of_birth_levels(a: str, b: str | None, expected: str) -> None:
    assert level(DateOfBirthComparison(), {"date_of_birth": a}, {"date_of_birth": b}) == expected


# -- personal names ----------------------------------------------------------


@pytest.mark.parametrize(
    ("a", "b", "first", "surname"),
    [
        ("Mohammed Al Mansouri", "Mohammed Al Mansouri", "exact", "exact"),
        ("Mohammed Al Mansouri", "Muhammad Almansoori", "transliteration", "transliteration"),
        ("Mohammed Al Mansouri", "محمد المنصوري", "transliteration", "transliteration"),
        ("Al Mansouri Mohammed", "Mohammed Al Mansouri", "exact", "exact"),
        ("Bob Smith", "Robert Smith", "nickname", "exact"),
        ("Jon Knight", "John Night", "nickname", "phonetic"),
        ("M. Khan", "Mohammed Khan", "initial", "exact"),
        ("Rashid Khan", "Rashiq Kahn", "jaro_winkler>=0.92", "jaro_winkler>=0.92"),
        ("Kamran Khan", "Kamal Khan", "jaro_winkler>=0.80", "exact"),
        ("Mohammed Khan", "Mohammmed Khan", "transliteration", "exact"),
        ("Ahmed Khan", "Fatima Khan", "different", "exact"),
        ("Ahmed", "Ahmed Khan", "exact", "null"),
    ],
)
def test_personal_name_levels(a: str, b: str, first: str, surname: str) -> None:
    assert level(FirstNameComparison(), {"name": a}, {"name": b}) == first
    assert level(SurnameComparison(), {"name": a}, {"name": b}) == surname


def test_best_of_latin_and_arabic_spellings_is_used() -> None:
    a = {"name": "Hessa Al Ketbi", "name_ar": "حصة الكتبي"}
    b = {"name_ar": "حصة الكتبي"}
    assert level(FirstNameComparison(), a, b) == "exact"


def test_surname_and_city_carry_no_evidence_at_a_shared_home() -> None:
    # Two relatives: same address and family name, different first names.
    home = {"address_line1": "Villa 3, Street 7", "city": "Dubai"}
    father = prepare_record({**home, "name": "Rashid Al Mansouri"})
    daughter = prepare_record({**home, "name": "Mariam Al Mansouri"})
    by_feature = levels_by_feature(father, daughter)
    assert by_feature["phone_and_address"][0] == 6  # address_exact
    assert by_feature["surname"] == (0, None)
    assert by_feature["city"] == (0, None)
    assert by_feature["first_name"][0] == 8  # different: still counted


def test_surname_carries_no_evidence_given_a_shared_family_landline() -> None:
    # Siblings: own mobiles, the family landline as a secondary number.
    landline = {"secondary_phones": ["+97147017103"], "city": "Ajman"}
    brother = prepare_record({**landline, "phone": "+971588356571", "name": "Saif Tisim"})
    sister = prepare_record({**landline, "phone": "+971525996578", "name": "Noura Tisim"})
    by_feature = levels_by_feature(brother, sister)
    assert by_feature["phone_and_address"][0] == 4  # phone_shared
    assert by_feature["surname"] == (0, None)
    assert by_feature["city"] == (0, None)
    assert by_feature["first_name"][0] == 8  # different: still counted


def test_surname_still_counts_for_colleagues_sharing_a_switchboard() -> None:
    switchboard = {"phone": "+97143334444", "city": "Dubai"}
    a = prepare_record({**switchboard, "name": "Priya Nair"})
    b = prepare_record({**switchboard, "name": "Anil Nair"})
    by_feature = levels_by_feature(a, b)
    assert by_feature["phone_and_address"][0] == 2  # phone_primary
    assert by_feature["surname"][0] == 1  # exact, counted


# -- batch path ----------------------------------------------------------------


def test_batch_levels_equal_single_pair_levels() -> None:
    benchmark = generate_benchmark(800, seed=3)
    batch = PreparedBatch.from_records(benchmark.records)
    candidates = generate_candidate_pairs(batch)
    rng = np.random.default_rng(0)
    left = np.concatenate([candidates.left, rng.integers(0, len(batch), 500)])
    right = np.concatenate([candidates.right, rng.integers(0, len(batch), 500)])
    model = FellegiSunterModel.untrained()
    levels, tf = model.compare_batch(batch, left, right)
    frequencies = batch.term_frequencies
    for k in range(len(left)):
        results = compare_records(batch.records[left[k]], batch.records[right[k]])
        for f, (expected_level, value) in enumerate(results):
            assert levels[k, f] == expected_level
            comparison = model.comparisons[f]
            expected_tf = (
                frequencies.lookup(comparison.name, value)
                if expected_level in comparison.tf_levels
                else None
            )
            assert (expected_tf is None) == math.isnan(tf[k, f])
            if expected_tf is not None:
                assert tf[k, f] == pytest.approx(expected_tf)


def test_batch_token_pair_categories_equal_token_agreement() -> None:
    """Every token pair the batch path compares in numpy/rapidfuzz — including
    "Abd …" compounds and Latin/Arabic pairs whose keys differ in length —
    gets the category of the scalar `token_agreement`."""
    typo_prone = [
        {"name": "Abdul Rahman Al Ketbi"},
        {"name": "Abdul Rahim Al Kitbi"},
        {"name_ar": "عبد الرحمن الكتبي"},
        {"name": "Ibrahim Khoury"},
        {"name_ar": "ابراهيم خوري"},
        {"name": "Ebraheem Kouri"},
        {"name": "Amal Nasser"},
        {"name": "Amna Naser"},
        {"name": "Bob Smith"},
        {"name": "Robert Smyth"},
        {"name": "Mohzmmed Patterson"},  # keys one letter longer than the Arabic ones
        {"name_ar": "محمود بتروني"},
    ]
    benchmark = generate_benchmark(600, seed=4)
    batch = PreparedBatch.from_records([*typo_prone, *benchmark.records])
    columns = batch.name_tokens
    n_tokens = len(columns.tokens)
    crafted = np.unique(
        np.concatenate([columns.first[: len(typo_prone)], columns.last[: len(typo_prone)]]).ravel()
    )
    crafted = crafted[crafted >= 0]
    rng = np.random.default_rng(1)
    codes_a = np.concatenate([np.repeat(crafted, n_tokens), rng.integers(0, n_tokens, 30_000)])
    codes_b = np.concatenate(
        [np.tile(np.arange(n_tokens), len(crafted)), rng.integers(0, n_tokens, 30_000)]
    )
    categories = columns.agreement(codes_a, codes_b)
    expected = [
        token_agreement(columns.tokens[a], columns.tokens[b])
        for a, b in zip(codes_a.tolist(), codes_b.tolist(), strict=True)
    ]
    assert categories.tolist() == expected
    assert len(set(expected)) == 8  # every category occurs


def test_prepare_record_tolerates_empty_records() -> None:
    record = prepare_record({})
    assert record.person_names == () and record.phones == () and record.dob is None
    assert all(level == 0 for level, _ in compare_records(record, record))


def test_cyclic_gc_pause_restores_the_collector_even_after_an_error() -> None:
    assert gc.isenabled()
    with pytest.raises(RuntimeError), cyclic_gc_paused():
        assert not gc.isenabled()
        raise RuntimeError("bulk work failed")
    assert gc.isenabled()


def test_cyclic_gc_pause_leaves_a_collector_disabled_by_the_caller_disabled() -> None:
    gc.disable()
    try:
        with cyclic_gc_paused():
            pass
        assert not gc.isenabled()
    finally:
        gc.enable()
