"""Thin routes over the import service: upload, progress, row errors, apply/resume."""

from __future__ import annotations

import json
import re
import uuid
from typing import Annotated

from fastapi import APIRouter, BackgroundTasks, File, Form, Query, UploadFile, status

from majlis.core.db import get_engine
from majlis.core.errors import ValidationFailed
from majlis.core.http import Context
from majlis.core.pagination import DEFAULT_LIMIT, MAX_LIMIT
from majlis.core.permissions import Actor
from majlis.imports import service
from majlis.imports.models import ImportJob, ImportPolicy
from majlis.imports.schemas import ImportJobOut, RowErrorOut, RowErrorPage

router = APIRouter(prefix="/api/v1/imports", tags=["imports"])


def base_name(file_name: str | None) -> str:
    """The browser's name for the upload, without any folders (either slash) it claims."""
    name = re.split(r"[\\/]", file_name or "")[-1].strip()
    return name or "upload.csv"


def _parse_mapping(raw: str | None) -> dict[str, str | None]:
    if not raw:
        return {}
    try:
        mapping = json.loads(raw)
    except ValueError as exc:
        raise ValidationFailed.single("mapping", "must be a JSON object") from exc
    if not isinstance(mapping, dict) or not all(
        isinstance(v, str | None) for v in mapping.values()
    ):
        raise ValidationFailed.single(
            "mapping", 'must map headers to fields, e.g. {"Mobile": "phone"}'
        )
    return mapping


def _apply_after_response(background: BackgroundTasks, ctx_actor: Actor, job: ImportJob) -> None:
    background.add_task(service.apply_import, get_engine("app"), ctx_actor, job.id)


@router.post("", response_model=ImportJobOut, status_code=status.HTTP_202_ACCEPTED)
def upload_import(
    ctx: Context,
    background: BackgroundTasks,
    file: Annotated[UploadFile, File(description="CSV (UTF-8 or Windows-1256) or XLSX")],
    policy: Annotated[ImportPolicy, Form()] = ImportPolicy.SKIP,
    dry_run: Annotated[bool, Form()] = False,
    mapping: Annotated[str | None, Form(description="JSON: header → field or null")] = None,
) -> ImportJobOut:
    """Validate the file into a job; unless `dry_run`, apply it in the background.

    Poll `GET /api/v1/imports/{id}` for progress and read row errors from `/errors`.
    """
    request = service.ImportRequest(
        file_name=base_name(file.filename),
        policy=policy,
        dry_run=dry_run,
        overrides=_parse_mapping(mapping),
    )
    job = service.stage_import(ctx.session, ctx.actor, file.file, request)
    out = ImportJobOut.model_validate(job)
    if not dry_run:
        # The staged job must be visible to the background worker before it starts.
        ctx.session.commit()
        _apply_after_response(background, ctx.actor, job)
    return out


@router.post("/{job_id}/apply", response_model=ImportJobOut, status_code=status.HTTP_202_ACCEPTED)
def apply_import(ctx: Context, job_id: uuid.UUID, background: BackgroundTasks) -> ImportJobOut:
    """Apply a dry-run job, or resume one that was interrupted, from its last committed batch."""
    job = service.start_applying(ctx.session, ctx.actor, job_id)
    _apply_after_response(background, ctx.actor, job)
    return ImportJobOut.model_validate(job)


@router.get("/{job_id}", response_model=ImportJobOut)
def import_progress(ctx: Context, job_id: uuid.UUID) -> ImportJobOut:
    return ImportJobOut.model_validate(service.get_job(ctx.session, ctx.actor, job_id))


@router.get("/{job_id}/errors", response_model=RowErrorPage)
def import_errors(
    ctx: Context,
    job_id: uuid.UUID,
    cursor: str | None = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = DEFAULT_LIMIT,
) -> RowErrorPage:
    page = service.row_errors(ctx.session, ctx.actor, job_id, cursor=cursor, limit=limit)
    return RowErrorPage(
        items=[RowErrorOut(row=r, column=c, message=m) for r, c, m in page.items],
        next_cursor=page.next_cursor,
    )
