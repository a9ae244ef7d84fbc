"""Settings read from the environment.

The names here (`MAJLIS_HOME`, `DATABASE_URL`, `MAJLIS_DB_*`) are a contract
with operators and scripts: keep them stable.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

# Idle keep-alive connections stay open this long. Uvicorn's 5 s default equals the idle
# expiry of common clients (httpx, many proxies), so a client could reuse a connection in
# the instant the server closes it and see a dropped request; a server should outwait its
# clients and any load balancer in front (60 s on the usual ones).
KEEP_ALIVE_SECONDS = 75


def _int_env(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError as exc:
        raise SystemExit(f"{name} must be an integer, got {raw!r}") from exc


@dataclass(frozen=True)
class Settings:
    home: Path
    database_url: str | None
    admin_database_url: str | None
    pool_size: int
    pool_max_overflow: int
    pool_timeout_s: int
    statement_timeout_ms: int
    connect_timeout_s: int
    smtp_host: str
    smtp_port: int
    mail_from: str
    log_level: str

    @property
    def embedded(self) -> bool:
        """True when Majlis runs its own private cluster under `home`."""
        return self.database_url is None


def load_settings() -> Settings:
    database_url = os.environ.get("DATABASE_URL") or None
    return Settings(
        home=Path(os.environ.get("MAJLIS_HOME", ".majlis")).resolve(),
        database_url=database_url,
        admin_database_url=os.environ.get("MAJLIS_ADMIN_DATABASE_URL") or database_url,
        pool_size=_int_env("MAJLIS_DB_POOL_SIZE", 10),
        pool_max_overflow=_int_env("MAJLIS_DB_MAX_OVERFLOW", 10),
        # A request waits this long for a pooled connection, then answers 503.
        pool_timeout_s=_int_env("MAJLIS_DB_POOL_TIMEOUT_S", 30),
        statement_timeout_ms=_int_env("MAJLIS_DB_STATEMENT_TIMEOUT_MS", 15_000),
        connect_timeout_s=_int_env("MAJLIS_DB_CONNECT_TIMEOUT_S", 5),
        smtp_host=os.environ.get("MAJLIS_SMTP_HOST", "127.0.0.1"),
        smtp_port=_int_env("MAJLIS_SMTP_PORT", 8025),
        mail_from=os.environ.get("MAJLIS_MAIL_FROM", "reminders@majlis.local"),
        log_level=os.environ.get("MAJLIS_LOG_LEVEL", "INFO"),
    )
