"""Thin routes: conversations, their sync, a customer's conversations, interactions, timeline."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response, status
from fastapi.concurrency import run_in_threadpool

from majlis.conversations import service
from majlis.conversations import timeline as _timeline_sources  # noqa: F401  (registers sources)
from majlis.conversations.interactions import record_interaction
from majlis.conversations.models import Conversation, LinkSource, SyncState
from majlis.conversations.schemas import (
    ConversationIn,
    ConversationOut,
    ConversationPage,
    IngestedConversation,
    IngestSummaryOut,
    InteractionIn,
    InteractionOut,
    RelinkIn,
    SyncStatusOut,
    TimelineEntryOut,
    TimelinePage,
)
from majlis.conversations.sync import SyncSummary
from majlis.core.http import Context
from majlis.core.pagination import DEFAULT_LIMIT, MAX_LIMIT, Page
from majlis.core.timeline import customer_timeline
from majlis.customers.schemas import CustomerOut
from majlis.customers.service import get_customer

router = APIRouter(prefix="/api/v1", tags=["conversations"])
Limit = Annotated[int, Query(ge=1, le=MAX_LIMIT)]
NDJSON = "application/x-ndjson"


def _summary(summary: SyncSummary) -> IngestSummaryOut:
    return IngestSummaryOut.model_validate(summary.__dict__)


def _page(page: Page[Conversation]) -> ConversationPage:
    return ConversationPage(
        items=[ConversationOut.model_validate(c) for c in page.items],
        next_cursor=page.next_cursor,
    )


@router.post(
    "/conversations",
    response_model=IngestedConversation,
    status_code=status.HTTP_201_CREATED,
    summary="Ingest one conversation and sync its customer",
    responses={200: {"description": "Already ingested (same session): nothing new was written"}},
)
def ingest_conversation(
    ctx: Context, body: ConversationIn, response: Response
) -> IngestedConversation:
    conversation, summary = service.ingest_conversation(ctx.session, ctx.actor, body)
    if summary.duplicates:
        response.status_code = status.HTTP_200_OK
    response.headers["Location"] = f"/api/v1/conversations/{conversation.id}"
    return IngestedConversation(
        conversation=ConversationOut.model_validate(conversation), summary=_summary(summary)
    )


@router.post(
    "/conversations/bulk",
    response_model=IngestSummaryOut,
    summary="Ingest NDJSON (one conversation a line); all or nothing",
    openapi_extra={"requestBody": {"content": {NDJSON: {"schema": {"type": "string"}}}}},
)
async def ingest_bulk(ctx: Context, request: Request) -> IngestSummaryOut:
    records = service.parse_ndjson(await request.body())
    # The ingest is synchronous database work that can take seconds: run it in the
    # thread pool so the event loop keeps serving other requests meanwhile.
    summary = await run_in_threadpool(service.ingest_many, ctx.session, ctx.actor, records)
    return _summary(summary)


@router.get("/conversations", response_model=ConversationPage)
def list_conversations(
    ctx: Context,
    sync_state: SyncState | None = None,
    link_source: LinkSource | None = None,
    cursor: str | None = None,
    limit: Limit = DEFAULT_LIMIT,
) -> ConversationPage:
    return _page(
        service.list_conversations(
            ctx.session,
            ctx.actor,
            sync_state=sync_state,
            link_source=link_source,
            cursor=cursor,
            limit=limit,
        )
    )


@router.get("/conversations/sync-status", response_model=SyncStatusOut)
def sync_status(ctx: Context) -> SyncStatusOut:
    return SyncStatusOut.model_validate(service.sync_status(ctx.session, ctx.actor))


@router.get("/conversations/{conversation_id}", response_model=ConversationOut)
def get_conversation(ctx: Context, conversation_id: uuid.UUID) -> ConversationOut:
    return ConversationOut.model_validate(
        service.get_conversation(ctx.session, ctx.actor, conversation_id)
    )


@router.put(
    "/conversations/{conversation_id}/customer",
    response_model=ConversationOut,
    summary="Link a conversation to a customer by hand (link_source=manual)",
)
def relink_conversation(
    ctx: Context, conversation_id: uuid.UUID, body: RelinkIn
) -> ConversationOut:
    conversation = service.relink_conversation(
        ctx.session, ctx.actor, conversation_id, body.customer_id
    )
    return ConversationOut.model_validate(conversation)


@router.get("/customers/{customer_id}/conversations", response_model=ConversationPage)
def customer_conversations(
    ctx: Context, customer_id: uuid.UUID, cursor: str | None = None, limit: Limit = DEFAULT_LIMIT
) -> ConversationPage:
    return _page(
        service.customer_conversations(
            ctx.session, ctx.actor, customer_id, cursor=cursor, limit=limit
        )
    )


@router.post(
    "/customers/{customer_id}/enrich",
    response_model=CustomerOut,
    summary="Re-run enrichment from all of the customer's conversations",
)
def enrich_customer(ctx: Context, customer_id: uuid.UUID) -> CustomerOut:
    return CustomerOut.model_validate(
        service.enrich_from_conversations(ctx.session, ctx.actor, customer_id)
    )


@router.post(
    "/customers/{customer_id}/interactions",
    response_model=InteractionOut,
    status_code=status.HTTP_201_CREATED,
    summary="Record an interaction (e.g. loaded into chat) with the customer",
)
def add_interaction(ctx: Context, customer_id: uuid.UUID, body: InteractionIn) -> InteractionOut:
    customer = get_customer(ctx.session, ctx.actor, customer_id)
    interaction_id = record_interaction(ctx.session, ctx.actor, customer.id, body.kind)
    return InteractionOut.model_validate(
        service.get_interaction(ctx.session, ctx.actor, interaction_id)
    )


@router.get(
    "/customers/{customer_id}/timeline",
    response_model=TimelinePage,
    summary="Everything that happened to a customer, newest first",
)
def timeline(
    ctx: Context, customer_id: uuid.UUID, cursor: str | None = None, limit: Limit = DEFAULT_LIMIT
) -> TimelinePage:
    get_customer(ctx.session, ctx.actor, customer_id, include_deleted=True)
    page = customer_timeline(ctx.session, ctx.actor, customer_id, cursor=cursor, limit=limit)
    return TimelinePage(
        items=[TimelineEntryOut.model_validate(entry.__dict__) for entry in page.items],
        next_cursor=page.next_cursor,
    )
