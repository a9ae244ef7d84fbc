"""Set-based customer sync: thousands of chat records matched, linked and enriched at once.

Records are COPYed into a transaction-local stage table, then every step is one SQL
statement over the whole stage, inside the caller's tenant-scoped transaction (RLS
applies to every customer and conversation touched):

1. drop sessions already ingested (re-sending a file is harmless);
2. for each matching rule (`matching.RULES`, in order) join the still-pending rows to
   customers (or to organizations' contacts) on indexed columns: one candidate links,
   several mark the row ambiguous;
3. enrich the customers just linked: fill missing email/phone/address, bump
   `last_seen_at` and `conversation_count`, append summaries to notes when asked;
4. create one `source=chat` customer per new person — the first row of each identifier
   group leads, so two chats from one new email create one customer — and repeat from
   2 until nothing is pending (the followers then match the customer their leader made).

Audit entries and outbox events are written set-based in the same statements.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from pydantic import TypeAdapter
from sqlalchemy import text
from sqlalchemy.orm import Session

from majlis.accounts.service import company_region
from majlis.conversations.matching import (
    MAX_CANDIDATES,
    RULES,
    CustomerMatch,
    match_keys,
)
from majlis.conversations.models import LinkSource
from majlis.conversations.schemas import ConversationIn, Message
from majlis.core.ids import new_id
from majlis.core.permissions import Actor

STAGE = "conversation_stage"
_CREATE_STAGE = f"""
CREATE TEMP TABLE IF NOT EXISTS {STAGE} (
    seq integer PRIMARY KEY,
    conversation_id uuid NOT NULL,
    new_customer_id uuid NOT NULL,
    channel text, session_id text, channel_user text, interaction_number integer,
    contact_name text, contact_email text, contact_phone text, contact_address text,
    contact_trn text, external_ref text,
    email text, phone text, trn text, name text, display_name text,
    started_at timestamptz, ended_at timestamptz, summary text, messages jsonb,
    append_note boolean NOT NULL DEFAULT false,
    state text NOT NULL DEFAULT 'pending',
    customer_id uuid, contact_id uuid, reason text, confidence numeric(4, 3),
    candidates uuid[] NOT NULL DEFAULT '{{}}',
    applied boolean NOT NULL DEFAULT false
) ON COMMIT DROP
"""
_COPY_COLUMNS = (
    "seq",
    "conversation_id",
    "new_customer_id",
    "channel",
    "session_id",
    "channel_user",
    "interaction_number",
    "contact_name",
    "contact_email",
    "contact_phone",
    "contact_address",
    "contact_trn",
    "external_ref",
    "email",
    "phone",
    "trn",
    "name",
    "display_name",
    "started_at",
    "ended_at",
    "summary",
    "messages",
    "append_note",
    "state",
    "customer_id",
    "contact_id",
    "reason",
    "confidence",
    "candidates",
)
MAX_ROUNDS = 50
_messages_json = TypeAdapter(list[Message])
# Statistics only where the planner needs them (joins and filters), not the message bodies.
_ANALYZE_STAGE = (
    f"ANALYZE {STAGE} (seq, channel, session_id, state, email, phone, trn, external_ref, name)"
)


@dataclass
class SyncSummary:
    """How a sync went: totals and how each record landed (reason = which rule matched)."""

    received: int = 0
    ingested: int = 0
    duplicates: int = 0
    linked: int = 0
    created: int = 0
    ambiguous: int = 0
    anonymous: int = 0
    by_reason: dict[str, int] = field(default_factory=dict)

    def add(self, other: SyncSummary) -> None:
        for name in ("received", "ingested", "duplicates", "linked", "created"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.ambiguous += other.ambiguous
        self.anonymous += other.anonymous
        for reason, count in other.by_reason.items():
            self.by_reason[reason] = self.by_reason.get(reason, 0) + count


def _display_name(record: ConversationIn) -> str | None:
    seen = record.customer
    for candidate in (seen.name, seen.email, seen.phone):
        if candidate and candidate.strip():
            return candidate.strip()
    return None


def _stage_row(
    seq: int, record: ConversationIn, region: str, match: CustomerMatch | None
) -> tuple[Any, ...]:
    keys = match_keys(record.customer, region)
    seen = record.customer
    state, customer_id, reason, confidence, candidates = "pending", None, None, None, []
    contact_id = None
    if keys.is_empty:
        state = "anonymous"
    elif match is not None and match.reason is not None:
        customer_id, reason, confidence = match.customer_id, match.reason, match.confidence
        contact_id = match.contact_id
        state = "ambiguous" if match.is_ambiguous else "linked"
        candidates = list(match.candidates) if match.is_ambiguous else []
    return (
        seq,
        new_id(),
        new_id(),
        record.channel,
        record.session_id,
        record.channel_user,
        record.interaction_number,
        seen.name,
        seen.email,
        seen.phone,
        seen.address,
        seen.trn,
        keys.external_ref,
        keys.email,
        keys.phone,
        keys.trn,
        keys.name,
        _display_name(record),
        record.started_at,
        record.ended_at,
        record.summary,
        _messages_json.dump_json(record.messages).decode(),
        record.append_summary_to_notes,
        state,
        customer_id,
        contact_id,
        reason,
        confidence,
        candidates,
    )


def _open_stage(session: Session) -> None:
    session.execute(text(_CREATE_STAGE))
    session.execute(text(f"TRUNCATE {STAGE}"))


def _copy_into_stage(session: Session, rows: StageRows) -> None:
    raw = session.connection().connection.driver_connection
    assert raw is not None
    with (
        raw.cursor() as cursor,
        cursor.copy(f"COPY {STAGE} ({', '.join(_COPY_COLUMNS)}) FROM STDIN") as copy,
    ):
        for row in rows:
            copy.write_row(row)


def _drop_already_ingested(session: Session, actor: Actor) -> int:
    """Sessions seen before (in the database or earlier in this batch) are skipped, not redone."""
    known = session.execute(
        text(
            f"DELETE FROM {STAGE} s USING conversations c WHERE c.company_id = :company"
            " AND c.channel = s.channel AND c.session_id = s.session_id"
        ),
        {"company": actor.company_id},
    )
    repeated = session.execute(
        text(
            f"DELETE FROM {STAGE} WHERE seq IN (SELECT seq FROM (SELECT seq, row_number()"
            " OVER (PARTITION BY channel, session_id ORDER BY seq) AS nth"
            f" FROM {STAGE}) numbered WHERE nth > 1)"
        )
    )
    return int(known.rowcount) + int(repeated.rowcount)  # type: ignore[attr-defined]


def _resolve_by_rules(session: Session, actor: Actor) -> None:
    """Apply each matching rule, in order, to the rows still pending."""
    for rule in RULES:
        pending = f"k.state = 'pending' AND k.{rule.key} IS NOT NULL"
        session.execute(
            text(
                f"""
                WITH hits AS (
                    SELECT seq, array_agg(DISTINCT id ORDER BY id) AS ids,
                           min(contact_id::text)::uuid AS contact_id
                      FROM ({rule.probes(f"{STAGE} k", pending)}) probes
                     GROUP BY seq)
                UPDATE {STAGE} k SET
                    customer_id = CASE WHEN cardinality(h.ids) = 1 THEN h.ids[1] END,
                    contact_id = CASE WHEN cardinality(h.ids) = 1 THEN h.contact_id END,
                    state = CASE WHEN cardinality(h.ids) = 1 THEN 'linked' ELSE 'ambiguous' END,
                    candidates = CASE WHEN cardinality(h.ids) > 1
                                      THEN h.ids[1:{MAX_CANDIDATES}] ELSE '{{}}' END,
                    confidence = CASE WHEN cardinality(h.ids) = 1 THEN :confidence END,
                    reason = :reason
                  FROM hits h WHERE k.seq = h.seq
                """
            ),
            {"company": actor.company_id, "reason": rule.reason, "confidence": rule.confidence},
        )


def _actor_params(actor: Actor) -> dict[str, Any]:
    return {
        "company": actor.company_id,
        "actor_kind": actor.kind,
        "actor_id": actor.user_id,
        "request_id": actor.request_id,
    }


_AUDIT_COLUMNS = (
    "INSERT INTO audit_log (company_id, id, actor_kind, actor_id, action, entity_type,"
    " entity_id, before, after, request_id)"
)


def _enrich_linked(session: Session, actor: Actor) -> int:
    """Fill what the customer lacks from the records just linked; never overwrite a value.

    A record linked through an organization's contact tells about that person, not the
    organization: it counts as a conversation but fills nothing in.
    Returns how many customers gained an email or phone (pending rows may now match them).
    """
    result = session.execute(
        text(
            f"""
            WITH fresh AS (
                SELECT customer_id,
                       (array_agg(email ORDER BY seq)
                           FILTER (WHERE email IS NOT NULL AND contact_id IS NULL))[1] AS email,
                       (array_agg(phone ORDER BY seq)
                           FILTER (WHERE phone IS NOT NULL AND contact_id IS NULL))[1] AS phone,
                       (array_agg(contact_address ORDER BY seq)
                           FILTER (WHERE nullif(btrim(contact_address), '') IS NOT NULL
                                   AND contact_id IS NULL))[1]
                           AS address,
                       max(coalesce(ended_at, started_at)) AS seen_at,
                       count(*) AS conversations,
                       string_agg(summary, E'\\n' ORDER BY seq)
                           FILTER (WHERE append_note AND summary IS NOT NULL) AS notes
                  FROM {STAGE} WHERE state = 'linked' AND NOT applied
                 GROUP BY customer_id),
            filled AS (
                SELECT f.*, jsonb_strip_nulls(jsonb_build_object(
                           'email', CASE WHEN c.email IS NULL THEN f.email END,
                           'phone', CASE WHEN c.phone IS NULL THEN f.phone END,
                           'address_line1', CASE WHEN c.address_line1 IS NULL THEN f.address END,
                           'notes_appended', f.notes)) AS changes
                  FROM fresh f JOIN customers c
                    ON c.company_id = :company AND c.id = f.customer_id),
            updated AS (
                UPDATE customers c SET
                    email = coalesce(c.email, f.email),
                    phone = coalesce(c.phone, f.phone),
                    address_line1 = coalesce(c.address_line1, f.address),
                    last_seen_at = greatest(c.last_seen_at, f.seen_at),
                    conversation_count = c.conversation_count + f.conversations,
                    notes = CASE WHEN f.notes IS NULL THEN c.notes
                                 ELSE concat_ws(E'\\n', c.notes, f.notes) END,
                    version = c.version + 1,
                    updated_at = now()
                  FROM filled f WHERE c.company_id = :company AND c.id = f.customer_id
                RETURNING c.id),
            marked AS (
                UPDATE {STAGE} SET applied = true WHERE state = 'linked' AND NOT applied)
            {_AUDIT_COLUMNS}
            SELECT :company, majlis_new_id(), :actor_kind, :actor_id, 'customer.enriched',
                   'customer', f.customer_id, NULL, f.changes, :request_id
              FROM filled f WHERE f.changes <> '{{}}'::jsonb
            RETURNING jsonb_exists(after, 'email') OR jsonb_exists(after, 'phone')
            """
        ),
        _actor_params(actor),
    )
    return sum(1 for (gained_identifier,) in result if gained_identifier)


def _create_customers_for_new_people(session: Session, actor: Actor, currency: str) -> int:
    """One new customer per person: the earliest pending row of each identifier group leads."""
    result = session.execute(
        text(
            f"""
            WITH pending AS (
                SELECT seq, email, phone, trn, external_ref, name,
                       (email IS NULL AND phone IS NULL AND trn IS NULL
                        AND external_ref IS NULL) AS name_only
                  FROM {STAGE} WHERE state = 'pending'),
            firsts AS (
                SELECT seq,
                       seq = coalesce(CASE WHEN trn IS NOT NULL
                                          THEN min(seq) OVER (PARTITION BY trn) END, seq)
                   AND seq = coalesce(CASE WHEN external_ref IS NOT NULL
                                          THEN min(seq) OVER (PARTITION BY external_ref) END, seq)
                   AND seq = coalesce(CASE WHEN email IS NOT NULL
                                          THEN min(seq) OVER (PARTITION BY email) END, seq)
                   AND seq = coalesce(CASE WHEN phone IS NOT NULL
                                          THEN min(seq) OVER (PARTITION BY phone) END, seq)
                   AND seq = coalesce(CASE WHEN name_only
                                          THEN min(seq) OVER (PARTITION BY name, name_only) END,
                                      seq) AS leads
                  FROM pending),
            leaders AS (
                SELECT s.* FROM {STAGE} s JOIN firsts f USING (seq) WHERE f.leads),
            created AS (
                INSERT INTO customers (company_id, id, kind, name, email, phone, trn,
                                       external_ref, address_line1, source, currency, owner_id,
                                       created_by, last_seen_at, conversation_count, notes)
                SELECT :company, l.new_customer_id, 'individual', l.display_name, l.email,
                       l.phone, l.trn, l.external_ref, nullif(btrim(l.contact_address), ''),
                       'chat', :currency, :actor_id, :actor_id,
                       coalesce(l.ended_at, l.started_at), 1,
                       CASE WHEN l.append_note THEN l.summary END
                  FROM leaders l
                RETURNING id, name, email, phone, trn, external_ref),
            linked AS (
                UPDATE {STAGE} s SET state = 'linked', customer_id = s.new_customer_id,
                       reason = 'created', confidence = 1, applied = true
                  FROM leaders l WHERE s.seq = l.seq),
            events AS (
                INSERT INTO outbox_events (company_id, id, topic, payload, dedupe_key)
                SELECT :company, c.id, 'customer.created',
                       jsonb_build_object('customer_id', c.id), c.id::text
                  FROM created c),
            fuzzy_check AS (  -- dedupe (issue 5): one event per batch, see dedupe/arrivals.py
                INSERT INTO outbox_events (company_id, id, topic, payload, dedupe_key)
                SELECT :company, majlis_new_id(), 'dedupe.chat_customers',
                       jsonb_build_object('customer_ids', jsonb_agg(c.id)),
                       'dedupe.chat:' || min(c.id::text)
                  FROM created c HAVING count(*) > 0)
            {_AUDIT_COLUMNS}
            SELECT :company, majlis_new_id(), :actor_kind, :actor_id, 'customer.created',
                   'customer', c.id, NULL,
                   jsonb_strip_nulls(jsonb_build_object('name', c.name, 'email', c.email,
                       'phone', c.phone, 'trn', c.trn, 'external_ref', c.external_ref,
                       'source', 'chat')),
                   :request_id
              FROM created c
            """
        ),
        {**_actor_params(actor), "currency": currency},
    )
    return int(result.rowcount)  # type: ignore[attr-defined]


def settle_stage(session: Session, actor: Actor, *, match_in_sql: bool = True) -> None:
    """Link, enrich or create until no staged record is pending (see the module docstring)."""
    currency = company_region(session, actor.company_id).currency
    for _ in range(MAX_ROUNDS):
        if match_in_sql:
            _resolve_by_rules(session, actor)
        match_in_sql = True
        # Enrichment may have given a customer the phone a pending row carries: match again
        # before creating anyone, so one person never becomes two customers.
        if _enrich_linked(session, actor):
            continue
        if _create_customers_for_new_people(session, actor, currency) == 0:
            return


def _stage_summary(session: Session) -> SyncSummary:
    summary = SyncSummary()
    rows = session.execute(text(f"SELECT state, reason, count(*) FROM {STAGE} GROUP BY 1, 2"))
    for state, reason, count in rows:
        summary.ingested += count
        if state == "linked" and reason == "created":
            summary.created += count
        elif state == "linked":
            summary.linked += count
        elif state == "ambiguous":
            summary.ambiguous += count
        elif state == "anonymous":
            summary.anonymous += count
        if reason:
            summary.by_reason[reason] = summary.by_reason.get(reason, 0) + count
    return summary


def _link_source_sql() -> str:
    return (
        "CASE WHEN s.customer_id IS NOT NULL"
        " THEN CAST(:link_source AS conversation_link_source) END"
    )


def _insert_conversations(session: Session, actor: Actor, link_source: LinkSource) -> None:
    """Write the staged conversations; one audit entry for the batch, since each row records
    itself how it was linked (link_source, match_reason, customer_linked_at, created_at)."""
    session.execute(
        text(
            f"""
            WITH inserted AS (
                INSERT INTO conversations (
                    company_id, id, channel, session_id, channel_user, interaction_number,
                    contact_name, contact_email, contact_phone, contact_address, contact_trn,
                    contact_external_ref, match_email, match_phone, match_trn, match_name,
                    started_at, ended_at, summary, messages, customer_id, matched_contact_id,
                    customer_linked_at, link_source, sync_state, match_reason, match_confidence,
                    ambiguous_candidates)
                SELECT :company, s.conversation_id, s.channel, s.session_id, s.channel_user,
                       s.interaction_number, s.contact_name, s.contact_email, s.contact_phone,
                       s.contact_address, s.contact_trn, s.external_ref, s.email, s.phone,
                       s.trn, s.name, s.started_at, s.ended_at, s.summary, s.messages,
                       s.customer_id, s.contact_id,
                       CASE WHEN s.customer_id IS NOT NULL THEN now() END,
                       {_link_source_sql()}, CAST(s.state AS conversation_sync_state),
                       s.reason, s.confidence, s.candidates
                  FROM {STAGE} s ORDER BY s.seq
                RETURNING id, sync_state)
            {_AUDIT_COLUMNS}
            SELECT :company, majlis_new_id(), :actor_kind, :actor_id, 'conversations.ingested',
                   'conversation_batch', majlis_new_id(), NULL,
                   jsonb_build_object('conversations', count(*),
                                      'first_id', min(id::text), 'last_id', max(id::text),
                                      'linked', count(*) FILTER (WHERE sync_state = 'linked')),
                   :request_id
              FROM inserted HAVING count(*) > 0
            """
        ),
        {**_actor_params(actor), "link_source": link_source.value},
    )


StageRows = list[tuple[Any, ...]]


def prepare_rows(
    records: Sequence[ConversationIn], region: str, pre_matched: CustomerMatch | None = None
) -> StageRows:
    """The Python half of a sync (normalising keys); pure, so it can run in another thread."""
    return [_stage_row(seq, record, region, pre_matched) for seq, record in enumerate(records)]


def ingest_records(
    session: Session,
    actor: Actor,
    records: Sequence[ConversationIn],
    *,
    pre_matched: CustomerMatch | None = None,
    prepared: StageRows | None = None,
) -> tuple[SyncSummary, list[uuid.UUID]]:
    """Store chat records and sync each to its customer; returns the summary and new ids.

    `pre_matched` (single-record ingest) carries the answer of `find_customer_for`, so the
    online path can use a different matcher while sharing linking, enrichment and creation.
    `prepared` are the records' stage rows when the caller built them ahead. Callers check
    permissions.
    """
    if prepared is None:
        region = company_region(session, actor.company_id).country
        prepared = prepare_rows(records, region, pre_matched)
    _open_stage(session)
    _copy_into_stage(session, prepared)
    session.execute(text(_ANALYZE_STAGE))
    duplicates = _drop_already_ingested(session, actor)
    settle_stage(session, actor, match_in_sql=pre_matched is None)
    summary = _stage_summary(session)
    summary.received, summary.duplicates = len(records), duplicates
    ids = list(session.scalars(text(f"SELECT conversation_id FROM {STAGE} ORDER BY seq")))
    _insert_conversations(session, actor, LinkSource.AUTO_SYNC)
    return summary, ids


def link_unlinked_batch(
    session: Session, actor: Actor, *, after: uuid.UUID | None, limit: int
) -> tuple[SyncSummary, uuid.UUID | None]:
    """Backfill one batch: the next `limit` unlinked conversations after id `after`.

    Returns the batch summary and the last id seen (None when nothing was left). Only rows
    without a customer are touched, so a manual link is never undone and a rerun is a no-op
    for what is already linked.
    """
    params = {
        "company": actor.company_id,
        "after": after or uuid.UUID(int=0),
        "limit": limit,
    }
    _open_stage(session)
    session.execute(
        text(
            f"""
            INSERT INTO {STAGE} (seq, conversation_id, new_customer_id, contact_address,
                                 external_ref, email, phone, trn, name, display_name,
                                 started_at, ended_at, summary, state)
            SELECT row_number() OVER (ORDER BY c.id), c.id, majlis_new_id(), c.contact_address,
                   c.contact_external_ref, c.match_email, c.match_phone, c.match_trn,
                   c.match_name,
                   coalesce(nullif(btrim(c.contact_name), ''), nullif(btrim(c.contact_email), ''),
                            nullif(btrim(c.contact_phone), '')),
                   c.started_at, c.ended_at, c.summary,
                   CASE WHEN c.sync_state = 'anonymous' THEN 'anonymous' ELSE 'pending' END
              FROM conversations c
             WHERE c.company_id = :company AND c.customer_id IS NULL AND c.id > :after
             ORDER BY c.id LIMIT :limit
            """
        ),
        params,
    )
    session.execute(text(_ANALYZE_STAGE))
    last = session.scalar(text(f"SELECT max(conversation_id::text)::uuid FROM {STAGE}"))
    if last is None:
        return SyncSummary(), None
    settle_stage(session, actor)
    summary = _stage_summary(session)
    summary.received = summary.ingested
    _apply_links(session, actor)
    return summary, last


def _apply_links(session: Session, actor: Actor) -> None:
    session.execute(
        text(
            f"""
            WITH linked AS (
                UPDATE conversations c SET
                    customer_id = s.customer_id,
                    matched_contact_id = s.contact_id,
                    customer_linked_at = CASE WHEN s.customer_id IS NOT NULL THEN now() END,
                    link_source = {_link_source_sql()},
                    sync_state = CAST(s.state AS conversation_sync_state),
                    match_reason = s.reason,
                    match_confidence = s.confidence,
                    ambiguous_candidates = s.candidates
                  FROM {STAGE} s
                 WHERE c.company_id = :company AND c.id = s.conversation_id
                   AND c.customer_id IS NULL
                RETURNING c.id, c.customer_id, c.sync_state, c.match_reason)
            {_AUDIT_COLUMNS}
            SELECT :company, majlis_new_id(), :actor_kind, :actor_id, 'conversation.linked',
                   'conversation', l.id, NULL,
                   jsonb_build_object('customer_id', l.customer_id, 'sync_state', l.sync_state,
                                      'match_reason', l.match_reason, 'link_source', 'migration'),
                   :request_id
              FROM linked l WHERE l.customer_id IS NOT NULL
            """
        ),
        {**_actor_params(actor), "link_source": LinkSource.MIGRATION.value},
    )
