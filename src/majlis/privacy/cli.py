"""`majlis privacy ...`: a customer's data export and the retention purge."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Annotated

import typer

from majlis.core.db import get_engine, tenant_session
from majlis.core.permissions import Actor
from majlis.privacy import service

privacy_app = typer.Typer(help="Privacy rights: export and retention.", no_args_is_help=True)
CompanyOption = Annotated[uuid.UUID, typer.Option("--company", help="Company id.")]


@privacy_app.command("export")
def export(
    company: CompanyOption,
    customer: Annotated[uuid.UUID, typer.Option("--customer", help="Customer id.")],
    out: Annotated[Path | None, typer.Option(help="Write to this file instead of stdout.")] = None,
) -> None:
    """Everything held about a customer, as JSON."""
    with tenant_session(get_engine("app"), company) as session:
        data = service.export_customer(session, Actor.system(company), customer)
    text = json.dumps(data, ensure_ascii=False, indent=2)
    if out is None:
        typer.echo(text)
    else:
        out.write_text(text, encoding="utf-8")
        typer.echo(f"export written to {out}")


@privacy_app.command("purge")
def purge(company: CompanyOption) -> None:
    """Purge soft-deleted customers and conversations past the company's retention period."""
    with tenant_session(get_engine("app"), company) as session:
        result = service.purge_expired(session, Actor.system(company))
    typer.echo(
        f"purged {result.customers_purged} customer(s) and {result.conversations_purged}"
        f" conversation(s) older than {result.cutoff:%Y-%m-%d}"
    )
