"""Customer imports as one recoverable job.

1. `stage_import` (one transaction): COPY the file's rows into a temporary
   table, clean and validate them set-based into `import_rows` (per-row errors
   with row number, column and message), flag rows that match existing
   customers by identifier, and create the job. A crash here leaves nothing.
2. `apply_next_batch` (one transaction per batch): insert or update the next
   `batch_size` rows and advance the job's `applied_through` in the same
   transaction. A crash leaves the committed batches plus a job that
   `apply_import` resumes from where it stopped — never half a row.

Phones are normalised in SQL for the company's country (national, 00- and
+-prefixed forms), so validation stays set-based at tens of thousands of rows
per second.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import IO, Any

from sqlalchemy import Engine, select, text
from sqlalchemy.orm import Session

from majlis.accounts.service import company_region
from majlis.core import audit, outbox
from majlis.core.db import tenant_session
from majlis.core.errors import NotFound, ValidationFailed
from majlis.core.ids import new_id
from majlis.core.pagination import DEFAULT_LIMIT, Page, decode_cursor, encode_cursor
from majlis.core.permissions import ALL, NONE, Action, Actor, Matrix, Role, require
from majlis.customers.models import Customer
from majlis.imports.models import ImportJob, ImportPolicy, ImportRow, ImportStatus
from majlis.imports.reading import FIELDS, Sheet, map_headers, open_sheet

ENTITY = "import_job"
DEFAULT_BATCH_SIZE = 50_000
BULK_TIMEOUT = "30min"
COUNTRY_CALLING_CODES = {"AE": "971", "TH": "66"}

# Importing writes customers in bulk: owners and managers only.
IMPORTS: Matrix = {
    Role.OWNER: {Action.CREATE: ALL, Action.VIEW: ALL},
    Role.MANAGER: {Action.CREATE: ALL, Action.VIEW: ALL},
    Role.SALES: {Action.CREATE: NONE, Action.VIEW: NONE},
    Role.ANALYST: {Action.CREATE: NONE, Action.VIEW: NONE},
}

_DIGITS_FROM = "".join(chr(base + i) for base in (0x660, 0x6F0, 0xE50) for i in range(10))
_DIGITS_TO = "0123456789" * 3

_CLEAN_ROWS = f"""
SELECT row_number, majlis_uuid_v7() AS customer_id,
       coalesce(lower(nullif(btrim(kind), '')), 'individual') AS kind,
       nullif(btrim(name), '') AS name,
       nullif(btrim(name_ar), '') AS name_ar,
       nullif(btrim(business_name), '') AS business_name,
       nullif(btrim(business_name_ar), '') AS business_name_ar,
       lower(nullif(btrim(email), '')) AS email,
       nullif(btrim(phone), '') AS raw_phone,
       nullif(regexp_replace(translate(phone, '{_DIGITS_FROM}', '{_DIGITS_TO}'),
                             '[^0-9]', '', 'g'), '') AS phone_digits,
       nullif(regexp_replace(translate(trn, '{_DIGITS_FROM}', '{_DIGITS_TO}'),
                             '[[:space:]./-]', '', 'g'), '') AS trn,
       nullif(btrim(external_ref), '') AS external_ref,
       nullif(btrim(address_line1), '') AS address_line1,
       nullif(btrim(city), '') AS city,
       nullif(btrim(emirate), '') AS emirate,
       upper(nullif(btrim(country), '')) AS country,
       nullif(upper(regexp_replace(btrim(business_type), '[[:space:]-]+', '_', 'g')), '')
         AS business_type,
       nullif(btrim(tags), '') AS tags,
       nullif(btrim(notes), '') AS notes,
       CASE WHEN nullif(btrim(is_active), '') IS NULL THEN NULL
            WHEN lower(btrim(is_active)) IN ('true', 'yes', 'y', '1', 'active', 'نعم') THEN 'true'
            WHEN lower(btrim(is_active)) IN ('false', 'no', 'n', '0', 'inactive', 'لا')
              THEN 'false'
            ELSE 'invalid' END AS is_active
  FROM import_upload
"""

_E164 = """
CASE WHEN raw_phone ~ '^[[:space:]]*[+]' THEN phone_digits
     WHEN phone_digits LIKE '00%' THEN substr(phone_digits, 3)
     WHEN phone_digits LIKE '0%' THEN :calling_code || substr(phone_digits, 2)
     WHEN phone_digits LIKE :calling_code || '%'
          AND length(phone_digits) >= length(:calling_code) + 8 THEN phone_digits
     ELSE :calling_code || phone_digits END
"""


ROW_CHECKS = (
    ("name IS NULL", "name", "is required"),
    ("length(name) > 300", "name", "must be at most 300 characters"),
    ("kind NOT IN ('individual', 'organization')", "kind", "must be individual or organization"),
    (
        "email IS NOT NULL AND email !~ '^[^@[:space:]]+@[^@[:space:]]+[.][^@[:space:]]+$'",
        "email",
        "is not an e-mail address",
    ),
    ("trn IS NOT NULL AND trn !~ '^[0-9]{15}$'", "trn", "a TRN is exactly 15 digits"),
    ("raw_phone IS NOT NULL AND phone IS NULL", "phone", "is not a valid phone number"),
    (
        "business_type IS NOT NULL"
        " AND business_type <> ALL (enum_range(NULL::business_type)::text[])",
        "business_type",
        "is not a known business type",
    ),
    ("country IS NOT NULL AND country !~ '^[A-Z]{2}$'", "country", "must be two letters"),
    ("is_active = 'invalid'", "is_active", "must be yes/no or true/false"),
)


def _row_errors_sql() -> str:
    """A JSON array of {column, message}; built only for rows that fail a check (most pass)."""
    any_failed = " OR ".join(f"({condition})" for condition, _, _ in ROW_CHECKS)
    items = ", ".join(
        f"CASE WHEN {condition} THEN jsonb_build_object('column', '{column}',"
        f" 'message', '{message}') END"
        for condition, column, message in ROW_CHECKS
    )
    return (
        f"CASE WHEN {any_failed} THEN"
        f" jsonb_path_query_array(jsonb_build_array({items}), '$[*] ? (@ != null)')"
        " ELSE '[]'::jsonb END"
    )


# Each step is MATERIALIZED so PostgreSQL computes a cleaned value once per row
# instead of inlining its expression into every later reference.
_STAGE_ROWS = f"""
WITH cleaned AS MATERIALIZED ({_CLEAN_ROWS}),
dialled AS MATERIALIZED (SELECT cleaned.*, {_E164} AS full_phone FROM cleaned),
normalised AS MATERIALIZED (
    SELECT dialled.*,
           CASE WHEN full_phone LIKE :calling_code || '%'
                     AND length(full_phone) - length(:calling_code) BETWEEN 8 AND 9
                  THEN '+' || full_phone
                WHEN full_phone NOT LIKE :calling_code || '%'
                     AND length(full_phone) BETWEEN 8 AND 15
                  THEN '+' || full_phone
           END AS phone
      FROM dialled
)
INSERT INTO import_rows (company_id, job_id, row_number, customer_id, {", ".join(FIELDS)}, errors)
SELECT :company_id, :job_id, row_number, customer_id,
       kind, name, name_ar, business_name, business_name_ar, email, phone, trn, external_ref,
       address_line1, city, emirate, country, business_type, tags, notes, is_active,
       {_row_errors_sql()}
  FROM normalised
"""

# Identifiers in the order they decide a match.
MATCH_KEYS = ("trn", "external_ref", "email", "phone")
UNIQUE_KEYS = ("trn", "external_ref")
_JOB_ROWS = "r.company_id = :company_id AND r.job_id = :job_id"


def _match_existing(session: Session, params: dict[str, Any]) -> None:
    for key in MATCH_KEYS:
        session.execute(
            text(
                f"UPDATE import_rows r SET match_id = c.id, matched_by = '{key}'"
                f"  FROM customers c WHERE {_JOB_ROWS} AND r.match_id IS NULL"
                f"   AND r.{key} IS NOT NULL AND c.company_id = :company_id"
                f"   AND c.deleted_at IS NULL AND c.{key} = r.{key}"
            ),
            params,
        )


def _flag_conflicts(session: Session, params: dict[str, Any], policy: ImportPolicy) -> None:
    for key in UNIQUE_KEYS:
        # Materialized so the window runs once, not once per updated row.
        session.execute(
            text(
                "WITH repeats AS MATERIALIZED ("
                "  SELECT row_number, first_row FROM ("
                f"    SELECT row_number, min(row_number) OVER (PARTITION BY {key}) AS first_row"
                "       FROM import_rows"
                f"     WHERE company_id = :company_id AND job_id = :job_id AND {key} IS NOT NULL"
                "  ) numbered WHERE first_row <> row_number)"
                " UPDATE import_rows r SET errors = r.errors || jsonb_build_array("
                f"  jsonb_build_object('column', '{key}', 'message',"
                "     'repeats row ' || d.first_row))"
                f"  FROM repeats d WHERE {_JOB_ROWS} AND r.row_number = d.row_number"
            ),
            params,
        )
    if policy is ImportPolicy.CREATE:
        session.execute(
            text(
                "UPDATE import_rows r SET errors = r.errors || jsonb_build_array("
                "  jsonb_build_object('column', r.matched_by, 'message',"
                "     'already belongs to customer ' || r.match_id))"
                f" WHERE {_JOB_ROWS} AND r.matched_by IN ('trn', 'external_ref')"
            ),
            params,
        )


def _copy_rows(session: Session, sheet: Sheet, mapping: dict[int, str]) -> int:
    columns = list(mapping.values())
    session.execute(
        text(
            "CREATE TEMP TABLE import_upload (row_number integer,"
            f" {', '.join(f'{field} text' for field in FIELDS)}) ON COMMIT DROP"
        )
    )
    raw = session.connection().connection.driver_connection
    assert raw is not None
    count = 0
    with (
        raw.cursor() as cursor,
        cursor.copy(f"COPY import_upload (row_number, {', '.join(columns)}) FROM STDIN") as copy,
    ):
        indexes = list(mapping)
        for count, row in enumerate(sheet.rows, start=1):
            cells = [row[i] if i < len(row) else "" for i in indexes]
            copy.write_row([count + 1, *cells])
    return count


def allow_long_statements(session: Session) -> None:
    """Bulk statements over a million rows outlast the request-sized statement timeout."""
    session.execute(text(f"SELECT set_config('statement_timeout', '{BULK_TIMEOUT}', true)"))


@dataclass(frozen=True)
class ImportRequest:
    file_name: str
    policy: ImportPolicy = ImportPolicy.SKIP
    dry_run: bool = False
    overrides: dict[str, str | None] | None = None


def stage_import(
    session: Session, actor: Actor, stream: IO[bytes], request: ImportRequest
) -> ImportJob:
    """Read, validate and match every row of a file into a new job (nothing applied yet).

    Row numbers are the file's line numbers as a spreadsheet shows them (the
    header is row 1).
    """
    require(actor, IMPORTS, Action.CREATE)
    sheet = open_sheet(stream, request.file_name)
    mapping = map_headers(sheet.headers, request.overrides or {})
    job = ImportJob(
        company_id=actor.company_id,
        id=new_id(),
        status=ImportStatus.STAGED,
        policy=request.policy,
        file_name=request.file_name,
        encoding=sheet.encoding,
        mapping={sheet.headers[i]: field for i, field in mapping.items()},
        dry_run=request.dry_run,
        created_by=actor.user_id,
    )
    session.add(job)
    session.flush()
    allow_long_statements(session)
    country = company_region(session, actor.company_id).country
    params = {
        "company_id": actor.company_id,
        "job_id": job.id,
        "calling_code": COUNTRY_CALLING_CODES.get(country, "971"),
    }
    _copy_rows(session, sheet, mapping)
    session.execute(text(_STAGE_ROWS), params)
    _match_existing(session, params)
    _flag_conflicts(session, params, request.policy)
    _count_staged(session, job)
    audit.record(session, actor, "import.staged", ENTITY, job.id, after=job_summary(job))
    return job


def _count_staged(session: Session, job: ImportJob) -> None:
    total, invalid, matched = session.execute(
        text(
            "SELECT count(*), count(*) FILTER (WHERE errors <> '[]'),"
            "       count(*) FILTER (WHERE match_id IS NOT NULL)"
            "  FROM import_rows WHERE company_id = :c AND job_id = :j"
        ),
        {"c": job.company_id, "j": job.id},
    ).one()
    job.total_rows, job.invalid_rows, job.matched_rows = total, invalid, matched
    session.flush()


def job_summary(job: ImportJob) -> dict[str, Any]:
    return {
        "status": job.status.value,
        "total_rows": job.total_rows,
        "invalid_rows": job.invalid_rows,
        "matched_rows": job.matched_rows,
        "applied_through": job.applied_through,
        "inserted": job.inserted,
        "updated": job.updated,
        "skipped": job.skipped,
    }


# ----- applying ------------------------------------------------------------------------
_BATCH = f"{_JOB_ROWS} AND r.row_number > :after AND r.row_number <= :upto AND r.errors = '[]'"

_INSERT_BATCH = f"""
INSERT INTO customers (company_id, id, kind, name, name_ar, business_name, business_name_ar,
                       email, phone, trn, external_ref, address_line1, city, emirate, country,
                       business_type, tags, notes, is_active, source, created_by, currency)
SELECT r.company_id, r.customer_id, r.kind::customer_kind, r.name, r.name_ar, r.business_name,
       r.business_name_ar, r.email, r.phone, r.trn, r.external_ref, r.address_line1, r.city,
       r.emirate, r.country, r.business_type::business_type,
       coalesce(array_remove(regexp_split_to_array(r.tags, '[[:space:]]*[;,|][[:space:]]*'), ''),
                '{{}}'),
       r.notes, coalesce(r.is_active::boolean, true), 'import', :user_id, :currency
  FROM import_rows r
 WHERE {_BATCH} AND (r.match_id IS NULL OR :policy = 'create')
"""

_UPDATABLE = (
    "name",
    "name_ar",
    "business_name",
    "business_name_ar",
    "email",
    "phone",
    "trn",
    "external_ref",
    "address_line1",
    "city",
    "emirate",
    "country",
    "notes",
)
_UPDATE_BATCH = f"""
UPDATE customers c
   SET {", ".join(f"{f} = coalesce(r.{f}, c.{f})" for f in _UPDATABLE)},
       business_type = coalesce(r.business_type::business_type, c.business_type),
       is_active = coalesce(r.is_active::boolean, c.is_active),
       version = c.version + 1, updated_at = now()
  FROM import_rows r
 WHERE {_BATCH} AND r.match_id IS NOT NULL AND :policy = 'update'
   AND c.company_id = r.company_id AND c.id = r.match_id
"""

_SKIPPED_BATCH = f"""
SELECT count(*) FROM import_rows r
 WHERE {_BATCH} AND r.match_id IS NOT NULL AND :policy = 'skip'
"""


def get_job(session: Session, actor: Actor, job_id: uuid.UUID, *, lock: bool = False) -> ImportJob:
    require(actor, IMPORTS, Action.VIEW)
    query = select(ImportJob).where(
        ImportJob.company_id == actor.company_id, ImportJob.id == job_id
    )
    job = session.scalar(query.with_for_update() if lock else query)
    if job is None:
        raise NotFound(ENTITY, job_id)
    return job


def apply_next_batch(
    session: Session, actor: Actor, job_id: uuid.UUID, batch_size: int = DEFAULT_BATCH_SIZE
) -> ImportJob:
    """Apply the next batch of valid rows and advance the job, all in the caller's transaction.

    The job row is locked first, so two workers never apply the same batch.
    """
    require(actor, IMPORTS, Action.CREATE)
    job = get_job(session, actor, job_id, lock=True)
    if job.status is ImportStatus.COMPLETED:
        return job
    last_row = job.total_rows + 1  # row 1 is the header
    first_row = job.applied_through + 1
    allow_long_statements(session)
    upto = min(last_row, job.applied_through + batch_size)
    params = {
        "company_id": actor.company_id,
        "job_id": job.id,
        "after": job.applied_through,
        "upto": upto,
        "policy": job.policy.value,
        "user_id": actor.user_id,
        "currency": company_region(session, actor.company_id).currency,
    }
    connection = session.connection()
    inserted = connection.execute(text(_INSERT_BATCH), params).rowcount
    updated = connection.execute(text(_UPDATE_BATCH), params).rowcount
    skipped = session.execute(text(_SKIPPED_BATCH), params).scalar_one()
    job.inserted += inserted
    job.updated += updated
    job.skipped += skipped
    job.applied_through = upto
    done = upto >= last_row
    job.status = ImportStatus.COMPLETED if done else ImportStatus.RUNNING
    job.finished_at = datetime.now(UTC) if done else None
    session.flush()
    audit.record(
        session,
        actor,
        "import.batch_applied",
        ENTITY,
        job.id,
        after={"rows": [first_row, upto], "inserted": inserted, "updated": updated},
    )
    # dedupe (issue 5): the worker indexes this batch's customers for the duplicate check.
    batch = {"job_id": str(job.id), "after": params["after"], "upto": upto}
    outbox.emit(session, actor, "dedupe.imported_customers", batch)
    return job


def apply_import(
    engine: Engine,
    actor: Actor,
    job_id: uuid.UUID,
    *,
    batch_size: int = DEFAULT_BATCH_SIZE,
    on_batch: Callable[[ImportJob], None] | None = None,
) -> ImportJob:
    """Apply (or resume) a staged job batch by batch, one transaction per batch."""
    while True:
        with tenant_session(engine, actor.company_id, actor.user_id) as session:
            job = apply_next_batch(session, actor, job_id, batch_size)
        if on_batch is not None:
            on_batch(job)
        if job.status is ImportStatus.COMPLETED:
            return job


def start_applying(session: Session, actor: Actor, job_id: uuid.UUID) -> ImportJob:
    """Check a job may be applied now (staged or interrupted, not a finished one)."""
    require(actor, IMPORTS, Action.CREATE)
    job = get_job(session, actor, job_id)
    if job.status is ImportStatus.COMPLETED:
        raise ValidationFailed.single("status", "this import has already been applied")
    return job


def row_errors(
    session: Session,
    actor: Actor,
    job_id: uuid.UUID,
    *,
    cursor: str | None = None,
    limit: int = DEFAULT_LIMIT,
) -> Page[tuple[int, str, str]]:
    """(row number, column, message) for every invalid row, in file order, keyset-paged."""
    get_job(session, actor, job_id)
    after = int(decode_cursor(cursor, 1)[0]) if cursor else 0
    rows = session.execute(
        select(ImportRow.row_number, ImportRow.errors)
        .where(
            ImportRow.company_id == actor.company_id,
            ImportRow.job_id == job_id,
            ImportRow.row_number > after,
            ImportRow.errors != text("'[]'::jsonb"),
        )
        .order_by(ImportRow.row_number)
        .limit(limit + 1)
    ).all()
    items = [(n, e["column"], e["message"]) for n, errors in rows[:limit] for e in errors]
    next_cursor = encode_cursor([rows[limit - 1][0]]) if len(rows) > limit else None
    return Page(items, next_cursor)


def recent_jobs(session: Session, actor: Actor, limit: int = DEFAULT_LIMIT) -> list[ImportJob]:
    """The company's latest import jobs, newest first (UUIDv7 ids: the primary key's order)."""
    require(actor, IMPORTS, Action.VIEW)
    return list(
        session.scalars(
            select(ImportJob)
            .where(ImportJob.company_id == actor.company_id)
            .order_by(ImportJob.id.desc())
            .limit(limit)
        )
    )


def staged_rows(
    session: Session, actor: Actor, job_id: uuid.UUID, *, flagged_only: bool, limit: int
) -> list[tuple[ImportRow, str | None]]:
    """A job's first rows in file order (or its first rows with errors or matches), each with
    the name of the existing customer it matches."""
    get_job(session, actor, job_id)
    query = (
        select(ImportRow, Customer.name)
        .outerjoin(
            Customer,
            (Customer.company_id == ImportRow.company_id) & (Customer.id == ImportRow.match_id),
        )
        .where(ImportRow.company_id == actor.company_id, ImportRow.job_id == job_id)
        .order_by(ImportRow.row_number)
        .limit(limit)
    )
    if flagged_only:
        query = query.where(
            (ImportRow.errors != text("'[]'::jsonb")) | ImportRow.match_id.is_not(None)
        )
    return [(row, name) for row, name in session.execute(query).tuples()]


def iter_all_errors(
    session: Session, actor: Actor, job_id: uuid.UUID
) -> Iterator[tuple[int, str, str]]:
    cursor: str | None = None
    while True:
        page = row_errors(session, actor, job_id, cursor=cursor, limit=500)
        yield from page.items
        if page.next_cursor is None:
            return
        cursor = page.next_cursor
