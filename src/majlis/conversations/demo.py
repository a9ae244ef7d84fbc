"""Demo data: a few bilingual chats that land on the right customers (idempotent)."""

from __future__ import annotations

from sqlalchemy.orm import Session

from majlis.conversations import service
from majlis.conversations.schemas import ConversationIn
from majlis.conversations.sync import SyncSummary
from majlis.core.permissions import Actor

DEMO_CHATS = (
    {
        "channel": "whatsapp",
        "session_id": "demo-wa-1",
        "started_at": "2026-03-02T09:15:00+04:00",
        "customer": {"name": "منى السويدي", "email": "Accounts@Gulf-Builders.example"},
        "summary": "طلبت فاتورة الدفعة الأولى — asked for the first milestone invoice",
        "messages": [
            {"sender": "customer", "text": "مرحبا، نحتاج فاتورة الدفعة الأولى"},
            {"sender": "agent", "text": "أهلاً منى، سنرسلها اليوم. We will send it today."},
        ],
    },
    {
        "channel": "web_chat",
        "session_id": "demo-web-1",
        "started_at": "2026-03-03T14:40:00+04:00",
        "customer": {"name": "Khalid Rahman", "phone": "050 777 1234", "address": "Al Quoz 3"},
        "summary": "New lead: needs 40 pallets of tiles",
        "messages": [{"sender": "customer", "text": "Do you deliver tiles to Al Quoz?"}],
    },
    {
        "channel": "whatsapp",
        "session_id": "demo-wa-2",
        "started_at": "2026-03-05T11:05:00+04:00",
        "customer": {"name": "خالد رحمن", "phone": "+971507771234"},
        "summary": "Confirmed the delivery date",
        "messages": [{"sender": "customer", "text": "التوصيل يوم الأحد مناسب"}],
    },
    {
        # Salem, a contact of Gulf Builders, writes from his mobile: the chat lands on
        # the organization through him.
        "channel": "whatsapp",
        "session_id": "demo-wa-3",
        "started_at": "2026-03-06T08:30:00+04:00",
        "customer": {"name": "سالم", "phone": "050 400 1002"},
        "summary": "Asked to move the site visit to Thursday",
        "messages": [{"sender": "customer", "text": "ممكن نأجل الزيارة إلى الخميس؟"}],
    },
)


def load_demo_data(session: Session, actor: Actor) -> list[str]:
    """Ingest the demo chats; a rerun skips the sessions already stored."""
    records = [ConversationIn.model_validate(chat) for chat in DEMO_CHATS]
    summary: SyncSummary = service.ingest_many(session, actor, records)
    return [
        f"conversations: {summary.ingested} ingested ({summary.linked} linked to existing"
        f" customers, {summary.created} new chat customers), {summary.duplicates} already there"
    ]
