"""Duplicate detection: features, a Fellegi–Sunter model, blocking and clustering.

Typical use::

    from majlis.dedupe import find_duplicates, load_default_model

    scan = find_duplicates(customers)            # list of customer dicts
    scan.matches()                               # [(id_a, id_b, probability), …]
    load_default_model().score_pair(a, b)        # one pair, with evidence

See docs/dedupe-model.md for the model, its features and measured quality.
"""

from majlis.dedupe.blocking import (
    DEFAULT_RULES,
    BlockingRule,
    CandidatePairs,
    Clusters,
    DuplicateScan,
    PairScores,
    cluster_pairs,
    find_duplicates,
    generate_candidate_pairs,
    score_candidate_pairs,
)
from majlis.dedupe.features import (
    Comparison,
    PreparedBatch,
    PreparedRecord,
    TermFrequencies,
    compare_records,
    default_comparisons,
    normalize_email,
    normalize_phone,
    prepare_record,
    strip_legal_suffixes,
)
from majlis.dedupe.model import (
    Evidence,
    FellegiSunterModel,
    ScoredPair,
    load_default_model,
)
from majlis.dedupe.transliteration import name_keys, same_name, transliteration_key

__all__ = [
    "DEFAULT_RULES",
    "BlockingRule",
    "CandidatePairs",
    "Clusters",
    "Comparison",
    "DuplicateScan",
    "Evidence",
    "FellegiSunterModel",
    "PairScores",
    "PreparedBatch",
    "PreparedRecord",
    "ScoredPair",
    "TermFrequencies",
    "cluster_pairs",
    "compare_records",
    "default_comparisons",
    "find_duplicates",
    "generate_candidate_pairs",
    "load_default_model",
    "name_keys",
    "normalize_email",
    "normalize_phone",
    "prepare_record",
    "same_name",
    "score_candidate_pairs",
    "strip_legal_suffixes",
    "transliteration_key",
]
