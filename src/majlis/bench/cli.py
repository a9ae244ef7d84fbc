"""`majlis bench`: run a benchmark suite and print/save its results.

Each suite is a module `majlis.bench.<name>` exposing
`run(scale: int, console: rich.console.Console) -> list[ScenarioResult]`.
Add a suite by writing the module and naming it in SUITES.
"""

from __future__ import annotations

import importlib
import importlib.util
from typing import Annotated

import typer
from rich.console import Console

from majlis.bench.harness import markdown_table, write_results

SUITES = {
    "customers": "list, search, lookups, detail, creates, analytics and import (issue 4)",
    "conversations": "chat ingest with customer matching (issue 3)",
    "dedupe": "duplicate matching quality, online check and batch scan (issue 5)",
    "receivables": "reminder planning, eligibility and dashboard (issue 6)",
    "journeys": "next task and rule evaluation (issue 7)",
    "pages": "every web page's server time, signed in as an owner (issue 8)",
    "load": "100 concurrent users for 60 s against the real server, beside a bare baseline",
}

bench_app = typer.Typer(help="Measure Majlis against the naive way.", no_args_is_help=True)


@bench_app.command("list")
def list_suites() -> None:
    """Show the suites that exist in this build."""
    for name, description in SUITES.items():
        available = importlib.util.find_spec(f"majlis.bench.{name}") is not None
        typer.echo(f"{name:15} {'' if available else '(not built yet) '}{description}")


def _bring_schema_to_head() -> None:
    """Suites create their own companies, so a fresh database only needs the schema."""
    from majlis.core import migrate
    from majlis.core.config import load_settings
    from majlis.core.db import database_urls

    _, admin_url = database_urls(load_settings())
    migrate.upgrade(admin_url)


@bench_app.command("run")
def run_suite(
    suite: Annotated[str, typer.Argument(help="Suite name, see 'majlis bench list'.")],
    scale: Annotated[int, typer.Option(help="Customers in the measured company.")] = 100_000,
    only: Annotated[
        list[str] | None,
        typer.Option(help="Run only these scenarios (repeatable; suites that support it)."),
    ] = None,
    reuse: Annotated[
        bool,
        typer.Option(
            help="Measure the companies an earlier run of this scale loaded, if all are there"
            " (suites that support it)."
        ),
    ] = False,
) -> None:
    """Run SUITE at SCALE and write bench/results/<suite>-<scale>.json."""
    if suite not in SUITES or importlib.util.find_spec(f"majlis.bench.{suite}") is None:
        typer.echo(f"error: no bench suite {suite!r}; see 'majlis bench list'", err=True)
        raise typer.Exit(1)
    console = Console()
    _bring_schema_to_head()
    module = importlib.import_module(f"majlis.bench.{suite}")
    options: dict[str, object] = {"only": only} if only else {}
    if reuse:
        options["reuse"] = True
    results = module.run(scale=scale, console=console, **options)
    path = write_results(suite, scale, results)
    console.print(markdown_table(results))
    console.print(f"results written to {path}")
