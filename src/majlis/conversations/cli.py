"""`majlis conversations ...`: the one-time backfill of historical chats, and sync status."""

from __future__ import annotations

import uuid
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn
from rich.table import Table

from majlis.conversations import service
from majlis.conversations.sync import SyncSummary
from majlis.core.db import get_engine, tenant_session
from majlis.core.permissions import Actor

conversations_app = typer.Typer(
    help="Chat conversations and their customer sync.", no_args_is_help=True
)
console = Console()
CompanyOption = Annotated[uuid.UUID, typer.Option("--company", help="Company id.")]


def summary_table(summary: SyncSummary) -> Table:
    table = Table("outcome", "conversations", title="backfill summary")
    for label, value in (
        ("looked at", summary.received),
        ("linked to an existing customer", summary.linked),
        ("linked to a customer created from chat", summary.created),
        ("ambiguous (left unlinked, see candidates)", summary.ambiguous),
        ("anonymous (nothing to match on)", summary.anonymous),
    ):
        table.add_row(label, f"{value:,}")
    for reason, count in sorted(summary.by_reason.items()):
        table.add_row(f"  matched by {reason}", f"{count:,}")
    return table


@conversations_app.command("backfill")
def backfill(
    company: CompanyOption,
    batch_size: Annotated[int, typer.Option(min=100, max=50_000)] = 5_000,
) -> None:
    """Link every unlinked conversation to its customer (idempotent; resumable after a crash:
    each batch commits, a rerun continues with what is still unlinked)."""
    engine = get_engine("app")
    actor = Actor.system(company)
    with tenant_session(engine, company) as session:
        unlinked = service.count_unlinked(session, actor)
    with Progress(
        "[progress.description]{task.description}",
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
    ) as progress:
        task = progress.add_task("linking conversations", total=unlinked)
        summary = service.backfill_links(
            engine,
            actor,
            batch_size=batch_size,
            on_batch=lambda batch: progress.advance(task, batch.received),
        )
    console.print(summary_table(summary))


@conversations_app.command("status")
def status(company: CompanyOption) -> None:
    """Conversations total, linked, unlinked, and linked by each source."""
    with tenant_session(get_engine("app"), company) as session:
        counts = service.sync_status(session, Actor.system(company))
    for key, value in counts.items():
        console.print(f"{key}: {value}")
