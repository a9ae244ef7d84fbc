"""`majlis bench run conversations`: chat ingest with customer matching on.

A company gets `scale // 2` existing customers (set-based, through the admin engine);
then `scale` chat records are ingested through the real service path as the
application role: NDJSON parsed and validated, matched (email, phone typed in local
format, exact normalised name), linked, enriched, or turned into new customers —
10,000 lines per request, one transaction each, as the bulk endpoint does.

Beside it, the naive way on a sample: one round trip per lookup and per write, row by
row, as a per-record sync loop would do it.

Afterwards the links are checked against the known truth of the generated data.
"""

from __future__ import annotations

import json
import os
import random
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import Progress
from sqlalchemy import Engine, select, text
from sqlalchemy.orm import Session

from majlis.accounts import service as accounts
from majlis.bench.harness import ScenarioResult, Timing
from majlis.conversations import service
from majlis.conversations.matching import RULES, match_keys
from majlis.conversations.models import Conversation, LinkSource, SyncState
from majlis.conversations.schemas import ConversationIn
from majlis.core.db import get_engine, tenant_session
from majlis.core.ids import new_id
from majlis.core.permissions import Actor
from majlis.customers.models import Customer, CustomerKind, CustomerSource
from majlis.organizations.models import Contact

LINES_PER_REQUEST = 10_000
NAIVE_RECORDS = 3_000
FIRST_NAMES = ("Ahmed", "Fatima", "Omar", "Layla", "Khalid", "Noura", "Somchai", "Malee")


def _make_company(admin: Engine, existing: int) -> uuid.UUID:
    with Session(get_engine("app")) as session, session.begin():
        company_id = accounts.create_company(session, f"Bench chat {uuid.uuid4().hex[:6]}").id
    with admin.begin() as conn:
        conn.execute(text("SET LOCAL statement_timeout = 0"))  # data setup, not measured
        conn.execute(
            text(
                "INSERT INTO customers (company_id, id, kind, name, email, phone)"
                " SELECT :c, majlis_new_id(), 'individual',"
                " (ARRAY['Ahmed','Fatima','Omar','Layla','Khalid','Noura','Somchai','Malee'])"
                "[1 + g % 8] || ' Bench ' || g, 'c' || g || '@bench.example',"
                " '+97150' || lpad(g::text, 7, '0') FROM generate_series(1, :n) g"
            ),
            {"c": company_id, "n": existing},
        )
        conn.execute(text("ANALYZE customers"))
    return company_id


def _record(i: int, rng: random.Random, existing: int) -> tuple[dict[str, Any], str]:
    """One chat record and the truth about it: the rule that should link it, or `new:<person>`."""
    known = rng.randint(1, existing)
    roll = rng.random()
    if roll < 0.40:
        customer, truth = {"email": f"C{known}@Bench.example "}, "email"
    elif roll < 0.60:
        customer, truth = {"phone": f"050 {known // 10_000:03d} {known % 10_000:04d}"}, "phone"
    elif roll < 0.70:
        customer = {"name": f"{FIRST_NAMES[known % 8].lower()}  bench {known}"}
        truth = "name"
    else:
        person = i if roll < 0.95 else max(0, i - rng.randint(1, 500))
        customer = {
            "name": f"New Person {person}",
            "email": f"new{person}@chat.example",
            "phone": f"+97155{person:07d}",
        }
        truth = f"new:{person}"
    record = {
        "channel": "whatsapp" if i % 3 else "web_chat",
        "session_id": f"s-{i}",
        "interaction_number": 1 + i % 5,
        "started_at": f"2026-0{1 + i % 9}-1{i % 10}T09:{i % 60:02d}:00+04:00",
        "customer": customer,
        "summary": "asked for a quotation",
        "messages": [
            {"sender": "customer", "text": "مرحبا، أريد عرض سعر"},
            {"sender": "agent", "text": "Hello! Sending it now."},
        ],
    }
    return record, truth


def _generate(scale: int, existing: int) -> tuple[list[bytes], list[str]]:
    rng = random.Random(7)
    lines, truths = [], []
    for i in range(scale):
        record, truth = _record(i, rng, existing)
        lines.append(json.dumps(record, ensure_ascii=False).encode())
        truths.append(truth)
    return lines, truths


def _backend_cpu_seconds(session: Session) -> float:
    """CPU time the PostgreSQL backend serving `session` has used so far (from /proc).

    Wall-clock rates on a shared machine swing with the neighbours' load; CPU seconds
    spent per record do not, so the bench reports both.
    """
    pid = session.scalar(text("SELECT pg_backend_pid()"))
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@dataclass
class IngestRun:
    """Per-request (or per-record) latencies, and the CPU the two sides spent."""

    timing: Timing
    database_cpu_s: float
    python_cpu_s: float


def _cpu_bound_rate(records: int, run: IngestRun) -> float:
    return records / max(run.database_cpu_s, run.python_cpu_s, 1e-9)


def _ingest_ours(company_id: uuid.UUID, lines: list[bytes], console: Console) -> IngestRun:
    actor = Actor.system(company_id)
    samples, database_cpu = [], 0.0
    python_began = time.process_time()
    with Progress(console=console, transient=True) as progress:
        task = progress.add_task("bulk ingest (ours)", total=len(lines))
        for start in range(0, len(lines), LINES_PER_REQUEST):
            chunk = b"\n".join(lines[start : start + LINES_PER_REQUEST])
            began = time.perf_counter()
            with tenant_session(get_engine("app"), company_id) as session:
                cpu_before = _backend_cpu_seconds(session)
                service.ingest_many(session, actor, service.parse_ndjson(chunk))
                database_cpu += _backend_cpu_seconds(session) - cpu_before
            samples.append(time.perf_counter() - began)
            progress.advance(task, LINES_PER_REQUEST)
    return IngestRun(Timing.of(samples), database_cpu, time.process_time() - python_began)


def _naive_one(session: Session, actor: Actor, record: ConversationIn) -> None:
    """Per-record sync: a query per rule, then one write per row touched."""
    keys = match_keys(record.customer, "AE")
    found: Customer | None = None
    for rule in RULES:
        value = getattr(keys, rule.key)
        if value is None:
            continue
        if rule.via_contacts:
            condition = Customer.id.in_(
                select(Contact.organization_id).where(
                    Contact.company_id == actor.company_id,
                    Contact.archived_at.is_(None),
                    getattr(Contact, rule.key) == value,
                )
            )
        elif rule.key == "name":
            condition = Customer.match_name == value
        else:
            condition = getattr(Customer, rule.key) == value
        hits = session.scalars(
            select(Customer).where(
                Customer.company_id == actor.company_id, Customer.deleted_at.is_(None), condition
            )
        ).all()
        if hits:
            found = hits[0] if len(hits) == 1 else None
            break
    if found is None:
        found = Customer(
            company_id=actor.company_id,
            id=new_id(),
            kind=CustomerKind.INDIVIDUAL,
            name=record.customer.name or keys.email or "Chat visitor",
            email=keys.email,
            phone=keys.phone,
            source=CustomerSource.CHAT,
        )
        session.add(found)
        session.flush()
    else:
        found.email = found.email or keys.email
        found.phone = found.phone or keys.phone
        found.conversation_count += 1
        session.flush()
    session.add(
        Conversation(
            company_id=actor.company_id,
            id=new_id(),
            channel=record.channel,
            session_id=record.session_id,
            contact_name=record.customer.name,
            contact_email=record.customer.email,
            contact_phone=record.customer.phone,
            started_at=record.started_at,
            summary=record.summary,
            messages=[m.model_dump(mode="json") for m in record.messages],
            customer_id=found.id,
            link_source=LinkSource.AUTO_SYNC,
            sync_state=SyncState.LINKED,
        )
    )
    session.flush()


def _ingest_naive(company_id: uuid.UUID, lines: list[bytes]) -> IngestRun:
    actor = Actor.system(company_id)
    samples = []
    python_began = time.process_time()
    with tenant_session(get_engine("app"), company_id) as session:
        cpu_before = _backend_cpu_seconds(session)
        for line in lines:
            began = time.perf_counter()
            _naive_one(session, actor, ConversationIn.model_validate_json(line))
            samples.append(time.perf_counter() - began)
        database_cpu = _backend_cpu_seconds(session) - cpu_before
    return IngestRun(Timing.of(samples), database_cpu, time.process_time() - python_began)


def _check_truth(company_id: uuid.UUID, truths: list[str]) -> dict[str, int]:
    """Count how generated records landed, to compare with what the generator intended."""
    with tenant_session(get_engine("app"), company_id) as session:
        rows = session.execute(
            text(
                "SELECT match_reason, count(*) FROM conversations WHERE company_id = :c GROUP BY 1"
            ),
            {"c": company_id},
        ).all()
        new_customers = session.scalar(
            text("SELECT count(*) FROM customers WHERE company_id = :c AND source = 'chat'"),
            {"c": company_id},
        )
    landed = {str(reason): int(count) for reason, count in rows}
    landed["chat_customers"] = int(new_customers or 0)
    new_people = {truth for truth in truths if truth.startswith("new:")}
    for rule in ("email", "phone", "name"):
        landed[f"expected_{rule}"] = truths.count(rule)
    # A repeat chat from a new person links (by email) to the customer its first chat created.
    landed["expected_created"] = len(new_people)
    landed["expected_repeat_chats"] = sum(t.startswith("new:") for t in truths) - len(new_people)
    return landed


def run(scale: int, console: Console) -> list[ScenarioResult]:
    admin = get_engine("admin")
    existing = max(1_000, scale // 2)
    console.print(f"generating {scale:,} chat records against {existing:,} customers")
    lines, truths = _generate(scale, existing)
    ours_company = _make_company(admin, existing)
    began = time.perf_counter()
    ours = _ingest_ours(ours_company, lines, console)
    elapsed = time.perf_counter() - began
    # With the database and the Python side each on a core of their own, the busier one sets
    # the pace: this is the rate the same work reaches on an otherwise idle 2-core machine.
    cpu_bound_rate = _cpu_bound_rate(scale, ours)
    console.print(
        f"CPU: database {ours.database_cpu_s:.1f} s, Python {ours.python_cpu_s:.1f} s"
        f" → {cpu_bound_rate:,.0f} records/s when each has a core"
    )
    landed = _check_truth(ours_company, truths)
    console.print(f"landed: {landed}")
    naive_lines = lines[:NAIVE_RECORDS]
    naive_company = _make_company(admin, existing)
    began = time.perf_counter()
    naive = _ingest_naive(naive_company, naive_lines)
    naive_elapsed = time.perf_counter() - began
    naive_cpu_bound_rate = _cpu_bound_rate(len(naive_lines), naive)
    console.print(
        f"naive CPU: database {naive.database_cpu_s:.1f} s, Python {naive.python_cpu_s:.1f} s"
        f" for {len(naive_lines):,} → {naive_cpu_bound_rate:,.0f} records/s when each has a core"
    )
    return [
        ScenarioResult(
            name=f"chat ingest with matching, {scale:,} records ({LINES_PER_REQUEST:,}/request)",
            ours=ours.timing,
            naive=None,
            target="≥ 2,000 conversations/s",
            unit="ms per request",
            throughput=scale / elapsed,
            naive_throughput=len(naive_lines) / naive_elapsed,
            notes=f"naive: one round trip per lookup and write, {len(naive_lines):,} records",
            extra={
                "landed": landed,
                "naive_per_record": naive.timing.__dict__,
                "naive_database_cpu_s": naive.database_cpu_s,
                "naive_python_cpu_s": naive.python_cpu_s,
                "naive_cpu_bound_rate_per_s": naive_cpu_bound_rate,
                "database_cpu_s": ours.database_cpu_s,
                "python_cpu_s": ours.python_cpu_s,
                "cpu_bound_rate_per_s": cpu_bound_rate,
                "wall_clock_s": elapsed,
            },
        )
    ]
