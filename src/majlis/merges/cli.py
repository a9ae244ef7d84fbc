"""`majlis merges ...`: list a company's merges and undo one, as the company's system user."""

from __future__ import annotations

import uuid
from typing import Annotated

import typer

from majlis.core.db import get_engine, tenant_session
from majlis.core.errors import DomainError
from majlis.core.permissions import Actor
from majlis.merges import service

merges_app = typer.Typer(help="Customer merges: list and undo.", no_args_is_help=True)
CompanyOption = Annotated[uuid.UUID, typer.Option("--company", help="Company id.")]


@merges_app.command("list")
def list_merges(
    company: CompanyOption,
    limit: Annotated[int, typer.Option(min=1, max=200, help="How many, newest first.")] = 20,
) -> None:
    """The company's latest merges: id, time, survivor, merged customers, undone or not."""
    with tenant_session(get_engine("app"), company) as session:
        page = service.list_merges(session, Actor.system(company), limit=limit)
        for merge in page.items:
            state = f"undone {merge.undone_at:%Y-%m-%d %H:%M}" if merge.undone_at else "active"
            merged = ", ".join(str(other) for other in merge.other_ids)
            typer.echo(
                f"{merge.id}  {merge.merged_at:%Y-%m-%d %H:%M}  {merge.survivor_id} <- {merged}"
                f"  ({state})"
            )


@merges_app.command("undo")
def undo(
    company: CompanyOption,
    merge_id: Annotated[uuid.UUID, typer.Argument(help="The merge to undo.")],
) -> None:
    """Undo a merge (refused with the reason when unsafe or past the retention window)."""
    try:
        with tenant_session(get_engine("app"), company) as session:
            merge = service.undo_merge(session, Actor.system(company), merge_id)
    except DomainError as exc:
        typer.echo(f"error: {exc.detail}", err=True)
        raise typer.Exit(1) from exc
    typer.echo(f"merge {merge.id} undone: {len(merge.other_ids)} customer(s) restored")
