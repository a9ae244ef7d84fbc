"""`majlis bench run journeys`: the next task with 100k open tasks, and rule evaluation.

Data is made set-based through the admin engine; everything measured goes
through the real services as the application role, under row-level security.

- next task: `queue.next_task` (two index probes on `ix_tasks_queue`) beside the
  naive way, ranking every open task by the priority formula at query time.
- rule evaluation: `automation.process_pending_events` (batches of 1,000 events,
  one facts query, one firing insert per batch) beside the naive way, one
  transaction per event.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

from rich.console import Console
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session

from majlis.accounts import service as accounts
from majlis.bench.harness import ScenarioResult, Timing, settle, time_calls
from majlis.core.db import get_engine, tenant_session
from majlis.core.permissions import Actor, Role
from majlis.journeys import automation, queue, service
from majlis.journeys.rules import RuleIn

OPEN_TASKS = 100_000
SALES_PEOPLE = 8
EVENTS = 20_000
NAIVE_EVENTS = 500
BENCH_RULES = (
    {
        "name": "Quote big proposals",
        "trigger": "stage_changed",
        "conditions": {
            "conditions": [
                {"field": "event.to", "op": "eq", "value": "proposal"},
                {"field": "journey.deal_value", "op": "gte", "value": 95_000},
            ]
        },
        "actions": [{"type": "create_task", "kind": "send_quote", "title": "Send the quote"}],
    },
    {
        "name": "Risky Dubai customers",
        "trigger": "stage_changed",
        "conditions": {
            "mode": "all",
            "conditions": [
                {"field": "customer.city", "op": "eq", "value": "Dubai"},
                {"field": "customer.risk_score", "op": "gte", "value": 9.8},
            ],
        },
        "actions": [{"type": "notify_user", "title": "Risky customer moved"}],
    },
    {
        "name": "VIP won",
        "trigger": "stage_changed",
        "conditions": {
            "mode": "all",
            "conditions": [
                {"field": "event.to", "op": "eq", "value": "won"},
                {"field": "customer.tags", "op": "contains", "value": "vip"},
            ],
        },
        "actions": [{"type": "add_tag", "tag": "won"}],
    },
)

NAIVE_NEXT_TASK = text(
    """
    SELECT t.id FROM tasks t LEFT JOIN customers c
        ON c.company_id = t.company_id AND c.id = t.customer_id
     WHERE t.company_id = :company AND t.status = 'open'
       AND (t.assigned_to = :user OR t.assigned_to IS NULL)
     ORDER BY t.due_at - make_interval(hours => (
               48 * least(1, log(1 + t.deal_value) / 6)
             + 24 * coalesce(c.risk_score, 0) / 10)::int), t.id
     LIMIT 1
    """
)


@contextmanager
def _tenant(company_id: uuid.UUID) -> Iterator[Session]:
    with tenant_session(get_engine("app"), company_id) as session:
        yield session


def _make_company(console: Console) -> tuple[uuid.UUID, list[uuid.UUID]]:
    engine = get_engine("app")
    with Session(engine) as session, session.begin():
        company_id = accounts.create_company(session, f"Bench journeys {uuid.uuid4().hex[:6]}").id
    with tenant_session(engine, company_id) as session:
        system = Actor.system(company_id)
        users = [
            accounts.add_user(
                session, system, f"sales{i}-{company_id.hex[:8]}@bench.example", Role.SALES
            ).id
            for i in range(SALES_PEOPLE)
        ]
        service.workflow_stages(session, system)
    console.print(f"company {company_id} with {SALES_PEOPLE} sales people")
    return company_id, users


def _load_customers_and_tasks(admin: Engine, company_id: uuid.UUID, customers: int) -> None:
    with admin.begin() as conn:
        conn.execute(text("SET LOCAL statement_timeout = 0"))  # bulk loading takes a while
        conn.execute(
            text(
                "INSERT INTO customers (company_id, id, kind, name, city, risk_score, tags)"
                " SELECT :c, gen_random_uuid(), 'individual', 'Bench customer ' || g,"
                " (ARRAY['Dubai','Sharjah','Abu Dhabi'])[1 + g % 3], (g % 100) / 10.0,"
                " CASE WHEN g % 50 = 0 THEN ARRAY['vip'] ELSE '{}'::text[] END"
                " FROM generate_series(1, :n) g"
            ),
            {"c": company_id, "n": customers},
        )
        conn.execute(
            text(
                "INSERT INTO workflow_state (company_id, customer_id, stage_key, entered_at,"
                " deal_value) SELECT company_id, id, 'consultation', now(),"
                " (random() * 100000)::numeric(14,2) FROM customers WHERE company_id = :c"
            ),
            {"c": company_id},
        )
        # Open tasks: spread over the sales people and the unassigned pool, due over 60 days.
        conn.execute(
            text(
                "WITH members AS (SELECT array_agg(user_id ORDER BY user_id) AS ids"
                "  FROM memberships WHERE company_id = :c),"
                " picked AS (SELECT id, row_number() OVER () AS n FROM customers"
                "  WHERE company_id = :c)"
                " INSERT INTO tasks (company_id, id, customer_id, kind, title, due_at, deal_value,"
                "  priority, rank_at, status, assigned_to)"
                " SELECT :c, gen_random_uuid(), p.id, 'call', 'Bench task ' || g, d.due,"
                "  0, h.hours * 100 / 96, d.due - make_interval(hours => h.hours), 'open',"
                "  CASE WHEN g % 9 = 0 THEN NULL ELSE m.ids[1 + g % array_length(m.ids, 1)] END"
                " FROM generate_series(1, :n) g CROSS JOIN members m"
                " JOIN picked p ON p.n = 1 + g % :customers"
                " CROSS JOIN LATERAL (SELECT now() + random() * interval '60 days' AS due) d"
                " CROSS JOIN LATERAL (SELECT (random() * 96)::int AS hours) h"
            ),
            {"c": company_id, "n": OPEN_TASKS, "customers": customers},
        )
    settle("customers", "workflow_state", "tasks")


def _next_task_scenario(company_id: uuid.UUID, users: list[uuid.UUID]) -> ScenarioResult:
    actors = [Actor(company_id, Role.SALES, user_id=user) for user in users]

    def ours(i: int) -> None:
        with _tenant(company_id) as session:
            assert queue.next_task(session, actors[i % len(actors)]) is not None

    def naive(i: int) -> None:
        with _tenant(company_id) as session:
            params = {"company": company_id, "user": users[i % len(users)]}
            session.execute(NAIVE_NEXT_TASK, params).scalar_one()

    return ScenarioResult(
        name=f"next task, {OPEN_TASKS:,} open tasks",
        ours=time_calls(ours, repeat=300),
        naive=time_calls(naive, repeat=20),
        target="≤ 10 ms p95",
        notes="two probes of ix_tasks_queue vs ranking every open task at query time",
    )


def _claim_scenario(company_id: uuid.UUID, users: list[uuid.UUID]) -> ScenarioResult:
    """Claim the next task (FOR UPDATE SKIP LOCKED), rolled back so the queue stays full."""
    actors = [Actor(company_id, Role.SALES, user_id=user) for user in users]

    def claim(i: int) -> None:
        with Session(get_engine("app")) as session, session.begin() as transaction:
            from majlis.core.db import set_tenant

            set_tenant(session, company_id)
            assert queue.claim_next_task(session, actors[i % len(actors)]) is not None
            transaction.rollback()

    return ScenarioResult(
        name="claim next task (SKIP LOCKED)", ours=time_calls(claim, repeat=200), target="—"
    )


def _insert_events(admin: Engine, company_id: uuid.UUID, count: int) -> None:
    with admin.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO workflow_events (company_id, id, customer_id, kind, payload)"
                " SELECT :c, gen_random_uuid(), s.customer_id, 'stage_changed',"
                "  jsonb_build_object('from', 'consultation', 'to',"
                "   (ARRAY['proposal','won','lost','contacted'])[1 + (random() * 3)::int])"
                " FROM (SELECT customer_id FROM workflow_state WHERE company_id = :c"
                "  ORDER BY random() LIMIT :n) s"
            ),
            {"c": company_id, "n": count},
        )
        conn.execute(text("ANALYZE workflow_events"))  # what autovacuum does after a burst


def _rules_scenario(admin: Engine, company_id: uuid.UUID) -> ScenarioResult:
    system = Actor.system(company_id)
    with _tenant(company_id) as session:
        for rule in BENCH_RULES:
            automation.create_rule(session, system, RuleIn.model_validate(rule))
    _insert_events(admin, company_id, EVENTS)
    started = time.perf_counter()
    with _tenant(company_id) as session:
        report = automation.process_pending_events(session, system, batch_size=1000)
    ours_seconds = time.perf_counter() - started
    assert report.events >= EVENTS, report
    _insert_events(admin, company_id, NAIVE_EVENTS)
    samples = []
    for _ in range(NAIVE_EVENTS):
        one = time.perf_counter()
        with _tenant(company_id) as session:
            automation.process_pending_events(session, system, batch_size=1, max_batches=1)
        samples.append(time.perf_counter() - one)
    per_event = Timing.of([ours_seconds / report.events] * 3)
    return ScenarioResult(
        name=f"rule evaluation, {report.events:,} events × {len(BENCH_RULES)} rules",
        ours=per_event,
        naive=Timing.of(samples),
        target="≥ 5,000 events/s",
        unit="ms per event",
        throughput=report.events / ours_seconds,
        naive_throughput=NAIVE_EVENTS / sum(samples),
        notes=f"{report.firings} firings, actions {dict(report.actions)}",
    )


def run(scale: int, console: Console) -> list[ScenarioResult]:
    """Load one company with `scale` customers and 100k open tasks, then measure."""
    admin = get_engine("admin")
    company_id, users = _make_company(console)
    customers = max(1_000, scale)
    console.print(f"loading {customers:,} customers and {OPEN_TASKS:,} open tasks")
    _load_customers_and_tasks(admin, company_id, customers)
    results = [_next_task_scenario(company_id, users), _claim_scenario(company_id, users)]
    console.print(f"evaluating {EVENTS:,} events against {len(BENCH_RULES)} rules")
    results.append(_rules_scenario(admin, company_id))
    return results
