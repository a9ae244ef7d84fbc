"""The online duplicate check: a draft customer against the company's existing ones.

Candidates come from the match-key index (`store.candidate_records`), never from a
scan; the few found are scored with the matching core's Fellegi–Sunter model
in Python. Used by `POST /api/v1/customers/duplicates/check`, by customer
creation (warnings, or 409 when the caller asks to block), by import previews
and by conversation sync.
"""

from __future__ import annotations

import functools
import time
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from majlis.core.errors import Conflict
from majlis.core.permissions import CUSTOMERS, Action, Actor, require
from majlis.customers import service as customers
from majlis.customers.models import Customer
from majlis.customers.schemas import CustomerCreate
from majlis.dedupe import store
from majlis.dedupe.features import PreparedRecord, prepare_record
from majlis.dedupe.model import Evidence, FellegiSunterModel, ScoredPair, load_default_model
from majlis.dedupe.models import NotDuplicate

# Matches at or above this are shown by the check ("possible duplicate").
POSSIBLE_THRESHOLD = 0.5
# Conversation sync links a chat to an existing customer by itself only above
# this; between the model's threshold and this, the pair goes to review.
AUTO_LINK_THRESHOLD = 0.99
# Evidence weaker than this (in bits) is not worth a reason line.
REASON_MIN_WEIGHT = 1.0
SAME_TRN_REASON = "same TRN: the same registered company (deterministic rule)"


@functools.cache
def default_model() -> FellegiSunterModel:
    """The shipped model, loaded once per process."""
    return load_default_model()


def likely_threshold() -> float:
    """Probability from which a match is "likely": the model's own threshold."""
    return default_model().threshold


@dataclass(frozen=True)
class DuplicateMatch:
    """An existing customer that may be the same as the draft, and why."""

    customer_id: uuid.UUID
    display_name: str
    match_probability: float
    likely: bool
    reasons: list[str]
    evidence: list[dict[str, Any]] = field(default_factory=list)


def evidence_item(feature: str, level: str, weight: float) -> dict[str, Any]:
    """One feature's evidence, JSON-ready: level label, weight in bits, Bayes factor."""
    return {
        "feature": feature,
        "level": level,
        "match_weight": round(weight, 2),
        "bayes_factor": round(2.0**weight, 4),
    }


def describe_evidence(evidence: Iterable[Evidence]) -> list[dict[str, Any]]:
    """The evidence of every feature with a value on both sides."""
    return [
        evidence_item(item.feature, item.label, item.match_weight)
        for item in evidence
        if item.level != 0
    ]


def reasons_of(evidence: Iterable[Mapping[str, Any]], same_trn: bool = False) -> list[str]:
    """Human-readable reasons: the features that pushed towards a match, strongest first."""
    positive = sorted(
        (item for item in evidence if item["match_weight"] >= REASON_MIN_WEIGHT),
        key=lambda item: -item["match_weight"],
    )
    reasons = [
        f"{item['feature']}: {item['level']} (+{item['match_weight']:.1f} bits)"
        for item in positive
    ]
    return [SAME_TRN_REASON, *reasons] if same_trn else reasons


# Counting a million customers on every check would cost more than the check
# itself; counts past SMALL_COMPANY are cached per process for COUNT_TTL s (the
# prior moves by a fraction of a bit when a large company grows by a few %).
SMALL_COMPANY = 1_000
COUNT_TTL = 600.0
_large_counts: dict[uuid.UUID, tuple[float, int]] = {}


def company_size(session: Session, company_id: uuid.UUID) -> int:
    """Live customers of the company: exact when small, cached when large."""
    cached = _large_counts.get(company_id)
    if cached is not None and time.monotonic() - cached[0] < COUNT_TTL:
        return cached[1]
    live = store.live_customers(company_id).with_only_columns(Customer.id)
    size = session.scalar(
        select(func.count()).select_from(live.limit(SMALL_COMPANY + 1).subquery())
    )
    if (size or 0) <= SMALL_COMPANY:
        return size or 0
    exact = session.scalar(select(func.count()).select_from(live.subquery()))
    _large_counts[company_id] = (time.monotonic(), int(exact or 0))
    return int(exact or 0)


def remembered_not_duplicates(
    session: Session, company_id: uuid.UUID, customer_id: uuid.UUID
) -> set[uuid.UUID]:
    """Customers someone decided are *not* the same as `customer_id`."""
    rows = session.execute(
        select(NotDuplicate.customer_id_a, NotDuplicate.customer_id_b).where(
            NotDuplicate.company_id == company_id,
            or_(
                NotDuplicate.customer_id_a == customer_id, NotDuplicate.customer_id_b == customer_id
            ),
        )
    )
    return {b if a == customer_id else a for a, b in rows}


def score_against(
    draft: PreparedRecord, candidates: Iterable[Mapping[str, Any]], n_records: int
) -> list[tuple[Mapping[str, Any], ScoredPair, bool]]:
    """(candidate, scored pair, same TRN) for every candidate, most probable first."""
    model = default_model()
    scored = []
    for candidate in candidates:
        prepared = prepare_record(candidate)
        pair = model.score_pair(draft, prepared, n_records=n_records)
        same_trn = bool(draft.trn) and draft.trn == prepared.trn
        scored.append((candidate, pair, same_trn))
    scored.sort(key=lambda item: (-_probability(item[1], item[2]), str(item[0]["id"])))
    return scored


def _probability(pair: ScoredPair, same_trn: bool) -> float:
    return 1.0 if same_trn else pair.match_probability


def find_matches(
    session: Session,
    company_id: uuid.UUID,
    record: Mapping[str, Any],
    *,
    exclude: Iterable[uuid.UUID] = (),
    threshold: float = POSSIBLE_THRESHOLD,
) -> list[DuplicateMatch]:
    """Existing live customers matching a customer record at or above `threshold`.

    No permission check: callers (the check endpoint, create, import, sync)
    have already checked theirs.
    """
    draft = prepare_record(record)
    keys = store.match_keys(draft)
    candidates = store.candidate_records(session, company_id, keys, exclude)
    n_records = company_size(session, company_id)
    matches = []
    for candidate, pair, same_trn in score_against(draft, candidates, n_records):
        probability = _probability(pair, same_trn)
        if probability < threshold:
            break
        evidence = describe_evidence(pair.evidence)
        matches.append(
            DuplicateMatch(
                customer_id=candidate["id"],
                display_name=candidate["name"],
                match_probability=round(probability, 6),
                likely=probability >= likely_threshold(),
                reasons=reasons_of(evidence, same_trn),
                evidence=evidence,
            )
        )
    return matches


def draft_record(session: Session, actor: Actor, draft: CustomerCreate) -> dict[str, Any]:
    """A draft validated as creation would (phones to E.164), as a core record."""
    values = customers.prepare_values(session, actor, draft, draft.kind)
    values.setdefault("kind", draft.kind)
    return store.as_record(values)


def check_draft(
    session: Session,
    actor: Actor,
    draft: CustomerCreate,
    *,
    customer_id: uuid.UUID | None = None,
) -> list[DuplicateMatch]:
    """Possible duplicates of a draft customer, most probable first.

    With `customer_id` the draft is that existing customer: it is not matched
    with itself nor with customers someone decided are not the same.
    """
    require(actor, CUSTOMERS, Action.VIEW)
    exclude: set[uuid.UUID] = set()
    if customer_id is not None:
        customers.get_customer(session, actor, customer_id)
        exclude = {customer_id} | remembered_not_duplicates(session, actor.company_id, customer_id)
    record = draft_record(session, actor, draft)
    return find_matches(session, actor.company_id, record, exclude=exclude)


def _match_json(match: DuplicateMatch) -> dict[str, Any]:
    return {
        "customer_id": str(match.customer_id),
        "display_name": match.display_name,
        "match_probability": match.match_probability,
        "reasons": match.reasons,
    }


def check_new_customer(
    session: Session, actor: Actor, draft: CustomerCreate, *, block: bool = False
) -> list[DuplicateMatch]:
    """Possible duplicates of a customer about to be created.

    With `block`, a *likely* match refuses the creation (409 listing the
    matches) before anything is written; otherwise the matches are warnings.
    """
    require(actor, CUSTOMERS, Action.CREATE)
    matches = find_matches(session, actor.company_id, draft_record(session, actor, draft))
    likely = [match for match in matches if match.likely]
    if block and likely:
        raise Conflict(
            f"{len(likely)} existing customer(s) look like the same "
            f"{'company' if draft.kind == 'organization' else 'person'}; nothing was written",
            matches=[_match_json(match) for match in likely],
        )
    return matches
