"""Ranked bilingual customer search and fast counts.

Ranking lives in SQL (migration 0008_search_tiers), so the API and the
operators' `search_customers(...)` agree. A page is answered tier by tier —
identifier, exact name, prefix, fuzzy — and stops as soon as it is full: the
common case never reaches the fuzzy tier, and when it does, only the k nearest
customers by trigram distance are ranked. Tiers own disjoint rank ranges
(`rank_key // 1000`), so rows of consecutive tiers concatenate into one keyset
order on `(rank_key, id)`.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from sqlalchemy import (
    ColumnElement,
    Select,
    case,
    cast,
    column,
    func,
    literal,
    literal_column,
    select,
    text,
    tuple_,
)
from sqlalchemy.dialects.postgresql import UUID
from sqlalchemy.orm import Session
from sqlalchemy.types import Integer, Text

from majlis.core.errors import ValidationFailed
from majlis.core.pagination import DEFAULT_LIMIT, Page, decode_cursor, encode_cursor
from majlis.core.permissions import CUSTOMERS, Action, Actor, require
from majlis.customers.documents import customer_document
from majlis.customers.models import Customer
from majlis.customers.service import CustomerFilters, filter_conditions

MAX_TERM_LENGTH = 200
LANGUAGES = ("en", "ar")
# Below this many matches a count is exact; above it the planner's estimate is
# returned (and labelled so): counting a million rows exactly costs a scan.
EXACT_COUNT_LIMIT = 1000
TIER_NAMES = {0: "identifier", 1: "exact_name", 2: "prefix", 3: "fuzzy"}
Shown = TypeVar("Shown")


@dataclass(frozen=True)
class SearchHit(Generic[Shown]):
    """A customer that matched (as `HIT_ENTITY` or `HIT_DOCUMENT` shows it) and its rank."""

    customer: Shown
    customer_id: uuid.UUID
    rank_key: int
    matched_field: str

    @property
    def tier(self) -> str:
        return TIER_NAMES[self.rank_key // 1000]


@dataclass(frozen=True)
class Count:
    value: int
    estimated: bool


def clean_term(term: str, lang: str | None) -> str:
    term = term.strip()
    if len(term) > MAX_TERM_LENGTH:
        raise ValidationFailed.single("q", f"must be at most {MAX_TERM_LENGTH} characters")
    if lang is not None and lang not in LANGUAGES:
        raise ValidationFailed.single("lang", f"must be one of {', '.join(LANGUAGES)}")
    return term


def _ranked(actor: Actor, term: str, lang: str | None) -> Any:
    """Every match, ranked (exports and counts)."""
    return _as_ranking(func.majlis_search_ranked(literal(actor.company_id, UUID), term, lang))


def _tier(actor: Actor, term: str, lang: str | None, tier: int, bounds: TierBounds) -> Any:
    """One tier's matches, ranked; `bounds` limits how many candidates it ranks."""
    return _as_ranking(
        func.majlis_search_tier(
            literal(actor.company_id, UUID),
            term,
            lang,
            cast(literal(tier), Integer),
            cast(literal(bounds.candidates), Integer),
            cast(literal(bounds.after_rank), Integer),
            cast(literal(bounds.after_id), UUID),
        )
    )


def _as_ranking(function: Any) -> Any:
    return function.table_valued(
        column("customer_id", UUID(as_uuid=True)),
        column("rank_key", Integer),
        column("matched_field", Text),
    ).render_derived(name="ranked")


# pg_trgm's default (0.6) misses two-word typos such as "khalid omar" → "Khaleed Omar".
WORD_SIMILARITY_THRESHOLD = "0.5"


def plan_for_this_term(session: Session) -> None:
    """Tune this transaction for search: a plan per term and the fuzzy-match threshold.

    The ranking's index conditions only exist once the term's normal forms are
    folded into constants; a cached generic plan (psycopg prepares a statement
    after a few executions) scans every customer of the company instead.
    """
    session.execute(
        text(
            "SELECT set_config('plan_cache_mode', 'force_custom_plan', true),"
            " set_config('pg_trgm.word_similarity_threshold', :threshold, true)"
        ),
        {"threshold": WORD_SIMILARITY_THRESHOLD},
    )


def ranked_selection(
    conditions: list[ColumnElement[bool]], actor: Actor, term: str, lang: str | None
) -> tuple[Select[Any], Any]:
    """Customers matching `conditions` joined to their rank for `term` (callers order/limit)."""
    ranked = _ranked(actor, term, lang)
    query = (
        select(Customer, ranked.c.rank_key, ranked.c.matched_field)
        .join(ranked, Customer.id == ranked.c.customer_id)
        .where(*conditions)
    )
    return query, ranked


@dataclass(frozen=True)
class TierBounds:
    """How far one tier looks: its candidate budget and where the previous page ended."""

    candidates: int
    after_rank: int | None = None
    after_id: uuid.UUID | None = None


@dataclass(frozen=True)
class SearchCursor:
    """Where a page ended: the last (rank, id) and how many hits came before it."""

    rank_key: int
    customer_id: uuid.UUID
    seen: int

    @classmethod
    def decode(cls, cursor: str | None) -> SearchCursor | None:
        if not cursor:
            return None
        rank_key, customer_id, seen = decode_cursor(cursor, 3)
        try:
            return cls(int(rank_key), uuid.UUID(str(customer_id)), int(seen))
        except (TypeError, ValueError) as exc:
            raise ValidationFailed.single("cursor", "is not a cursor this API issued") from exc

    def encode(self) -> str:
        return encode_cursor([self.rank_key, str(self.customer_id), self.seen])


FUZZY_TIER = 3
# Candidates a bounded tier ranks beyond what the page still needs: some turn out
# to belong to an earlier tier (an identifier that is also a name prefix).
CANDIDATE_HEADROOM = 10
# Filters are applied after a tier picks its candidates; with filters, each tier
# ranks this many times more, so that a filtered page still fills.
FILTERED_CANDIDATE_FACTOR = 20


def _bounds(tier: int, needed: int, cursor: SearchCursor | None, filtered: bool) -> TierBounds:
    """The candidate budget of `tier` for a page that still needs `needed` rows.

    The prefix tier continues after the cursor inside its index scan; the fuzzy
    tier has no such order (it is by distance), so it ranks the hits already
    shown too and the cursor drops them.
    """
    factor = FILTERED_CANDIDATE_FACTOR if filtered else 1
    seen = cursor.seen if cursor and tier == FUZZY_TIER else 0
    budget = (seen + needed) * factor + CANDIDATE_HEADROOM
    if cursor and cursor.rank_key // 1000 == tier:
        return TierBounds(budget, cursor.rank_key, cursor.customer_id)
    return TierBounds(budget)


def _hit_document() -> Any:
    """A hit as the API's JSON document: the customer, its rank, tier and matched field.

    Over the columns of `_as_ranking`'s derived table, which every tier names `ranked`.
    """
    rank = literal_column("ranked.rank_key", Integer)
    tier = case(*((rank < (tier + 1) * 1000, name) for tier, name in sorted(TIER_NAMES.items())))
    matched_field = literal_column("ranked.matched_field", Text)
    return customer_document({"rank": rank, "tier": tier, "matched_field": matched_field})


# What a page of hits holds: `Customer` objects (the pages render them), or the
# API's JSON documents (customers.documents).
HIT_ENTITY: Any = Customer
HIT_DOCUMENT = _hit_document()


def _tier_page(
    session: Session,
    shown: Any,
    conditions: list[ColumnElement[bool]],
    actor: Actor,
    term: str,
    lang: str | None,
    tier: int,
    bounds: TierBounds,
    limit: int,
) -> list[SearchHit[Any]]:
    ranked = _tier(actor, term, lang, tier, bounds)
    query = (
        select(shown, Customer.id, ranked.c.rank_key, ranked.c.matched_field)
        .join_from(Customer, ranked, Customer.id == ranked.c.customer_id)
        .where(*conditions)
        .order_by(ranked.c.rank_key, Customer.id)
        .limit(limit)
    )
    if bounds.after_id is not None:
        query = query.where(
            tuple_(ranked.c.rank_key, Customer.id)
            > tuple_(literal(bounds.after_rank), literal(bounds.after_id, UUID))
        )
    return [SearchHit(*row) for row in session.execute(query)]


def search_customers(
    session: Session,
    actor: Actor,
    term: str,
    filters: CustomerFilters,
    *,
    lang: str | None = None,
    cursor: str | None = None,
    limit: int = DEFAULT_LIMIT,
    shown: Any = HIT_ENTITY,
) -> Page[SearchHit[Any]]:
    """One keyset page of customers matching `term`, best first, each saying what matched.

    Ranks: exact identifier (TRN, email, phone, external ref) → exact name →
    name prefix or phone suffix → fuzzy; ties by similarity, then id. Tiers run
    in that order and stop once the page (plus one row, to know a next page
    exists) is full.
    """
    require(actor, CUSTOMERS, Action.VIEW)
    term = clean_term(term, lang)
    after = SearchCursor.decode(cursor)
    plan_for_this_term(session)
    conditions = filter_conditions(session, actor, filters)
    filtered = filters != CustomerFilters()
    wanted = limit + 1
    hits: list[SearchHit[Any]] = []
    for tier in range(after.rank_key // 1000 if after else 0, FUZZY_TIER + 1):
        needed = wanted - len(hits)
        bounds = _bounds(tier, needed, after, filtered)
        hits += _tier_page(session, shown, conditions, actor, term, lang, tier, bounds, needed)
        if len(hits) >= wanted:
            break
    page = hits[:limit]
    next_cursor = None
    if len(hits) > limit:
        seen = (after.seen if after else 0) + len(page)
        last = page[-1]
        next_cursor = SearchCursor(last.rank_key, last.customer_id, seen).encode()
    return Page(page, next_cursor)


def _planner_estimate(session: Session, query: Select[Any]) -> int:
    compiled = query.compile(dialect=session.get_bind().dialect)
    plan = (
        session.connection()
        .exec_driver_sql(f"EXPLAIN (FORMAT JSON) {compiled.string}", compiled.params)
        .scalar_one()
    )
    document = plan if isinstance(plan, list) else json.loads(plan)
    return int(document[0]["Plan"]["Plan Rows"])


def count_customers(
    session: Session,
    actor: Actor,
    filters: CustomerFilters,
    *,
    term: str | None = None,
    lang: str | None = None,
) -> Count:
    """How many customers match: exact up to EXACT_COUNT_LIMIT, the planner's estimate above."""
    require(actor, CUSTOMERS, Action.VIEW)
    conditions = filter_conditions(session, actor, filters)
    if term:
        plan_for_this_term(session)
        query, _ = ranked_selection(conditions, actor, clean_term(term, lang), lang)
        query = query.with_only_columns(Customer.id)
    else:
        query = select(Customer.id).where(*conditions)
    bounded = select(func.count()).select_from(query.limit(EXACT_COUNT_LIMIT + 1).subquery())
    exact = session.scalar(bounded) or 0
    if exact <= EXACT_COUNT_LIMIT:
        return Count(exact, estimated=False)
    return Count(max(_planner_estimate(session, query), exact), estimated=True)
