"""Retention: finished reminders and their email logs leave after the company's retention.

Only reminders whose story is over are purged — sent, delivered, unconfirmed
or failed, older than `companies.retention_days` (default two years) — and
never one that still covers an open invoice: while the debt is live, the
record of having asked for it is evidence.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import text
from sqlalchemy.orm import Session

from majlis.core import audit
from majlis.core.permissions import Action, Actor, require
from majlis.receivables.ledger import RECEIVABLES

_EXPIRED = """
SELECT r.id FROM customer_consolidated_reminders r JOIN companies co ON co.id = r.company_id
 WHERE r.company_id = :company_id
   AND r.delivery_status IN ('sent', 'delivered', 'unconfirmed', 'failed')
   AND r.created_at < CAST(:now AS timestamptz) - make_interval(days => co.retention_days)
   AND NOT EXISTS (SELECT 1 FROM invoices i
                    WHERE i.company_id = r.company_id AND i.id = ANY(r.invoice_ids)
                      AND i.status IN ('open', 'partially_paid'))
"""
_PURGE = text(
    f"""
WITH expired AS ({_EXPIRED}),
     logs AS (DELETE FROM email_logs l USING expired e
               WHERE l.company_id = :company_id AND l.reminder_id = e.id RETURNING l.id),
     reminders AS (DELETE FROM customer_consolidated_reminders r USING expired e
                    WHERE r.company_id = :company_id AND r.id = e.id RETURNING r.id)
SELECT (SELECT count(*) FROM reminders) AS reminders, (SELECT count(*) FROM logs) AS logs
"""
)


def purge_expired_reminders(
    session: Session, actor: Actor, now: datetime | None = None
) -> tuple[int, int]:
    """Delete expired finished reminders and their email logs; returns (reminders, logs)."""
    require(actor, RECEIVABLES, Action.ADMINISTER)
    moment = now or datetime.now(UTC)
    row = session.execute(_PURGE, {"company_id": actor.company_id, "now": moment}).one()
    if row.reminders or row.logs:
        audit.record(
            session,
            actor,
            "reminders.purged",
            "company",
            actor.company_id,
            after={"reminders": row.reminders, "email_logs": row.logs, "as_of": moment},
        )
    return int(row.reminders), int(row.logs)
