"""`majlis dedupe ...`: batch scans and the match-key index, run by an operator."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TaskID, TextColumn, TimeElapsedColumn
from rich.table import Table

from majlis.core.db import get_engine, tenant_session
from majlis.core.permissions import Actor
from majlis.dedupe import review, scan, store
from majlis.dedupe.blocking import default_workers

dedupe_app = typer.Typer(
    help="Duplicate customers: scans and the match index.", no_args_is_help=True
)
console = Console()
CompanyOption = Annotated[uuid.UUID, typer.Option("--company", help="Company id.")]
STAGES = ("prepare", "blocking", "scoring", "clustering", "explaining", "writing")


def _advance(progress: Progress, task: TaskID) -> scan.Progress:
    def report(stage: str, done: int, total: int) -> None:
        step = STAGES.index(stage) if stage in STAGES else len(STAGES)
        progress.update(task, completed=step, description=f"{stage} ({done:,}/{total:,})")

    return report


@dedupe_app.command("scan")
def scan_command(
    company: CompanyOption,
    export: Annotated[
        Path | None, typer.Option("--export", help="Also write the pairs to this CSV file.")
    ] = None,
    workers: Annotated[int, typer.Option(min=1, help="Processes for blocking and scoring.")] = (
        default_workers()
    ),
) -> None:
    """Scan every customer of a company now and queue the duplicate pairs for review."""
    engine = get_engine("app")
    actor = Actor.system(company)
    with tenant_session(engine, company) as session:
        scan_id = review.request_scan(session, actor, in_worker=False).id
    with Progress(
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        TimeElapsedColumn(),
        console=console,
    ) as progress:
        task = progress.add_task("reading customers", total=len(STAGES))
        result = scan.run_scan(
            engine,
            company,
            scan_id,
            workers=workers,
            progress=_advance(progress, task),
            export=export,
        )
        progress.update(task, completed=len(STAGES), description="done")
    table = Table("scan", str(scan_id))
    for label, value in (
        ("customers", result.customers),
        ("candidate pairs", result.candidate_pairs),
        ("pairs above the threshold", len(result.pairs)),
        ("new pairs in the review queue", result.written),
        ("already queued or decided", result.skipped),
        ("clusters", result.clusters),
        ("links refused by the cluster cap", result.refused_links),
    ):
        table.add_row(label, f"{value:,}")
    console.print(table)
    if export is not None:
        console.print(f"pairs written to {export}")


@dedupe_app.command("reindex")
def reindex_command(company: CompanyOption) -> None:
    """Rebuild the online check's match keys of a company (after an upgrade or bulk load)."""
    with tenant_session(get_engine("app"), company) as session:
        keys = store.reindex_company(session, company)
    console.print(f"{keys:,} match keys written")
