"""`majlis import customers FILE` and `majlis import resume JOB`, with a progress bar."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn
from rich.table import Table

from majlis.core.db import get_engine, tenant_session
from majlis.core.errors import DomainError
from majlis.core.permissions import Actor
from majlis.imports import service
from majlis.imports.models import ImportJob, ImportPolicy

import_app = typer.Typer(help="Import customers from CSV or XLSX files.", no_args_is_help=True)
console = Console()
PREVIEW_ERRORS = 20


def _company(company: str) -> uuid.UUID:
    try:
        return uuid.UUID(company)
    except ValueError:
        typer.echo(f"error: --company must be a company id (a UUID), got {company!r}", err=True)
        raise typer.Exit(1) from None


def _print_summary(job: ImportJob, actor: Actor) -> None:
    table = Table("job", "status", "rows", "invalid", "matched", "inserted", "updated", "skipped")
    table.add_row(
        str(job.id),
        job.status.value,
        str(job.total_rows),
        str(job.invalid_rows),
        str(job.matched_rows),
        str(job.inserted),
        str(job.updated),
        str(job.skipped),
    )
    console.print(table)
    with tenant_session(get_engine("app"), actor.company_id) as session:
        errors = service.row_errors(session, actor, job.id, limit=PREVIEW_ERRORS).items
    if errors:
        error_table = Table("row", "column", "message", title="row errors (first ones)")
        for row, column, message in errors:
            error_table.add_row(str(row), column, message)
        console.print(error_table)


def _apply_with_progress(actor: Actor, job: ImportJob, batch_size: int) -> ImportJob:
    with Progress(
        "[progress.description]{task.description}",
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
    ) as progress:
        task = progress.add_task("applying", total=job.total_rows, completed=job.applied_through)
        return service.apply_import(
            get_engine("app"),
            actor,
            job.id,
            batch_size=batch_size,
            on_batch=lambda done: progress.update(task, completed=done.applied_through - 1),
        )


BatchSize = Annotated[int, typer.Option(help="Rows per committed batch.", min=1)]


@import_app.command("customers")
def import_customers(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="CSV or XLSX file.")],
    company: Annotated[str, typer.Option(help="Company id.")],
    mapping: Annotated[
        Path | None, typer.Option(help='JSON file: {"File header": "field" or null}.')
    ] = None,
    dry_run: Annotated[bool, typer.Option(help="Validate and preview only.")] = False,
    policy: Annotated[
        ImportPolicy, typer.Option(help="Rows matching an existing customer: skip/update/create.")
    ] = ImportPolicy.SKIP,
    batch_size: BatchSize = service.DEFAULT_BATCH_SIZE,
) -> None:
    """Import customers; prints the job id first so an interrupted import can be resumed."""
    actor = Actor.system(_company(company))
    overrides = json.loads(mapping.read_text()) if mapping else {}
    request = service.ImportRequest(file.name, policy, dry_run, overrides)
    try:
        with (
            console.status(f"reading and validating {file.name}"),
            file.open("rb") as stream,
            tenant_session(get_engine("app"), actor.company_id) as session,
        ):
            job = service.stage_import(session, actor, stream, request)
        console.print(f"import job {job.id}")
        if not dry_run:
            job = _apply_with_progress(actor, job, batch_size)
    except DomainError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None
    _print_summary(job, actor)


@import_app.command("resume")
def resume_import(
    job: Annotated[str, typer.Argument(help="The import job id.")],
    company: Annotated[str, typer.Option(help="Company id.")],
    batch_size: BatchSize = service.DEFAULT_BATCH_SIZE,
) -> None:
    """Continue an interrupted import (or apply a dry run) from its last committed batch."""
    actor = Actor.system(_company(company))
    try:
        with tenant_session(get_engine("app"), actor.company_id) as session:
            staged = service.start_applying(session, actor, uuid.UUID(job))
        finished = _apply_with_progress(actor, staged, batch_size)
    except DomainError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None
    _print_summary(finished, actor)
