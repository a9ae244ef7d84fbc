"""`majlis db backup | restore`: pg_dump custom-format archives, verified.

A backup is only a backup once it has been read back: `backup` runs
`pg_restore --list` over the archive before it reports success. `restore`
loads an archive into an *empty* database and compares per-table row counts
and checksums with the ones recorded in the archive's sidecar file.
"""

from __future__ import annotations

import json
import subprocess
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Connection, Engine, text
from sqlalchemy.engine import make_url

from majlis.core.embedded import ClusterError, find_server_bindir


@dataclass(frozen=True)
class TableFingerprint:
    rows: int
    checksum: str


def libpq_dsn(sqlalchemy_url: str) -> str:
    """The same URL without the SQLAlchemy driver part, for pg_dump and pg_restore."""
    return (
        make_url(sqlalchemy_url).set(drivername="postgresql").render_as_string(hide_password=False)
    )


def public_tables(conn: Connection) -> list[str]:
    return list(
        conn.execute(
            text("SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY 1")
        ).scalars()
    )


_FINGERPRINT_SQL = (
    "SELECT count(*),"
    " coalesce(sum(('x' || substr(md5({row}::text), 1, 16))::bit(64)::bigint::numeric), 0)"
    ' FROM "{table}" t'
)


def stored_columns(conn: Connection) -> dict[str, list[str]]:
    """Each public base table's stored columns in order (generated ones are derived)."""
    rows = conn.execute(
        text(
            "SELECT c.table_name, c.column_name FROM information_schema.columns c"
            " JOIN information_schema.tables t USING (table_schema, table_name)"
            " WHERE c.table_schema = 'public' AND t.table_type = 'BASE TABLE'"
            " AND c.is_generated = 'NEVER'"
            " ORDER BY c.table_name, c.ordinal_position"
        )
    )
    columns: dict[str, list[str]] = {}
    for table, column in rows:
        columns.setdefault(table, []).append(column)
    return columns


def table_fingerprints(
    conn: Connection, columns: dict[str, list[str]] | None = None
) -> dict[str, TableFingerprint]:
    """Row count and an order-independent checksum of every table's rows.

    Each row's text form is hashed and the hashes are summed modulo 2^64, so
    the checksum does not depend on physical order or on a primary key. With
    `columns`, only those tables and columns count: what an older schema had,
    to compare across an upgrade that adds columns.
    """
    fingerprints = {}
    for table in public_tables(conn) if columns is None else sorted(columns):
        row = (
            "t" if columns is None else "ROW(" + ", ".join(f't."{c}"' for c in columns[table]) + ")"
        )
        rows, checksum = conn.execute(text(_FINGERPRINT_SQL.format(row=row, table=table))).one()
        fingerprints[table] = TableFingerprint(int(rows), str(int(checksum) % 2**64))
    return fingerprints


def _tool(name: str) -> str:
    return str(find_server_bindir() / name)


def _run(args: list[str]) -> str:
    result = subprocess.run(args, capture_output=True, text=True)
    if result.returncode != 0:
        raise ClusterError(
            f"{Path(args[0]).name} failed: {' | '.join(result.stderr.strip().splitlines()[-3:])}"
        )
    return result.stdout


def sidecar(archive: Path) -> Path:
    return archive.with_name(archive.name + ".manifest.json")


def backup(engine: Engine, url: str, archive: Path) -> dict[str, TableFingerprint]:
    """Dump the whole database to `archive` and prove the archive is readable."""
    with engine.connect() as conn:
        fingerprints = table_fingerprints(conn)
    # The owner is subject to forced RLS; its maintenance policy lets it read every tenant.
    _run(
        [
            _tool("pg_dump"),
            "--format=custom",
            "--enable-row-security",
            "--no-comments",
            f"--file={archive}",
            f"--dbname={libpq_dsn(url)}",
        ]
    )
    listing = _run([_tool("pg_restore"), "--list", str(archive)])
    missing = [t for t in fingerprints if f"TABLE DATA public {t} " not in listing]
    if missing:
        raise ClusterError(f"the archive lacks data for {', '.join(missing)}")
    sidecar(archive).write_text(
        json.dumps({t: f.__dict__ for t, f in fingerprints.items()}, indent=2)
    )
    return fingerprints


def restore(engine: Engine, url: str, archive: Path) -> list[str]:
    """Load `archive` into the (empty) database behind `url`; returns mismatches (none = ok)."""
    with engine.connect() as conn:
        if public_tables(conn):
            raise ClusterError("the target database is not empty; restore into a fresh one")
    _run(
        [
            _tool("pg_restore"),
            "--exit-on-error",
            "--no-comments",
            "--single-transaction",
            # Materialized views are refreshed during the restore, as the owner
            # under forced RLS; without this pg_restore refuses such queries.
            "--enable-row-security",
            f"--dbname={libpq_dsn(url)}",
            str(archive),
        ]
    )
    expected = {
        table: TableFingerprint(**values)
        for table, values in json.loads(sidecar(archive).read_text()).items()
    }
    with engine.connect() as conn:
        actual = table_fingerprints(conn)
    return [
        f"{table}: expected {want.rows} rows ({want.checksum}), found {actual.get(table)}"
        for table, want in expected.items()
        if actual.get(table) != want
    ]
