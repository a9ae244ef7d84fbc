"""Every revision upgrades and downgrades cleanly on a real cluster."""

from __future__ import annotations

from sqlalchemy import create_engine, text

from majlis.core import migrate
from majlis.core.embedded import OWNER_ROLE, EmbeddedCluster


def _public_objects(url: str) -> tuple[list[str], list[str]]:
    engine = create_engine(url)
    with engine.connect() as conn:
        tables = (
            conn.execute(
                text("SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY 1")
            )
            .scalars()
            .all()
        )
        types = (
            conn.execute(
                text(
                    "SELECT t.typname FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace"
                    " WHERE n.nspname = 'public' AND t.typtype = 'e' ORDER BY 1"
                )
            )
            .scalars()
            .all()
        )
    engine.dispose()
    return list(tables), list(types)


def test_upgrade_downgrade_base_upgrade(cluster: EmbeddedCluster) -> None:
    cluster.create_database("majlis_migrations")
    url = cluster.url(OWNER_ROLE, database="majlis_migrations")
    try:
        migrate.upgrade(url)
        tables, types = _public_objects(url)
        assert {"customers", "companies", "audit_log"} <= set(tables)
        assert "business_type" in types
        migrate.downgrade(url, "base")
        assert _public_objects(url) == (["alembic_version"], [])
        migrate.upgrade(url)
        assert _public_objects(url)[0] == tables
    finally:
        cluster.drop_database("majlis_migrations")
