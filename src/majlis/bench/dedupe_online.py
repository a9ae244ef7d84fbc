"""Online duplicate check latency over HTTP, beside the naive way (part of `bench run dedupe`).

Data: one company of `scale` bilingual customers COPYed in through the admin
engine (`datagen`), and their match keys computed with the same code the
service uses (`store.match_keys`) and COPYed in too. Drafts are existing
customers retyped the way people retype them — a typo in the name, the phone
in national format, no e-mail — so each has one known true match.

* **ours**: `POST /api/v1/customers/duplicates/check` on a real uvicorn server
  (app role, RLS, candidate retrieval by the match-key index, scoring in
  Python).
* **naive**: what a CRM without an index does for a fuzzy check — an ILIKE
  scan of the company's customers on the first name token or the phone
  digits, then the same model scoring every hit.

Both report the share of drafts whose true match came back (found rate).
"""

from __future__ import annotations

import random
import time
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
from rich.console import Console
from sqlalchemy import text

from majlis.bench.datagen import (
    BenchCompany,
    CustomerRows,
    NamePools,
    copy_customers,
    create_company,
    earlier_company,
)
from majlis.bench.harness import ScenarioResult, start_server, time_calls
from majlis.core.db import get_engine, tenant_session
from majlis.dedupe import store
from majlis.dedupe.features import prepare_record
from majlis.dedupe.service import POSSIBLE_THRESHOLD, company_size, score_against

DRAFTS = 300
NAIVE_DRAFTS = 30
SEED = 11
TARGET = "p95 ≤ 15 ms at 1M customers"
COMPANY_NAME = "Bench dedupe online"


def _copy_match_keys(company_id: uuid.UUID) -> None:
    """Compute every customer's keys in Python and COPY them in (admin engine, bench only)."""
    engine = get_engine("admin")
    connection = engine.raw_connection()
    try:
        with connection.cursor() as cursor:  # type: ignore[attr-defined]
            cursor.execute("SET LOCAL statement_timeout = 0")
            cursor.execute(
                "CREATE TEMP TABLE bench_keys ON COMMIT DROP AS"
                " SELECT company_id, key, customer_id FROM customer_match_keys WITH NO DATA"
            )
            with cursor.copy("COPY bench_keys (company_id, key, customer_id) FROM STDIN") as copy:
                for record in _records(company_id):
                    for key in store.match_keys(prepare_record(record)):
                        copy.write_row((company_id, key, record["id"]))
            cursor.execute(
                "INSERT INTO customer_match_keys SELECT DISTINCT * FROM bench_keys"
                " ON CONFLICT DO NOTHING"
            )
            cursor.execute("ANALYZE customer_match_keys")
        connection.commit()
    finally:
        connection.close()


def _records(company_id: uuid.UUID) -> Iterator[dict[str, Any]]:
    with tenant_session(get_engine("app"), company_id) as session:
        result = session.execute(
            store.live_customers(company_id).execution_options(yield_per=10_000)
        )
        for row in result.mappings():
            yield store.as_record(row)


def _retyped(record: dict[str, Any], rng: random.Random) -> dict[str, Any]:
    """A draft of an existing customer: a typo in the name, national phone, no e-mail."""
    name = str(record["name"])
    i = rng.randrange(1, max(len(name) - 1, 2))
    draft = {"name": name[:i] + name[i + 1 :] if len(name) > 4 else name}
    if record.get("phone"):
        draft["phone"] = "0" + str(record["phone"]).removeprefix("+971")
    for copied in ("name_ar", "business_name"):
        if record.get(copied):
            draft[copied] = record[copied]
    draft["kind"] = str(record["kind"])
    return draft


# A pseudo-random sample that is the same in every run (the generated names and
# phones do not depend on the run): found rates and timings of two runs then
# come from the same drafts, not from 300 customers drawn anew.
_SAMPLE_ORDER = text("md5(customers.name || coalesce(customers.phone, ''))")


def _drafts(company_id: uuid.UUID, count: int) -> list[tuple[str, dict[str, Any]]]:
    with tenant_session(get_engine("app"), company_id) as session:
        rows = session.execute(
            store.live_customers(company_id).order_by(_SAMPLE_ORDER).limit(count)
        ).mappings()
        records = [store.as_record(row) for row in rows]
    rng = random.Random(SEED)
    return [(str(record["id"]), _retyped(record, rng)) for record in records]


_NAIVE_SCAN = text(
    """
    SELECT id, kind, name, name_ar, business_name, business_name_ar, email, phone,
           secondary_emails, secondary_phones, trn, external_ref, address_line1, city,
           emirate, postal_code, country, date_of_birth, business_type
      FROM customers
     WHERE company_id = :company_id AND deleted_at IS NULL
       AND (name ILIKE :first_name OR phone LIKE :phone)
    """
)


def _naive_check(company_id: uuid.UUID, draft: dict[str, Any]) -> list[str]:
    """ILIKE scan on the first name token or the phone digits, then score every hit."""
    first = draft["name"].split()[0]
    phone_digits = draft.get("phone", "")[-9:] or "-"
    with tenant_session(get_engine("app"), company_id) as session:
        hits = session.execute(
            _NAIVE_SCAN,
            {"company_id": company_id, "first_name": f"%{first}%", "phone": f"%{phone_digits}"},
        ).mappings()
        candidates = [store.as_record(hit) for hit in hits]
        n_records = company_size(session, company_id)
    draft_record = prepare_record({**draft, "phone": "+971" + draft.get("phone", "")[1:]})
    scored = score_against(draft_record, candidates, n_records)
    return [str(c["id"]) for c, pair, _ in scored if pair.match_probability >= POSSIBLE_THRESHOLD]


def _load_company(scale: int, console: Console) -> BenchCompany:
    company = create_company(f"{COMPANY_NAME} {uuid.uuid4().hex[:6]}")
    console.print(f"online check: loading {scale:,} customers")
    rows = CustomerRows(company.company_id, SEED, NamePools.draw(SEED))
    copy_customers(get_engine("admin"), iter(rows), scale)
    with get_engine("admin").begin() as conn:
        conn.exec_driver_sql("ANALYZE customers")
    _copy_match_keys(company.company_id)
    return company


def _match_key_count(company_id: uuid.UUID) -> int:
    with get_engine("admin").connect() as conn:
        return int(
            conn.scalar(
                text("SELECT count(*) FROM customer_match_keys WHERE company_id = :id"),
                {"id": company_id},
            )
            or 0
        )


def online_check_scenario(scale: int, console: Console, reuse: bool = False) -> ScenarioResult:
    """Online check p95 over HTTP at `scale` customers, beside an ILIKE-scan-and-score check.

    With `reuse`, the company an earlier run of this scale loaded is measured
    again when it is there (loading and keying a million customers takes minutes).
    """
    earlier = earlier_company(COMPANY_NAME, scale) if reuse else None
    company = earlier or _load_company(scale, console)
    keys = _match_key_count(company.company_id)
    console.print(f"online check: {keys:,} match keys; timing {DRAFTS} checks")
    drafts = _drafts(company.company_id, DRAFTS)
    base_url, server = start_server()
    found = {"ours": 0, "naive": 0}
    try:
        with httpx.Client(
            base_url=base_url, headers={"Authorization": f"Bearer {company.token}"}, timeout=60
        ) as client:

            def ours(i: int) -> None:
                truth, draft = drafts[i % len(drafts)]
                response = client.post("/api/v1/customers/duplicates/check", json=draft)
                response.raise_for_status()
                ids = [m["customer_id"] for m in response.json()["matches"]]
                found["ours"] += truth in ids

            client.post("/api/v1/customers/duplicates/check", json={"name": "Warm Up"})
            # Server and client share this process: its CPU time per check is a
            # steadier figure than wall time on a shared machine (PostgreSQL's is not in it).
            cpu_started = time.process_time()
            ours_timing = time_calls(ours, repeat=len(drafts), warmup=0)
            cpu_ms = (time.process_time() - cpu_started) * 1000 / len(drafts)

            def naive(i: int) -> None:
                truth, draft = drafts[i % len(drafts)]
                found["naive"] += truth in _naive_check(company.company_id, draft)

            naive_timing = time_calls(naive, repeat=NAIVE_DRAFTS, warmup=0)
    finally:
        server.should_exit = True
    return ScenarioResult(
        name=f"online duplicate check, {scale:,} customers (HTTP)",
        ours=ours_timing,
        naive=naive_timing,
        target=TARGET,
        notes=(
            f"true match found: ours {found['ours'] / len(drafts):.1%} of {len(drafts)} drafts,"
            f" naive ILIKE+score {found['naive'] / NAIVE_DRAFTS:.1%} of {NAIVE_DRAFTS};"
            f" {cpu_ms:.2f} ms of CPU per check (server and client process)"
        ),
        extra={
            "match_keys": keys,
            "drafts": len(drafts),
            "naive_drafts": NAIVE_DRAFTS,
            "cpu_ms_per_check": round(cpu_ms, 3),
        },
    )
