"""`majlis journeys …`: run automation rules and loyalty expiry for one company now."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import date, timedelta
from typing import Annotated, TypeVar

import typer
from sqlalchemy.orm import Session

from majlis.core.db import get_engine, tenant_session
from majlis.core.errors import DomainError
from majlis.core.permissions import Actor
from majlis.insights.kpis import alert_anomalies
from majlis.insights.leads import alert_hot_leads
from majlis.journeys.automation import process_pending_events
from majlis.journeys.sweeps import sweep_all
from majlis.loyalty.service import expire_points

journeys_app = typer.Typer(
    help="Customer journeys: automation rules and loyalty jobs.", no_args_is_help=True
)
CompanyOption = Annotated[str, typer.Option("--company", help="Company id.")]
T = TypeVar("T")


def _as_company(company: str, work: Callable[[Session, Actor], T]) -> T:
    """Run `work` in one transaction of the company as its system user; errors exit 1."""
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


@journeys_app.command("process-events")
def process_events(company: CompanyOption) -> None:
    """Evaluate the company's pending journey events against its automation rules."""
    report = _as_company(company, process_pending_events)
    typer.echo(
        f"{report.events} events, {report.firings} rule firings, "
        f"{report.skipped_loops} loop(s) prevented, actions {dict(report.actions)}"
    )


@journeys_app.command("sweep")
def sweep_now(company: CompanyOption) -> None:
    """Run every scheduled sweep (birthdays, silence, points, overdue, conversations) now."""
    recorded = _as_company(company, sweep_all)
    for kind, count in recorded.items():
        typer.echo(f"{kind}: {count} new event(s)")


@journeys_app.command("expire-points")
def expire(company: CompanyOption) -> None:
    """Expire the company's loyalty points that are past their date."""
    expired = _as_company(company, lambda session, actor: expire_points(session, actor))
    typer.echo(f"{expired} points expired")


@journeys_app.command("hot-lead-alerts")
def hot_lead_alerts(
    company: CompanyOption,
    day: Annotated[str | None, typer.Option(help="YYYY-MM-DD; today by default.")] = None,
) -> None:
    """Send the owners the day's hot leads (once per day)."""
    alert_day = date.fromisoformat(day) if day else date.today()
    leads = _as_company(company, lambda session, actor: alert_hot_leads(session, actor, alert_day))
    for lead in leads:
        typer.echo(f"{lead.score:3d}  {lead.name}: {', '.join(lead.reasons)}")
    typer.echo(f"{len(leads)} hot lead(s) alerted for {alert_day}")


@journeys_app.command("kpi-alerts")
def kpi_alerts(
    company: CompanyOption,
    day: Annotated[str | None, typer.Option(help="YYYY-MM-DD; yesterday by default.")] = None,
) -> None:
    """Check a day's KPIs against their weekday baseline and alert the owners once."""
    checked = date.fromisoformat(day) if day else date.today() - timedelta(days=1)
    found = _as_company(company, lambda session, actor: alert_anomalies(session, actor, checked))
    for anomaly in found:
        typer.echo(anomaly.why)
    typer.echo(f"{len(found)} new anomaly alert(s) for {checked}")
