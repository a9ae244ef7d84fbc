"""`majlis export customers`: the filtered customers to a CSV or XLSX file."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Annotated

import typer

from majlis.core.db import get_engine, tenant_session
from majlis.core.permissions import Actor
from majlis.customers.models import BusinessType
from majlis.customers.service import CustomerFilters
from majlis.exports import service
from majlis.exports.service import ExportFormat

export_app = typer.Typer(help="Export customers to CSV or XLSX.", no_args_is_help=True)


@export_app.command("customers")
def export_customers(
    output: Annotated[Path, typer.Argument(help="File to write (.csv or .xlsx).")],
    company: Annotated[str, typer.Option(help="Company id.")],
    q: Annotated[str | None, typer.Option(help="Search term, as in the customer list.")] = None,
    business_type: Annotated[BusinessType | None, typer.Option()] = None,
    emirate: Annotated[str | None, typer.Option()] = None,
    city: Annotated[str | None, typer.Option()] = None,
    tag: Annotated[str | None, typer.Option()] = None,
    active: Annotated[bool | None, typer.Option("--active/--inactive")] = None,
) -> None:
    """Write the customers matching the filters; the format follows the file's extension."""
    actor = Actor.system(uuid.UUID(company))
    fmt = ExportFormat.XLSX if output.suffix.lower() == ".xlsx" else ExportFormat.CSV
    filters = CustomerFilters(
        business_type=business_type, emirate=emirate, city=city, tag=tag, is_active=active
    )
    engine = get_engine("app")
    with tenant_session(engine, actor.company_id) as session:
        service.start_export(session, actor, filters, q, fmt)
    writer = service.stream_csv if fmt is ExportFormat.CSV else service.write_xlsx
    with output.open("wb") as target:
        for chunk in writer(engine, actor, filters, q):
            target.write(chunk)
    typer.echo(f"wrote {output}")
