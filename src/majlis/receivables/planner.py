"""The reminder planner: who may be contacted, what they get, how firmly, and when.

The pure functions below state the rules for one customer; the manual reminder
and the customer preview apply them to rows from `customers_due`. A run applies
the same rules to every customer in one SQL statement (`plan_run`), which also
stores the reminders and their outbox events; a test holds the two to the same
output. The rules, in order:

* **Eligible**: a live, active customer with an email and at least one open
  invoice past its due date (in the company's time zone), not opted out, with
  no reminder already waiting, and none sent within the preferred contact
  interval (company setting or the customer's override).
* **Consolidation**: DISABLED → one SINGLE reminder per invoice; AUTO →
  one reminder for all overdue invoices when there are ≥ 2 and their total is
  within `max_consolidation_amount` (above it, invoices go individually);
  ENABLED → one reminder for ≥ 2 invoices whatever the total.
* **Escalation**: the oldest invoice's days overdue give a ceiling (POLITE,
  FIRM from `firm_after_days`, URGENT from `urgent_after_days`, FINAL from
  `final_after_days`); the reminders already sent since that invoice fell due
  give the step (0 → POLITE, 1 → FIRM, 2 → URGENT, 3+ → FINAL). The level is
  the lower of the two: never skip a step, never escalate faster than the debt
  ages.
* **Priority** (0–100) = 35·amount + 30·age + 15·relationship + 20·risk, each
  factor in 0..1: amount = min(1, total / 50,000); age = min(1, oldest days
  overdue / 90); relationship = min(1, lifetime paid invoices / 500,000);
  risk = risk score / 10 (5.0 when unknown).
* **When**: the company calendar's next sendable moment (working days and
  hours, public holidays with moon-sighting corrections, Ramadan hours, Friday
  prayer).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from functools import cache
from typing import Any, cast

import psycopg
from sqlalchemy import text, update
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import Session

from majlis.core import audit
from majlis.core.errors import Conflict
from majlis.core.ids import new_id
from majlis.core.permissions import Action, Actor, require
from majlis.receivables.ledger import RECEIVABLES, live_customer
from majlis.receivables.models import (
    ESCALATION_ORDER,
    ConsolidatedReminder,
    Consolidation,
    DeliveryStatus,
    EscalationLevel,
    ReminderLanguage,
    ReminderSettings,
    ReminderType,
)
from majlis.receivables.settings import company_calendar, company_settings

SEND_TOPIC = "reminder.send"
AMOUNT_SCALE = 50_000
AGE_SCALE_DAYS = 90
RELATIONSHIP_SCALE = 500_000
WEIGHTS = {"amount": 35, "age": 30, "relationship": 15, "risk": 20}


# ----- the pure rules -----------------------------------------------------------------------
@dataclass(frozen=True)
class OverdueInvoice:
    id: uuid.UUID
    balance: Decimal
    days_overdue: int


@dataclass(frozen=True)
class Thresholds:
    firm_after_days: int = 15
    urgent_after_days: int = 30
    final_after_days: int = 60

    @classmethod
    def of(cls, settings: ReminderSettings) -> Thresholds:
        return cls(settings.firm_after_days, settings.urgent_after_days, settings.final_after_days)


def escalation_level(
    oldest_days_overdue: int, reminders_sent: int, thresholds: Thresholds
) -> EscalationLevel:
    """The lower of what the debt's age allows and the next step after those already sent."""
    by_age = 0
    for step, threshold in enumerate(
        (thresholds.firm_after_days, thresholds.urgent_after_days, thresholds.final_after_days),
        start=1,
    ):
        if oldest_days_overdue >= threshold:
            by_age = step
    by_history = min(reminders_sent, len(ESCALATION_ORDER) - 1)
    return ESCALATION_ORDER[min(by_age, by_history)]


def group_invoices(
    invoices: Sequence[OverdueInvoice], preference: Consolidation, max_amount: Decimal
) -> list[list[OverdueInvoice]]:
    """Which invoices travel together: one group per email."""
    total = sum((i.balance for i in invoices), Decimal(0))
    individually = (
        len(invoices) < 2
        or preference is Consolidation.DISABLED
        or (preference is Consolidation.AUTO and total > max_amount)
    )
    return [[invoice] for invoice in invoices] if individually else [list(invoices)]


def reminder_type(invoice_count: int, level: EscalationLevel, manual: bool) -> ReminderType:
    if invoice_count < 2:
        return ReminderType.SINGLE
    if manual:
        return ReminderType.MANUAL_CONSOLIDATED
    if level is EscalationLevel.FINAL:
        return ReminderType.FINAL_CONSOLIDATED
    if level is EscalationLevel.URGENT:
        return ReminderType.URGENT_CONSOLIDATED
    return ReminderType.CONSOLIDATED


def priority_score(
    total: Decimal, oldest_days_overdue: int, relationship_value: Decimal, risk: Decimal | None
) -> int:
    """The documented 0–100 priority (see the module docstring)."""
    factors = {
        "amount": min(1.0, float(total) / AMOUNT_SCALE),
        "age": min(1.0, oldest_days_overdue / AGE_SCALE_DAYS),
        "relationship": min(1.0, float(relationship_value) / RELATIONSHIP_SCALE),
        "risk": float(risk if risk is not None else 5) / 10,
    }
    score = sum(WEIGHTS[name] * value for name, value in factors.items())
    return max(0, min(100, round(score)))


# ----- the data -------------------------------------------------------------------------
@dataclass(frozen=True)
class CustomerDue:
    """One customer's overdue position and contact state, as the eligibility query sees it."""

    customer_id: uuid.UUID
    name: str
    name_ar: str | None
    email: str | None
    currency: str
    preferred_language: str
    risk_score: Decimal | None
    invoices: list[OverdueInvoice]
    reminders_sent: int
    relationship_value: Decimal
    consolidation: Consolidation
    max_consolidation_amount: Decimal
    language: ReminderLanguage
    opt_out: bool
    last_contact_at: datetime | None
    has_pending: bool

    @property
    def oldest_days_overdue(self) -> int:
        return max(i.days_overdue for i in self.invoices)


# Reminders waiting to be sent, read once per query from a partial index that holds only
# them (it drains within the working day) and hashed: a probe per customer would re-check
# the row-level security policy on every probe.
def _pending(only: str = "") -> str:
    """The `pending` CTE; `only`, a further condition on `r`, narrows it to some customers."""
    return f"""
pending AS MATERIALIZED (
  SELECT r.customer_id FROM customer_consolidated_reminders r
   WHERE r.company_id = :company_id AND r.delivery_status IN ('scheduled', 'sending'){only})"""


_PENDING = _pending()


# A customer a reminder can reach at all: live, active, with an e-mail address.
_REACHABLE = "c.deleted_at IS NULL AND c.is_active AND c.email IS NOT NULL"


def _eligible(
    last_contact_at: str,
    interval_days: str = "CAST(:interval_days AS integer)",
    reachable: str = _REACHABLE,
) -> str:
    """The eligibility rule as a WHERE clause over `c` (customers), `ov` (overrides) and the
    `pending` CTE.

    `last_contact_at` is the SQL expression for the customer's latest sent reminder
    (sent, delivered or unconfirmed: the ones with a sent_at); each query computes it
    the way that suits its size; `interval_days` the company's contact interval;
    `reachable` the customer-row part, for a query that checked it already.
    """
    return f"""
  {reachable}
  AND NOT coalesce(ov.opt_out, false)
  AND NOT EXISTS (SELECT 1 FROM pending p WHERE p.customer_id = c.id)
  AND ({last_contact_at} IS NULL
       OR {last_contact_at} <= CAST(:now AS timestamptz) - make_interval(days => coalesce(
            ov.preferred_contact_interval_days, {interval_days})))
"""


# Asked about some customers (a preview, a manual reminder), only their waiting reminders are
# read, from the pending index, not the whole company's after a run.
def _asked(customer_id: str) -> str:
    """`customer_id` is one of the asked customers (any customer when none were asked)."""
    return f"(CAST(:customer_ids AS uuid[]) IS NULL OR {customer_id} = ANY(:customer_ids))"


_OVERDUE = f"""
WITH {_pending(" AND " + _asked("r.customer_id"))}, overdue AS (
  SELECT i.customer_id,
         array_agg(i.id ORDER BY i.due_date, i.id) AS invoice_ids,
         array_agg(i.amount - i.amount_paid ORDER BY i.due_date, i.id) AS balances,
         array_agg(:today - i.due_date ORDER BY i.due_date, i.id) AS days_overdue,
         min(i.due_date) AS oldest_due
    FROM invoices i
   WHERE i.company_id = :company_id AND i.status IN ('open', 'partially_paid')
     AND i.due_date < :today
     AND {_asked("i.customer_id")}
   GROUP BY i.customer_id
)
SELECT o.customer_id, o.invoice_ids, o.balances, o.days_overdue,
       c.name, c.name_ar, c.email, c.currency, c.preferred_language, c.risk_score,
       coalesce(ov.consolidation, CAST(:consolidation AS consolidation_preference))
         AS consolidation,
       coalesce(ov.max_consolidation_amount, :max_amount) AS max_consolidation_amount,
       CAST(ov.language AS text) AS override_language,
       coalesce(ov.opt_out, false) AS opt_out,
       contact.reminders_sent, contact.last_contact_at,
       EXISTS (SELECT 1 FROM pending p WHERE p.customer_id = c.id) AS has_pending,
       (SELECT coalesce(sum(p.amount), 0) FROM invoices p
         WHERE p.company_id = c.company_id AND p.customer_id = c.id
           AND p.status = 'paid') AS relationship_value
  FROM overdue o
  JOIN customers c ON c.company_id = :company_id AND c.id = o.customer_id
  LEFT JOIN customer_reminder_overrides ov
         ON ov.company_id = c.company_id AND ov.customer_id = c.id
  CROSS JOIN LATERAL (
       SELECT count(*) FILTER (WHERE r.sent_at >= o.oldest_due) AS reminders_sent,
              max(r.sent_at) AS last_contact_at
         FROM customer_consolidated_reminders r
        WHERE r.company_id = c.company_id AND r.customer_id = c.id
          AND r.sent_at IS NOT NULL) contact
 WHERE NOT CAST(:apply_rules AS boolean) OR ({_eligible("contact.last_contact_at")})
"""

# The eligibility check for a list of customers, in one round trip. The company's
# policy (today in its time zone, its contact interval) is read in the statement. The
# ids travel as one binary array and the answer comes back as their positions in it:
# reading 1,000 UUID rows back cost more than the query.
# The asked customers are found by one primary-key scan over the sorted array
# (`id = ANY`), measured at a third of the cost of one probe per id; only then are
# they joined back to their positions. Planned as a join of the array with customers
# instead, a tenant whose customers mostly have e-mails (where the table as a whole
# mostly does not) was estimated at a few hundred rows and scanned whole. "Has
# something overdue" is the row's own `oldest_open_due_date`, kept by the invoices
# trigger. The contact interval is checked against the reminders sent within the
# longest interval in force (company setting or any override), read as one range of
# the recent index and hashed: at most about one per customer.
_ELIGIBLE_POSITIONS = text(
    f"""
WITH {_PENDING}, policy AS MATERIALIZED (
  SELECT CAST(CAST(:now AS timestamptz) AT TIME ZONE co.time_zone AS date) AS today,
         coalesce(s.preferred_contact_interval_days, CAST(:default_interval_days AS integer))
           AS interval_days
    FROM companies co LEFT JOIN reminder_settings s ON s.company_id = co.id
   WHERE co.id = :company_id
), recent AS MATERIALIZED (
  SELECT r.customer_id, max(r.sent_at) AS last_contact_at
    FROM customer_consolidated_reminders r
   WHERE r.company_id = :company_id AND r.sent_at IS NOT NULL
     AND r.sent_at > CAST(:now AS timestamptz) - make_interval(days => (
         SELECT greatest(policy.interval_days, max(o.preferred_contact_interval_days))
           FROM policy LEFT JOIN customer_reminder_overrides o ON o.company_id = :company_id
          GROUP BY policy.interval_days))
   GROUP BY r.customer_id
), found AS MATERIALIZED (
  SELECT c.company_id, c.id FROM customers c
   WHERE c.company_id = :company_id AND c.id = ANY(CAST(:customer_ids AS uuid[]))
     AND {_REACHABLE} AND c.oldest_open_due_date < (SELECT today FROM policy)
), asked AS (
  SELECT s.position, found.company_id, found.id
    FROM found
    JOIN unnest(CAST(:customer_ids AS uuid[])) WITH ORDINALITY AS s(id, position)
      ON s.id = found.id
)
SELECT coalesce(array_agg(c.position ORDER BY c.position), '{{}}')
  FROM asked c CROSS JOIN policy
  LEFT JOIN customer_reminder_overrides ov ON ov.company_id = c.company_id AND ov.customer_id = c.id
  LEFT JOIN recent ON recent.customer_id = c.id
 WHERE {_eligible("recent.last_contact_at", "policy.interval_days", reachable="true")}
"""
)
# What a company without a settings row gets: the settings table's own default.
_DEFAULT_INTERVAL_DAYS = int(
    str(ReminderSettings.__table__.c.preferred_contact_interval_days.server_default.arg)
)


def _language(row: Any, company_language: ReminderLanguage) -> ReminderLanguage:
    if row.override_language:
        return ReminderLanguage(row.override_language)
    if row.preferred_language in {lang.value for lang in ReminderLanguage}:
        return ReminderLanguage(row.preferred_language)
    return company_language


@dataclass(frozen=True)
class RunContext:
    actor: Actor
    now: datetime
    today: date
    settings: ReminderSettings
    scheduled_at: datetime


def _run_params(ctx: RunContext) -> dict[str, Any]:
    return {
        "company_id": ctx.actor.company_id,
        "today": ctx.today,
        "now": ctx.now,
        "consolidation": str(ctx.settings.consolidation),
        "max_amount": ctx.settings.max_consolidation_amount,
        "interval_days": ctx.settings.preferred_contact_interval_days,
    }


def customers_due(
    session: Session,
    ctx: RunContext,
    *,
    customer_ids: Sequence[uuid.UUID] | None = None,
    apply_rules: bool = True,
) -> list[CustomerDue]:
    """Customers with overdue invoices (only the eligible ones when `apply_rules`)."""
    rows = session.execute(
        text(_OVERDUE),
        {
            **_run_params(ctx),
            "customer_ids": list(customer_ids) if customer_ids is not None else None,
            "apply_rules": apply_rules,
        },
    )
    return [
        CustomerDue(
            customer_id=row.customer_id,
            name=row.name,
            name_ar=row.name_ar,
            email=row.email,
            currency=row.currency,
            preferred_language=row.preferred_language,
            risk_score=row.risk_score,
            invoices=[
                OverdueInvoice(*fields)
                for fields in zip(row.invoice_ids, row.balances, row.days_overdue, strict=True)
            ],
            reminders_sent=row.reminders_sent,
            relationship_value=row.relationship_value,
            consolidation=Consolidation(row.consolidation),
            max_consolidation_amount=row.max_consolidation_amount,
            language=_language(row, ctx.settings.language),
            opt_out=row.opt_out,
            last_contact_at=row.last_contact_at,
            has_pending=row.has_pending,
        )
        for row in rows
    ]


def eligible_customer_ids(
    session: Session, actor: Actor, customer_ids: Sequence[uuid.UUID], now: datetime | None = None
) -> list[uuid.UUID]:
    """Which of these customers may be sent a reminder now (the eligibility rule alone),
    in the order given.

    Only the contact interval and today's date in the company's time zone are needed,
    not the calendar's next sendable moment that a run schedules for.
    """
    params = {
        "company_id": actor.company_id,
        "now": now or datetime.now(UTC),
        "default_interval_days": _DEFAULT_INTERVAL_DAYS,
        "customer_ids": list(customer_ids),
    }
    # Prepared on the session's own connection, unlike every other statement (see
    # `core.db`): parsing, rewriting and planning this statement cost more than running
    # it (measured: about 6 ms of 10). Its plan does not depend on the values: one
    # primary-key scan, the company's few pending reminders, the recent-contact range.
    connection = session.connection()
    driver = cast(psycopg.Connection[Any], connection.connection.driver_connection)
    statement = _eligible_positions_sql(connection.dialect)
    (positions,) = driver.execute(statement, params, prepare=True).fetchone() or ([],)
    return [customer_ids[position - 1] for position in positions]


@cache
def _eligible_positions_sql(dialect: Dialect) -> str:
    """The eligibility statement in the driver's own placeholder style.

    The ids travel in binary (`%b`): the server copies 16 bytes per id instead of
    parsing 36 characters (measured: 1 ms of server time for 1,000 ids as text).
    """
    compiled = str(_ELIGIBLE_POSITIONS.compile(dialect=dialect))
    return compiled.replace("%(customer_ids)s", "%(customer_ids)b")


# ----- planning ---------------------------------------------------------------------------
@dataclass(frozen=True)
class PlannedReminder:
    customer_id: uuid.UUID
    customer_name: str
    invoice_ids: list[uuid.UUID]
    total_amount: Decimal
    currency: str
    reminder_type: ReminderType
    escalation_level: EscalationLevel
    priority_score: int
    oldest_days_overdue: int
    scheduled_at: datetime
    language: ReminderLanguage
    manual: bool = False

    @property
    def invoice_count(self) -> int:
        return len(self.invoice_ids)


def plan_customer(
    due: CustomerDue,
    thresholds: Thresholds,
    scheduled_at: datetime,
    *,
    manual: bool = False,
) -> list[PlannedReminder]:
    """The reminders one customer gets: consolidated or not, at what level and priority."""
    level = escalation_level(due.oldest_days_overdue, due.reminders_sent, thresholds)
    preference = Consolidation.ENABLED if manual else due.consolidation
    planned = []
    for group in group_invoices(due.invoices, preference, due.max_consolidation_amount):
        total = sum((i.balance for i in group), Decimal(0))
        oldest = max(i.days_overdue for i in group)
        planned.append(
            PlannedReminder(
                customer_id=due.customer_id,
                customer_name=due.name,
                invoice_ids=[i.id for i in group],
                total_amount=total,
                currency=due.currency,
                reminder_type=reminder_type(len(group), level, manual),
                escalation_level=level,
                priority_score=priority_score(
                    total, oldest, due.relationship_value, due.risk_score
                ),
                oldest_days_overdue=oldest,
                scheduled_at=scheduled_at,
                language=due.language,
                manual=manual,
            )
        )
    return planned


def run_context(session: Session, actor: Actor, now: datetime | None = None) -> RunContext:
    moment = now or datetime.now(UTC)
    calendar = company_calendar(session, actor)
    return RunContext(
        actor=actor,
        now=moment,
        today=moment.astimezone(calendar.zone).date(),
        settings=company_settings(session, actor),
        scheduled_at=calendar.next_sendable(moment),
    )


@dataclass
class RunResult:
    run_id: uuid.UUID | None
    dry_run: bool
    eligible_customers: int
    scheduled_at: datetime | None
    planned: list[PlannedReminder] = field(default_factory=list)

    @property
    def overdue_invoices(self) -> int:
        return sum(p.invoice_count for p in self.planned)

    @property
    def savings_pct(self) -> Decimal:
        return savings_pct(len(self.planned), self.overdue_invoices)


def savings_pct(emails: int, individual: int) -> Decimal:
    """How many emails consolidation saved, as a share of one-email-per-invoice."""
    if not individual:
        return Decimal(0)
    return (Decimal(100) * (individual - emails) / individual).quantize(Decimal("0.01"))


_INSERT_REMINDERS = text(
    """
INSERT INTO customer_consolidated_reminders (
    company_id, id, customer_id, run_id, invoice_ids, total_amount, currency, reminder_type,
    escalation_level, priority_score, oldest_days_overdue, channel, language, scheduled_at,
    manual, created_by)
SELECT :company_id, r.id, r.customer_id, :run_id, CAST(r.invoice_ids AS uuid[]), r.total,
       r.currency, CAST(r.kind AS reminder_type), CAST(r.level AS escalation_level),
       r.priority, r.oldest, 'email', CAST(r.language AS reminder_language), r.scheduled_at,
       r.manual, :created_by
  FROM unnest(CAST(:ids AS uuid[]), CAST(:customer_ids AS uuid[]), CAST(:invoice_ids AS text[]),
              CAST(:totals AS numeric[]), CAST(:currencies AS text[]), CAST(:kinds AS text[]),
              CAST(:levels AS text[]), CAST(:priorities AS integer[]),
              CAST(:oldest AS integer[]), CAST(:languages AS text[]),
              CAST(:scheduled AS timestamptz[]), CAST(:manual AS boolean[]))
       AS r(id, customer_id, invoice_ids, total, currency, kind, level, priority, oldest,
            language, scheduled_at, manual)
"""
)
# The outbox's own table and dedupe key, in bulk: `emit` would cost one round trip
# per reminder. Each event waits until its reminder's scheduled time.
_INSERT_EVENTS = text(
    """
INSERT INTO outbox_events (company_id, id, topic, payload, dedupe_key, available_at)
SELECT :company_id, e.id, :topic, jsonb_build_object('reminder_id', e.reminder_id),
       :topic || ':' || e.reminder_id, e.available_at
  FROM unnest(CAST(:event_ids AS uuid[]), CAST(:ids AS uuid[]),
              CAST(:scheduled AS timestamptz[])) AS e(id, reminder_id, available_at)
    ON CONFLICT (company_id, dedupe_key) DO NOTHING
"""
)


def _store(
    session: Session, ctx: RunContext, run_id: uuid.UUID, planned: list[PlannedReminder]
) -> list[uuid.UUID]:
    """Insert the reminders and their send events: two statements, whatever the count."""
    if not planned:
        return []
    ids = [new_id() for _ in planned]
    scheduled = [p.scheduled_at for p in planned]
    session.execute(
        _INSERT_REMINDERS,
        {
            "company_id": ctx.actor.company_id,
            "run_id": run_id,
            "created_by": ctx.actor.user_id,
            "ids": ids,
            "customer_ids": [p.customer_id for p in planned],
            "invoice_ids": ["{" + ",".join(map(str, p.invoice_ids)) + "}" for p in planned],
            "totals": [p.total_amount for p in planned],
            "currencies": [p.currency for p in planned],
            "kinds": [str(p.reminder_type) for p in planned],
            "levels": [str(p.escalation_level) for p in planned],
            "priorities": [p.priority_score for p in planned],
            "oldest": [p.oldest_days_overdue for p in planned],
            "languages": [str(p.language) for p in planned],
            "scheduled": scheduled,
            "manual": [p.manual for p in planned],
        },
    )
    session.execute(
        _INSERT_EVENTS,
        {
            "company_id": ctx.actor.company_id,
            "topic": SEND_TOPIC,
            "event_ids": [new_id() for _ in planned],
            "ids": ids,
            "scheduled": scheduled,
        },
    )
    return ids


def _lock_company_runs(session: Session, actor: Actor) -> None:
    # Two overlapping runs would both find the same customers eligible.
    session.execute(
        text("SELECT pg_advisory_xact_lock(hashtextextended(:key, 0))"),
        {"key": f"reminders:{actor.company_id}"},
    )


# ----- the run, set-based ---------------------------------------------------------------------
# A run plans every customer in one statement: the same rules as the functions above
# (escalation_level, group_invoices, reminder_type, priority_score and the eligibility
# clause), applied to all customers at once by the database, with hash joins over one
# pass of each table instead of a probe per customer, and nothing carried through Python
# but the answer. tests/receivables/test_bulk_plan.py holds the two to the same output.
# Priority is computed in float8 in the same order of operations as priority_score and
# rounded half-to-even (round(float8) is rint), so both give the same integer.
_OPEN_OVERDUE = """
    i.company_id = :company_id AND i.status IN ('open', 'partially_paid')
    AND i.due_date < :today"""

_PLAN = f"""
WITH {_PENDING}, dues AS (
  SELECT i.customer_id, count(*) AS invoice_count, sum(i.amount - i.amount_paid) AS total,
         max(:today - i.due_date) AS oldest_days, min(i.due_date) AS oldest_due,
         array_agg(i.id ORDER BY i.due_date, i.id) AS invoice_ids
    FROM invoices i
   WHERE {_OPEN_OVERDUE}
   GROUP BY i.customer_id
), contact AS (
  SELECT d.customer_id, count(*) FILTER (WHERE r.sent_at >= d.oldest_due) AS reminders_sent,
         max(r.sent_at) AS last_contact_at
    FROM dues d
    JOIN customer_consolidated_reminders r
      ON r.company_id = :company_id AND r.customer_id = d.customer_id AND r.sent_at IS NOT NULL
   GROUP BY d.customer_id
), relationship AS (
  SELECT p.customer_id, sum(p.amount) AS value
    FROM invoices p
   WHERE p.company_id = :company_id AND p.status = 'paid'
   GROUP BY p.customer_id
), eligible AS (
  SELECT d.customer_id, d.invoice_ids, d.total, d.oldest_days, c.name, c.currency,
         coalesce(c.risk_score, 5) AS risk_score, coalesce(rel.value, 0) AS relationship_value,
         coalesce(CAST(ov.language AS text),
                  CASE WHEN CAST(c.preferred_language AS text) = ANY(:languages)
                       THEN CAST(c.preferred_language AS text) END,
                  :company_language) AS language,
         d.invoice_count >= 2 AND CASE coalesce(
             ov.consolidation, CAST(:consolidation AS consolidation_preference))
           WHEN 'DISABLED' THEN false
           WHEN 'AUTO' THEN d.total <= coalesce(ov.max_consolidation_amount, :max_amount)
           ELSE true END AS consolidate,
         (CAST(:levels AS text[]))[1 + least(
             CAST(d.oldest_days >= :firm_after AS integer)
             + CAST(d.oldest_days >= :urgent_after AS integer)
             + CAST(d.oldest_days >= :final_after AS integer),
             coalesce(ct.reminders_sent, 0),
             cardinality(CAST(:levels AS text[])) - 1)] AS level
    FROM dues d
    JOIN customers c ON c.company_id = :company_id AND c.id = d.customer_id
    LEFT JOIN customer_reminder_overrides ov
           ON ov.company_id = c.company_id AND ov.customer_id = c.id
    LEFT JOIN contact ct ON ct.customer_id = d.customer_id
    LEFT JOIN relationship rel ON rel.customer_id = d.customer_id
   WHERE {_eligible("ct.last_contact_at")}
), grouped AS (
  SELECT e.*, e.invoice_ids AS group_ids, e.total AS group_total,
         e.oldest_days AS group_oldest, 0 AS position
    FROM eligible e
   WHERE e.consolidate
  UNION ALL
  SELECT e.*, ARRAY[i.id], i.amount - i.amount_paid, :today - i.due_date,
         row_number() OVER (PARTITION BY i.customer_id ORDER BY i.due_date, i.id)
    FROM eligible e
    JOIN invoices i ON i.customer_id = e.customer_id
   WHERE NOT e.consolidate AND {_OPEN_OVERDUE}
), planned AS MATERIALIZED (
  SELECT majlis_new_id() AS id, g.customer_id, g.name, g.currency, g.language, g.level,
         g.group_ids AS invoice_ids, g.group_total AS total, g.group_oldest AS oldest_days,
         g.position,
         CASE WHEN cardinality(g.group_ids) < 2 THEN 'SINGLE'
              WHEN g.level = 'FINAL' THEN 'FINAL_CONSOLIDATED'
              WHEN g.level = 'URGENT' THEN 'URGENT_CONSOLIDATED'
              ELSE 'CONSOLIDATED' END AS kind,
         CAST(greatest(0, least(100, round(
             :w_amount * least(1, CAST(g.group_total AS float8) / :amount_scale)
             + :w_age * least(1, CAST(g.group_oldest AS float8) / :age_scale)
             + :w_relationship
               * least(1, CAST(g.relationship_value AS float8) / :relationship_scale)
             + :w_risk * (CAST(g.risk_score AS float8) / 10)))) AS integer) AS priority
    FROM grouped g
)
"""

_PLAN_ANSWER = """
SELECT p.customer_id, p.name, CAST(p.invoice_ids AS text) AS invoice_ids, p.total, p.currency,
       p.kind, p.level, p.priority, p.oldest_days, p.language
  FROM planned p
 ORDER BY p.priority DESC, p.customer_id, p.position
"""

_PREVIEW_RUN = text(_PLAN + _PLAN_ANSWER)

# The reminders and their send events (the outbox's table and dedupe key, each event
# waiting until its reminder's scheduled time) are written by the same statement.
_STORE_RUN = text(
    _PLAN
    + """
, stored AS (
  INSERT INTO customer_consolidated_reminders (
      company_id, id, customer_id, run_id, invoice_ids, total_amount, currency, reminder_type,
      escalation_level, priority_score, oldest_days_overdue, channel, language, scheduled_at,
      created_by)
  SELECT :company_id, p.id, p.customer_id, :run_id, p.invoice_ids, p.total, p.currency,
         CAST(p.kind AS reminder_type), CAST(p.level AS escalation_level), p.priority,
         p.oldest_days, 'email', CAST(p.language AS reminder_language), :scheduled_at,
         :created_by
    FROM planned p
), events AS (
  INSERT INTO outbox_events (company_id, id, topic, payload, dedupe_key, available_at)
  SELECT :company_id, majlis_new_id(), :topic, jsonb_build_object('reminder_id', p.id),
         :topic || ':' || p.id, :scheduled_at
    FROM planned p
      ON CONFLICT (company_id, dedupe_key) DO NOTHING
)"""
    + _PLAN_ANSWER
)


def _plan_params(ctx: RunContext, run_id: uuid.UUID | None) -> dict[str, Any]:
    thresholds = Thresholds.of(ctx.settings)
    return {
        **_run_params(ctx),
        "run_id": run_id,
        "created_by": ctx.actor.user_id,
        "scheduled_at": ctx.scheduled_at,
        "topic": SEND_TOPIC,
        "languages": [str(language) for language in ReminderLanguage],
        "company_language": str(ctx.settings.language),
        "levels": [str(level) for level in ESCALATION_ORDER],
        "firm_after": thresholds.firm_after_days,
        "urgent_after": thresholds.urgent_after_days,
        "final_after": thresholds.final_after_days,
        "w_amount": WEIGHTS["amount"],
        "w_age": WEIGHTS["age"],
        "w_relationship": WEIGHTS["relationship"],
        "w_risk": WEIGHTS["risk"],
        "amount_scale": AMOUNT_SCALE,
        "age_scale": AGE_SCALE_DAYS,
        "relationship_scale": RELATIONSHIP_SCALE,
    }


def _planned_reminder(row: Any, scheduled_at: datetime) -> PlannedReminder:
    return PlannedReminder(
        customer_id=row.customer_id,
        customer_name=row.name,
        # uuid[] read as text and split: the array parser is the slow part at 100,000 ids.
        invoice_ids=[uuid.UUID(value) for value in row.invoice_ids[1:-1].split(",")],
        total_amount=row.total,
        currency=row.currency,
        reminder_type=ReminderType(row.kind),
        escalation_level=EscalationLevel(row.level),
        priority_score=row.priority,
        oldest_days_overdue=row.oldest_days,
        scheduled_at=scheduled_at,
        language=ReminderLanguage(row.language),
    )


def plan_run(session: Session, ctx: RunContext, run_id: uuid.UUID | None) -> list[PlannedReminder]:
    """Every eligible customer's reminders, highest priority first; stored (with their send
    events) under `run_id` unless it is None."""
    statement = _PREVIEW_RUN if run_id is None else _STORE_RUN
    rows = session.execute(statement, _plan_params(ctx, run_id))
    return [_planned_reminder(row, ctx.scheduled_at) for row in rows]


def run_reminders(
    session: Session, actor: Actor, *, dry_run: bool = False, now: datetime | None = None
) -> RunResult:
    """Plan (and unless `dry_run`, schedule) one reminder per eligible customer."""
    require(actor, RECEIVABLES, Action.CREATE if not dry_run else Action.VIEW)
    if not dry_run:
        _lock_company_runs(session, actor)
    ctx = run_context(session, actor, now)
    if ctx.settings.reminders_paused:
        return RunResult(None, dry_run, 0, None)
    run_id = None if dry_run else new_id()
    planned = plan_run(session, ctx, run_id)
    customers = len({p.customer_id for p in planned})
    result = RunResult(run_id, dry_run, customers, ctx.scheduled_at, planned)
    if run_id is None:
        return result
    audit.record(
        session,
        actor,
        "reminders.run",
        "reminder_run",
        run_id,
        after={
            "customers": customers,
            "reminders": len(planned),
            "invoices": result.overdue_invoices,
            "savings_pct": str(result.savings_pct),
            "scheduled_at": ctx.scheduled_at.isoformat(),
        },
    )
    return result


# ----- manual reminders ---------------------------------------------------------------------
def _within_interval(due: CustomerDue, ctx: RunContext, interval_days: int) -> bool:
    if due.last_contact_at is None:
        return False
    return (ctx.now - due.last_contact_at).total_seconds() < interval_days * 86_400


def _customer_interval(session: Session, ctx: RunContext, customer_id: uuid.UUID) -> int:
    override = session.execute(
        text(
            "SELECT preferred_contact_interval_days FROM customer_reminder_overrides"
            " WHERE company_id = :company_id AND customer_id = :customer_id"
        ),
        {"company_id": ctx.actor.company_id, "customer_id": customer_id},
    ).scalar_one_or_none()
    return int(override or ctx.settings.preferred_contact_interval_days)


def trigger_manual_reminder(
    session: Session,
    actor: Actor,
    customer_id: uuid.UUID,
    *,
    confirm: bool = False,
    now: datetime | None = None,
) -> ConsolidatedReminder:
    """One MANUAL_CONSOLIDATED reminder for everything the customer has overdue, now.

    Opt-out always wins; a customer contacted within the interval needs `confirm`.
    A reminder still waiting is superseded (cancelled) by this one.
    """
    require(actor, RECEIVABLES, Action.CREATE)
    live_customer(session, actor, customer_id)
    _lock_company_runs(session, actor)
    ctx = run_context(session, actor, now)
    dues = customers_due(session, ctx, customer_ids=[customer_id], apply_rules=False)
    if not dues:
        raise Conflict("the customer has no overdue invoices")
    due = dues[0]
    if due.opt_out:
        raise Conflict("the customer opted out of payment reminders")
    if not due.email:
        raise Conflict("the customer has no email address")
    interval = _customer_interval(session, ctx, customer_id)
    if _within_interval(due, ctx, interval) and not confirm:
        raise Conflict(
            f"the customer was reminded on {due.last_contact_at:%Y-%m-%d}, within the"
            f" {interval}-day contact interval; send again with confirm=true",
            requires_confirmation=True,
        )
    session.execute(
        update(ConsolidatedReminder)
        .where(
            ConsolidatedReminder.company_id == actor.company_id,
            ConsolidatedReminder.customer_id == customer_id,
            ConsolidatedReminder.delivery_status == DeliveryStatus.SCHEDULED,
        )
        .values(delivery_status=DeliveryStatus.CANCELLED, status_reason="superseded by manual")
    )
    (planned,) = plan_customer(due, Thresholds.of(ctx.settings), ctx.scheduled_at, manual=True)
    (reminder_id,) = _store(session, ctx, new_id(), [planned])
    reminder = session.get_one(ConsolidatedReminder, (actor.company_id, reminder_id))
    audit.record(
        session,
        actor,
        "reminder.manual",
        "reminder",
        reminder_id,
        after={"customer_id": str(customer_id), "invoices": len(planned.invoice_ids)},
    )
    return reminder
