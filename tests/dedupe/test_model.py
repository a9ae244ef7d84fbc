"""Fellegi–Sunter model: EM, serialisation, TF adjustment, blocking, clustering, quality."""

from __future__ import annotations

import json
from functools import cache

import numpy as np
import pytest

from majlis.bench.dedupe_truth import Benchmark, evaluate, generate_benchmark
from majlis.dedupe.blocking import (
    DEFAULT_WINDOW,
    block_pairs,
    cluster_pairs,
    find_duplicates,
    generate_candidate_pairs,
    neighbourhood_ranks,
    score_candidate_pairs,
)
from majlis.dedupe.features import PreparedBatch, TermFrequencies, prepare_record
from majlis.dedupe.model import (
    FellegiSunterModel,
    expectation_maximisation,
    load_default_model,
    weight_to_probability,
)


@cache
def small_benchmark() -> Benchmark:
    return generate_benchmark(2000, seed=2)


@cache
def fitted_model() -> FellegiSunterModel:
    return FellegiSunterModel.fit(small_benchmark().records, n_random_pairs=30_000, seed=1)


# -- EM ------------------------------------------------------------------------


def test_em_recovers_known_m_and_match_rate() -> None:
    rng = np.random.default_rng(7)
    true_m = np.array([0.80, 0.15, 0.05])  # levels 1..3: agree, partial, disagree
    u = [1.0, 0.01, 0.09, 0.90]
    n_pairs, match_rate = 40_000, 0.3
    is_match = rng.random(n_pairs) < match_rate
    levels = np.empty((n_pairs, 4), dtype=np.int8)
    for f in range(4):
        matched = rng.choice([1, 2, 3], size=n_pairs, p=true_m)
        unmatched = rng.choice([1, 2, 3], size=n_pairs, p=u[1:])
        levels[:, f] = np.where(is_match, matched, unmatched)
    levels[rng.random(n_pairs) < 0.2, 3] = 0  # some missing values
    result = expectation_maximisation(levels, [u] * 4, [4] * 4)
    assert result.match_rate == pytest.approx(match_rate, abs=0.02)
    for f in range(4):
        assert result.m[f][1:] == pytest.approx(true_m.tolist(), abs=0.03)


def test_fit_learns_sensible_parameters() -> None:
    model = fitted_model()
    by_name = {feature.name: feature for feature in model.features}
    for name in ("email", "first_name", "surname", "date_of_birth"):
        feature = by_name[name]
        # Strongest agreement is much likelier for duplicates, "different" for others.
        assert feature.m[1] > 20 * feature.u[1]
        assert feature.m[-1] < feature.u[-1]
    first_name = by_name["first_name"]
    assert first_name.m[first_name.levels.index("different")] < 0.1
    # The prior is estimated without labels; it should be in the right ballpark.
    true_pairs_per_record = len(small_benchmark().true_pairs()) / 2000
    assert 0.5 < model.duplicate_pairs_per_record / true_pairs_per_record < 2.0


# -- serialisation -------------------------------------------------------------


def test_json_round_trip_preserves_parameters_and_scores() -> None:
    model = fitted_model()
    restored = FellegiSunterModel.from_json(model.to_json())
    assert restored.to_dict() == json.loads(model.to_json())
    a = {"name": "Mohammed Al Mansouri", "phone": "+971501234567", "city": "Dubai"}
    b = {"name_ar": "محمد المنصوري", "phone": "050 123 4567", "city": "دبي"}
    assert restored.score_pair(a, b).match_weight == pytest.approx(
        model.score_pair(a, b).match_weight
    )


def test_loading_rejects_parameters_for_other_features() -> None:
    data = load_default_model().to_dict()
    data["features"] = data["features"][:-1]
    with pytest.raises(ValueError, match="do not match"):
        FellegiSunterModel.from_dict(data)


def test_default_model_ships_and_matches_code() -> None:
    model = load_default_model()
    assert 0 < model.threshold < 1
    assert model.duplicate_pairs_per_record > 0
    assert model.term_frequencies is not None
    assert set(model.term_frequencies.frequencies) == {"name", "city"}


# -- scoring and evidence ---------------------------------------------------------


def test_english_and_arabic_records_of_one_person_match_with_evidence() -> None:
    model = load_default_model()
    scored = model.score_pair(
        {"id": 1, "name": "Mohammed Al Mansouri", "phone": "+971501234567", "city": "Dubai"},
        {"id": 2, "name_ar": "محمد المنصوري", "phone": "050 123 4567", "city": "دبي"},
    )
    evidence = {item.feature: item for item in scored.evidence}
    assert scored.match_probability > model.threshold
    assert evidence["first_name"].label == "transliteration"
    assert evidence["phone_and_address"].label == "phone_primary"
    assert evidence["email"].label == "null" and evidence["email"].bayes_factor == 1.0
    total = scored.prior_weight + sum(item.match_weight for item in scored.evidence)
    assert scored.match_weight == pytest.approx(total)
    assert scored.match_probability == pytest.approx(weight_to_probability(np.array([total]))[0])
    assert scored.to_dict()["evidence"][0]["feature"] == "trn"


def test_common_surname_weighs_less_than_rare_one() -> None:
    model = load_default_model()
    frequencies = TermFrequencies(
        frequencies={"name": {"xn": 0.05, "zrn": 0.0001, "ahmd": 0.01}}, n_records=10_000
    )

    def surname_evidence(surname: str) -> tuple[float, float]:
        scored = model.score_pair(
            {"name": f"Ahmed {surname}"},
            {"name": f"Ahmed {surname}"},
            term_frequencies=frequencies,
        )
        item = next(e for e in scored.evidence if e.feature == "surname")
        return item.match_weight, item.tf_adjustment

    common_weight, common_adjustment = surname_evidence("Khan")
    rare_weight, rare_adjustment = surname_evidence("Zarooni")
    assert common_adjustment < 0 < rare_adjustment
    assert common_weight < rare_weight - 5


def test_shared_switchboard_counts_less_than_a_personal_mobile() -> None:
    model = load_default_model()
    switchboard = "+97143000000"
    staff = [{"name": f"Person {i}", "phone": switchboard} for i in range(200)]
    records = [*staff, {"name": "Sara Ali", "phone": "+971501111111"}]
    records.append({"name": "Sara Ali", "phone": "+971501111111"})
    batch = PreparedBatch.from_records(records)
    frequencies, n = batch.term_frequencies, len(batch)

    def phone_weight(i: int, j: int) -> float:
        scored = model.score_pair(
            batch.records[i], batch.records[j], term_frequencies=frequencies, n_records=n
        )
        return next(e for e in scored.evidence if e.feature == "phone_and_address").match_weight

    assert phone_weight(0, 1) < phone_weight(200, 201) - 5


def test_single_pair_scoring_equals_the_batch_path() -> None:
    """The online check's scalar path gives each pair the scan's levels, weights, probability."""
    model = load_default_model()
    batch = PreparedBatch.from_records(small_benchmark().records)
    candidates = generate_candidate_pairs(batch)
    rng = np.random.default_rng(5)
    left = np.concatenate([candidates.left, rng.integers(0, len(batch), 500)])
    right = np.concatenate([candidates.right, rng.integers(0, len(batch), 500)])
    scores = score_candidate_pairs(batch, left, right, model)
    _, tf = model.compare_batch(batch, left, right)
    feature_weights = (
        model.tf_adjustments(scores.levels, tf, len(batch))
        + np.array(
            [
                model.features[f].log2_bayes_factors()[scores.levels[:, f]]
                for f in range(len(model.features))
            ]
        ).T
    )
    assert (scores.match_probability > 0.5).sum() > 400  # true duplicates, not only strangers
    for k in range(len(left)):
        scored = model.score_pair(
            batch.records[left[k]],
            batch.records[right[k]],
            term_frequencies=batch.term_frequencies,
            n_records=len(batch),
        )
        assert [item.level for item in scored.evidence] == scores.levels[k].tolist()
        assert [item.match_weight for item in scored.evidence] == pytest.approx(
            feature_weights[k].tolist(), abs=1e-12, rel=0
        )
        assert scored.match_weight == pytest.approx(scores.match_weight[k], abs=1e-12, rel=0)
        assert scored.match_probability == pytest.approx(
            scores.match_probability[k], abs=1e-12, rel=0
        )


# -- blocking ----------------------------------------------------------------------


def test_small_blocks_give_all_pairs_and_giant_blocks_a_window() -> None:
    codes = np.array([0] * 4 + [1] * 500)
    records = np.arange(len(codes))
    left, _, stats = block_pairs(codes, records, records, max_block_size=40, window=8)
    small = left < 4
    assert small.sum() == 6  # all pairs of the 4-record block
    assert (~small).sum() == sum(min(7, 499 - i) for i in range(500))  # ~500 × (window - 1)
    assert stats.oversized_blocks == 1 and stats.largest_block == 500


def test_shared_company_phone_does_not_explode_candidates() -> None:
    records = [
        {"name": f"Employee {i} Staff{i}", "phone": "+97143000000", "city": "Dubai"}
        for i in range(500)
    ]
    batch = PreparedBatch.from_records(records)
    candidates = generate_candidate_pairs(batch)
    passes = len(neighbourhood_ranks(batch))
    assert candidates.stats["phone"].pairs <= passes * 500 * (DEFAULT_WINDOW - 1)
    assert len(candidates) < 20_000  # instead of 124,750 for the phone block alone


def test_parallel_scoring_equals_serial_scoring() -> None:
    batch = PreparedBatch.from_records(small_benchmark().records)
    candidates = generate_candidate_pairs(batch)
    model = load_default_model()
    serial = score_candidate_pairs(batch, candidates.left, candidates.right, model)
    parallel = score_candidate_pairs(
        batch, candidates.left, candidates.right, model, chunk_size=2_000, workers=2
    )
    np.testing.assert_array_equal(serial.levels, parallel.levels)
    np.testing.assert_allclose(serial.match_weight, parallel.match_weight)


# -- clustering ----------------------------------------------------------------------


def test_cluster_cap_stops_chaining() -> None:
    # A chain 0-1-2-…-9 of strong links plus one weak link to a second chain.
    left = np.array([*range(9), 9, *range(10, 19)])
    right = np.array([*range(1, 10), 10, *range(11, 20)])
    probability = np.array([0.99] * 9 + [0.91] + [0.99] * 9)
    clusters = cluster_pairs(20, left, right, probability, threshold=0.9, max_cluster_size=10)
    sizes = np.bincount(clusters.labels)
    assert sizes.max() == 10
    assert clusters.refused_links == 1
    assert clusters.labels[0] != clusters.labels[19]


def test_links_below_threshold_are_ignored() -> None:
    clusters = cluster_pairs(
        3, np.array([0, 1]), np.array([1, 2]), np.array([0.95, 0.4]), threshold=0.9
    )
    assert clusters.labels[0] == clusters.labels[1] != clusters.labels[2]


# -- quality ---------------------------------------------------------------------------


def test_precision_and_recall_on_two_thousand_records() -> None:
    report = evaluate(benchmark=small_benchmark())
    assert report.blocking_recall >= 0.97
    assert report.pairwise.precision >= 0.97
    assert report.pairwise.recall >= 0.95


def test_find_duplicates_end_to_end() -> None:
    records = [
        {"id": "a", "name": "Mohammed Al Mansouri", "phone": "+971501234567", "city": "Dubai"},
        {"id": "b", "name_ar": "محمد المنصوري", "phone": "050 123 4567", "city": "دبي"},
        {"id": "c", "name": "Fatima Al Mansouri", "phone": "+971509999999", "city": "Dubai"},
    ]
    scan = find_duplicates(records, workers=1)
    assert [(a, b) for a, b, _ in scan.matches()] == [("a", "b")]
    labels = scan.clusters.labels
    assert labels[0] == labels[1] != labels[2]
    assert set(scan.timings) == {"prepare", "blocking", "scoring", "clustering"}


def test_prepare_record_accepts_dates_and_lists() -> None:
    from datetime import date

    record = prepare_record(
        {"date_of_birth": date(1990, 5, 1), "secondary_phones": ["050 111 2222", ""]}
    )
    assert record.dob == date(1990, 5, 1)
    assert record.phones == ("+971501112222",)
