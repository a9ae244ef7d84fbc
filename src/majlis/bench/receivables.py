"""`majlis bench run receivables`: reminder planning, eligibility and the dashboard.

Data for one fresh company is written in bulk by the schema owner (COPY):
`scale / 5` customers with five overdue invoices each (scale 100,000 →
20,000 customers, 100,000 invoices), some reminder history, and three months
of sent reminders for the dashboard. Every measured operation goes through
the real service as the application role under RLS; beside it runs the naive
way — a loop over customers issuing the same questions one customer at a time.
"""

from __future__ import annotations

import io
import random
import time
import uuid
from collections.abc import Iterable, Sequence
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from rich.console import Console
from sqlalchemy import text
from sqlalchemy.orm import Session

from majlis.accounts import service as accounts
from majlis.bench.harness import ScenarioResult, Timing, settle, time_calls
from majlis.core.db import get_engine, tenant_session
from majlis.core.ids import new_id
from majlis.core.permissions import Actor
from majlis.receivables.analytics import reminder_analytics
from majlis.receivables.planner import eligible_customer_ids, run_reminders

INVOICES_PER_CUSTOMER = 5
ELIGIBILITY_SAMPLE = 1_000
DASHBOARD_DAYS = 90
REMINDERS_PER_DAY = 700
NAIVE_PLAN_SAMPLE = 2_000


def _copy(table: str, columns: Sequence[str], rows: Iterable[Sequence[object]]) -> None:
    """COPY into a staging table, then one INSERT … SELECT (COPY FROM refuses forced RLS)."""
    buffer = io.StringIO()
    for row in rows:
        buffer.write("\t".join("\\N" if v is None else str(v) for v in row) + "\n")
    names = ", ".join(columns)
    raw = get_engine("admin").raw_connection()
    try:
        cursor = raw.cursor()
        # Loading, not measuring: 100,000 rows with their keys and triggers outlast 15 s here.
        cursor.execute("SET LOCAL statement_timeout = 0")
        cursor.execute(
            f"CREATE TEMP TABLE staging ON COMMIT DROP AS SELECT {names} FROM {table} WITH NO DATA"
        )
        with cursor.copy(f"COPY staging ({names}) FROM STDIN") as copy:
            copy.write(buffer.getvalue())
        cursor.execute(f"INSERT INTO {table} ({names}) SELECT {names} FROM staging")
        raw.commit()
    finally:
        raw.close()
    # Fresh statistics (the triggers' joins are planned on them) and a visibility map.
    settle(table)


def _company() -> uuid.UUID:
    with Session(get_engine("app")) as session, session.begin():
        return accounts.create_company(session, f"Bench receivables {uuid.uuid4().hex[:6]}").id


def _customers(company_id: uuid.UUID, count: int) -> list[uuid.UUID]:
    ids = [new_id() for _ in range(count)]
    _copy(
        "customers",
        ("company_id", "id", "kind", "name", "email"),
        (
            (company_id, cid, "individual", f"Customer {n}", f"c{n}@bench.example")
            for n, cid in enumerate(ids)
        ),
    )
    return ids


def _invoices(company_id: uuid.UUID, customers: list[uuid.UUID], rng: random.Random) -> None:
    today = datetime.now(UTC).date()

    def rows() -> Iterable[Sequence[object]]:
        for index, customer in enumerate(customers):
            for n in range(INVOICES_PER_CUSTOMER):
                due = today - timedelta(days=rng.randint(1, 120))
                amount = Decimal(rng.randint(50_00, 20_000_00)) / 100
                yield (
                    company_id,
                    new_id(),
                    customer,
                    f"B-{index}-{n}",
                    due - timedelta(30),
                    due,
                    amount,
                )

    _copy(
        "invoices",
        ("company_id", "id", "customer_id", "number", "issue_date", "due_date", "amount"),
        rows(),
    )


def _reminder_row(
    company_id: uuid.UUID, customer: uuid.UUID, sent_at: datetime, rng: random.Random
) -> Sequence[object]:
    level = rng.choice(("POLITE", "FIRM", "URGENT", "FINAL"))
    count = rng.randint(1, 5)
    invoice_ids = "{" + ",".join(str(uuid.uuid4()) for _ in range(count)) + "}"
    kind = "SINGLE" if count == 1 else "CONSOLIDATED"
    opened = sent_at + timedelta(hours=3) if rng.random() < 0.4 else None
    paid = sent_at + timedelta(days=rng.randint(1, 20)) if rng.random() < 0.3 else None
    return (
        company_id,
        new_id(),
        customer,
        invoice_ids,
        rng.randint(100, 50_000),
        "AED",
        kind,
        level,
        rng.randint(0, 100),
        rng.randint(1, 90),
        "email",
        "en",
        sent_at,
        sent_at,
        "sent",
        "k",
        "m",
        sent_at,
        opened,
        paid,
    )


REMINDER_COLUMNS = (
    "company_id",
    "id",
    "customer_id",
    "invoice_ids",
    "total_amount",
    "currency",
    "reminder_type",
    "escalation_level",
    "priority_score",
    "oldest_days_overdue",
    "channel",
    "language",
    "created_at",
    "scheduled_at",
    "delivery_status",
    "idempotency_key",
    "message_id",
    "sent_at",
    "opened_at",
    "paid_after_reminder_at",
)


def _history(company_id: uuid.UUID, customers: list[uuid.UUID], rng: random.Random) -> None:
    """Three months of sent reminders, all older than the contact interval."""
    now = datetime.now(UTC)
    rows = (
        _reminder_row(
            company_id,
            rng.choice(customers),
            now - timedelta(days=8 + day, seconds=rng.randint(0, 86_000)),
            rng,
        )
        for day in range(DASHBOARD_DAYS)
        for _ in range(REMINDERS_PER_DAY)
    )
    _copy("customer_consolidated_reminders", REMINDER_COLUMNS, rows)


def _undo_run(company_id: uuid.UUID, run_id: uuid.UUID | None) -> None:
    with get_engine("admin").begin() as conn:
        # The bench company's only outbox events are this run's sends.
        conn.execute(
            text("DELETE FROM outbox_events WHERE company_id = :c AND topic = 'reminder.send'"),
            {"c": company_id},
        )
        conn.execute(
            text(
                "DELETE FROM customer_consolidated_reminders WHERE company_id = :c AND run_id = :r"
            ),
            {"c": company_id, "r": run_id},
        )


def _planning(company_id: uuid.UUID, customers: list[uuid.UUID]) -> ScenarioResult:
    actor = Actor.system(company_id)
    samples, planned = [], 0
    for _ in range(3):
        started = time.perf_counter()
        with tenant_session(get_engine("app"), company_id) as session:
            result = run_reminders(session, actor)
        samples.append(time.perf_counter() - started)
        planned = len(result.planned)
        _undo_run(company_id, result.run_id)
    naive = _naive_plan(company_id, customers[:NAIVE_PLAN_SAMPLE])
    scale = len(customers) / NAIVE_PLAN_SAMPLE
    naive_full = Timing.of([naive * scale])
    return ScenarioResult(
        name=f"plan reminder run ({len(customers):,} customers, "
        f"{len(customers) * INVOICES_PER_CUSTOMER:,} overdue invoices)",
        ours=Timing.of(samples),
        naive=naive_full,
        target="≤ 5 s",
        notes=f"{planned:,} reminders planned and stored with their outbox events; naive loop"
        f" timed on {NAIVE_PLAN_SAMPLE:,} customers and scaled ×{scale:g}",
    )


_NAIVE_OVERDUE = text(
    "SELECT id, amount - amount_paid AS balance, due_date FROM invoices WHERE company_id = :c"
    " AND customer_id = :id AND status IN ('open', 'partially_paid') AND due_date < :today"
)
_NAIVE_CUSTOMER = text("SELECT * FROM customers WHERE company_id = :c AND id = :id")
_NAIVE_OVERRIDE = text(
    "SELECT * FROM customer_reminder_overrides WHERE company_id = :c AND customer_id = :id"
)
_NAIVE_LAST = text(
    "SELECT max(sent_at) FROM customer_consolidated_reminders WHERE company_id = :c"
    " AND customer_id = :id AND delivery_status IN ('sent', 'delivered', 'unconfirmed')"
)
_NAIVE_PENDING = text(
    "SELECT count(*) FROM customer_consolidated_reminders WHERE company_id = :c"
    " AND customer_id = :id AND delivery_status IN ('scheduled', 'sending')"
)


def _naive_eligible(
    session: Session, company_id: uuid.UUID, customer: uuid.UUID, today: date
) -> list[Any] | None:
    params = {"c": company_id, "id": customer, "today": today}
    row = session.execute(_NAIVE_CUSTOMER, params).one()
    override = session.execute(_NAIVE_OVERRIDE, params).one_or_none()
    if row.email is None or (override is not None and override.opt_out):
        return None
    if session.execute(_NAIVE_PENDING, params).scalar_one():
        return None
    last = session.execute(_NAIVE_LAST, params).scalar_one()
    if last is not None and datetime.now(UTC) - last < timedelta(days=7):
        return None
    invoices = list(session.execute(_NAIVE_OVERDUE, params))
    return invoices or None


def _naive_plan(company_id: uuid.UUID, customers: list[uuid.UUID]) -> float:
    """One customer at a time: the questions, then one INSERT per reminder (rolled back)."""
    today = datetime.now(UTC).date()
    started = time.perf_counter()
    with Session(get_engine("app")) as session, session.begin():
        session.execute(
            text("SELECT set_config('majlis.company_id', :c, true)"), {"c": str(company_id)}
        )
        for customer in customers:
            invoices = _naive_eligible(session, company_id, customer, today)
            if not invoices:
                continue
            total = sum(Decimal(i.balance) for i in invoices)
            session.execute(
                text(
                    "INSERT INTO customer_consolidated_reminders (company_id, id, customer_id,"
                    " invoice_ids, total_amount, currency, reminder_type, escalation_level,"
                    " priority_score, oldest_days_overdue, channel, language, scheduled_at)"
                    " VALUES (:c, :id, :cu, :ids, :t, 'AED', :k, 'POLITE', 50, 1, 'email',"
                    " 'en', now())"
                ),
                {
                    "c": company_id,
                    "id": new_id(),
                    "cu": customer,
                    "ids": [i.id for i in invoices],
                    "t": total,
                    "k": "SINGLE" if len(invoices) == 1 else "CONSOLIDATED",
                },
            )
        session.rollback()
    return time.perf_counter() - started


def _eligibility(company_id: uuid.UUID, customers: list[uuid.UUID]) -> ScenarioResult:
    actor = Actor.system(company_id)
    sample = customers[:ELIGIBILITY_SAMPLE]
    engine = get_engine("app")
    found: list[uuid.UUID] = []

    def ours(_: int) -> None:
        with tenant_session(engine, company_id) as session:
            found[:] = eligible_customer_ids(session, actor, sample)

    def naive(_: int) -> None:
        today = datetime.now(UTC).date()
        with tenant_session(engine, company_id) as session:
            [c for c in sample if _naive_eligible(session, company_id, c, today)]

    return ScenarioResult(
        name=f"eligibility query for {ELIGIBILITY_SAMPLE:,} customers",
        ours=time_calls(ours, repeat=40),
        naive=time_calls(naive, repeat=3, warmup=1),
        target="≤ 10 ms",
        notes=f"{len(found)} eligible; two statements (policy, check) vs five per customer",
    )


def _dashboard(company_id: uuid.UUID, customers: list[uuid.UUID]) -> ScenarioResult:
    actor = Actor.system(company_id)
    engine = get_engine("app")
    end = datetime.now(UTC).date()
    start = end - timedelta(days=DASHBOARD_DAYS + 10)

    def ours(_: int) -> None:
        with tenant_session(engine, company_id) as session:
            reminder_analytics(session, actor, start, end)

    def naive(_: int) -> None:
        totals: dict[str, list[int]] = {}
        with tenant_session(engine, company_id) as session:
            for customer in customers:
                rows = session.execute(
                    text(
                        "SELECT escalation_level, opened_at, paid_after_reminder_at"
                        " FROM customer_consolidated_reminders WHERE company_id = :c"
                        " AND customer_id = :id AND sent_at >= :s AND sent_at < :e"
                    ),
                    {"c": company_id, "id": customer, "s": start, "e": end + timedelta(1)},
                )
                for row in rows:
                    counts = totals.setdefault(row.escalation_level, [0, 0, 0])
                    counts[0] += 1
                    counts[1] += row.opened_at is not None
                    counts[2] += row.paid_after_reminder_at is not None

    return ScenarioResult(
        name=f"reminder dashboard over {DASHBOARD_DAYS} days"
        f" ({DASHBOARD_DAYS * REMINDERS_PER_DAY:,} sent reminders)",
        ours=time_calls(ours, repeat=40),
        naive=time_calls(naive, repeat=1, warmup=0),
        target="≤ 50 ms",
        notes="one grouped scan of the (company_id, sent_at) index vs a query per customer",
    )


def run(scale: int, console: Console) -> list[ScenarioResult]:
    rng = random.Random(6)
    customer_count = max(scale // INVOICES_PER_CUSTOMER, ELIGIBILITY_SAMPLE)
    console.print(
        f"loading {customer_count:,} customers, "
        f"{customer_count * INVOICES_PER_CUSTOMER:,} invoices …"
    )
    company_id = _company()
    customers = _customers(company_id, customer_count)
    _invoices(company_id, customers, rng)
    _history(company_id, customers, rng)
    results = []
    for scenario in (_eligibility, _dashboard, _planning):
        console.print(f"running {scenario.__name__.strip('_')} …")
        results.append(scenario(company_id, customers))
        console.print(f"  ours p50 {results[-1].ours.p50_ms:,.1f} ms")
    return results
