"""Timeline source of this domain: consent changes."""

from __future__ import annotations

from majlis.core.timeline import table_source
from majlis.privacy.models import ConsentLogEntry


def _consent_title(row: ConsentLogEntry) -> str:
    if row.opted_out:
        state = "opted out"
    elif row.marketing_consent:
        state = "consent"
    else:
        state = "no consent"
    return f"{row.channel.value}: {state}"


# Each marketing consent or opt-out change, with its source.
consent_entries = table_source(
    "consent",
    ConsentLogEntry,
    occurred_at=ConsentLogEntry.occurred_at,
    title=_consent_title,
    data=lambda row: {"channel": row.channel.value, "source": row.source},
)
