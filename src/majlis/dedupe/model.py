"""A Fellegi–Sunter duplicate model with term-frequency adjustment.

The model follows Splink's formulation (Splink itself is not a dependency):

* each feature has ordered comparison levels, level 0 being "null" (value
  missing on one side: Bayes factor 1, no evidence either way);
* ``m[level] = P(level | same customer)``, ``u[level] = P(level | different)``;
* ``u`` is estimated by comparing *random* record pairs (almost all of which are
  different customers); ``m`` and the match rate among candidate pairs are
  estimated by expectation–maximisation on the blocked candidate pairs, with
  ``u`` held fixed;
* the match weight of a pair is ``log2(prior odds) + Σ log2(m/u)``, and the
  match probability is ``2^w / (1 + 2^w)``;
* for levels flagged as term-frequency adjusted, the Bayes factor is multiplied
  by ``u_reference / tf(value)``, where ``u_reference`` is the chance that two
  random records agree on that attribute at all: agreeing on a surname held
  by 2 % of customers ("Khan") is worth less than agreeing on one held by
  0.01 %.

The prior is stored scale-free as *expected duplicate pairs per record*: the
probability that two random records match is ``2r / (N - 1)`` for a dataset of
N records, so the same parameters serve a 500-customer shop and a
million-record tenant. Combined with per-dataset term frequencies, agreement on
a unique identifier then carries the same posterior in both.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

from majlis.dedupe.features import (
    Comparison,
    PreparedBatch,
    PreparedRecord,
    TermFrequencies,
    apply_conditional_nulls,
    compare_records,
    default_comparisons,
    prepare_record,
)

FORMAT = "majlis.dedupe.fellegi_sunter"
FORMAT_VERSION = 1
DEFAULT_THRESHOLD = 0.9
# Smallest probability any m or u may take: a level never seen in training
# must not become infinitely decisive.
PROBABILITY_FLOOR = 1e-6
TF_TABLE_LIMIT = 300
# Strength, in records, of the prior that a value has average frequency.
TF_PRIOR_RECORDS = 1000
# Only name and city frequencies generalise beyond the training data; phone,
# email and business-name frequencies always come from the data being scored.
SHIPPED_TF_TABLES = ("name", "city")
# EM sessions on fewer pairs than this are too noisy to be worth it.
MIN_SESSION_PAIRS = 50
# Smallest prior ever used, so that log-odds stay finite.
MIN_MATCH_PRIOR = 1e-12


@dataclass(frozen=True)
class Evidence:
    """Why a feature pushed a pair towards or away from being a duplicate."""

    feature: str
    level: int
    label: str
    bayes_factor: float
    match_weight: float  # log2 Bayes factor including the TF adjustment
    tf_adjustment: float = 0.0  # log2 part due to how common the agreed value is


@dataclass(frozen=True)
class ScoredPair:
    """A compared pair: probability, total weight and per-feature evidence."""

    id_a: Any
    id_b: Any
    match_probability: float
    match_weight: float
    prior_weight: float
    evidence: tuple[Evidence, ...]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form, for review screens and APIs."""
        return asdict(self)


@dataclass
class FeatureParameters:
    """m and u per comparison level of one feature (index 0 = null, unused)."""

    name: str
    levels: list[str]
    m: list[float]
    u: list[float]
    tf_levels: list[int] = field(default_factory=list)

    def log2_bayes_factors(self) -> np.ndarray:
        """log2(m/u) per level, 0 for the null level."""
        m = np.maximum(np.asarray(self.m, dtype=float), PROBABILITY_FLOOR)
        u = np.maximum(np.asarray(self.u, dtype=float), PROBABILITY_FLOOR)
        weights = np.log2(m / u)
        weights[0] = 0.0
        return weights

    @property
    def tf_reference_u(self) -> float:
        """P(the pair agrees on the TF-adjusted value | non-match).

        The sum of u over the TF-adjusted levels (e.g. exact + transliteration
        for names, all "number shared" levels for phones); a value of average
        frequency then gets no adjustment.
        """
        return max(sum(self.u[i] for i in self.tf_levels), PROBABILITY_FLOOR)


class FellegiSunterModel:
    """Trainable, JSON-serialisable duplicate model over `default_comparisons()`."""

    def __init__(
        self,
        features: Sequence[FeatureParameters],
        *,
        duplicate_pairs_per_record: float,
        threshold: float = DEFAULT_THRESHOLD,
        reference_records: int = 10_000,
        term_frequencies: TermFrequencies | None = None,
        training: Mapping[str, Any] | None = None,
        comparisons: Sequence[Comparison] | None = None,
    ) -> None:
        self.comparisons = tuple(comparisons or default_comparisons())
        self.features = list(features)
        _check_features_match(self.comparisons, self.features)
        self.duplicate_pairs_per_record = duplicate_pairs_per_record
        self.threshold = threshold
        self.reference_records = reference_records
        self.term_frequencies = term_frequencies
        self.training = dict(training or {})
        self._weights = _weight_table(self.features)
        # The same table as Python floats, for scoring single pairs without numpy.
        self._weight_rows: list[list[float]] = self._weights.tolist()

    # -- prior -----------------------------------------------------------

    def match_prior(self, n_records: int | None = None) -> float:
        """Probability that two random records of an N-record dataset match."""
        n = max(n_records or self.reference_records, 2)
        return min(max(2.0 * self.duplicate_pairs_per_record / (n - 1), MIN_MATCH_PRIOR), 0.5)

    def prior_weight(self, n_records: int | None = None) -> float:
        """log2 prior odds of a match."""
        prior = self.match_prior(n_records)
        return math.log2(prior / (1.0 - prior))

    # -- scoring ---------------------------------------------------------

    def tf_adjustments(
        self, levels: np.ndarray, tf: np.ndarray, n_records: int | None = None
    ) -> np.ndarray:
        """log2 TF adjustment per pair and feature (0 where not applicable).

        ``log2(u_reference / tf)``: negative for common values, positive for rare.
        """
        adjustments = np.zeros(levels.shape, dtype=float)
        n = n_records or self.reference_records
        for f, feature in enumerate(self.features):
            if not feature.tf_levels:
                continue
            applies = np.isin(levels[:, f], feature.tf_levels) & ~np.isnan(tf[:, f])
            if applies.any():
                frequency = smoothed_frequency(tf[applies, f], n, feature.tf_reference_u)
                adjustments[applies, f] = np.log2(feature.tf_reference_u / frequency)
        return adjustments

    def match_weights(
        self, levels: np.ndarray, tf: np.ndarray | None = None, n_records: int | None = None
    ) -> np.ndarray:
        """Total match weight (log2 posterior odds) of many pairs at once."""
        feature_index = np.arange(len(self.features))
        weights = self._weights[feature_index, levels.astype(np.intp)].sum(axis=1)
        if tf is not None:
            weights = weights + self.tf_adjustments(levels, tf, n_records).sum(axis=1)
        return weights + self.prior_weight(n_records)

    def score_levels(
        self, levels: np.ndarray, tf: np.ndarray | None = None, n_records: int | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Match weights and probabilities of many pairs (levels: pairs × features)."""
        weights = self.match_weights(levels, tf, n_records)
        return weights, weight_to_probability(weights)

    def compare_batch(
        self,
        batch: PreparedBatch,
        left: np.ndarray,
        right: np.ndarray,
        *,
        conditional_nulls: bool = True,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Level and term-frequency matrices (pairs × features) for index pairs."""
        levels = np.zeros((len(left), len(self.comparisons)), dtype=np.int8)
        tf = np.full((len(left), len(self.comparisons)), np.nan)
        for f, comparison in enumerate(self.comparisons):
            levels[:, f], tf[:, f] = comparison.compare_batch(batch, left, right)
        if conditional_nulls:
            apply_conditional_nulls(levels, self.comparisons)
            tf[levels == 0] = np.nan
        return levels, tf

    def score_pair(
        self,
        record_a: Mapping[str, Any] | PreparedRecord,
        record_b: Mapping[str, Any] | PreparedRecord,
        *,
        term_frequencies: TermFrequencies | None = None,
        n_records: int | None = None,
    ) -> ScoredPair:
        """Score one pair with full per-feature evidence.

        The scalar path for a handful of pairs (the online check, explanations):
        plain Python floats throughout, since numpy's per-call overhead on one
        pair costs more than the arithmetic. It gives the levels, weights and
        probability `compare_batch` + `score_levels` give the same pair.

        Term frequencies default to the table shipped with the model; pass the
        tenant's own (``PreparedBatch.term_frequencies``) when available, along
        with its record count.
        """
        a, b = _prepared(record_a), _prepared(record_b)
        frequencies = term_frequencies or self.term_frequencies
        n = n_records or (frequencies.n_records if frequencies else None) or self.reference_records
        evidence = tuple(
            self._evidence(feature, weights, level, value, frequencies, n)
            for (level, value), feature, weights in zip(
                compare_records(a, b, self.comparisons),
                self.features,
                self._weight_rows,
                strict=True,
            )
        )
        prior = self.prior_weight(n)
        total = prior + sum(item.match_weight for item in evidence)
        return ScoredPair(
            id_a=a.id,
            id_b=b.id,
            match_probability=weight_to_probability_scalar(total),
            match_weight=total,
            prior_weight=prior,
            evidence=evidence,
        )

    @staticmethod
    def _evidence(
        feature: FeatureParameters,
        weights: list[float],
        level: int,
        value: str | None,
        frequencies: TermFrequencies | None,
        n_records: int,
    ) -> Evidence:
        """One feature's evidence: level weight plus the TF adjustment of the agreed value."""
        adjustment = 0.0
        if frequencies is not None and level in feature.tf_levels:
            frequency = frequencies.lookup(feature.name, value)
            if frequency is not None:
                smoothed = smoothed_frequency_scalar(frequency, n_records, feature.tf_reference_u)
                adjustment = math.log2(feature.tf_reference_u / smoothed)
        weight = weights[level] + adjustment
        return Evidence(
            feature=feature.name,
            level=level,
            label=feature.levels[level],
            bayes_factor=2.0**weight,
            match_weight=weight,
            tf_adjustment=adjustment,
        )

    # -- training --------------------------------------------------------

    @classmethod
    def fit(
        cls,
        records: Iterable[Mapping[str, Any]] | PreparedBatch,
        *,
        n_random_pairs: int = 400_000,
        seed: int = 0,
        max_iterations: int = 100,
        threshold: float = DEFAULT_THRESHOLD,
    ) -> FellegiSunterModel:
        """Estimate u from random pairs, then m and the prior by EM per blocking rule.

        As in Splink, EM runs once per training blocking rule on the pairs that
        rule proposed, *ignoring the features the rule conditions on* (every
        pair from "same email" agrees on email, so those pairs say nothing
        about how often true duplicates share an email). Each feature's m is
        the average over the sessions that could estimate it, weighted by the
        expected number of matches that had a value for it.

        The prior comes from the same sessions: a session finds M_s matches,
        and its rule fires for a share ρ_s of *all* duplicates that the m
        probabilities of the rule's own features predict (e.g. ρ = P(both have
        an email | match) × P(email agrees | match)); M_s / ρ_s estimates the
        total, and the sessions' estimates are averaged.
        """
        from majlis.dedupe.blocking import generate_candidate_pairs

        batch = (
            records if isinstance(records, PreparedBatch) else PreparedBatch.from_records(records)
        )
        comparisons = default_comparisons()
        u = estimate_u(batch, comparisons, n_random_pairs=n_random_pairs, seed=seed)
        candidates = generate_candidate_pairs(batch)
        raw_levels, _ = cls.untrained(comparisons).compare_batch(
            batch, candidates.left, candidates.right, conditional_nulls=False
        )
        levels = apply_conditional_nulls(raw_levels.copy(), comparisons)
        names = [c.name for c in comparisons]
        n_levels = [len(c.levels) for c in comparisons]
        training_rules = [rule for rule in candidates.rules if rule.train]
        rule_columns = {
            rule.name: [names.index(f) for f in rule.features] for rule in training_rules
        }
        totals = _SessionTotals(len(comparisons), max(n_levels), rule_columns)
        sessions: dict[str, dict[str, Any]] = {}
        for r, rule in enumerate(candidates.rules):
            chosen = candidates.from_rule(r)
            if not rule.train or chosen.sum() < MIN_SESSION_PAIRS:
                continue
            ignored = rule_columns[rule.name]
            session_levels = levels[chosen].copy()
            session_levels[:, ignored] = 0  # null level: no evidence, not estimated
            result = expectation_maximisation(
                session_levels, u, n_levels, max_iterations=max_iterations
            )
            totals.add(session_levels, raw_levels[chosen], result, ignored)
            sessions[rule.name] = {
                "pairs": int(chosen.sum()),
                "expected_matches": round(float(result.posteriors.sum()), 1),
                "iterations": result.iterations,
            }
        m = totals.m(n_levels)
        features = [
            FeatureParameters(c.name, list(c.levels), m[f], u[f], sorted(c.tf_levels))
            for f, c in enumerate(comparisons)
        ]
        estimates = []
        for rule in training_rules:
            if rule.name not in sessions:
                continue
            recall = totals.rule_comparable(rule.name) * _rule_agreement(rule.implies, features)
            found = sessions[rule.name]["expected_matches"]
            sessions[rule.name]["estimated_recall"] = round(recall, 4)
            if recall > 0:
                estimates.append((found, found / recall))
        weight = sum(found for found, _ in estimates)
        if estimates:
            expected_matches = sum(found * total for found, total in estimates) / weight
        else:
            # No session could judge another rule's recall (tiny dataset): the
            # largest number of matches any single rule found is a lower bound.
            expected_matches = max(
                (float(session["expected_matches"]) for session in sessions.values()), default=0.0
            )
        return cls(
            features,
            duplicate_pairs_per_record=expected_matches / max(len(batch), 1),
            threshold=threshold,
            reference_records=len(batch),
            term_frequencies=batch.term_frequencies.most_common(
                TF_TABLE_LIMIT, features=SHIPPED_TF_TABLES
            ),
            comparisons=comparisons,
            training={
                "records": len(batch),
                "candidate_pairs": len(candidates),
                "random_pairs": n_random_pairs,
                "expected_matches": round(expected_matches, 1),
                "seed": seed,
                "sessions": sessions,
            },
        )

    @classmethod
    def untrained(cls, comparisons: Sequence[Comparison] | None = None) -> FellegiSunterModel:
        """A model with placeholder parameters (for computing levels only)."""
        comparisons = tuple(comparisons or default_comparisons())
        features = [
            FeatureParameters(
                c.name,
                list(c.levels),
                _initial_m(len(c.levels)).tolist(),
                [1.0 / len(c.levels)] * len(c.levels),
                sorted(c.tf_levels),
            )
            for c in comparisons
        ]
        return cls(features, duplicate_pairs_per_record=0.1, comparisons=comparisons)

    # -- serialisation ---------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        """Parameters as plain JSON-compatible data."""
        return {
            "format": FORMAT,
            "version": FORMAT_VERSION,
            "duplicate_pairs_per_record": self.duplicate_pairs_per_record,
            "reference_records": self.reference_records,
            "threshold": self.threshold,
            "features": [
                {
                    "name": feature.name,
                    "levels": [
                        {
                            "label": label,
                            "m": feature.m[i],
                            "u": feature.u[i],
                            "tf_adjusted": i in feature.tf_levels,
                        }
                        for i, label in enumerate(feature.levels)
                    ],
                }
                for feature in self.features
            ],
            "term_frequencies": None
            if self.term_frequencies is None
            else {
                "n_records": self.term_frequencies.n_records,
                "values": self.term_frequencies.frequencies,
            },
            "training": self.training,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> FellegiSunterModel:
        """Inverse of `to_dict`; raises ValueError if the features do not match the code."""
        if data.get("format") != FORMAT or data.get("version") != FORMAT_VERSION:
            raise ValueError(f"not a {FORMAT} v{FORMAT_VERSION} model")
        features = [
            FeatureParameters(
                name=item["name"],
                levels=[level["label"] for level in item["levels"]],
                m=[float(level["m"]) for level in item["levels"]],
                u=[float(level["u"]) for level in item["levels"]],
                tf_levels=[i for i, level in enumerate(item["levels"]) if level["tf_adjusted"]],
            )
            for item in data["features"]
        ]
        tf_data = data.get("term_frequencies")
        return cls(
            features,
            duplicate_pairs_per_record=float(data["duplicate_pairs_per_record"]),
            threshold=float(data["threshold"]),
            reference_records=int(data["reference_records"]),
            term_frequencies=None
            if tf_data is None
            else TermFrequencies(frequencies=tf_data["values"], n_records=tf_data["n_records"]),
            training=data.get("training") or {},
        )

    def to_json(self) -> str:
        """Parameters as a JSON document."""
        return json.dumps(self.to_dict(), ensure_ascii=False, indent=1, sort_keys=False)

    @classmethod
    def from_json(cls, text: str) -> FellegiSunterModel:
        """Load parameters from a JSON document."""
        return cls.from_dict(json.loads(text))

    def save(self, path: str | Path) -> None:
        """Write the JSON parameters to a file."""
        Path(path).write_text(self.to_json() + "\n", encoding="utf-8")

    @classmethod
    def load(cls, path: str | Path) -> FellegiSunterModel:
        """Read JSON parameters from a file."""
        return cls.from_json(Path(path).read_text(encoding="utf-8"))


DEFAULT_MODEL_RESOURCE = "default_model.json"


def load_default_model() -> FellegiSunterModel:
    """The model shipped with Majlis, fitted on synthetic UAE/Thai customers."""
    text = resources.files("majlis.dedupe").joinpath(DEFAULT_MODEL_RESOURCE).read_text("utf-8")
    return FellegiSunterModel.from_json(text)


def smoothed_frequency(frequency: np.ndarray, n_records: int, prior: float) -> np.ndarray:
    """Term frequency shrunk towards the average (`prior`) with TF_PRIOR_RECORDS
    pseudo-records: the posterior mean of a value's frequency.

    In a tenant with 40 customers every value has a frequency of at least
    1/40, which would make any agreement look "common"; the pseudo-records
    keep small datasets close to the unadjusted model while large ones are
    driven by their own counts.
    """
    return np.maximum(_shrunk(frequency, n_records, prior), PROBABILITY_FLOOR)


def smoothed_frequency_scalar(frequency: float, n_records: int, prior: float) -> float:
    """`smoothed_frequency` of one value, as a Python float."""
    return max(_shrunk(frequency, n_records, prior), PROBABILITY_FLOOR)


_Frequency = TypeVar("_Frequency", float, np.ndarray)


def _shrunk(frequency: _Frequency, n_records: int, prior: float) -> _Frequency:
    # One expression for arrays and floats, so both paths round identically.
    return (frequency * n_records + TF_PRIOR_RECORDS * prior) / (n_records + TF_PRIOR_RECORDS)


WEIGHT_CLIP = 1000.0


def weight_to_probability(weights: np.ndarray) -> np.ndarray:
    """Sigmoid in base 2: ``2^w / (1 + 2^w)``, computed without overflow."""
    return 1.0 / (1.0 + np.exp2(-np.clip(weights, -WEIGHT_CLIP, WEIGHT_CLIP)))


def weight_to_probability_scalar(weight: float) -> float:
    """`weight_to_probability` of one weight, as a Python float."""
    return 1.0 / (1.0 + 2.0 ** -min(max(weight, -WEIGHT_CLIP), WEIGHT_CLIP))


def _prepared(record: Mapping[str, Any] | PreparedRecord) -> PreparedRecord:
    return record if isinstance(record, PreparedRecord) else prepare_record(record)


def _weight_table(features: Sequence[FeatureParameters]) -> np.ndarray:
    """Features × levels table of log2 Bayes factors, padded with zeros."""
    width = max(len(feature.levels) for feature in features)
    table = np.zeros((len(features), width))
    for f, feature in enumerate(features):
        table[f, : len(feature.levels)] = feature.log2_bayes_factors()
    return table


def _check_features_match(
    comparisons: Sequence[Comparison], features: Sequence[FeatureParameters]
) -> None:
    expected = [(c.name, list(c.levels)) for c in comparisons]
    actual = [(f.name, list(f.levels)) for f in features]
    if expected != actual:
        raise ValueError(f"model features {actual} do not match comparisons {expected}")


# ---------------------------------------------------------------------------
# Estimation
# ---------------------------------------------------------------------------


def estimate_u(
    batch: PreparedBatch,
    comparisons: Sequence[Comparison],
    *,
    n_random_pairs: int,
    seed: int,
) -> list[list[float]]:
    """u per level from uniformly random record pairs (Laplace-smoothed).

    With N records and a few duplicates each, fewer than 1 in 1,000 random
    pairs is a match, so their level distribution is the non-match one.
    """
    n = len(batch)
    rng = np.random.default_rng(seed)
    left = rng.integers(0, n, size=n_random_pairs)
    right = rng.integers(0, n - 1, size=n_random_pairs)
    right = right + (right >= left)  # never pair a record with itself
    levels = np.zeros((n_random_pairs, len(comparisons)), dtype=np.int8)
    for f, comparison in enumerate(comparisons):
        levels[:, f], _ = comparison.compare_batch(batch, left, right)
    apply_conditional_nulls(levels, comparisons)
    u: list[list[float]] = []
    for f, comparison in enumerate(comparisons):
        counts = np.bincount(levels[:, f], minlength=len(comparison.levels))[1:].astype(float)
        u.append([1.0, *_smoothed(counts).tolist()])
    return u


def _smoothed(counts: np.ndarray, pseudo_count: float = 0.5) -> np.ndarray:
    return (counts + pseudo_count) / (counts.sum() + pseudo_count * len(counts))


def _initial_m(n_levels: int) -> np.ndarray:
    """Starting m: most matches agree exactly, few disagree completely."""
    shape = np.array([0.5**i for i in range(n_levels - 1)])
    shape[-1] = 0.02
    return np.concatenate([[1.0], shape / shape.sum()])


class _SessionTotals:
    """Accumulates EM sessions: expected match mass per feature level, and how
    often each training rule's features are all present among matches."""

    def __init__(self, n_features: int, width: int, rule_columns: Mapping[str, list[int]]) -> None:
        self.level_mass = np.zeros((n_features, width))
        self.rule_columns = rule_columns
        self.rule_present = dict.fromkeys(rule_columns, 0.0)
        self.rule_total = dict.fromkeys(rule_columns, 0.0)

    def add(
        self, levels: np.ndarray, raw_levels: np.ndarray, result: EMResult, ignored: Sequence[int]
    ) -> None:
        posteriors = result.posteriors
        for f in range(levels.shape[1]):
            if f not in ignored:
                self.level_mass[f] += np.bincount(
                    levels[:, f], weights=posteriors, minlength=self.level_mass.shape[1]
                )
        # A rule's features can only be judged in sessions that did not block on them.
        for name, columns in self.rule_columns.items():
            if not set(columns) & set(ignored):
                present = (raw_levels[:, columns] > 0).all(axis=1)
                self.rule_present[name] += float(posteriors[present].sum())
                self.rule_total[name] += float(posteriors.sum())

    def m(self, n_levels: Sequence[int]) -> list[list[float]]:
        """m per level, pooled over sessions; the starting guess if never estimable."""
        pooled = []
        for f, k in enumerate(n_levels):
            mass = self.level_mass[f, 1:k]
            values = _smoothed(mass, 0.1) if mass.sum() > 0 else _initial_m(k)[1:]
            pooled.append([1.0, *values.tolist()])
        return pooled

    def rule_comparable(self, name: str) -> float:
        """P(both records have every value the rule needs | match)."""
        return self.rule_present[name] / max(self.rule_total[name], 1e-9)


def _rule_agreement(
    implies: Mapping[str, Sequence[str]], features: Sequence[FeatureParameters]
) -> float:
    """P(the rule's features agree as it requires | match, values present).

    Assumes independence given a match, as the model itself does.
    """
    agreement = 1.0
    for feature in features:
        if feature.name in implies:
            agreeing = [
                i for i, label in enumerate(feature.levels) if label in implies[feature.name]
            ]
            agreement *= sum(feature.m[i] for i in agreeing)
    return agreement


@dataclass
class EMResult:
    m: list[list[float]]
    match_rate: float
    posteriors: np.ndarray
    iterations: int


def expectation_maximisation(
    levels: np.ndarray,
    u: Sequence[Sequence[float]],
    n_levels: Sequence[int],
    *,
    max_iterations: int = 100,
    tolerance: float = 1e-6,
    initial_match_rate: float = 0.3,
) -> EMResult:
    """Estimate m and the candidate match rate by EM with u fixed.

    Identical comparison vectors are collapsed first (a few thousand distinct
    patterns even for millions of pairs), so each iteration is cheap.
    """
    patterns, inverse, counts = np.unique(levels, axis=0, return_inverse=True, return_counts=True)
    inverse = inverse.reshape(-1)
    n_features = levels.shape[1]
    width = max(n_levels)
    log_u = np.zeros((n_features, width))
    log_m = np.zeros((n_features, width))
    for f in range(n_features):
        log_u[f, : n_levels[f]] = np.log(np.maximum(u[f], PROBABILITY_FLOOR))
        log_u[f, 0] = 0.0
        log_m[f, : n_levels[f]] = np.log(_initial_m(n_levels[f]))
        log_m[f, 0] = 0.0
    feature_index = np.arange(n_features)
    log_u_patterns = log_u[feature_index, patterns].sum(axis=1)
    match_rate = initial_match_rate
    posterior = np.zeros(len(patterns))
    iterations = 0
    while iterations < max_iterations:
        iterations += 1
        log_match = math.log(match_rate) + log_m[feature_index, patterns].sum(axis=1)
        log_non_match = math.log(1.0 - match_rate) + log_u_patterns
        posterior = 1.0 / (1.0 + np.exp(np.clip(log_non_match - log_match, -700, 700)))
        weighted = posterior * counts
        new_log_m = _m_step(patterns, weighted, n_levels, width)
        new_rate = float(np.clip(weighted.sum() / counts.sum(), 1e-9, 1 - 1e-9))
        change = max(np.abs(np.exp(new_log_m) - np.exp(log_m)).max(), abs(new_rate - match_rate))
        log_m, match_rate = new_log_m, new_rate
        if change < tolerance:
            break
    m = [[1.0, *np.exp(log_m[f, 1 : n_levels[f]]).tolist()] for f in range(n_features)]
    return EMResult(
        m=m, match_rate=match_rate, posteriors=posterior[inverse], iterations=iterations
    )


def _m_step(
    patterns: np.ndarray, weighted: np.ndarray, n_levels: Sequence[int], width: int
) -> np.ndarray:
    """m per level = expected matches at that level / expected matches with a value."""
    log_m = np.zeros((patterns.shape[1], width))
    for f, k in enumerate(n_levels):
        mass = np.bincount(patterns[:, f], weights=weighted, minlength=k)[1:k]
        log_m[f, 1:k] = np.log(_smoothed(mass, pseudo_count=0.1))
    return log_m
