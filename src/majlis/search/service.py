"""Ranked bilingual customer search and fast counts.

The ranking lives in one SQL function, `majlis_search_ranked` (migration
0004_search), so the API and the operators' `search_customers(...)` agree.
This module composes it with the customer list filters and pages it by keyset
on `(rank_key, id)`: the rank is an integer, so the cursor is exact.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, Select, column, func, literal, select, text, tuple_
from sqlalchemy.dialects.postgresql import UUID
from sqlalchemy.orm import Session
from sqlalchemy.types import Integer, Text

from majlis.core.errors import ValidationFailed
from majlis.core.pagination import DEFAULT_LIMIT, Page, decode_cursor, encode_cursor
from majlis.core.permissions import CUSTOMERS, Action, Actor, require
from majlis.customers.models import Customer
from majlis.customers.service import CustomerFilters, filter_conditions

MAX_TERM_LENGTH = 200
LANGUAGES = ("en", "ar")
# Below this many matches a count is exact; above it the planner's estimate is
# returned (and labelled so): counting a million rows exactly costs a scan.
EXACT_COUNT_LIMIT = 1000
TIER_NAMES = {0: "identifier", 1: "exact_name", 2: "prefix", 3: "fuzzy"}


@dataclass(frozen=True)
class SearchHit:
    customer: Customer
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
    return (
        func.majlis_search_ranked(literal(actor.company_id, UUID), term, lang)
        .table_valued(
            column("customer_id", UUID(as_uuid=True)),
            column("rank_key", Integer),
            column("matched_field", Text),
        )
        .render_derived(name="ranked")
    )


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


def search_customers(
    session: Session,
    actor: Actor,
    term: str,
    filters: CustomerFilters,
    *,
    lang: str | None = None,
    cursor: str | None = None,
    limit: int = DEFAULT_LIMIT,
) -> Page[SearchHit]:
    """One keyset page of customers matching `term`, best first, each saying what matched.

    Ranks: exact identifier (TRN, email, phone, external ref) → exact name →
    name prefix or phone suffix → fuzzy; ties by similarity, then id.
    """
    require(actor, CUSTOMERS, Action.VIEW)
    term = clean_term(term, lang)
    plan_for_this_term(session)
    query, ranked = ranked_selection(filter_conditions(session, actor, filters), actor, term, lang)
    query = query.order_by(ranked.c.rank_key, Customer.id).limit(limit + 1)
    if cursor:
        last_rank, last_id = decode_cursor(cursor, 2)
        query = query.where(
            tuple_(ranked.c.rank_key, Customer.id)
            > tuple_(literal(int(last_rank)), literal(uuid.UUID(str(last_id)), UUID))
        )
    rows = session.execute(query).all()
    hits = [SearchHit(row[0], row[1], row[2]) for row in rows[:limit]]
    next_cursor = (
        encode_cursor([hits[-1].rank_key, str(hits[-1].customer.id)]) if len(rows) > limit else None
    )
    return Page(hits, next_cursor)


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
