"""The `majlis` command."""

from __future__ import annotations

import functools
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from rich.console import Console
from rich.table import Table
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from majlis.accounts import service as accounts
from majlis.bench.cli import bench_app
from majlis.conversations.cli import conversations_app
from majlis.core.config import KEEP_ALIVE_SECONDS, load_settings
from majlis.core.db import database_urls, get_engine, tenant_session
from majlis.core.embedded import APP_ROLE, OWNER_ROLE, ClusterError, EmbeddedCluster
from majlis.core.errors import DomainError
from majlis.core.permissions import Actor, Role
from majlis.core.worker import worker_command
from majlis.dedupe.cli import dedupe_app
from majlis.exports.cli import export_app
from majlis.imports.cli import import_app
from majlis.journeys.cli import journeys_app
from majlis.merges.cli import merges_app
from majlis.privacy.cli import privacy_app
from majlis.receivables.cli import receivables_app, reminders_app

app = typer.Typer(help="Majlis: one clean record per customer.", no_args_is_help=True)
db_app = typer.Typer(
    help="The database: embedded cluster, migrations, checks.", no_args_is_help=True
)
company_app = typer.Typer(help="Companies (tenants).", no_args_is_help=True)
user_app = typer.Typer(help="Users and their roles.", no_args_is_help=True)
token_app = typer.Typer(help="API tokens.", no_args_is_help=True)
demo_app = typer.Typer(help="Bilingual demo data.", no_args_is_help=True)
app.add_typer(bench_app, name="bench")
app.add_typer(import_app, name="import")
app.add_typer(export_app, name="export")
app.add_typer(reminders_app, name="reminders")
app.add_typer(receivables_app, name="receivables")
app.add_typer(journeys_app, name="journeys")
app.add_typer(conversations_app, name="conversations")
app.add_typer(privacy_app, name="privacy")
app.add_typer(dedupe_app, name="dedupe")
app.add_typer(merges_app, name="merges")
app.command("worker")(worker_command)
for sub, name in (
    (db_app, "db"),
    (company_app, "company"),
    (user_app, "user"),
    (token_app, "token"),
    (demo_app, "demo"),
):
    app.add_typer(sub, name=name)

console = Console()
F = TypeVar("F", bound=Callable[..., Any])


def readable_errors(func: F) -> F:
    """Turn expected failures into one line on stderr and exit code 1."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except DomainError as exc:
            detail = str(exc)
            typer.echo(f"error: {detail}", err=True)
        except ClusterError as exc:
            typer.echo(f"error: {exc}", err=True)
        except OperationalError as exc:
            typer.echo(
                f"error: database unavailable: {str(exc.orig).strip().splitlines()[0]}", err=True
            )
        raise typer.Exit(1)

    return wrapper  # type: ignore[return-value]


def embedded_cluster() -> EmbeddedCluster:
    settings = load_settings()
    if not settings.embedded:
        typer.echo("error: DATABASE_URL is set, so Majlis runs no embedded cluster", err=True)
        raise typer.Exit(1)
    return EmbeddedCluster(settings.home)


# ----- db ------------------------------------------------------------------------------
@db_app.command("up")
@readable_errors
def db_up(
    tcp: Annotated[bool, typer.Option(help="Also listen on a free loopback port.")] = False,
) -> None:
    """Start the embedded cluster (initialising it the first time)."""
    cluster = embedded_cluster()
    cluster.up(tcp=tcp)
    typer.echo(
        f"database running under {cluster.base} (socket {cluster.socket_dir}, port {cluster.port})"
    )


@db_app.command("down")
@readable_errors
def db_down() -> None:
    """Stop the embedded cluster."""
    embedded_cluster().down()
    typer.echo("database stopped")


@db_app.command("status")
@readable_errors
def db_status() -> None:
    """Show whether the embedded cluster is running, and where."""
    status = embedded_cluster().status()
    for key, value in status.items():
        typer.echo(f"{key}: {value}")
    if not status["running"]:
        raise typer.Exit(3)


@db_app.command("url")
@readable_errors
def db_url(
    admin: Annotated[bool, typer.Option(help="The schema owner's URL (migrations).")] = False,
    tcp: Annotated[
        bool, typer.Option(help="The loopback TCP URL, if the cluster listens on one.")
    ] = False,
) -> None:
    """Print the database URL the application uses."""
    settings = load_settings()
    if not settings.embedded:
        app_url, admin_url = database_urls(settings, start=False)
        typer.echo(admin_url if admin else app_url)
        return
    cluster = EmbeddedCluster(settings.home)
    role = OWNER_ROLE if admin else APP_ROLE
    url = cluster.tcp_url(role) if tcp else cluster.url(role)
    if url is None:
        typer.echo("error: the cluster listens on no TCP port; run 'majlis db up --tcp'", err=True)
        raise typer.Exit(1)
    typer.echo(url)


@db_app.command("migrate")
@readable_errors
def db_migrate(revision: str = "heads") -> None:
    """Upgrade the schema (to the newest revision by default)."""
    from majlis.core import migrate

    _, admin_url = database_urls(load_settings())
    migrate.upgrade(admin_url, revision)
    typer.echo(f"schema at {', '.join(sorted(migrate.expected_heads()))}")


@db_app.command("downgrade")
@readable_errors
def db_downgrade(revision: str) -> None:
    """Downgrade the schema to REVISION ('base' removes everything)."""
    from majlis.core import migrate

    _, admin_url = database_urls(load_settings())
    migrate.downgrade(admin_url, revision)
    typer.echo(f"schema downgraded to {revision}")


@db_app.command("health")
@readable_errors
def db_health(limit: Annotated[int, typer.Option(help="Rows per section.")] = 10) -> None:
    """Slowest statements, index usage, unused indexes, sizes, last analyze/vacuum."""
    from majlis.core.dbhealth import database_health

    for section in database_health(get_engine("admin"), limit):
        table = Table(*section.columns, title=section.title, title_justify="left")
        for row in section.rows:
            table.add_row(*("" if v is None else str(v) for v in row))
        console.print(table if section.columns else f"{section.title}: {section.note}")


@db_app.command("check")
@readable_errors
def db_check() -> None:
    """Validate the deployed schema, tenancy and data integrity; non-zero exit on any problem."""
    from majlis.core.dbcheck import run_checks

    results = run_checks(get_engine("admin"))
    table = Table("check", "status", "details")
    for result in results:
        table.add_row(
            result.name, "ok" if result.ok else "[red]FAIL[/red]", "\n".join(result.problems)
        )
    console.print(table)
    problems = [f"{r.name}: {p}" for r in results for p in r.problems]
    if problems:
        for problem in problems:
            typer.echo(f"problem: {problem}", err=True)
        raise typer.Exit(1)


@db_app.command("backup")
@readable_errors
def db_backup(archive: Path) -> None:
    """Dump the database to ARCHIVE (pg_dump custom format), verified by pg_restore --list."""
    from majlis.core import backup

    _, admin_url = database_urls(load_settings())
    fingerprints = backup.backup(get_engine("admin"), admin_url, archive)
    rows = sum(f.rows for f in fingerprints.values())
    typer.echo(f"backed up {len(fingerprints)} tables, {rows} rows to {archive} (verified)")


@db_app.command("restore")
@readable_errors
def db_restore(archive: Path) -> None:
    """Restore ARCHIVE into this (empty) database and verify every table's rows and checksum."""
    from majlis.core import backup

    _, admin_url = database_urls(load_settings())
    mismatches = backup.restore(get_engine("admin"), admin_url, archive)
    for mismatch in mismatches:
        typer.echo(f"problem: {mismatch}", err=True)
    if mismatches:
        raise typer.Exit(1)
    typer.echo(f"restored {archive}; every table matches its recorded row count and checksum")


# ----- companies, users, tokens ------------------------------------------------------------
def _company_session(company: str) -> Any:
    try:
        company_id = uuid.UUID(company)
    except ValueError:
        typer.echo(f"error: --company must be a company id (a UUID), got {company!r}", err=True)
        raise typer.Exit(1) from None
    return company_id, tenant_session(get_engine("app"), company_id)


@company_app.command("create")
@readable_errors
def company_create(
    name: str,
    country: Annotated[
        str, typer.Option(help="AE or TH: sets currency, time zone and phone region.")
    ] = "AE",
    name_ar: Annotated[str | None, typer.Option(help="The company's Arabic name.")] = None,
) -> None:
    """Create a company and print its id."""
    with Session(get_engine("app")) as session, session.begin():
        company_id = accounts.create_company(session, name, country=country, name_ar=name_ar).id
    typer.echo(str(company_id))


@user_app.command("create")
@readable_errors
def user_create(
    email: str,
    company: Annotated[str, typer.Option(help="Company id.")],
    role: Annotated[Role, typer.Option(help="owner, manager, sales or analyst.")],
    password: Annotated[
        str | None, typer.Option(help="Password for signing in to the web app.")
    ] = None,
    name: Annotated[str | None, typer.Option(help="Full name.")] = None,
) -> None:
    """Add a user to a company with a role."""
    company_id, session_scope = _company_session(company)
    with session_scope as session:
        user = accounts.add_user(
            session, Actor.system(company_id), email, role, password=password, full_name=name
        )
    typer.echo(str(user.id))


@token_app.command("create")
@readable_errors
def token_create(
    user: Annotated[str, typer.Option(help="The user's email.")],
    company: Annotated[str, typer.Option(help="Company id.")],
    name: Annotated[str, typer.Option(help="A label to recognise the token by.")] = "cli",
) -> None:
    """Create an API token; it is printed once, on the last line."""
    company_id, session_scope = _company_session(company)
    with session_scope as session:
        actor = Actor.system(company_id)
        member = accounts.find_member(session, actor, user)
        _, raw = accounts.issue_token(session, actor, member, name)
    typer.echo(raw)


# ----- serving and demo -----------------------------------------------------------------------
@app.command()
@readable_errors
def serve(
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port.")] = 8000,
    workers: Annotated[int, typer.Option(help="Worker processes.")] = 1,
) -> None:
    """Serve the API and the pages (starting the embedded database if needed)."""
    import uvicorn

    from majlis.core.observability import configure_logging

    settings = load_settings()
    configure_logging(settings.log_level)
    database_urls(settings)  # brings the embedded cluster up before the first request
    uvicorn.run(
        "majlis.app:create_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        access_log=False,
        log_level="warning",
        timeout_keep_alive=KEEP_ALIVE_SECONDS,
    )


@demo_app.command("load")
@readable_errors
def demo_load() -> None:
    """Load two bilingual demo companies (idempotent) and print a login and a fresh API token."""
    from majlis.demo import load_demo

    for line in load_demo(get_engine("app")):
        typer.echo(line)


if __name__ == "__main__":
    app(prog_name="majlis")
