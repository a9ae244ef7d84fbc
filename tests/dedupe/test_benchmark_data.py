"""The labelled benchmark generator and the `dedupe` bench suite's naive matcher."""

from __future__ import annotations

import random
import re
from collections import Counter

import pytest
from rich.console import Console

from majlis.bench.dedupe import SCENARIOS, naive_exact_pairs, run
from majlis.bench.dedupe_truth import (
    POOL_ARAB_FAMILY,
    POOL_ARAB_MALE,
    POOL_PAKISTANI_GIVEN,
    generate_benchmark,
    metrics,
    romanise_arabic,
)
from majlis.dedupe.transliteration import name_keys


def test_romanisation_gives_clerk_spellings_the_matcher_can_read() -> None:
    rng = random.Random(1)
    spellings = {romanise_arabic("فهد", rng) for _ in range(20)}
    # Short vowels are unwritten in Arabic: the clerk picks one, or none at the end.
    assert all(re.fullmatch("F[aeiu]h[aeiu]?d", spelling) for spelling in spellings)
    assert len(spellings) > 1
    assert all(name_keys(spelling) == name_keys("فهد") for spelling in spellings)


def test_name_pools_are_large() -> None:
    assert len(POOL_ARAB_MALE) > 400
    assert len(POOL_ARAB_FAMILY) > 200
    assert len(POOL_PAKISTANI_GIVEN) > 400
    assert not any(" " in name for name in POOL_ARAB_MALE + POOL_ARAB_FAMILY)


def test_population_has_many_distinct_names_and_still_has_namesakes() -> None:
    benchmark = generate_benchmark(3000, seed=11)
    names = Counter(
        record["name"].lower()
        for record in benchmark.records
        if record.get("name") and record["kind"] == "individual"
    )
    assert len(names) > 0.8 * sum(names.values())  # mostly distinct spellings
    entities_by_name: dict[str, set[int]] = {}
    for record, entity in zip(benchmark.records, benchmark.entity_ids, strict=True):
        if record.get("name"):
            entities_by_name.setdefault(record["name"].lower(), set()).add(entity)
    assert any(len(entities) > 1 for entities in entities_by_name.values())  # namesakes


def test_naive_matcher_is_exact_on_email_phone_and_name() -> None:
    records = [
        {"email": "A@x.com", "phone": "050 111 2222", "name": "Ahmed Ali"},
        {"email": "a@x.com "},  # same email, case and spaces differ
        {"phone": "0501112222"},  # same digits
        {"name": "ahmed  ali"},  # same name, case and spacing differ
        {"name": "Ahmad Ali", "phone": "+971501112222"},  # transliteration, E.164: not naive
    ]
    assert naive_exact_pairs(records) == {(0, 1), (0, 2), (0, 3)}


def test_metrics_are_pairwise() -> None:
    result = metrics({(0, 1), (2, 3)}, {(0, 1), (4, 5)}, 0.5)
    assert (result.true_positives, result.false_positives, result.false_negatives) == (1, 1, 1)
    assert result.precision == result.recall == 0.5


def test_suite_scenarios_are_selectable_by_name() -> None:
    assert list(SCENARIOS) == ["quality", "scan", "e2e", "online"]
    with pytest.raises(ValueError, match="unknown dedupe scenarios"):
        run(1000, Console(), only=["quality", "nope"])
