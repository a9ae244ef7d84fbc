"""Upgrading a database that holds a previous release's data keeps every row as it was.

`data/release-0.1.sql.gz` is release 0.1's bilingual demo data (`majlis demo load`
at that release), dumped with `pg_dump --data-only --column-inserts`. The test
rebuilds that release's schema, loads the data, upgrades to today's heads and
compares each old table's rows, column by column, before and after.
"""

from __future__ import annotations

import gzip
from pathlib import Path

import psycopg
import pytest
from sqlalchemy import create_engine, text

from majlis.core import migrate
from majlis.core.backup import libpq_dsn, stored_columns, table_fingerprints
from majlis.core.embedded import APP_ROLE, OWNER_ROLE, SUPERUSER, EmbeddedCluster
from majlis.migrations.releases import RELEASES

DATA = Path(__file__).parent / "data"


def _load(superuser_url: str, dump: Path) -> None:
    """Insert the dump as it was taken: triggers and foreign-key checks paused meanwhile."""
    with psycopg.connect(libpq_dsn(superuser_url), autocommit=False) as conn:
        conn.execute("SET session_replication_role = replica")
        conn.execute(gzip.decompress(dump.read_bytes()).decode())  # type: ignore[arg-type]
        conn.commit()


@pytest.mark.parametrize("release", sorted(RELEASES))
def test_upgrade_from_a_release_keeps_its_rows(cluster: EmbeddedCluster, release: str) -> None:
    database = f"majlis_upgrade_{release.replace('.', '_')}"
    cluster.create_database(database)
    owner_url = cluster.url(OWNER_ROLE, database=database)
    engine = create_engine(owner_url)
    try:
        for head in RELEASES[release]:
            migrate.upgrade(owner_url, head)
        _load(cluster.url(SUPERUSER, database=database), DATA / f"release-{release}.sql.gz")
        with engine.connect() as conn:
            columns = stored_columns(conn)
            columns.pop("alembic_version")
            before = table_fingerprints(conn, columns)
        assert before["customers"].rows > 0 and before["invoices"].rows > 0

        migrate.upgrade(owner_url)

        with engine.connect() as conn:
            assert table_fingerprints(conn, columns) == before
            assert migrate.deployed_heads(engine) == migrate.expected_heads()
        _app_reads_the_old_rows(owner_url, cluster.url(APP_ROLE, database=database))
    finally:
        engine.dispose()
        cluster.drop_database(database)


def _app_reads_the_old_rows(owner_url: str, app_url: str) -> None:
    """Under RLS, as the application, each company sees exactly its own upgraded customers."""
    owner, app = create_engine(owner_url), create_engine(app_url)
    try:
        with owner.connect() as conn:
            expected = dict(
                conn.execute(text("SELECT company_id, count(*) FROM customers GROUP BY 1")).all()
            )
        for company_id, count in expected.items():
            with app.begin() as conn:
                conn.execute(
                    text("SELECT set_config('majlis.company_id', :c, true)"), {"c": str(company_id)}
                )
                assert conn.execute(text("SELECT count(*) FROM customers")).scalar_one() == count
    finally:
        owner.dispose()
        app.dispose()
