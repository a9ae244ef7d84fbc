"""The import wizard and the export of the customers list.

Every step calls `majlis.imports.service` inside `signed_in(...)`, so the
`IMPORTS` matrix, tenancy and audit are those of `POST /api/v1/imports`:

upload → column mapping → preview (the service's dry run: a staged job, no
customer written) → run (`start_applying` + `apply_import` after the response,
as the API does) → progress (HTMX polling, a refresh link without JavaScript)
→ summary. The uploaded file waits between the mapping and the run under
`MAJLIS_HOME/import-uploads/<company id>/<upload id>/`, so only its company
can reach it; uploads older than a day are removed at the next upload.

`/customers/export` streams the list's own filters through
`majlis.exports.service`, the service behind `GET /api/v1/exports/customers`.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import shutil
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any
from urllib.parse import urlencode

from fastapi import APIRouter, BackgroundTasks, Request, Response
from fastapi.responses import StreamingResponse
from starlette.datastructures import FormData, UploadFile

from majlis.core.boundary import body_limit
from majlis.core.config import load_settings
from majlis.core.db import get_engine, tenant_session
from majlis.core.errors import FieldError, NotFound, ValidationFailed
from majlis.core.permissions import CUSTOMERS, Action, Actor, can, require
from majlis.exports import service as exports
from majlis.exports.api import MEDIA_TYPES
from majlis.exports.service import ExportFormat
from majlis.imports import service
from majlis.imports.api import base_name
from majlis.imports.models import ImportJob, ImportPolicy, ImportRow, ImportStatus
from majlis.imports.reading import FIELDS, open_sheet, suggested_fields
from majlis.web.customer_pages import ListQuery, attempt
from majlis.web.forms import VerifiedForm, text_value
from majlis.web.locale import N_
from majlis.web.rendering import Page, PageRoute, is_htmx, redirect, signed_in, templates

router = APIRouter(route_class=PageRoute, include_in_schema=False)

UPLOADS_DIR = "import-uploads"
UPLOAD_MAX_BYTES = body_limit("/api/v1/imports")  # the same file size the API accepts
UPLOAD_KEPT_S = 24 * 3600
SOURCE_FILE, NAME_FILE = "source", "name"
SUFFIXES = (".csv", ".txt", ".xlsx", ".xlsm")
COPY_CHUNK = 1 << 20
PREVIEW_ROWS = 20
ERRORS_SHOWN = 50
JOBS_SHOWN = 25
IGNORE = ""

FIELD_LABELS = {
    "kind": N_("Type"),
    "name": N_("Name"),
    "name_ar": N_("Name in Arabic"),
    "business_name": N_("Business name"),
    "business_name_ar": N_("Business name in Arabic"),
    "email": N_("Email"),
    "phone": N_("Phone"),
    "trn": N_("TRN"),
    "external_ref": N_("External reference"),
    "address_line1": N_("Address line 1"),
    "city": N_("City"),
    "emirate": N_("Emirate or province"),
    "country": N_("Country code"),
    "business_type": N_("Business type"),
    "tags": N_("Tags"),
    "notes": N_("Notes"),
    "is_active": N_("Active customer"),
}
POLICIES = (
    (ImportPolicy.SKIP, N_("Skip the row and keep the existing customer")),
    (ImportPolicy.UPDATE, N_("Update the existing customer with the row")),
    (ImportPolicy.CREATE, N_("Create a new customer anyway")),
)
OUTCOMES = {
    ImportPolicy.SKIP: N_("it will be skipped"),
    ImportPolicy.UPDATE: N_("it will be updated"),
    ImportPolicy.CREATE: N_("a new customer will be created"),
}
STATUS_LABELS = {
    ImportStatus.STAGED: N_("Previewed"),
    ImportStatus.RUNNING: N_("Running"),
    ImportStatus.COMPLETED: N_("Completed"),
    ImportStatus.FAILED: N_("Failed"),
}
STEPS = (
    ("upload", N_("Upload")),
    ("mapping", N_("Columns")),
    ("preview", N_("Preview")),
    ("run", N_("Import")),
)
NO_FILE = N_("Choose a CSV or XLSX file to import.")
UNKNOWN_TYPE = N_("Only CSV and XLSX files can be imported.")
EMPTY_FILE = N_("The file is empty.")
TOO_LARGE = N_("The file is larger than the upload limit.")
NO_HEADERS = N_("The file has no header row.")
MAPPED_TWICE = N_("Two columns are mapped to the same field.")


def may_import(actor: Actor) -> bool:
    return can(actor, service.IMPORTS, Action.CREATE)


def may_export(actor: Actor) -> bool:
    return can(actor, CUSTOMERS, Action.EXPORT)


def export_url(query: ListQuery, fmt: str) -> str:
    """The export of exactly what the list shows (its filters and search; not its page)."""
    values = {**dataclasses.asdict(query), "cursor": None, "sort": None}
    return "/customers/export?" + urlencode(
        {"format": fmt, **{k: v for k, v in values.items() if v}}
    )


# The nav link in base.html and the Export links in customers/list.html ask these.
templates.globals.update(may_import=may_import, may_export=may_export, export_url=export_url)


# ----- the file between the wizard's steps -----------------------------------------------------
def _company_uploads(actor: Actor) -> Path:
    return load_settings().home / UPLOADS_DIR / str(actor.company_id)


@dataclass(frozen=True)
class Upload:
    """An uploaded file kept for its company until the import runs (or a day passes)."""

    id: uuid.UUID
    folder: Path

    @property
    def source(self) -> Path:
        return self.folder / SOURCE_FILE

    @property
    def file_name(self) -> str:
        return (self.folder / NAME_FILE).read_text(encoding="utf-8")

    @classmethod
    def find(cls, actor: Actor, upload_id: uuid.UUID) -> Upload:
        upload = cls(upload_id, _company_uploads(actor) / str(upload_id))
        if not upload.source.is_file():
            raise NotFound("import_upload", upload_id)
        return upload

    def discard(self) -> None:
        shutil.rmtree(self.folder, ignore_errors=True)


def _discard_stale_uploads(actor: Actor) -> None:
    root = _company_uploads(actor)
    if not root.is_dir():
        return
    oldest = time.time() - UPLOAD_KEPT_S
    for folder in root.iterdir():
        if folder.stat().st_mtime < oldest:
            shutil.rmtree(folder, ignore_errors=True)


def _copy_limited(source: IO[bytes], target: Path) -> int:
    """Copy the upload to disk, stopping once it outgrows the limit; the bytes copied."""
    size = 0
    with target.open("wb") as out:
        while chunk := source.read(COPY_CHUNK):
            size += len(chunk)
            if size > UPLOAD_MAX_BYTES:
                break
            out.write(chunk)
    return size


def keep_upload(actor: Actor, form: FormData) -> Upload:
    """Check the posted file (present, CSV or XLSX, not empty, not too large) and keep it."""
    posted = form.get("file")
    if not isinstance(posted, UploadFile) or not posted.filename:
        raise ValidationFailed.single("file", NO_FILE)
    file_name = base_name(posted.filename)
    if Path(file_name).suffix.lower() not in SUFFIXES:
        raise ValidationFailed.single("file", UNKNOWN_TYPE)
    _discard_stale_uploads(actor)
    upload_id = uuid.uuid4()
    upload = Upload(upload_id, _company_uploads(actor) / str(upload_id))
    upload.folder.mkdir(parents=True, mode=0o700)
    size = _copy_limited(posted.file, upload.source)
    (upload.folder / NAME_FILE).write_text(file_name, encoding="utf-8")
    refusal = EMPTY_FILE if size == 0 else TOO_LARGE if size > UPLOAD_MAX_BYTES else None
    if refusal is not None:
        upload.discard()
        raise ValidationFailed.single("file", refusal)
    return upload


@dataclass(frozen=True)
class Column:
    index: int
    header: str
    example: str
    field: str | None


def read_columns(upload: Upload) -> list[Column]:
    """The file's headers with the first row's values and the service's suggested fields."""
    with upload.source.open("rb") as stream:
        sheet = open_sheet(stream, upload.file_name)
        first_row = next(sheet.rows, [])
    if not any(sheet.headers):
        raise ValidationFailed.single("file", NO_HEADERS)
    return [
        Column(index, header, first_row[index] if index < len(first_row) else "", field)
        for index, (header, field) in enumerate(
            zip(sheet.headers, suggested_fields(sheet.headers), strict=True)
        )
    ]


# ----- upload ---------------------------------------------------------------------------------
def _upload_form(page: Page, errors: list[FieldError] | None = None) -> Response:
    return page.render(
        "imports/new.html",
        status_code=422 if errors else 200,
        steps=STEPS,
        step="upload",
        errors={error.field: error.message for error in errors or []},
        max_mib=UPLOAD_MAX_BYTES // (1024 * 1024),
    )


@router.get("/imports")
def import_list(request: Request) -> Response:
    """The company's recent import jobs, newest first."""
    with signed_in(request) as page:
        jobs = service.recent_jobs(page.db, page.actor, JOBS_SHOWN)
        return page.render("imports/list.html", jobs=jobs, status_labels=STATUS_LABELS)


@router.get("/imports/new")
def new_import(request: Request) -> Response:
    with signed_in(request) as page:
        require(page.actor, service.IMPORTS, Action.CREATE)
        return _upload_form(page)


@router.post("/imports/new")
def upload_file(request: Request, form: VerifiedForm) -> Response:
    """Keep the file and read its header row; nothing reaches the database yet."""
    with signed_in(request) as page:
        require(page.actor, service.IMPORTS, Action.CREATE)
        upload: Upload | None = None
        try:
            upload = keep_upload(page.actor, form)
            read_columns(upload)
        except ValidationFailed as exc:
            if upload is not None:
                upload.discard()
            return _upload_form(page, exc.errors)
        return redirect(request, f"/imports/uploads/{upload.id}")


# ----- column mapping -------------------------------------------------------------------------
def _mapping_form(
    page: Page,
    upload: Upload,
    columns: list[Column],
    policy: ImportPolicy = ImportPolicy.SKIP,
    errors: list[FieldError] | None = None,
) -> Response:
    return page.render(
        "imports/mapping.html",
        status_code=422 if errors else 200,
        steps=STEPS,
        step="mapping",
        upload=upload,
        columns=columns,
        fields=[(field, FIELD_LABELS[field]) for field in FIELDS],
        policies=POLICIES,
        policy=policy,
        errors=errors or [],
    )


@router.get("/imports/uploads/{upload_id}")
def map_columns(request: Request, upload_id: uuid.UUID) -> Response:
    with signed_in(request) as page:
        require(page.actor, service.IMPORTS, Action.CREATE)
        upload = Upload.find(page.actor, upload_id)
        return _mapping_form(page, upload, read_columns(upload))


def _posted_mapping(form: FormData, columns: list[Column]) -> list[Column]:
    chosen = [text_value(form, f"column-{column.index}") for column in columns]
    return [
        dataclasses.replace(column, field=field if field in FIELDS else None)
        for column, field in zip(columns, chosen, strict=True)
    ]


def _policy(form: FormData) -> ImportPolicy:
    value = text_value(form, "policy")
    return ImportPolicy(value) if value in set(ImportPolicy) else ImportPolicy.SKIP


@router.post("/imports/uploads/{upload_id}")
def preview_import(request: Request, upload_id: uuid.UUID, form: VerifiedForm) -> Response:
    """Stage the file with the chosen mapping as a dry run: the service validates every row."""
    with signed_in(request) as page:
        require(page.actor, service.IMPORTS, Action.CREATE)
        upload = Upload.find(page.actor, upload_id)
        columns = _posted_mapping(form, read_columns(upload))
        policy = _policy(form)
        mapped = [column.field for column in columns if column.field]
        if len(mapped) != len(set(mapped)):
            errors = [FieldError("mapping", MAPPED_TWICE)]
            return _mapping_form(page, upload, columns, policy, errors)
        overrides = {column.header: column.field for column in columns}
        dry_run = service.ImportRequest(upload.file_name, policy, dry_run=True, overrides=overrides)
        with upload.source.open("rb") as stream:
            job, refusal = attempt(
                page, lambda: service.stage_import(page.db, page.actor, stream, dry_run)
            )
        if job is None:
            return _mapping_form(page, upload, columns, policy, refusal.errors)
        return redirect(request, f"/imports/{job.id}?upload={upload.id}")


# ----- preview, progress, summary -------------------------------------------------------------
def _upload_of(page: Page, raw: str | None) -> Upload | None:
    """The wizard's kept file named in the address, if it is still there."""
    try:
        return Upload.find(page.actor, uuid.UUID(raw or ""))
    except (ValueError, NotFound):
        return None


def _job_page(page: Page, template: str, job: ImportJob, **values: Any) -> Response:
    return page.render(
        template,
        job=job,
        steps=STEPS,
        status_labels=STATUS_LABELS,
        policy_labels=dict(POLICIES),
        outcome_labels=OUTCOMES,
        field_labels=FIELD_LABELS,
        percent=round(job.progress * 100),
        **values,
    )


def _preview(page: Page, job: ImportJob, upload: Upload | None) -> Response:
    def rows(flagged_only: bool) -> list[tuple[ImportRow, str | None]]:
        return service.staged_rows(
            page.db, page.actor, job.id, flagged_only=flagged_only, limit=PREVIEW_ROWS
        )

    # The counts tell whether any row is flagged: a clean job skips that search.
    flagged = job.invalid_rows > 0 or job.matched_rows > 0
    return _job_page(
        page,
        "imports/preview.html",
        job,
        step="preview",
        first_rows=rows(flagged_only=False),
        flagged_rows=rows(flagged_only=True) if flagged else [],
        upload=upload,
        can_run=may_import(page.actor),
    )


@router.get("/imports/{job_id}")
def import_job(request: Request, job_id: uuid.UUID, upload: str | None = None) -> Response:
    """A staged job's preview, a running job's progress, or a finished job's summary."""
    with signed_in(request) as page:
        job = service.get_job(page.db, page.actor, job_id)
        if job.status is ImportStatus.RUNNING:
            return redirect(request, f"/imports/{job.id}/progress")
        if job.status is ImportStatus.STAGED:
            return _preview(page, job, _upload_of(page, upload))
        errors = service.row_errors(page.db, page.actor, job.id, limit=ERRORS_SHOWN)
        return _job_page(page, "imports/summary.html", job, step="run", errors=errors)


@router.post("/imports/{job_id}/run")
def run_import(
    request: Request, job_id: uuid.UUID, form: VerifiedForm, background: BackgroundTasks
) -> Response:
    """Apply the previewed job after the response, batch by batch, exactly as the API does."""
    with signed_in(request) as page:
        job = service.start_applying(page.db, page.actor, job_id)
        background.add_task(service.apply_import, get_engine("app"), page.actor, job.id)
        upload = _upload_of(page, text_value(form, "upload"))
        if upload is not None:
            upload.discard()
    return redirect(request, f"/imports/{job_id}/progress")


@router.get("/imports/{job_id}/progress")
def import_progress(request: Request, job_id: uuid.UUID) -> Response:
    """The progress bar; HTMX polls it, and it hands over to the summary once the job ends."""
    with signed_in(request) as page:
        job = service.get_job(page.db, page.actor, job_id)
        if job.status in (ImportStatus.COMPLETED, ImportStatus.FAILED):
            return redirect(request, f"/imports/{job.id}")
        template = "imports/_progress.html" if is_htmx(request) else "imports/progress.html"
        return _job_page(page, template, job, step="run")


def _error_report(actor: Actor, job_id: uuid.UUID) -> Iterator[bytes]:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    buffer.write("\ufeff")  # so Excel reads the UTF-8
    writer.writerow(("row", "column", "message"))
    with tenant_session(get_engine("app"), actor.company_id, actor.user_id) as session:
        for number, (row, column, message) in enumerate(
            service.iter_all_errors(session, actor, job_id), start=1
        ):
            writer.writerow((row, exports.neutralise(column), exports.neutralise(message)))
            if number % exports.BATCH == 0:
                yield buffer.getvalue().encode()
                buffer.seek(0)
                buffer.truncate()
    yield buffer.getvalue().encode()


def _download(body: Iterator[bytes], media_type: str, file_name: str) -> StreamingResponse:
    return StreamingResponse(
        body,
        media_type=media_type,
        headers={"Content-Disposition": f'attachment; filename="{file_name}"'},
    )


@router.get("/imports/{job_id}/errors.csv")
def import_error_report(request: Request, job_id: uuid.UUID) -> Response:
    """Every row error of the job (row, column, message) as CSV, streamed."""
    with signed_in(request) as page:
        service.get_job(page.db, page.actor, job_id)
        actor = page.actor
    return _download(
        _error_report(actor, job_id), MEDIA_TYPES[ExportFormat.CSV], f"import-errors-{job_id}.csv"
    )


# ----- export of the customers list -----------------------------------------------------------
@router.get("/customers/export")
def export_customers(request: Request, format: ExportFormat = ExportFormat.CSV) -> Response:
    """The customers the list shows (same filters and search), as CSV or XLSX, streamed."""
    filters = ListQuery.from_request(request).filters()
    with signed_in(request) as page:
        exports.start_export(page.db, page.actor, filters, None, format)
        actor = page.actor
    writer = exports.stream_csv if format is ExportFormat.CSV else exports.write_xlsx
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    return _download(
        writer(get_engine("app"), actor, filters),
        MEDIA_TYPES[format],
        f"customers-{stamp}.{format}",
    )
