"""Candidate generation, batch scoring and clustering for duplicate scans.

Comparing every pair of a million customers (5·10¹¹ pairs) is out of the
question, so a scan only scores *candidate pairs*: records that share a
blocking key under at least one rule (same phone, same email, same
transliterated first name in the same city, …). Everything here is numpy
sorting and grouping; the only per-record Python work is computing keys.

Block-size cap. A key shared by many records (a company switchboard used by
500 employees, "mhmd|dubai") would produce a quadratic number of pairs that
are almost all non-matches. Blocks larger than ``max_block_size`` are
therefore not expanded in full: their records are sorted by a name/date key
and each is paired only with its ``window - 1`` neighbours (the sorted
neighbourhood method). A 500-record block thus yields ~500·(window-1) pairs
instead of 124,750, and the pairs it keeps are the ones with similar names.
Duplicates inside giant blocks that are far apart in name order are found
through other rules (email, date of birth, …) or not at all — the measured
recall in docs/dedupe-model.md includes this loss.
"""

from __future__ import annotations

import multiprocessing
import os
import time
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from majlis.dedupe.features import PreparedBatch, PreparedRecord, cyclic_gc_paused
from majlis.dedupe.model import FellegiSunterModel, load_default_model

DEFAULT_MAX_BLOCK_SIZE = 40
DEFAULT_WINDOW = 8
DEFAULT_MAX_CLUSTER_SIZE = 25
SCORING_CHUNK = 200_000


@dataclass(frozen=True)
class BlockingRule:
    """A named function giving the blocking keys of a record (possibly several).

    ``implies`` maps each comparison the rule conditions on to the levels a
    pair must (roughly) have for the rule to fire. EM training ignores those
    comparisons on this rule's pairs (they agree by construction), and the
    prior uses them to estimate what share of all duplicates the rule finds.

    ``train`` is False for rules whose non-matching pairs are systematically
    *related* rather than random: a shared home landline (family members), a
    common first name in one city or a full name (namesakes, whose surnames
    and mailboxes agree far more often than random pairs'). EM on those pairs
    would learn that duplicates often have different first names or birth
    dates, because the independence assumption does not hold for them.
    """

    name: str
    keys: Callable[[PreparedRecord], Collection[str]]
    implies: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    train: bool = True

    @property
    def features(self) -> frozenset[str]:
        return frozenset(self.implies)


# Key functions return small collections (not generators): they run once per
# record per rule, so a million-record scan calls them ~10 million times.


def _phones(record: PreparedRecord) -> Collection[str]:
    return record.phones


def _emails(record: PreparedRecord) -> Collection[str]:
    return record.emails


def _trn(record: PreparedRecord) -> Collection[str]:
    return (record.trn,) if record.trn else ()


def _external_ref(record: PreparedRecord) -> Collection[str]:
    return (record.external_ref,) if record.external_ref else ()


def _first_name_city(record: PreparedRecord) -> Collection[str]:
    """First-name key + city + surname initial: survives surname typos that keep
    the first letter. (Without the initial, "mhmd|dubai" blocks are huge: the
    initial cut pairs by a quarter and found slightly more duplicates.)"""
    if not record.city or not record.first_name_keys:
        return ()
    initials = {key[:1] for key in record.surname_keys} or {""}
    return [
        f"{key}|{record.city}|{initial}" for key in record.first_name_keys for initial in initials
    ]


def _surname_birth_date(record: PreparedRecord) -> Collection[str]:
    if record.dob is None or not record.surname_keys:
        return ()
    born = record.dob.isoformat()
    return [f"{key}|{born}" for key in record.surname_keys]


def _first_name_birth_date(record: PreparedRecord) -> Collection[str]:
    if record.dob is None or not record.first_name_keys:
        return ()
    born = record.dob.isoformat()
    return {f"{key[:1]}|{born}" for key in record.first_name_keys}


def _name_key_set(record: PreparedRecord) -> Collection[str]:
    """First + last name keys in sorted order: survives swaps and transliteration."""
    return {
        f"{min(name.keys[0], name.keys[-1])}|{max(name.keys[0], name.keys[-1])}"
        for name in record.person_names
        if len(name.tokens) >= 2
    }


def _surname_initial(record: PreparedRecord) -> Collection[str]:
    """Surname + first initial: survives first-name typos and nicknames."""
    return {
        f"{name.keys[-1]}|{name.keys[0][:1]}"
        for name in record.person_names
        if len(name.tokens) >= 2
    }


def _address(record: PreparedRecord) -> Collection[str]:
    return (record.address,) if len(record.address) >= 8 else ()


def _business_name(record: PreparedRecord) -> Collection[str]:
    return {" ".join(sorted(name.distinctive)) or name.key_text for name in record.business_names}


_EXACT = ("exact",)
_NAME_AGREES = ("exact", "transliteration")
_PHONE_SHARED = (
    "phone_primary+address_exact",
    "phone_primary",
    "phone_shared+address_exact",
    "phone_shared",
)

_SAME_ADDRESS = ("phone_primary+address_exact", "phone_shared+address_exact", "address_exact")

DEFAULT_RULES: tuple[BlockingRule, ...] = (
    BlockingRule("phone", _phones, {"phone_and_address": _PHONE_SHARED}, train=False),
    BlockingRule("email", _emails, {"email": ("primary_exact", "any_shared")}),
    BlockingRule("trn", _trn, {"trn": _EXACT}),
    BlockingRule("external_ref", _external_ref, {"external_ref": _EXACT}),
    BlockingRule(
        "first_name_key+city+surname_initial",
        _first_name_city,
        {"first_name": _NAME_AGREES, "city": _EXACT},
        train=False,
    ),
    BlockingRule(
        "surname_key+birth_date",
        _surname_birth_date,
        {"surname": _NAME_AGREES, "date_of_birth": _EXACT},
    ),
    BlockingRule(
        "first_initial+birth_date",
        _first_name_birth_date,
        {"first_name": (*_NAME_AGREES, "nickname", "initial"), "date_of_birth": _EXACT},
    ),
    BlockingRule(
        "name_key_set",
        _name_key_set,
        {"first_name": _NAME_AGREES, "surname": _NAME_AGREES},
        train=False,
    ),
    BlockingRule(
        "surname_key+first_initial",
        _surname_initial,
        {"surname": _NAME_AGREES, "first_name": ("exact", "transliteration", "initial")},
        train=False,
    ),
    BlockingRule("address", _address, {"phone_and_address": _SAME_ADDRESS}, train=False),
    BlockingRule(
        "business_name_key",
        _business_name,
        {"business_name": ("exact", "transliteration", "distinctive_subset")},
    ),
)


@dataclass
class RuleStats:
    """What one blocking rule contributed."""

    keys: int = 0
    blocks: int = 0
    oversized_blocks: int = 0
    largest_block: int = 0
    pairs: int = 0


@dataclass
class CandidatePairs:
    """Distinct record-index pairs (left < right) with the rules that found them."""

    left: np.ndarray
    right: np.ndarray
    rule_mask: np.ndarray  # bit r set if rule r produced the pair
    rules: tuple[BlockingRule, ...]
    stats: dict[str, RuleStats] = field(default_factory=dict)

    def from_rule(self, index: int) -> np.ndarray:
        """Boolean mask of the pairs rule number `index` produced."""
        return ((self.rule_mask >> index) & 1).astype(bool)

    def __len__(self) -> int:
        return len(self.left)


def neighbourhood_ranks(batch: PreparedBatch) -> list[np.ndarray]:
    """Orders used inside oversized blocks (multi-pass sorted neighbourhood).

    Within a giant block ("Mohammed" in Dubai) a duplicate is usually
    adjacent to its twin in name-key + birth-date order or in city + phone
    order. Each pass contributes ``window - 1`` neighbours per record; a third
    pass (address + email) was measured to add 0.1 % recall for +30 % pairs.
    """
    passes = (_name_order_key, _phone_order_key)
    return [_ranks([key(record) for record in batch.records]) for key in passes]


def _ranks(sort_keys: list[str]) -> np.ndarray:
    order = sorted(range(len(sort_keys)), key=sort_keys.__getitem__)
    ranks = np.empty(len(order), dtype=np.int64)
    ranks[np.asarray(order, dtype=np.int64)] = np.arange(len(order))
    return ranks


def _name_order_key(record: PreparedRecord) -> str:
    if record.person_names:
        name = record.person_names[0]
        names = f"{name.keys[-1]} {name.keys[0]}"
    elif record.business_names:
        names = record.business_names[0].key_text
    else:
        names = ""
    return f"{names} {record.dob.isoformat() if record.dob else ''}"


def _phone_order_key(record: PreparedRecord) -> str:
    return f"{record.city} {record.phones[0] if record.phones else ''}"


def block_pairs(
    codes: np.ndarray,
    record_index: np.ndarray,
    ranks: np.ndarray | Sequence[np.ndarray],
    *,
    max_block_size: int = DEFAULT_MAX_BLOCK_SIZE,
    window: int = DEFAULT_WINDOW,
) -> tuple[np.ndarray, np.ndarray, RuleStats]:
    """All pairs within small blocks, sorted-neighbourhood pairs within big ones.

    ``codes[i]`` is the block of entry i and ``record_index[i]`` its record.
    Blocks of up to ``max_block_size`` entries yield all their pairs; larger
    ones yield each entry's ``window - 1`` successors in every order of
    ``ranks`` (one pass per order). Pairs are found by comparing the sorted
    arrays with themselves shifted by 1, 2, … positions —
    O(entries × max_block_size), no Python loop over blocks.
    """
    orders = [ranks] if isinstance(ranks, np.ndarray) else list(ranks)
    stats = RuleStats(keys=len(codes))
    if len(codes) < 2:
        return np.empty(0, np.int64), np.empty(0, np.int64), stats
    order = np.lexsort((orders[0][record_index], codes))
    codes, records = codes[order], record_index[order]
    starts = np.flatnonzero(np.r_[True, codes[1:] != codes[:-1]])
    sizes = np.diff(np.r_[starts, len(codes)])
    oversized = np.repeat(sizes, sizes) > max_block_size
    stats.blocks = int((sizes >= 2).sum())
    stats.oversized_blocks = int((sizes > max_block_size).sum())
    stats.largest_block = int(sizes.max())
    small_max = int(sizes[sizes <= max_block_size].max(initial=1))
    lefts, rights = _shifted_pairs(codes, records, small_max, ~oversized)
    if stats.oversized_blocks:
        big_codes, big_records = codes[oversized], records[oversized]
        for ranking in orders:
            resorted = np.lexsort((ranking[big_records], big_codes))
            more_left, more_right = _shifted_pairs(
                big_codes[resorted], big_records[resorted], window, None
            )
            lefts += more_left
            rights += more_right
    if not lefts:
        return np.empty(0, np.int64), np.empty(0, np.int64), stats
    left, right = np.concatenate(lefts), np.concatenate(rights)
    distinct = left != right
    low, high = np.minimum(left[distinct], right[distinct]), np.maximum(left, right)[distinct]
    if stats.oversized_blocks:  # passes over the same block overlap
        size = int(high.max()) + 1 if len(high) else 1
        ids = np.sort(low * size + high)  # sort + compare beats np.unique's hashing here
        ids = ids[np.r_[True, ids[1:] != ids[:-1]]] if len(ids) else ids
        low, high = ids // size, ids % size
    stats.pairs = len(low)
    return low, high, stats


def _shifted_pairs(
    codes: np.ndarray, records: np.ndarray, span: int, eligible: np.ndarray | None
) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Pairs of entries less than `span` apart in sorted order and in one block."""
    lefts, rights = [], []
    for offset in range(1, span):
        same_block = codes[:-offset] == codes[offset:]
        if eligible is not None:
            same_block &= eligible[:-offset]
        if same_block.any():
            lefts.append(records[:-offset][same_block])
            rights.append(records[offset:][same_block])
    return lefts, rights


def rule_entries(batch: PreparedBatch, rule: BlockingRule) -> tuple[np.ndarray, np.ndarray]:
    """(block code, record index) for every key of every record under a rule."""
    vocabulary: dict[str, int] = {}
    code_of = vocabulary.setdefault
    codes: list[int] = []
    records: list[int] = []
    keys_of = rule.keys
    for i, record in enumerate(batch.records):
        keys = keys_of(record)
        if not keys:
            continue
        for key in keys if len(keys) == 1 else set(keys):
            codes.append(code_of(key, len(vocabulary)))
            records.append(i)
    return np.asarray(codes, dtype=np.int64), np.asarray(records, dtype=np.int64)


# State shared with forked worker processes (copy-on-write, never pickled).
_FORK_STATE: dict[str, Any] = {}


def parallel_map(function: Callable[[Any], Any], tasks: Sequence[Any], workers: int) -> list[Any]:
    """``[function(t) for t in tasks]``, in `workers` forked processes if > 1.

    Workers are forked so they inherit the prepared batch from `_FORK_STATE`
    without pickling it; only the small tasks and numpy results cross
    process boundaries. Falls back to a plain loop where fork is unavailable.
    """
    with cyclic_gc_paused():
        if workers <= 1 or len(tasks) <= 1 or "fork" not in multiprocessing.get_all_start_methods():
            return [function(task) for task in tasks]
        with multiprocessing.get_context("fork").Pool(min(workers, len(tasks))) as pool:
            return pool.map(function, tasks, chunksize=1)


def default_workers() -> int:
    """Worker processes for batch scans: every available core."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def _rule_pairs(r: int) -> tuple[np.ndarray, np.ndarray, RuleStats]:
    batch, rules, ranks = _FORK_STATE["batch"], _FORK_STATE["rules"], _FORK_STATE["ranks"]
    codes, records = rule_entries(batch, rules[r])
    return block_pairs(
        codes,
        records,
        ranks,
        max_block_size=_FORK_STATE["max_block_size"],
        window=_FORK_STATE["window"],
    )


def generate_candidate_pairs(
    batch: PreparedBatch,
    rules: Sequence[BlockingRule] = DEFAULT_RULES,
    *,
    max_block_size: int = DEFAULT_MAX_BLOCK_SIZE,
    window: int = DEFAULT_WINDOW,
    workers: int = 1,
) -> CandidatePairs:
    """Union of the pairs of every blocking rule, each pair once.

    With ``workers > 1`` the rules are evaluated in parallel processes.
    """
    n = len(batch)
    _FORK_STATE.update(
        batch=batch,
        rules=tuple(rules),
        ranks=neighbourhood_ranks(batch),
        max_block_size=max_block_size,
        window=window,
    )
    try:
        results = parallel_map(_rule_pairs, range(len(rules)), workers)
    finally:
        _FORK_STATE.clear()
    pair_ids, masks, stats = [], [], {}
    for r, (rule, (left, right, rule_stats)) in enumerate(zip(rules, results, strict=True)):
        stats[rule.name] = rule_stats
        pair_ids.append(left * n + right)
        masks.append(np.full(len(left), 1 << r, dtype=np.int64))
    ids = np.concatenate(pair_ids) if pair_ids else np.empty(0, np.int64)
    mask = np.concatenate(masks) if masks else np.empty(0, np.int64)
    order = np.argsort(ids, kind="stable")
    ids, mask = ids[order], mask[order]
    starts = np.flatnonzero(np.r_[True, ids[1:] != ids[:-1]]) if len(ids) else np.empty(0, int)
    unique_ids = ids[starts]
    rule_mask = np.bitwise_or.reduceat(mask, starts) if len(ids) else mask
    return CandidatePairs(
        left=unique_ids // n,
        right=unique_ids % n,
        rule_mask=rule_mask,
        rules=tuple(rules),
        stats=stats,
    )


@dataclass
class PairScores:
    """Scores of candidate pairs (record indices into the batch)."""

    left: np.ndarray
    right: np.ndarray
    levels: np.ndarray  # pairs × features, int8
    match_weight: np.ndarray
    match_probability: np.ndarray


def _score_chunk(bounds: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    batch, model = _FORK_STATE["batch"], _FORK_STATE["model"]
    left = _FORK_STATE["left"][bounds[0] : bounds[1]]
    right = _FORK_STATE["right"][bounds[0] : bounds[1]]
    levels, tf = model.compare_batch(batch, left, right)
    return levels, model.match_weights(levels, tf, len(batch))


def score_candidate_pairs(
    batch: PreparedBatch,
    left: np.ndarray,
    right: np.ndarray,
    model: FellegiSunterModel,
    *,
    chunk_size: int = SCORING_CHUNK,
    workers: int = 1,
) -> PairScores:
    """Levels, weights and probabilities of many pairs, in memory-bounded chunks.

    Term frequencies come from the batch itself (this tenant's data). With
    ``workers > 1`` chunks are scored in parallel processes.
    """
    if workers > 1 and len(left) > chunk_size:
        # Build the shared column caches once, before forking.
        model.compare_batch(batch, left[:1], right[:1])
    bounds = [
        (start, min(start + chunk_size, len(left))) for start in range(0, len(left), chunk_size)
    ]
    _FORK_STATE.update(batch=batch, model=model, left=left, right=right)
    try:
        results = parallel_map(_score_chunk, bounds, workers)
    finally:
        _FORK_STATE.clear()
    n_features = len(model.features)
    levels = (
        np.concatenate([r[0] for r in results]) if results else np.zeros((0, n_features), np.int8)
    )
    weights = np.concatenate([r[1] for r in results]) if results else np.zeros(0)
    probabilities = 1.0 / (1.0 + np.exp2(-np.clip(weights, -1000, 1000)))
    return PairScores(left, right, levels, weights, probabilities)


@dataclass
class Clusters:
    """Cluster label per record (records alone in their cluster keep their index)."""

    labels: np.ndarray
    accepted_links: int
    refused_links: int


def cluster_pairs(
    n_records: int,
    left: np.ndarray,
    right: np.ndarray,
    probability: np.ndarray,
    *,
    threshold: float,
    max_cluster_size: int = DEFAULT_MAX_CLUSTER_SIZE,
) -> Clusters:
    """Connected components over links ≥ threshold, refusing oversized clusters.

    Links are applied strongest first; a link that would create a cluster of
    more than ``max_cluster_size`` records is refused, so a single wrong link
    between two large groups cannot chain them into one.
    """
    parent = np.arange(n_records)
    size = np.ones(n_records, dtype=np.int64)

    def find(x: int) -> int:
        root = x
        while parent[root] != root:
            root = parent[root]
        while parent[x] != root:  # path compression
            parent[x], x = root, parent[x]
        return root

    selected = np.flatnonzero(probability >= threshold)
    selected = selected[np.argsort(-probability[selected], kind="stable")]
    accepted = refused = 0
    for a, b in zip(left[selected].tolist(), right[selected].tolist(), strict=True):
        root_a, root_b = find(a), find(b)
        if root_a == root_b:
            continue
        if size[root_a] + size[root_b] > max_cluster_size:
            refused += 1
            continue
        if size[root_a] < size[root_b]:
            root_a, root_b = root_b, root_a
        parent[root_b] = root_a
        size[root_a] += size[root_b]
        accepted += 1
    labels = np.array([find(i) for i in range(n_records)], dtype=np.int64)
    return Clusters(labels=labels, accepted_links=accepted, refused_links=refused)


@dataclass
class DuplicateScan:
    """Everything a batch scan produced, with per-stage timings in seconds."""

    batch: PreparedBatch
    candidates: CandidatePairs
    scores: PairScores
    clusters: Clusters
    threshold: float
    timings: dict[str, float]

    def matches(self) -> list[tuple[Any, Any, float]]:
        """(id_a, id_b, probability) of pairs at or above the threshold."""
        chosen = np.flatnonzero(self.scores.match_probability >= self.threshold)
        records = self.batch.records
        return [
            (
                records[self.scores.left[i]].id,
                records[self.scores.right[i]].id,
                float(self.scores.match_probability[i]),
            )
            for i in chosen.tolist()
        ]


def find_duplicates(
    records: Iterable[Mapping[str, Any]] | PreparedBatch,
    model: FellegiSunterModel | None = None,
    *,
    threshold: float | None = None,
    rules: Sequence[BlockingRule] = DEFAULT_RULES,
    max_block_size: int = DEFAULT_MAX_BLOCK_SIZE,
    window: int = DEFAULT_WINDOW,
    max_cluster_size: int = DEFAULT_MAX_CLUSTER_SIZE,
    workers: int | None = None,
) -> DuplicateScan:
    """Prepare, block, score and cluster a dataset in one call.

    ``workers`` defaults to every available core (blocking and scoring run in
    forked processes; preparation is single-process).
    """
    model = model or load_default_model()
    workers = default_workers() if workers is None else workers
    threshold = model.threshold if threshold is None else threshold
    timings: dict[str, float] = {}
    started = time.perf_counter()
    batch = records if isinstance(records, PreparedBatch) else PreparedBatch.from_records(records)
    timings["prepare"] = time.perf_counter() - started
    started = time.perf_counter()
    candidates = generate_candidate_pairs(
        batch, rules, max_block_size=max_block_size, window=window, workers=workers
    )
    timings["blocking"] = time.perf_counter() - started
    started = time.perf_counter()
    scores = score_candidate_pairs(batch, candidates.left, candidates.right, model, workers=workers)
    timings["scoring"] = time.perf_counter() - started
    started = time.perf_counter()
    clusters = cluster_pairs(
        len(batch),
        scores.left,
        scores.right,
        scores.match_probability,
        threshold=threshold,
        max_cluster_size=max_cluster_size,
    )
    timings["clustering"] = time.perf_counter() - started
    return DuplicateScan(batch, candidates, scores, clusters, threshold, timings)
