"""`majlis reminders …` and `majlis receivables …`: reminder runs and CSV imports."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, TypeVar

import typer
from rich.console import Console
from rich.table import Table
from sqlalchemy.orm import Session

from majlis.core.db import get_engine, tenant_session
from majlis.core.errors import DomainError
from majlis.core.permissions import Actor
from majlis.receivables.imports import ImportResult, import_invoices, import_payments
from majlis.receivables.ledger import recompute_risk_scores
from majlis.receivables.planner import RunResult, run_reminders
from majlis.receivables.retention import purge_expired_reminders

reminders_app = typer.Typer(help="Consolidated payment reminders.", no_args_is_help=True)
receivables_app = typer.Typer(
    help="Invoices and payments: CSV imports, risk scores.", no_args_is_help=True
)
console = Console()
CompanyOption = Annotated[str, typer.Option("--company", help="Company id.")]
T = TypeVar("T")


def as_company(company: str, work: Callable[[Session, Actor], T]) -> T:
    """Run `work` in one transaction of the company as its system user; errors → exit 1."""
    try:
        company_id = uuid.UUID(company)
    except ValueError:
        typer.echo(f"error: --company must be a company id (a UUID), got {company!r}", err=True)
        raise typer.Exit(1) from None
    try:
        with tenant_session(get_engine("app"), company_id) as session:
            return work(session, Actor.system(company_id))
    except DomainError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None


def summary_lines(result: RunResult) -> list[str]:
    """What a run did (or would do), in a few lines for people."""
    verb = "would schedule" if result.dry_run else "scheduled"
    if not result.planned:
        return ["no customer is due a reminder now"]
    return [
        f"{result.eligible_customers} customer(s) with {result.overdue_invoices} overdue"
        f" invoice(s): {verb} {len(result.planned)} email(s) instead of"
        f" {result.overdue_invoices} ({result.savings_pct}% fewer)",
        f"sending from {result.scheduled_at:%Y-%m-%d %H:%M} UTC (the company's next working time)",
    ]


@reminders_app.command("run")
def run(
    company: CompanyOption,
    dry_run: Annotated[bool, typer.Option(help="Plan and show, save nothing.")] = False,
) -> None:
    """Plan one consolidated reminder per eligible customer and queue them for sending."""
    result = as_company(company, lambda s, a: run_reminders(s, a, dry_run=dry_run))
    table = Table("customer", "type", "level", "invoices", "total", "priority")
    for planned in result.planned[:50]:
        table.add_row(
            planned.customer_name,
            planned.reminder_type,
            planned.escalation_level,
            str(planned.invoice_count),
            f"{planned.total_amount:,.2f} {planned.currency}",
            str(planned.priority_score),
        )
    if result.planned:
        console.print(table)
    for line in summary_lines(result):
        typer.echo(line)


@reminders_app.command("purge")
def purge(company: CompanyOption) -> None:
    """Delete finished reminders and email logs older than the company's retention."""
    reminders, logs = as_company(company, purge_expired_reminders)
    typer.echo(f"purged {reminders} reminder(s) and {logs} email log(s)")


def _print_import(result: ImportResult) -> None:
    for row, error in result.errors:
        typer.echo(f"row {row}: {error.field}: {error.message}", err=True)
    typer.echo(f"imported {result.imported}, failed {result.failed}")
    if result.failed:
        raise typer.Exit(1)


@receivables_app.command("import-invoices")
def import_invoices_command(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="A UTF-8 CSV file.")],
    company: CompanyOption,
) -> None:
    """Import invoices from CSV; bad rows are reported and skipped."""
    content = file.read_text(encoding="utf-8")
    _print_import(as_company(company, lambda s, a: import_invoices(s, a, content)))


@receivables_app.command("import-payments")
def import_payments_command(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="A UTF-8 CSV file.")],
    company: CompanyOption,
) -> None:
    """Import payments from CSV; each is allocated and the rest kept as credit."""
    content = file.read_text(encoding="utf-8")
    _print_import(as_company(company, lambda s, a: import_payments(s, a, content)))


@receivables_app.command("risk-scores")
def risk_scores(company: CompanyOption) -> None:
    """Recompute every customer's risk score from payment history now."""
    changed = as_company(company, lambda s, a: recompute_risk_scores(s, a))
    typer.echo(f"{changed} risk score(s) changed")
