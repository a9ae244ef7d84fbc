"""`majlis bench run pages`: every workspace page's server time at scale (issue 8).

The measured company gets `scale` customers (`datagen.load_bench_data`), then,
set-based through the admin engine, what a working company accumulates:
journeys for most customers across the stages, loyalty members over four
tiers with their points, open tasks, overdue invoices for a share of customers
and three months of sent reminders, conversations and notifications; then the
hourly reminder run queues a reminder for every customer due one. The real
app is started in-process and an owner signs in through the real sign-in form;
then every page of the workspace is requested (GET only, `repeat` times each).

The figure reported is the **server time**: the `Server-Timing: app;dur=…`
header `core.observability.RequestContext` adds (from the request's arrival to
the response's first byte), beside the client-side time in `extra`. For the
customer list pages the naive column is the OFFSET page plus an exact
`count(*)` of the company's customers in SQL, what list screens usually do.
"""

from __future__ import annotations

import random
import re
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx
from rich.console import Console
from sqlalchemy import Connection, text

from majlis.accounts import service as accounts
from majlis.bench.datagen import load_bench_data
from majlis.bench.harness import ScenarioResult, Timing, settle, start_server, time_calls
from majlis.bench.receivables import _history, _invoices
from majlis.core.db import get_engine, tenant_session
from majlis.core.pagination import encode_cursor
from majlis.core.permissions import Actor, Role
from majlis.journeys import service as journeys
from majlis.loyalty import service as loyalty
from majlis.loyalty.schemas import ProgramIn
from majlis.portal import service as portal
from majlis.receivables import planner
from majlis.web.customer_pages import PAGE_SIZE as LIST_PAGE_SIZE
from majlis.web.portal_pages import COOKIE_SALT, PORTAL_COOKIE
from majlis.web.security import cookie_signer

REPEAT = 20
WARMUP = 2
TARGET = "≤ 50 ms"
PASSWORD = "pages-bench-password"
CSRF_INPUT = re.compile(r'name="csrf_token" value="([^"]+)"')
SERVER_TIMING = re.compile(r"app;dur=([0-9.]+)")
TIERS = (
    ("bronze", "Bronze", 0),
    ("silver", "Silver", 500),
    ("gold", "Gold", 2000),
    ("platinum", "Platinum", 10_000),
)
LOADED_TABLES = (
    "customers",
    "workflow_state",
    "loyalty_members",
    "points_ledger",
    "tasks",
    "invoices",
    "customer_consolidated_reminders",
    "conversations",
    "notifications",
)


@dataclass(frozen=True)
class Workspace:
    """The measured company, its signed-in owner and the records the pages are opened on."""

    company_id: uuid.UUID
    owner_email: str
    customer_id: uuid.UUID  # an organization with a journey, points, invoices and chats
    other_id: uuid.UUID  # a second customer for the merge comparison
    member_id: uuid.UUID
    portal_token: str
    reminder_id: uuid.UUID  # the featured customer's reminder, waiting in the queue


# ----- data ------------------------------------------------------------------------------------
def _owner_email(company_id: uuid.UUID) -> str:
    return f"pages-owner-{company_id.hex[:12]}@bench.example"


def _owner(company_id: uuid.UUID, email: str) -> uuid.UUID:
    """A web user with a password, made an owner through the accounts service."""
    with tenant_session(get_engine("app"), company_id) as session:
        user = accounts.add_user(
            session, Actor.system(company_id), email, Role.OWNER, password=PASSWORD
        )
        journeys.workflow_stages(session, Actor.system(company_id))
        loyalty.update_program(
            session,
            Actor.system(company_id),
            ProgramIn.model_validate(
                {
                    "name": "Bench rewards",
                    "points_per_currency_unit": 1,
                    "points_per_visit": 10,
                    "points_per_referral": 100,
                    "expiry_days": 365,
                    "tiers": [{"key": k, "name": n, "min_points": p} for k, n, p in TIERS],
                }
            ),
        )
    return user.id


def _featured(conn: Connection, company_id: uuid.UUID) -> tuple[uuid.UUID, uuid.UUID]:
    """An active organization with an e-mail (every tab and the reminder preview have
    something to show) and one more customer."""
    featured = conn.execute(
        text(
            "SELECT id FROM customers WHERE company_id = :c AND kind = 'organization'"
            " AND email IS NOT NULL AND is_active ORDER BY id LIMIT 1"
        ),
        {"c": company_id},
    ).scalar_one()
    other = conn.execute(
        text(
            "SELECT id FROM customers WHERE company_id = :c AND kind = 'organization'"
            " AND id <> :f ORDER BY id DESC LIMIT 1"
        ),
        {"c": company_id, "f": featured},
    ).scalar_one()
    return featured, other


# Each statement picks its share of customers by a hash of the id, plus the featured one.
SHARE = "(abs(hashtext(c.id::text)) % 100 < :share OR c.id = :featured)"
JOURNEYS_SQL = f"""
INSERT INTO workflow_state (company_id, customer_id, stage_key, assigned_to, entered_at, deal_value)
SELECT c.company_id, c.id,
       (ARRAY['lead','contacted','consultation','proposal','won','lost','follow_up','loyal'])
           [1 + abs(hashtext(c.id::text || 's')) % 8],
       CASE WHEN abs(hashtext(c.id::text)) % 4 = 0 THEN CAST(:owner AS uuid) END,
       c.created_at + (now() - c.created_at) * random(),
       round((random() * 100000)::numeric, 2)
  FROM customers c WHERE c.company_id = :c AND {SHARE}
"""
MEMBERS_SQL = f"""
INSERT INTO loyalty_members (company_id, id, customer_id, tier_key, referral_code, joined_at)
SELECT c.company_id, gen_random_uuid(), c.id,
       CASE WHEN t < 60 THEN 'bronze' WHEN t < 85 THEN 'silver' WHEN t < 97 THEN 'gold'
            ELSE 'platinum' END,
       upper(substr(md5(c.id::text), 1, 12)), c.created_at
  FROM customers c CROSS JOIN LATERAL (SELECT abs(hashtext(c.id::text || 't')) % 100 AS t) x
 WHERE c.company_id = :c AND {SHARE}
"""
POINTS_SQL = """
INSERT INTO points_ledger (company_id, id, member_id, kind, points, remaining, expires_at,
                           reason, occurred_at)
SELECT m.company_id, gen_random_uuid(), m.id, 'earn', p.points, p.points,
       now() + interval '200 days', 'purchase', now() - interval '160 days' * random()
  FROM loyalty_members m
 CROSS JOIN generate_series(1, 3) n
 CROSS JOIN LATERAL (SELECT CASE m.tier_key WHEN 'bronze' THEN 40 WHEN 'silver' THEN 300
                     WHEN 'gold' THEN 1000 ELSE 4000 END + n * 7 AS points) p
 WHERE m.company_id = :c
"""
TASKS_SQL = f"""
INSERT INTO tasks (company_id, id, customer_id, kind, title, due_at, deal_value, priority,
                   rank_at, status, assigned_to)
SELECT c.company_id, gen_random_uuid(), c.id, 'call', 'Call ' || c.name, d.due, 0,
       h.hours * 100 / 96, d.due - make_interval(hours => h.hours), 'open',
       CASE WHEN abs(hashtext(c.id::text)) % 3 = 0 THEN NULL ELSE CAST(:owner AS uuid) END
  FROM customers c
 CROSS JOIN LATERAL (SELECT now() + random() * interval '30 days' AS due) d
 CROSS JOIN LATERAL (SELECT (random() * 96)::int AS hours) h
 WHERE c.company_id = :c AND {SHARE}
"""
CONVERSATIONS_SQL = f"""
INSERT INTO conversations (company_id, id, channel, session_id, contact_name, started_at,
                           customer_id, customer_linked_at, link_source, sync_state)
SELECT c.company_id, gen_random_uuid(), 'whatsapp', 'bench-' || c.id || '-' || n, c.name,
       now() - interval '300 days' * random(), c.id, now(), 'auto_sync', 'linked'
  FROM customers c CROSS JOIN generate_series(1, 2) n
 WHERE c.company_id = :c AND {SHARE}
"""
NOTIFICATIONS_SQL = """
INSERT INTO notifications (company_id, id, user_id, title, body, action_url, created_at, read_at)
SELECT :c, gen_random_uuid(), :owner, 'Task due soon #' || g, 'A customer is waiting',
       '/tasks', now() - make_interval(mins => g), CASE WHEN g % 2 = 0 THEN now() END
  FROM generate_series(1, 300) g
"""


def _set_based(company_id: uuid.UUID, owner_id: uuid.UUID, featured: uuid.UUID) -> None:
    """Journeys (80 %), members (30 %) with points, tasks (10 %), chats (5 %), notifications."""
    shares = (
        (JOURNEYS_SQL, 80),
        (MEMBERS_SQL, 30),
        (POINTS_SQL, 0),
        (TASKS_SQL, 10),
        (CONVERSATIONS_SQL, 5),
        (NOTIFICATIONS_SQL, 0),
    )
    with get_engine("admin").begin() as conn:
        conn.execute(text("SET LOCAL statement_timeout = 0"))  # loading, not measuring
        for sql, share in shares:
            params = {"c": company_id, "owner": owner_id, "featured": featured, "share": share}
            conn.execute(text(sql), params)
        conn.execute(
            text(
                "UPDATE customers c SET conversation_count = n.count"
                "  FROM (SELECT customer_id, count(*) FROM conversations WHERE company_id = :c"
                "        GROUP BY customer_id) n"
                " WHERE c.company_id = :c AND c.id = n.customer_id"
            ),
            {"c": company_id},
        )


def _invoiced(company_id: uuid.UUID, featured: uuid.UUID, scale: int) -> None:
    """Overdue invoices for 5 % of the customers, and 90 days of sent reminders (the run that
    queues reminders for the rest comes after the tables are settled)."""
    with get_engine("admin").connect() as conn:
        ids = list(
            conn.execute(
                text(
                    "SELECT id FROM customers c WHERE company_id = :c AND email IS NOT NULL"
                    " AND id <> :f ORDER BY md5(id::text) LIMIT :n"
                ),
                {"c": company_id, "f": featured, "n": max(20, scale // 20)},
            ).scalars()
        )
    rng = random.Random(8)
    _invoices(company_id, [featured, *ids], rng)
    _history(company_id, ids, rng)


def _queued_reminder(company_id: uuid.UUID, featured: uuid.UUID) -> uuid.UUID:
    """The hourly reminder run, through the planner (it plans only customers not already
    waiting or reminded lately, so a reused load adds nothing), and the featured
    customer's waiting reminder."""
    with tenant_session(get_engine("app"), company_id) as session:
        planner.run_reminders(session, Actor.system(company_id))
        return session.execute(
            text(
                "SELECT id FROM customer_consolidated_reminders WHERE company_id = :c"
                " AND customer_id = :f AND delivery_status = 'scheduled' ORDER BY id DESC LIMIT 1"
            ),
            {"c": company_id, "f": featured},
        ).scalar_one()


def _portal_token(company_id: uuid.UUID, customer_id: uuid.UUID) -> str:
    """A portal session for the featured customer, through the portal service's own link."""
    with tenant_session(get_engine("app"), company_id) as session:
        email = session.execute(
            text("SELECT email FROM customers WHERE company_id = :c AND id = :id"),
            {"c": company_id, "id": customer_id},
        ).scalar_one()
        portal.request_link(session, company_id, email, None)
        link = session.execute(
            text(
                "SELECT payload->>'token' FROM outbox_events WHERE company_id = :c"
                " AND topic LIKE 'portal.%' ORDER BY created_at DESC LIMIT 1"
            ),
            {"c": company_id},
        ).scalar_one()
        return portal.open_session(session, company_id, link)


def load_workspace(scale: int, console: Console, reuse: bool = False) -> Workspace:
    """Load the customers, then everything else set-based, then settle the tables.

    With `reuse`, an earlier load's companies are measured again (`load_bench_data`),
    and their activity is added only if no earlier pages run added it.
    """
    started = time.perf_counter()
    company_id = load_bench_data(scale, reuse=reuse)[0].company_id
    email = _owner_email(company_id)
    with get_engine("admin").connect() as conn:
        featured, other = _featured(conn, company_id)
        loaded_before = conn.execute(
            text("SELECT EXISTS (SELECT 1 FROM users WHERE email = :e)"), {"e": email}
        ).scalar_one()
    if not loaded_before:
        _add_activity(company_id, email, featured, scale)
    with get_engine("admin").connect() as conn:
        member_id = conn.execute(
            text("SELECT id FROM loyalty_members WHERE company_id = :c AND customer_id = :f"),
            {"c": company_id, "f": featured},
        ).scalar_one()
    reminder_id = _queued_reminder(company_id, featured)
    console.print(f"  ready in {time.perf_counter() - started:,.0f} s")
    token = _portal_token(company_id, featured)
    return Workspace(company_id, email, featured, other, member_id, token, reminder_id)


def _add_activity(company_id: uuid.UUID, email: str, featured: uuid.UUID, scale: int) -> None:
    """The owner, journeys, loyalty, tasks, chats and receivables, then settled tables."""
    owner_id = _owner(company_id, email)
    _set_based(company_id, owner_id, featured)
    _invoiced(company_id, featured, scale)
    settle(*LOADED_TABLES)
    with get_engine("admin").begin() as conn:
        conn.execute(text("SET LOCAL statement_timeout = 0"))
        conn.execute(text("SELECT refresh_customer_analytics()"))


# ----- requests --------------------------------------------------------------------------------
def sign_in(base_url: str, email: str) -> httpx.Client:
    """A browser-like client signed in through the real sign-in form (CSRF and all)."""
    client = httpx.Client(base_url=base_url, timeout=60)
    form = client.get("/sign-in")
    csrf = CSRF_INPUT.search(form.text)
    if csrf is None:
        raise RuntimeError("the sign-in page has no CSRF field")
    answer = client.post(
        "/sign-in", data={"csrf_token": csrf.group(1), "email": email, "password": PASSWORD}
    )
    if answer.status_code != 303:
        raise RuntimeError(f"sign-in answered {answer.status_code}")
    return client


def portal_client(base_url: str, token: str) -> httpx.Client:
    """The customer's phone, holding the portal cookie the portal's sign-in link would set."""
    cookie = cookie_signer(COOKIE_SALT).dumps(token)
    return httpx.Client(
        base_url=base_url, timeout=60, headers={"Cookie": f"{PORTAL_COOKIE}={cookie}"}
    )


def _server_seconds(response: httpx.Response) -> float:
    found = SERVER_TIMING.search(response.headers.get("server-timing", ""))
    if found is None:
        raise RuntimeError(f"{response.url} answered without a Server-Timing header")
    return float(found.group(1)) / 1000


def time_page(client: httpx.Client, url: str, repeat: int) -> tuple[Timing, Timing, dict[int, int]]:
    """Server and client timings of `repeat` GETs after a warm-up, and how they answered."""
    for _ in range(WARMUP):
        client.get(url)
    server, wall, statuses = [], [], dict[int, int]()
    for _ in range(repeat):
        started = time.perf_counter()
        response = client.get(url)
        wall.append(time.perf_counter() - started)
        server.append(_server_seconds(response))
        statuses[response.status_code] = statuses.get(response.status_code, 0) + 1
    return Timing.of(server), Timing.of(wall), statuses


# ----- the naive list: OFFSET page plus an exact count ------------------------------------------
LIST_COLUMNS = "id, name, name_ar, email, phone, source, kind, conversation_count"


class NaiveLists:
    """What list screens usually do: count every match, then OFFSET to the page."""

    def __init__(self, company_id: uuid.UUID) -> None:
        self.company_id = company_id
        self.raw = get_engine("admin").raw_connection()

    def page(self, where: str = "true", params: tuple[Any, ...] = (), offset: int = 0) -> object:
        cursor = self.raw.cursor()
        live = f"FROM customers WHERE company_id = %s AND deleted_at IS NULL AND ({where})"
        args = (self.company_id, *params)
        cursor.execute(f"SELECT count(*) {live}", args).fetchall()
        page = f"ORDER BY name, id OFFSET {offset} LIMIT {LIST_PAGE_SIZE}"
        rows = cursor.execute(f"SELECT {LIST_COLUMNS} {live} {page}", args).fetchall()
        self.raw.commit()
        return rows

    def sample(self, column: str, where: str) -> str:
        cursor = self.raw.cursor()
        row = cursor.execute(
            f"SELECT {column} FROM customers WHERE company_id = %s AND deleted_at IS NULL"
            f" AND {where} ORDER BY md5(id::text) LIMIT 1",
            (self.company_id,),
        ).fetchone()
        self.raw.commit()
        if row is None:
            raise RuntimeError(f"no customer with {where}")
        return str(row[0])

    def keyset_cursor(self, offset: int) -> str:
        """The list's own cursor for the row just before `offset` (name order)."""
        cursor = self.raw.cursor()
        name, last_id = cursor.execute(
            "SELECT name, id FROM customers WHERE company_id = %s AND deleted_at IS NULL"
            f" ORDER BY name, id OFFSET {offset - 1} LIMIT 1",
            (self.company_id,),
        ).fetchone()
        self.raw.commit()
        return encode_cursor([name, str(last_id)])

    def close(self) -> None:
        self.raw.close()


@dataclass(frozen=True)
class PageSpec:
    name: str
    url: str
    naive: Callable[[int], object] | None = None
    portal: bool = False


def list_pages(naive: NaiveLists, scale: int) -> list[PageSpec]:
    """The customers list: first page, an English and an Arabic search, a later page."""
    last_name = naive.sample("name", "name ~ '^[A-Za-z]+ [A-Za-z]+$'").split()[-1]
    english = last_name[: max(4, len(last_name) - 2)].lower()
    arabic = naive.sample("name_ar", "name_ar IS NOT NULL").split()[0]
    later = max(2, min(1000, scale // (LIST_PAGE_SIZE * 4)))
    offset = (later - 1) * LIST_PAGE_SIZE
    ilike = "name ILIKE %s OR name_ar ILIKE %s OR email ILIKE %s"
    return [
        PageSpec("customers list, page 1", "/customers", lambda _: naive.page()),
        PageSpec(
            f"customers list, search {english!r}",
            f"/customers?q={english}",
            lambda _: naive.page(ilike, (f"%{english}%",) * 3),
        ),
        PageSpec(
            "customers list, Arabic search",
            f"/customers?q={arabic}",
            lambda _: naive.page(ilike, (f"%{arabic}%",) * 3),
        ),
        PageSpec(
            f"customers list, page {later:,} by cursor",
            f"/customers?cursor={naive.keyset_cursor(offset)}",
            lambda _: naive.page(offset=offset),
        ),
    ]


def workspace_pages(ws: Workspace) -> list[PageSpec]:
    """Every other page, GET only, on the featured customer where a page needs one."""
    customer, portal_home = f"/customers/{ws.customer_id}", f"/portal/{ws.company_id}"
    tabs = ("relationships", "conversations", "receivables", "journey", "loyalty", "activity")
    urls = [
        ("customer profile", customer),
        *((f"customer tab: {tab}", f"{customer}/{tab}") for tab in tabs),
        ("create wizard", "/customers/new"),
        ("merge comparison", f"/merges/new?a={ws.customer_id}&b={ws.other_id}"),
        ("duplicates queue", "/duplicates"),
        ("imports", "/imports"),
        ("import upload", "/imports/new"),
        ("overdue invoices", "/receivables"),
        ("reminder queue", "/receivables/queue"),
        ("reminder preview", f"/receivables/reminders/{ws.reminder_id}"),
        ("sent reminders", "/receivables/sent"),
        ("journey board", "/journeys"),
        ("journey board, mine", "/journeys?mine=true"),
        ("journey stage column", "/journeys/stages/lead"),
        ("my tasks", "/tasks"),
        ("notifications", "/notifications"),
        ("dashboard", "/dashboard"),
        ("loyalty program", "/loyalty"),
        ("loyalty member", f"/loyalty/members/{ws.member_id}"),
        *(
            (f"settings: {part}", f"/settings/{part}")
            for part in ("users", "tokens", "calendar", "reminders", "loyalty", "privacy")
        ),
    ]
    portal = [
        PageSpec(f"portal {part}", f"{portal_home}/{part}", portal=True)
        for part in ("card", "points", "rewards", "preferences")
    ]
    return [PageSpec(name, url) for name, url in urls] + portal


def _result(spec: PageSpec, server: Timing, client: Timing, statuses: dict[int, int]) -> Any:
    naive = time_calls(spec.naive, repeat=10) if spec.naive else None
    return ScenarioResult(
        spec.name,
        server,
        naive,
        target=TARGET,
        notes=f"GET {spec.url.split('?')[0]}" + (", naive = count(*) + OFFSET" if naive else ""),
        extra={
            "url": spec.url,
            "statuses": statuses,
            "client_p50_ms": client.p50_ms,
            "client_p95_ms": client.p95_ms,
        },
    )


def run(
    scale: int, console: Console, repeat: int = REPEAT, reuse: bool = False
) -> list[ScenarioResult]:
    """Load a working company of `scale` customers, then time every page `repeat` times."""
    console.print(f"loading {scale:,} customers (+ smaller tenants) and their activity …")
    ws = load_workspace(scale, console, reuse)
    base_url, server = start_server()
    staff, customer = sign_in(base_url, ws.owner_email), portal_client(base_url, ws.portal_token)
    naive = NaiveLists(ws.company_id)
    results: list[ScenarioResult] = []
    try:
        for spec in list_pages(naive, scale) + workspace_pages(ws):
            timings = time_page(customer if spec.portal else staff, spec.url, repeat)
            results.append(_result(spec, *timings))
            server_time, client_time, statuses = timings
            console.print(
                f"  {spec.name}: server p50 {server_time.p50_ms:.1f} / p95"
                f" {server_time.p95_ms:.1f} ms, client p50 {client_time.p50_ms:.1f} ms {statuses}"
            )
    finally:
        naive.close()
        staff.close()
        customer.close()
        server.should_exit = True
    return results
