"""`majlis bench run customers`: list, search, lookups, detail, creates, analytics, import.

Each scenario is timed three ways in the same run on the same data: ours over
HTTP (`majlis serve` in its own process, through a keep-alive connection), ours
as bare SQL (the statement the service issues, as the app role under RLS), and
the naive way (ILIKE scans, OFFSET pages, per-row INSERTs, aggregates over the
base table). The result's `ours` is the HTTP timing; `extra` carries the SQL
timing and the HTTP/SQL overhead ratio.
"""

from __future__ import annotations

import asyncio
import io
import itertools
import time
import uuid
from collections.abc import Callable, Sequence
from typing import Any

import httpx
from rich.console import Console

from majlis.bench.datagen import BenchCompany, CustomerRows, NamePools, load_bench_data
from majlis.bench.harness import (
    KeepAliveClient,
    ScenarioResult,
    Timing,
    serving,
    time_calls,
)
from majlis.core.db import get_engine, tenant_session
from majlis.core.pagination import encode_cursor
from majlis.core.permissions import Actor
from majlis.imports import service as imports

REPEAT = 30
NAIVE_REPEAT = 10
CONCURRENT_CREATES = 100
COLUMNS = "id, name, name_ar, email, phone, trn, city, emirate, created_at"


class SqlRunner:
    """Statements as the app role under RLS (ours) or the owner (naive), one transaction each."""

    def __init__(self, company_id: uuid.UUID) -> None:
        self.company_id = company_id
        self.app = get_engine("app").raw_connection()
        self.admin = get_engine("admin").raw_connection()

    def ours(
        self, sql: str, params: Sequence[object] = (), *, custom_plan: bool = False
    ) -> list[Any]:
        cursor = self.app.cursor()
        cursor.execute("SELECT set_config('majlis.company_id', %s, true)", (str(self.company_id),))
        if custom_plan:  # as the search service does (see search.service.plan_for_this_term)
            cursor.execute(
                "SELECT set_config('plan_cache_mode', 'force_custom_plan', true),"
                " set_config('pg_trgm.word_similarity_threshold', '0.5', true)"
            )
        rows = cursor.execute(sql, params).fetchall()
        self.app.commit()
        return rows

    def naive(self, sql: str, params: Sequence[object] = ()) -> list[Any]:
        cursor = self.admin.cursor()
        rows = cursor.execute(sql, params).fetchall()
        self.admin.commit()
        return rows

    def close(self) -> None:
        self.app.close()
        self.admin.close()


def _result(
    name: str,
    http: Timing,
    sql: Timing | None,
    naive: Timing | None,
    target: str,
    notes: str = "",
) -> ScenarioResult:
    extra: dict[str, Any] = {}
    if sql is not None:
        extra = {
            "sql_p50_ms": sql.p50_ms,
            "sql_p95_ms": sql.p95_ms,
            "http_over_sql": http.p50_ms / sql.p50_ms if sql.p50_ms else None,
        }
    return ScenarioResult(name, http, naive, target=target, notes=notes, extra=extra)


def _http_get(client: KeepAliveClient, path: str, **params: Any) -> Callable[[int], object]:
    def call(_: int) -> object:
        return client.get(path, **params)

    return call


async def _all_at_once(
    base_url: str, token: str, body: Callable[[int], dict[str, Any]]
) -> tuple[float, list[int]]:
    """CONCURRENT_CREATES creates posted at once over as many open connections, after a
    first such round that warms both worker processes (a fresh worker's first creates
    load the matching model, phone metadata and templates); the seconds until the last
    of the second round answered, and its statuses."""
    limits = httpx.Limits(
        max_connections=CONCURRENT_CREATES, max_keepalive_connections=CONCURRENT_CREATES
    )
    headers = {"Authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(
        base_url=base_url, headers=headers, limits=limits, timeout=60
    ) as client:

        async def round_of_creates(first: int) -> list[httpx.Response]:
            return await asyncio.gather(
                *(client.post("/api/v1/customers", json=body(first + i)) for i in each)
            )

        each = range(CONCURRENT_CREATES)
        await round_of_creates(first=500)
        started = time.perf_counter()
        answers = await round_of_creates(first=500 + CONCURRENT_CREATES)
        return time.perf_counter() - started, [answer.status_code for answer in answers]


class Suite:
    def __init__(self, company: BenchCompany, scale: int, base_url: str, console: Console) -> None:
        self.company = company
        self.scale = scale
        self.console = console
        self.client = KeepAliveClient(base_url, company.token)
        self.sql = SqlRunner(company.company_id)
        self.cid = company.company_id
        self.results: list[ScenarioResult] = []

    def add(self, result: ScenarioResult) -> None:
        self.results.append(result)
        ratio = f"{result.ratio:,.1f}×" if result.ratio else "—"
        self.console.print(
            f"  {result.name}: p50 {result.ours.p50_ms:.2f} ms, p95 {result.ours.p95_ms:.2f} ms"
            f" (naive ÷ ours {ratio})"
        )

    def sample(self, column: str, where: str = "true") -> Any:
        rows = self.sql.naive(
            f"SELECT {column} FROM customers WHERE company_id = %s AND {where}"
            " ORDER BY md5(id::text) LIMIT 1",
            (self.cid,),
        )
        return rows[0][0]

    # ----- listing ---------------------------------------------------------------------
    def listing(self) -> None:
        page_sql = f"SELECT {COLUMNS} FROM customers WHERE company_id = %s AND deleted_at IS NULL"
        self.add(
            _result(
                "list page 1 (50 rows)",
                time_calls(_http_get(self.client, "/api/v1/customers", limit=50), REPEAT),
                time_calls(
                    lambda _: self.sql.ours(f"{page_sql} ORDER BY name, id LIMIT 51", (self.cid,)),
                    REPEAT,
                ),
                time_calls(
                    lambda _: self.sql.naive(
                        f"{page_sql} ORDER BY name, id OFFSET 0 LIMIT 50", (self.cid,)
                    ),
                    NAIVE_REPEAT,
                ),
                "≤ 10 ms",
            )
        )
        page = min(1000, self.scale // 100)
        offset = (page - 1) * 50
        name, last_id = self.sql.naive(
            f"SELECT name, id FROM customers WHERE company_id = %s AND deleted_at IS NULL"
            f" ORDER BY name, id OFFSET {offset - 1} LIMIT 1",
            (self.cid,),
        )[0]
        cursor = encode_cursor([name, str(last_id)])
        self.add(
            _result(
                f"list page {page:,} (keyset vs OFFSET)",
                time_calls(
                    _http_get(self.client, "/api/v1/customers", limit=50, cursor=cursor), REPEAT
                ),
                time_calls(
                    lambda _: self.sql.ours(
                        f"{page_sql} AND (name, id) > (%s, %s) ORDER BY name, id LIMIT 51",
                        (self.cid, name, last_id),
                    ),
                    REPEAT,
                ),
                time_calls(
                    lambda _: self.sql.naive(
                        f"{page_sql} ORDER BY name, id OFFSET {offset} LIMIT 50", (self.cid,)
                    ),
                    NAIVE_REPEAT,
                ),
                "≤ 10 ms",
            )
        )

    # ----- search ----------------------------------------------------------------------
    def _search(
        self, name: str, term: str, naive_where: str, naive_params: tuple[Any, ...]
    ) -> None:
        # The operators' entry point runs the same tiers as the API, stopping at 21 rows.
        ranked = (
            "SELECT id, name, rank_key, matched_field"
            " FROM search_customers(%s, %s, NULL, NULL, 21, 0)"
        )
        found = self.sql.ours(ranked, (self.cid, term), custom_plan=True)
        naive_sql = (
            f"SELECT {COLUMNS} FROM customers WHERE company_id = %s AND deleted_at IS NULL"
            f" AND ({naive_where}) ORDER BY name, id LIMIT 20"
        )
        naive_found = self.sql.naive(naive_sql, (self.cid, *naive_params))
        self.add(
            _result(
                name,
                time_calls(_http_get(self.client, "/api/v1/customers", q=term, limit=20), REPEAT),
                time_calls(
                    lambda _: self.sql.ours(ranked, (self.cid, term), custom_plan=True), REPEAT
                ),
                time_calls(
                    lambda _: self.sql.naive(naive_sql, (self.cid, *naive_params)), NAIVE_REPEAT
                ),
                "≤ 25 ms",
                notes=f"term {term!r}: ours {len(found)} hits, naive {len(naive_found)}",
            )
        )

    def searches(self) -> None:
        full_name = str(
            self.sample("name", "name_ar IS NOT NULL AND name ~ '^[A-Za-z]+ [A-Za-z]+$'")
        )
        last = full_name.split()[-1]
        fragment = last[: max(4, len(last) - 2)].lower()
        ilike = "name ILIKE %s OR name_ar ILIKE %s OR business_name ILIKE %s OR email ILIKE %s"
        self._search("search: name fragment", fragment, ilike, (f"%{fragment}%",) * 4)
        misspelt = full_name[:3] + full_name[4:]
        self._search("search: misspelt name", misspelt, ilike, (f"%{misspelt}%",) * 4)
        arabic = str(self.sample("name_ar", "name_ar ~ '[أإة]'"))
        variant = arabic.translate(str.maketrans("أإة", "ااه"))
        self._search(
            "search: Arabic name, other hamza/taa marbuta",
            variant,
            "name_ar ILIKE %s",
            (f"%{variant}%",),
        )
        phone = str(self.sample("phone", "phone IS NOT NULL"))
        self._search(
            "search: phone fragment (7 digits)", phone[-7:], "phone ILIKE %s", (f"%{phone[-7:]}%",)
        )

    # ----- exact lookups ---------------------------------------------------------------
    def lookups(self) -> None:
        exact = f"SELECT {COLUMNS} FROM customers WHERE company_id = %s AND deleted_at IS NULL"
        # The conditions the service issues (customers.service._lookup_conditions).
        conditions = {
            "trn": "trn = %s",
            "email": "(email = %s OR (secondary_emails <> '{}' AND secondary_emails @> ARRAY[%s]))",
            "phone": "(phone = %s OR (secondary_phones <> '{}' AND secondary_phones @> ARRAY[%s]))",
        }
        for column, condition in conditions.items():
            value = str(self.sample(column, f"{column} IS NOT NULL"))

            def ours(_: int, condition: str = condition, value: str = value) -> object:
                values = (value,) * condition.count("%s")
                return self.sql.ours(
                    f"{exact} AND {condition} ORDER BY name, id LIMIT 51", (self.cid, *values)
                )

            def naive(_: int, column: str = column, value: str = value) -> object:
                return self.sql.naive(f"{exact} AND lower({column}) ILIKE %s", (self.cid, value))

            self.add(
                _result(
                    f"exact {column} lookup",
                    time_calls(
                        _http_get(self.client, "/api/v1/customers", **{column: value}), REPEAT
                    ),
                    time_calls(ours, REPEAT),
                    time_calls(naive, NAIVE_REPEAT),
                    "≤ 3 ms",
                )
            )

    # ----- detail with history -----------------------------------------------------------
    def detail(self) -> None:
        created = self.client.request(
            "POST", "/api/v1/customers", body={"name": "History Person", "city": "Dubai 0"}
        )
        customer_id = created["id"]
        for i in range(1, 55):
            path = f"/api/v1/customers/{customer_id}"
            self.client.request("PATCH", path, body={"city": f"Dubai {i}"})

        def http(_: int) -> None:
            self.client.get(f"/api/v1/customers/{customer_id}")
            self.client.get(f"/api/v1/customers/{customer_id}/history", limit=50)

        history = (
            "SELECT * FROM audit_log WHERE company_id = %s AND entity_type = 'customer'"
            " AND entity_id = %s ORDER BY occurred_at DESC, id DESC LIMIT 51"
        )

        def sql(_: int) -> None:
            self.sql.ours(
                "SELECT * FROM customers WHERE company_id = %s AND id = %s", (self.cid, customer_id)
            )
            self.sql.ours(history, (self.cid, customer_id))

        def naive(_: int) -> None:
            self.sql.naive("SELECT * FROM customers WHERE id = %s", (customer_id,))
            self.sql.naive(
                "SELECT * FROM audit_log WHERE entity_id::text = %s ORDER BY occurred_at DESC"
                " OFFSET 0 LIMIT 50",
                (customer_id,),
            )

        self.add(
            _result(
                "customer detail + last 50 history",
                time_calls(http, REPEAT),
                time_calls(sql, REPEAT),
                time_calls(naive, NAIVE_REPEAT),
                "≤ 15 ms",
            )
        )

    # ----- creates ---------------------------------------------------------------------
    def creates(self) -> None:
        run = uuid.uuid4().int % 10**9
        serial = itertools.count()

        def body(i: int) -> dict[str, Any]:
            return {
                "name": f"Created {run} {i}",
                "trn": f"999{run:09d}{i:03d}",
                "phone": f"050{(run + i) % 10**7:07d}",
            }

        def create(_: int) -> None:
            self.client.request("POST", "/api/v1/customers", body=body(next(serial)))

        def naive(_: int) -> None:
            payload = body(next(serial))
            self.sql.naive(
                "SELECT id FROM customers WHERE company_id = %s AND lower(name) = lower(%s)"
                " AND deleted_at IS NULL",
                (self.cid, payload["name"]),
            )
            self.sql.naive(
                "INSERT INTO customers (company_id, id, kind, name, trn) VALUES"
                " (%s, gen_random_uuid(), 'individual', %s, %s) RETURNING id",
                (self.cid, payload["name"], payload["trn"]),
            )

        self.add(
            _result(
                "create with duplicate check",
                time_calls(create, REPEAT),
                None,
                time_calls(naive, NAIVE_REPEAT),
                "—",
                notes="naive: name scan + bare INSERT, no audit",
            )
        )
        self.add(self.concurrent_creates(body))

    def concurrent_creates(self, body: Callable[[int], dict[str, Any]]) -> ScenarioResult:
        """CONCURRENT_CREATES creates at once from as many open connections, against
        `majlis serve --workers 2` in its own processes, as an operator runs it on two cores."""
        with serving(workers=2) as base_url:
            elapsed, statuses = asyncio.run(_all_at_once(base_url, self.company.token, body))
        return ScenarioResult(
            f"{CONCURRENT_CREATES} concurrent creates (all done)",
            Timing.of([elapsed]),
            target="≤ 1 s",
            throughput=CONCURRENT_CREATES / elapsed,
            notes=f"{statuses.count(201)} of {CONCURRENT_CREATES} answered 201;"
            " majlis serve --workers 2",
        )

    # ----- analytics -------------------------------------------------------------------
    def analytics(self) -> None:
        aggregate = (
            "SELECT business_type, source, count(*), sum(outstanding_balance) FROM customers"
            " WHERE company_id = %s AND deleted_at IS NULL GROUP BY ROLLUP (business_type, source)"
        )

        def sql(_: int) -> None:
            for view in (
                "customer_analytics_current",
                "customer_daily_performance",
                "customer_weekly_trend",
            ):
                self.sql.ours(f"SELECT * FROM {view}")

        self.add(
            _result(
                "analytics summary",
                time_calls(_http_get(self.client, "/api/v1/analytics/customers"), REPEAT),
                time_calls(sql, REPEAT),
                time_calls(lambda _: self.sql.naive(aggregate, (self.cid,)), NAIVE_REPEAT),
                "≤ 20 ms",
            )
        )

    def close(self) -> None:
        self.client.close()
        self.sql.close()


# ----- import -----------------------------------------------------------------------------
def _import_file(rows: int, pools: NamePools, company_id: uuid.UUID) -> bytes:
    lines = ["name,name_ar,business_name,email,phone,trn,external_ref,city,emirate"]
    for _, row in zip(range(rows), CustomerRows(company_id, 99, pools), strict=False):
        cells = [row[3], row[4], row[5], row[6], row[7], row[8], row[9], row[10], row[11]]
        lines.append(",".join("" if c is None else str(c).replace(",", " ") for c in cells))
    return ("\n".join(lines) + "\n").encode()


def import_scenario(rows: int, console: Console) -> ScenarioResult:
    """Stage (validate) and apply a `rows`-row CSV; beside raw COPY and per-row INSERTs."""
    from majlis.bench.datagen import create_company

    company = create_company(f"Bench import {uuid.uuid4().hex[:6]}")
    content = _import_file(rows, NamePools.draw(7), company.company_id)
    actor = Actor.system(company.company_id)
    admin = get_engine("admin").raw_connection()
    started = time.perf_counter()
    with admin.cursor() as cursor:  # type: ignore[attr-defined]
        cursor.execute("CREATE TEMP TABLE raw_copy (line text)")
        with cursor.copy("COPY raw_copy FROM STDIN") as copy:
            copy.write(content.replace(b"\\", b"\\\\"))
    admin.rollback()
    raw_seconds = time.perf_counter() - started
    started = time.perf_counter()
    with tenant_session(get_engine("app"), actor.company_id) as session:
        job = imports.stage_import(
            session, actor, io.BytesIO(content), imports.ImportRequest("bench.csv")
        )
    staged_seconds = time.perf_counter() - started
    imports.apply_import(get_engine("app"), actor, job.id)
    total_seconds = time.perf_counter() - started
    sample = 2000
    started = time.perf_counter()
    with admin.cursor() as cursor:  # type: ignore[attr-defined]
        for i in range(sample):
            cursor.execute(
                "INSERT INTO customers (company_id, id, kind, name, phone) VALUES"
                " (%s, gen_random_uuid(), 'individual', %s, %s)",
                (company.company_id, f"Row by row {i}", f"+97150{i:07d}"),
            )
            admin.commit()
    per_row_rate = sample / (time.perf_counter() - started)
    admin.close()
    validated_rate, applied_rate, raw_rate = (
        rows / staged_seconds,
        rows / total_seconds,
        rows / raw_seconds,
    )
    console.print(
        f"  import {rows:,} rows: validated {validated_rate:,.0f}/s, end-to-end"
        f" {applied_rate:,.0f}/s, raw COPY {raw_rate:,.0f}/s, per-row INSERT {per_row_rate:,.0f}/s"
    )
    return ScenarioResult(
        f"import {rows:,}-row CSV (stage+validate, then apply)",
        Timing.of([total_seconds]),
        target="≥ 25,000 rows/s",
        unit="s",
        throughput=validated_rate,
        naive_throughput=per_row_rate,
        notes="throughput = validated rows/s; naive = per-row INSERT + commit",
        extra={
            "validated_rows_per_s": validated_rate,
            "end_to_end_rows_per_s": applied_rate,
            "raw_copy_rows_per_s": raw_rate,
            "validated_over_raw_copy": validated_rate / raw_rate,
            "per_row_insert_rows_per_s": per_row_rate,
            "inserted": job.total_rows,
        },
    )


SCENARIOS = ("listing", "searches", "lookups", "detail", "creates", "analytics", "import")


def run(
    scale: int, console: Console, only: Sequence[str] = SCENARIOS, reuse: bool = False
) -> list[ScenarioResult]:
    """Load `scale` customers into one company (plus a skewed tail) and run the scenarios.

    `only` picks a subset of SCENARIOS (`majlis bench run customers --only lookups`),
    so one change can be re-measured without the whole 15-minute run.
    """
    unknown = set(only) - set(SCENARIOS)
    if unknown:
        raise ValueError(f"unknown scenarios {sorted(unknown)}; choose from {SCENARIOS}")
    started = time.perf_counter()
    console.print(f"{'finding' if reuse else 'loading'} {scale:,} customers (+ smaller tenants) …")
    company = load_bench_data(scale, reuse=reuse)[0]
    console.print(f"  loaded in {time.perf_counter() - started:,.0f} s")
    with serving(workers=1) as base_url:
        suite = Suite(company, scale, base_url, console)
        try:
            for name in SCENARIOS[:-1]:
                if name in only:
                    getattr(suite, name)()
            if "import" in only:
                suite.add(import_scenario(min(scale, 1_000_000), console))
        finally:
            suite.close()
    return suite.results
