"""Conversation rules: ingest and sync, manual re-links, enrichment, status, backfill.

Every function takes a session scoped to the actor's company and the actor; none
knows about HTTP. Queries filter by company as well as relying on row-level security.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any

from pydantic import TypeAdapter, ValidationError
from sqlalchemy import Engine, func, select, text, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from majlis.accounts.service import company_region
from majlis.conversations.matching import NO_MATCH, find_customer_for, match_keys
from majlis.conversations.models import Conversation, CustomerInteraction, LinkSource, SyncState
from majlis.conversations.schemas import ConversationIn
from majlis.conversations.sync import (
    SyncSummary,
    ingest_records,
    link_unlinked_batch,
    prepare_rows,
)
from majlis.core import audit
from majlis.core.db import tenant_session
from majlis.core.errors import Conflict, FieldError, NotFound, ValidationFailed
from majlis.core.pagination import DEFAULT_LIMIT, Page, page_by_moment
from majlis.core.permissions import (
    ALL,
    CUSTOMERS,
    NONE,
    Action,
    Actor,
    Matrix,
    Role,
    _row,
    require,
)
from majlis.customers.models import Customer
from majlis.customers.service import get_customer

ENTITY = "conversation"
MAX_BULK_RECORDS = 50_000
BULK_BATCH = 5_000
MAX_REPORTED_ERRORS = 20

CONVERSATIONS: Matrix = {
    Role.OWNER: _row(create=ALL, view=ALL, edit=ALL, administer=ALL),
    Role.MANAGER: _row(create=ALL, view=ALL, edit=ALL, administer=ALL),
    Role.SALES: _row(create=ALL, view=ALL, edit=NONE, administer=NONE),
    Role.ANALYST: _row(create=NONE, view=ALL, edit=NONE, administer=NONE),
}
_record_adapter = TypeAdapter(ConversationIn)


# ----- ingest ------------------------------------------------------------------------
def _duplicate_guard(error: IntegrityError) -> Conflict:
    """Two requests raced with the same (channel, session_id): the later one is told so."""
    return Conflict(
        "a conversation with this channel and session id was stored by a concurrent request;"
        f" send it again to get the stored one ({type(error.orig).__name__})"
    )


def ingest_conversation(
    session: Session, actor: Actor, record: ConversationIn
) -> tuple[Conversation, SyncSummary]:
    """Store one conversation and sync its customer (find, link and enrich, or create).

    Matching goes through `find_customer_for`, the seam a fuzzy matcher will replace. A
    session already ingested returns the stored conversation untouched.
    """
    require(actor, CONVERSATIONS, Action.CREATE)
    keys = match_keys(record.customer, company_region(session, actor.company_id).country)
    match = NO_MATCH if keys.is_empty else find_customer_for(session, actor, keys)
    try:
        summary, ids = ingest_records(session, actor, [record], pre_matched=match)
    except IntegrityError as exc:
        raise _duplicate_guard(exc) from exc
    conversation = session.scalar(
        select(Conversation).where(
            Conversation.company_id == actor.company_id,
            Conversation.channel == record.channel,
            Conversation.session_id == record.session_id,
        )
    )
    assert conversation is not None and (not ids or conversation.id == ids[0])
    return conversation, summary


def parse_ndjson(payload: bytes) -> list[ConversationIn]:
    """One conversation per line; any bad line rejects the whole file with line numbers."""
    records: list[ConversationIn] = []
    errors: list[FieldError] = []
    for number, line in enumerate(payload.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            records.append(_record_adapter.validate_json(line))
        except ValidationError as exc:
            for error in exc.errors()[:3]:
                where = ".".join(str(part) for part in error["loc"])
                errors.append(
                    FieldError(f"line {number}{'.' + where if where else ''}", error["msg"])
                )
        if len(errors) >= MAX_REPORTED_ERRORS:
            break
    if errors:
        raise ValidationFailed(errors)
    if not records:
        raise ValidationFailed.single("body", "contains no conversations (one JSON object a line)")
    if len(records) > MAX_BULK_RECORDS:
        raise ValidationFailed.single(
            "body", f"has {len(records)} conversations; send at most {MAX_BULK_RECORDS} a request"
        )
    return records


def ingest_many(session: Session, actor: Actor, records: list[ConversationIn]) -> SyncSummary:
    """Bulk ingest in set-based batches, all in the caller's one transaction.

    While the database works on one batch, a helper thread normalises the next one's keys
    (phone parsing is the costly Python part), so the two cores work at the same time.
    """
    require(actor, CONVERSATIONS, Action.CREATE)
    region = company_region(session, actor.company_id).country
    batches = [records[start : start + BULK_BATCH] for start in range(0, len(records), BULK_BATCH)]
    total = SyncSummary()
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="stage-rows") as helper:
        upcoming = helper.submit(prepare_rows, batches[0], region)
        for index, batch in enumerate(batches):
            prepared = upcoming.result()
            if index + 1 < len(batches):
                upcoming = helper.submit(prepare_rows, batches[index + 1], region)
            try:
                summary, _ = ingest_records(session, actor, batch, prepared=prepared)
            except IntegrityError as exc:
                raise _duplicate_guard(exc) from exc
            total.add(summary)
    return total


# ----- reading -----------------------------------------------------------------------
def get_conversation(session: Session, actor: Actor, conversation_id: uuid.UUID) -> Conversation:
    require(actor, CONVERSATIONS, Action.VIEW)
    conversation = session.get(Conversation, (actor.company_id, conversation_id))
    if conversation is None:
        raise NotFound(ENTITY, conversation_id)
    return conversation


def _newest_first(
    session: Session, actor: Actor, conditions: list[Any], cursor: str | None, limit: int
) -> Page[Conversation]:
    """Keyset page of the company's conversations on (started_at, id), newest first."""
    query = select(Conversation).where(Conversation.company_id == actor.company_id, *conditions)
    return page_by_moment(
        session, query, Conversation.started_at, Conversation.id, cursor=cursor, limit=limit
    )


def list_conversations(
    session: Session,
    actor: Actor,
    *,
    sync_state: SyncState | None = None,
    link_source: LinkSource | None = None,
    cursor: str | None = None,
    limit: int = DEFAULT_LIMIT,
) -> Page[Conversation]:
    """The company's conversations, newest first, optionally by sync state or link source."""
    require(actor, CONVERSATIONS, Action.VIEW)
    conditions: list[Any] = []
    if sync_state is not None:
        conditions.append(Conversation.sync_state == sync_state)
    if link_source is not None:
        conditions.append(Conversation.link_source == link_source)
    return _newest_first(session, actor, conditions, cursor, limit)


def customer_conversations(
    session: Session,
    actor: Actor,
    customer_id: uuid.UUID,
    *,
    cursor: str | None = None,
    limit: int = DEFAULT_LIMIT,
) -> Page[Conversation]:
    """A customer's conversations, newest first."""
    get_customer(session, actor, customer_id)
    require(actor, CONVERSATIONS, Action.VIEW)
    return _newest_first(session, actor, [Conversation.customer_id == customer_id], cursor, limit)


def sync_status(session: Session, actor: Actor) -> dict[str, Any]:
    """How many conversations there are, how many are linked, and by which source."""
    require(actor, CONVERSATIONS, Action.VIEW)
    rows = session.execute(
        select(Conversation.sync_state, Conversation.link_source, func.count())
        .where(Conversation.company_id == actor.company_id)
        .group_by(Conversation.sync_state, Conversation.link_source)
    ).all()
    by_state = {state.value: 0 for state in SyncState}
    by_source = {source.value: 0 for source in LinkSource}
    for state, source, count in rows:
        by_state[state.value] += count
        if source is not None:
            by_source[source.value] += count
    total = sum(by_state.values())
    return {
        "total": total,
        "linked": by_state[SyncState.LINKED],
        "unlinked": total - by_state[SyncState.LINKED],
        "ambiguous": by_state[SyncState.AMBIGUOUS],
        "anonymous": by_state[SyncState.ANONYMOUS],
        "pending": by_state[SyncState.PENDING],
        "by_source": by_source,
    }


# ----- manual links and enrichment ---------------------------------------------------
def _adjust_counts(
    session: Session, actor: Actor, customer_id: uuid.UUID, delta: int, seen_at: datetime | None
) -> None:
    values: dict[str, Any] = {
        "conversation_count": func.greatest(Customer.conversation_count + delta, 0),
        "version": Customer.version + 1,
    }
    if seen_at is not None:
        values["last_seen_at"] = func.greatest(Customer.last_seen_at, seen_at)
    session.execute(
        update(Customer)
        .where(Customer.company_id == actor.company_id, Customer.id == customer_id)
        .values(**values)
        .execution_options(synchronize_session=False)
    )


def relink_conversation(
    session: Session, actor: Actor, conversation_id: uuid.UUID, customer_id: uuid.UUID
) -> Conversation:
    """Link a conversation to a customer by hand; automatic sync never undoes a manual link."""
    require(actor, CONVERSATIONS, Action.EDIT)
    conversation = get_conversation(session, actor, conversation_id)
    target = get_customer(session, actor, customer_id)
    before = {"customer_id": conversation.customer_id, "link_source": conversation.link_source}
    if conversation.customer_id is not None:
        _adjust_counts(session, actor, conversation.customer_id, -1, None)
    _adjust_counts(session, actor, target.id, 1, conversation.ended_at or conversation.started_at)
    conversation.customer_id = target.id
    conversation.matched_contact_id = None
    conversation.customer_linked_at = datetime.now(UTC)
    conversation.link_source = LinkSource.MANUAL
    conversation.sync_state = SyncState.LINKED
    conversation.match_reason = "manual"
    conversation.match_confidence = None
    conversation.ambiguous_candidates = []
    session.flush()
    after = {"customer_id": target.id, "link_source": LinkSource.MANUAL}
    audit.record(
        session, actor, "conversation.relinked", ENTITY, conversation.id, before=before, after=after
    )
    return conversation


# Conversations that came through an organization's contact describe that person, so they
# count and date the customer but fill none of its fields.
_REENRICH = text(
    """
    WITH latest AS (
        SELECT (array_agg(match_email ORDER BY started_at DESC)
                    FILTER (WHERE match_email IS NOT NULL AND matched_contact_id IS NULL))[1]
                    AS email,
               (array_agg(match_phone ORDER BY started_at DESC)
                    FILTER (WHERE match_phone IS NOT NULL AND matched_contact_id IS NULL))[1]
                    AS phone,
               (array_agg(contact_address ORDER BY started_at DESC)
                    FILTER (WHERE nullif(btrim(contact_address), '') IS NOT NULL
                            AND matched_contact_id IS NULL))[1] AS address,
               max(coalesce(ended_at, started_at)) AS seen_at,
               count(*) AS conversations
          FROM conversations
         WHERE company_id = :company AND customer_id = :customer)
    UPDATE customers c SET
        email = coalesce(c.email, l.email),
        phone = coalesce(c.phone, l.phone),
        address_line1 = coalesce(c.address_line1, l.address),
        last_seen_at = greatest(c.last_seen_at, l.seen_at),
        conversation_count = l.conversations,
        version = c.version + 1,
        updated_at = now()
      FROM latest l
     WHERE c.company_id = :company AND c.id = :customer
    """
)
ENRICHED_FIELDS = ("email", "phone", "address_line1", "last_seen_at", "conversation_count")


def enrich_from_conversations(session: Session, actor: Actor, customer_id: uuid.UUID) -> Customer:
    """Re-run enrichment from all of a customer's conversations; fills gaps, never overwrites."""
    customer = get_customer(session, actor, customer_id)
    require(actor, CUSTOMERS, Action.EDIT, customer)
    before = {name: getattr(customer, name) for name in ENRICHED_FIELDS}
    session.execute(_REENRICH, {"company": actor.company_id, "customer": customer_id})
    session.refresh(customer)
    after = {name: getattr(customer, name) for name in ENRICHED_FIELDS}
    changed = audit.changed_fields(before, after)
    if changed:
        audit.record(
            session,
            actor,
            "customer.enriched",
            "customer",
            customer_id,
            before={name: before[name] for name in changed},
            after=changed,
        )
    return customer


# ----- backfill ----------------------------------------------------------------------
def count_unlinked(session: Session, actor: Actor) -> int:
    require(actor, CONVERSATIONS, Action.ADMINISTER)
    return int(
        session.scalar(
            select(func.count()).where(
                Conversation.company_id == actor.company_id, Conversation.customer_id.is_(None)
            )
        )
        or 0
    )


def backfill_links(
    engine: Engine,
    actor: Actor,
    *,
    batch_size: int = BULK_BATCH,
    on_batch: Callable[[SyncSummary], None] | None = None,
) -> SyncSummary:
    """Link every unlinked conversation of the actor's company (the one-time chat migration).

    Each batch commits on its own, so a crash loses at most one batch and a rerun resumes
    with what is still unlinked; linked conversations (manual ones included) are never
    touched, which makes reruns idempotent.
    """
    total = SyncSummary()
    after: uuid.UUID | None = None
    while True:
        with tenant_session(engine, actor.company_id, actor.user_id) as session:
            require(actor, CONVERSATIONS, Action.ADMINISTER)
            summary, after = link_unlinked_batch(session, actor, after=after, limit=batch_size)
        if after is None:
            return total
        total.add(summary)
        if on_batch is not None:
            on_batch(summary)


def get_interaction(
    session: Session, actor: Actor, interaction_id: uuid.UUID
) -> CustomerInteraction:
    interaction = session.get(CustomerInteraction, (actor.company_id, interaction_id))
    if interaction is None:
        raise NotFound("interaction", interaction_id)
    return interaction
