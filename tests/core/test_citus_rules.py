"""The schema keeps to Citus's rules, so distributing by company_id stays a configuration step.

Rules checked (https://docs.citusdata.com, "distributed tables"): every tenant
table's primary and unique keys include the distribution column `company_id`;
a foreign key between two tenant tables includes `company_id` on both sides;
a tenant table may reference a shared (reference) table, but a shared table
never references a tenant table.
"""

from __future__ import annotations

from sqlalchemy import Engine, text

from majlis.core.dbcheck import tenant_tables

# Shared tables: replicated to every node as Citus reference tables.
REFERENCE_TABLES = {"companies", "users", "alembic_version"}


def test_unique_keys_include_company_id(admin_engine: Engine) -> None:
    with admin_engine.connect() as conn:
        tenants = tenant_tables(conn)
        offenders = conn.execute(
            text(
                """
                SELECT c.relname, i.relname
                  FROM pg_index x
                  JOIN pg_class c ON c.oid = x.indrelid
                  JOIN pg_class i ON i.oid = x.indexrelid
                 WHERE x.indisunique AND c.relname = ANY(:t)
                   AND NOT EXISTS (
                     SELECT 1 FROM unnest(x.indkey) k
                       JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum = k
                      WHERE a.attname = 'company_id')
                """
            ),
            {"t": tenants},
        ).all()
    assert offenders == []


def test_foreign_keys_follow_distribution_rules(admin_engine: Engine) -> None:
    with admin_engine.connect() as conn:
        tenants = set(tenant_tables(conn))
        foreign_keys = conn.execute(
            text(
                """
                SELECT k.conname, c.relname, p.relname,
                       array(SELECT a.attname FROM unnest(k.conkey) n
                               JOIN pg_attribute a ON a.attrelid = k.conrelid AND a.attnum = n),
                       array(SELECT a.attname FROM unnest(k.confkey) n
                               JOIN pg_attribute a ON a.attrelid = k.confrelid AND a.attnum = n)
                  FROM pg_constraint k
                  JOIN pg_class c ON c.oid = k.conrelid
                  JOIN pg_class p ON p.oid = k.confrelid
                  JOIN pg_namespace s ON s.oid = c.relnamespace
                 WHERE k.contype = 'f' AND s.nspname = 'public'
                """
            )
        ).all()
    all_tables = tenants | REFERENCE_TABLES
    problems = []
    for name, child, parent, child_cols, parent_cols in foreign_keys:
        if child not in all_tables or parent not in all_tables:
            problems.append(f"{name}: {child} → {parent} involves a table of unknown kind")
        elif child in tenants and parent in tenants:
            pairs = set(zip(child_cols, parent_cols, strict=True))
            if ("company_id", "company_id") not in pairs:
                problems.append(f"{name}: {child} → {parent} does not join on company_id")
        elif child in REFERENCE_TABLES and parent in tenants:
            problems.append(f"{name}: reference table {child} points at tenant table {parent}")
    assert problems == []
    assert any(
        child in tenants and parent == "companies" for _, child, parent, _, _ in foreign_keys
    )
