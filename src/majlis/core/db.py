"""Engines and tenant-scoped transactions.

Two engines: the *application* engine connects as `majlis_app`, a role that
owns nothing and cannot bypass row-level security; the *admin* engine
connects as the schema owner for migrations and operator checks. Every
application transaction names its tenant with `set_config(..., true)` — the
function form of `SET LOCAL` — so the setting dies with the transaction and a
pooled connection never carries one tenant into the next request.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from uuid import UUID

from sqlalchemy import Engine, create_engine, text
from sqlalchemy.orm import Session

from majlis.core.config import Settings, load_settings
from majlis.core.embedded import APP_ROLE, OWNER_ROLE, EmbeddedCluster

_engines: dict[str, Engine] = {}
_engines_lock = threading.Lock()

_SET_TENANT = text(
    "SELECT set_config('majlis.company_id', :company_id, true),"
    " set_config('majlis.user_id', :user_id, true)"
)


def database_urls(settings: Settings, *, start: bool = True) -> tuple[str, str]:
    """(application URL, admin URL); starts the embedded cluster when no DATABASE_URL is set."""
    if settings.database_url:
        return settings.database_url, settings.admin_database_url or settings.database_url
    cluster = EmbeddedCluster(settings.home)
    if start:
        cluster.up()
    return cluster.url(APP_ROLE), cluster.url(OWNER_ROLE)


# A use count no statement reaches on one connection before the pool recycles it.
PREPARE_ONLY_WHEN_ASKED = 2**62


def _build_engine(url: str, settings: Settings) -> Engine:
    return create_engine(
        url,
        pool_size=settings.pool_size,
        max_overflow=settings.pool_max_overflow,
        pool_timeout=settings.pool_timeout_s,
        pool_recycle=1800,
        connect_args={
            "connect_timeout": settings.connect_timeout_s,
            "options": f"-c statement_timeout={settings.statement_timeout_ms}",
            "application_name": "majlis",
            # No server-side prepared statements unless a statement asks for one
            # (`execute(..., prepare=True)`; psycopg ignores that when this is None):
            # after five executions PostgreSQL may switch a prepared statement to a
            # generic plan that cannot use the partial and tenant-leading indexes
            # (measured: an email lookup went from 0.3 ms to 560 ms). Unnamed
            # statements are planned with their real parameters.
            "prepare_threshold": PREPARE_ONLY_WHEN_ASKED,
        },
    )


def get_engine(kind: str = "app") -> Engine:
    """The process-wide engine of a kind ("app" or "admin"), created on first use.

    URLs are resolved (and the embedded cluster started) once per process, not per call.
    """
    with _engines_lock:
        engine = _engines.get(kind)
        if engine is None:
            settings = load_settings()
            app_url, admin_url = database_urls(settings)
            url = app_url if kind == "app" else admin_url
            engine = _engines[kind] = _build_engine(url, settings)
        return engine


def dispose_engines() -> None:
    with _engines_lock:
        for engine in _engines.values():
            engine.dispose()
        _engines.clear()


def set_tenant(session: Session, company_id: UUID, user_id: UUID | None = None) -> None:
    """Name the tenant (and acting user) for the rest of the current transaction only."""
    session.execute(
        _SET_TENANT,
        {"company_id": str(company_id), "user_id": str(user_id) if user_id else ""},
    )


@contextmanager
def transaction(engine: Engine) -> Iterator[Session]:
    """One transaction with no tenant named yet: commits on success, rolls back on error.

    The caller names the tenant before reading tenant rows (token authentication
    does so in the same statement as its lookup); row-level security shows
    nothing until it does.
    """
    with Session(engine, expire_on_commit=False) as session, session.begin():
        yield session


@contextmanager
def tenant_session(
    engine: Engine, company_id: UUID, user_id: UUID | None = None
) -> Iterator[Session]:
    """One transaction scoped to one company: commits on success, rolls back on error."""
    with transaction(engine) as session:
        set_tenant(session, company_id, user_id)
        yield session


@contextmanager
def admin_session(engine: Engine) -> Iterator[Session]:
    """A transaction as the schema owner, for operator checks; never used by requests."""
    with Session(engine) as session, session.begin():
        yield session


__all__ = [
    "APP_ROLE",
    "OWNER_ROLE",
    "admin_session",
    "database_urls",
    "dispose_engines",
    "get_engine",
    "set_tenant",
    "tenant_session",
    "transaction",
]
