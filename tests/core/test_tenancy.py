"""The database itself keeps tenants apart, even when the application forgets to."""

from __future__ import annotations

import uuid

import psycopg
import pytest
from sqlalchemy import Engine, text

from majlis.core.dbcheck import check_keys_lead_with_company, check_rls, tenant_tables
from majlis.core.embedded import APP_ROLE, EmbeddedCluster
from majlis.core.models import Base


def test_every_tenant_table_has_forced_rls_and_company_leading_keys(admin_engine: Engine) -> None:
    with admin_engine.connect() as conn:
        tables = tenant_tables(conn)
        assert {"customers", "audit_log", "memberships", "api_tokens", "outbox_events"} <= set(
            tables
        )
        assert check_rls(conn) == []
        assert check_keys_lead_with_company(conn) == []
        primary_keys = dict(
            conn.execute(
                text(
                    "SELECT c.relname, a.attname FROM pg_index x"
                    " JOIN pg_class c ON c.oid = x.indrelid"
                    " JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum = x.indkey[0]"
                    " WHERE x.indisprimary AND c.relname = ANY(:t)"
                ),
                {"t": tables},
            ).all()
        )
    assert set(primary_keys) == set(tables)
    assert set(primary_keys.values()) == {"company_id"}


def test_every_mapped_table_with_company_id_is_a_tenant_table(admin_engine: Engine) -> None:
    mapped = {t.name for t in Base.metadata.tables.values() if "company_id" in t.columns}
    with admin_engine.connect() as conn:
        assert mapped <= set(tenant_tables(conn))


def test_catalog_check_catches_a_table_without_forced_rls(admin_engine: Engine) -> None:
    with admin_engine.connect() as conn, conn.begin() as transaction:
        conn.execute(
            text("CREATE TABLE leaky (company_id uuid, id uuid, PRIMARY KEY (id, company_id))")
        )
        problems = check_rls(conn) + check_keys_lead_with_company(conn)
        transaction.rollback()
    assert "leaky: row-level security is not enabled" in problems
    assert "leaky: row-level security is not forced" in problems
    assert any("leaky" in p and "does not lead with company_id" in p for p in problems)


def _raw_app_connection(
    cluster: EmbeddedCluster, company_id: uuid.UUID | None
) -> psycopg.Connection:
    """A plain psycopg connection as the application role — no Majlis code in between."""
    conn = psycopg.connect(
        host=str(cluster.socket_dir),
        port=cluster.port,
        dbname="majlis",
        user=APP_ROLE,
        password=cluster._password(APP_ROLE),
    )
    if company_id is not None:
        conn.execute("SELECT set_config('majlis.company_id', %s, true)", (str(company_id),))
    return conn


@pytest.fixture
def two_companies(make_tenant, owner) -> tuple[uuid.UUID, uuid.UUID, str]:
    a = make_tenant()
    b_tenant = make_tenant()
    with b_tenant.client() as b_client:
        b_customer = b_client.post("/api/v1/customers", json={"name": "B's customer"}).json()["id"]
    return a.company_id, b_tenant.company_id, b_customer


def test_raw_app_role_sees_and_touches_nothing_of_another_company(cluster, two_companies) -> None:
    a, b, b_customer = two_companies
    with _raw_app_connection(cluster, a) as conn:
        assert conn.execute(
            "SELECT count(*) FROM customers WHERE company_id = %s", (b,)
        ).fetchone() == (0,)
        assert conn.execute(
            "SELECT count(*) FROM customers WHERE id = %s", (b_customer,)
        ).fetchone() == (0,)
        assert conn.execute(
            "SELECT count(*) FROM audit_log WHERE company_id = %s", (b,)
        ).fetchone() == (0,)
        assert conn.execute("SELECT count(*) FROM companies WHERE id = %s", (b,)).fetchone() == (0,)
        updated = conn.execute("UPDATE customers SET name = 'hacked' WHERE id = %s", (b_customer,))
        assert updated.rowcount == 0
        deleted = conn.execute("DELETE FROM customers WHERE id = %s", (b_customer,))
        assert deleted.rowcount == 0
        with pytest.raises(psycopg.errors.InsufficientPrivilege, match="row-level security"):
            conn.execute(
                "INSERT INTO customers (company_id, id, kind, name)"
                " VALUES (%s, %s, 'individual', 'x')",
                (b, uuid.uuid4()),
            )
    with _raw_app_connection(cluster, b) as conn:
        assert conn.execute(
            "SELECT name FROM customers WHERE id = %s", (b_customer,)
        ).fetchone() == ("B's customer",)


def test_without_a_tenant_the_app_role_sees_nothing(cluster, two_companies) -> None:
    with _raw_app_connection(cluster, None) as conn:
        assert conn.execute("SELECT count(*) FROM customers").fetchone() == (0,)
        assert conn.execute("SELECT count(*) FROM companies").fetchone() == (0,)


def test_tenant_setting_does_not_outlive_its_transaction(cluster, two_companies) -> None:
    a, _, _ = two_companies
    with _raw_app_connection(cluster, a) as conn:
        assert conn.execute("SELECT majlis_current_company()").fetchone() == (a,)
        conn.commit()
        assert conn.execute("SELECT majlis_current_company()").fetchone() == (None,)


def test_app_role_cannot_bypass_rls_or_own_tables(admin_engine: Engine) -> None:
    with admin_engine.connect() as conn:
        row = conn.execute(
            text("SELECT rolsuper, rolbypassrls FROM pg_roles WHERE rolname = :r"), {"r": APP_ROLE}
        ).one()
        owned = conn.execute(
            text("SELECT count(*) FROM pg_class WHERE pg_get_userbyid(relowner) = :r"),
            {"r": APP_ROLE},
        ).scalar_one()
    assert (row.rolsuper, row.rolbypassrls, owned) == (False, False, 0)


def test_audit_log_is_append_only_for_the_app(cluster, tenant, owner) -> None:
    owner.post("/api/v1/customers", json={"name": "Audited"})
    with _raw_app_connection(cluster, tenant.company_id) as conn:
        assert conn.execute("SELECT count(*) FROM audit_log").fetchone()[0] > 0
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("UPDATE audit_log SET action = 'rewritten'")
    with (
        _raw_app_connection(cluster, tenant.company_id) as conn,
        pytest.raises(psycopg.errors.InsufficientPrivilege),
    ):
        conn.execute("DELETE FROM audit_log")
