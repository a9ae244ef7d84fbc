"""`GET /api/v1/insights/ask?q=`: answers to a documented family of plain-word questions."""

from __future__ import annotations

import uuid
from dataclasses import asdict
from typing import Annotated, Any

from fastapi import APIRouter, Query

from majlis.core.http import Context
from majlis.insights import kpis, leads
from majlis.insights.ask import ask

router = APIRouter(prefix="/api/v1/insights", tags=["insights"])


@router.get("/ask", summary="Answer a question in English or Arabic (see docs/journeys.md)")
def ask_question(
    ctx: Context, q: Annotated[str, Query(min_length=1, max_length=300)]
) -> dict[str, Any]:
    return asdict(ask(ctx.session, ctx.actor, q))


@router.get("/customers/{customer_id}/lead-score", summary="Lead score with its top reasons")
def lead_score(ctx: Context, customer_id: uuid.UUID) -> dict[str, Any]:
    return asdict(leads.lead_score(ctx.session, ctx.actor, customer_id))


@router.get("/customers/{customer_id}/next-action", summary="The next best action, and why")
def next_action(ctx: Context, customer_id: uuid.UUID) -> dict[str, Any]:
    return asdict(leads.next_best_action(ctx.session, ctx.actor, customer_id))


@router.get("/hot-leads", summary="Today's hot leads (score 60 or more), best first")
def hot_leads(
    ctx: Context, limit: Annotated[int, Query(ge=1, le=100)] = 20
) -> list[dict[str, Any]]:
    return [asdict(lead) for lead in leads.hot_leads(ctx.session, ctx.actor, limit)]


@router.get("/kpis", summary="Daily KPIs with anomaly flags against each weekday's baseline")
def daily_kpis(ctx: Context, days: Annotated[int, Query(ge=1, le=92)] = 14) -> list[dict[str, Any]]:
    return [asdict(day) for day in kpis.daily_kpis(ctx.session, ctx.actor, days)]
