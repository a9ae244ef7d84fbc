"""`majlis db check`: validate a deployed schema the way an operator would after a deploy.

Each check returns the problems it found (empty when healthy). Checks read
the catalog and, for data integrity, the rows of every company, so they run
as the schema owner.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import Connection, Engine, text
from sqlalchemy.exc import DBAPIError

from majlis.core.embedded import APP_ROLE
from majlis.core.migrate import deployed_heads, expected_heads
from majlis.core.models import Base, load_all_models

ARABIC_SAMPLE, THAI_SAMPLE = "محمد", "สมชาย"


@dataclass(frozen=True)
class CheckResult:
    name: str
    problems: list[str]

    @property
    def ok(self) -> bool:
        return not self.problems


def _scalar_list(conn: Connection, sql: str, **params: object) -> list[str]:
    return [str(row[0]) for row in conn.execute(text(sql), params)]


def check_migrations(conn: Connection, engine: Engine) -> list[str]:
    deployed, expected = deployed_heads(engine), expected_heads()
    if deployed == expected:
        return []
    return [f"schema is at {sorted(deployed) or 'nothing'}, code expects {sorted(expected)}"]


def check_tables(conn: Connection) -> list[str]:
    problems = []
    for table in Base.metadata.sorted_tables:
        columns = set(
            _scalar_list(
                conn,
                "SELECT column_name FROM information_schema.columns"
                " WHERE table_schema = 'public' AND table_name = :t",
                t=table.name,
            )
        )
        if not columns:
            problems.append(f"table {table.name} is missing")
            continue
        missing = sorted(set(table.columns.keys()) - columns)
        if missing:
            problems.append(f"table {table.name} lacks columns {', '.join(missing)}")
    return problems


def check_enums(conn: Connection) -> list[str]:
    problems = []
    enums = {
        column.type.name: list(column.type.enums)  # type: ignore[attr-defined]
        for table in Base.metadata.tables.values()
        for column in table.columns
        if getattr(column.type, "name", None) and hasattr(column.type, "enums")
    }
    for name, labels in sorted(enums.items()):
        deployed = _scalar_list(
            conn,
            "SELECT e.enumlabel FROM pg_enum e JOIN pg_type t ON t.oid = e.enumtypid"
            " WHERE t.typname = :n ORDER BY e.enumsortorder",
            n=name,
        )
        missing = [label for label in labels if label not in deployed]
        if not deployed:
            problems.append(f"enum {name} is missing")
        elif missing:
            problems.append(f"enum {name} lacks values {', '.join(missing)}")
    return problems


def tenant_tables(conn: Connection) -> list[str]:
    """Every table in public with a company_id column is tenant-owned."""
    return _scalar_list(
        conn,
        "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
        " JOIN pg_attribute a ON a.attrelid = c.oid AND a.attname = 'company_id'"
        " WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p') ORDER BY 1",
    )


def check_rls(conn: Connection) -> list[str]:
    problems = []
    for table in [*tenant_tables(conn), "companies"]:
        enabled, forced = conn.execute(
            text(
                "SELECT relrowsecurity, relforcerowsecurity FROM pg_class"
                " WHERE oid = CAST(:t AS regclass)"
            ),
            {"t": table},
        ).one()
        policies = _scalar_list(
            conn, "SELECT policyname FROM pg_policies WHERE tablename = :t", t=table
        )
        if not enabled:
            problems.append(f"{table}: row-level security is not enabled")
        if not forced:
            problems.append(f"{table}: row-level security is not forced")
        if "tenant_isolation" not in policies:
            problems.append(f"{table}: tenant_isolation policy is missing")
    return problems


def check_keys_lead_with_company(conn: Connection) -> list[str]:
    """Primary, unique and foreign keys and indexes of tenant tables start with company_id."""
    rows = conn.execute(
        text(
            """
            SELECT c.relname, i.relname, a.attname
              FROM pg_index x
              JOIN pg_class c ON c.oid = x.indrelid
              JOIN pg_class i ON i.oid = x.indexrelid
              JOIN pg_namespace n ON n.oid = c.relnamespace
              LEFT JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum = x.indkey[0]
             WHERE n.nspname = 'public' AND c.relname = ANY(:tables)
            UNION ALL
            SELECT c.relname, k.conname, a.attname
              FROM pg_constraint k
              JOIN pg_class c ON c.oid = k.conrelid
              JOIN pg_class p ON p.oid = k.confrelid
              LEFT JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum = k.conkey[1]
             WHERE k.contype = 'f' AND c.relname = ANY(:tables) AND p.relname = ANY(:tables)
            """
        ),
        {"tables": tenant_tables(conn)},
    )
    return [
        f"{table}: {key} does not lead with company_id"
        for table, key, first in rows
        if first != "company_id"
    ]


def check_indexes_valid(conn: Connection) -> list[str]:
    names = _scalar_list(
        conn,
        "SELECT i.relname FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid"
        " JOIN pg_namespace n ON n.oid = i.relnamespace"
        " WHERE n.nspname = 'public' AND NOT (x.indisvalid AND x.indisready)",
    )
    declared = {index.name for table in Base.metadata.tables.values() for index in table.indexes}
    deployed = set(
        _scalar_list(conn, "SELECT indexname FROM pg_indexes WHERE schemaname = 'public'")
    )
    missing = sorted(str(name) for name in declared - deployed)
    return [f"index {name} is invalid (a failed concurrent build?)" for name in names] + [
        f"index {name} is missing" for name in missing
    ]


def check_locale(conn: Connection) -> list[str]:
    problems = []
    for sample in (ARABIC_SAMPLE, THAI_SAMPLE):
        trigrams = conn.execute(text("SELECT show_trgm(:s)"), {"s": sample}).scalar_one()
        if not trigrams:
            collate = conn.execute(
                text("SELECT datctype FROM pg_database WHERE datname = current_database()")
            ).scalar_one()
            problems.append(
                f"the database's character classification ({collate}) drops {sample!r} from"
                " pg_trgm: search cannot index Arabic/Thai; recreate it with a UTF-8 locale"
            )
    return problems


def check_app_role(conn: Connection) -> list[str]:
    row = conn.execute(
        text("SELECT rolsuper, rolbypassrls FROM pg_roles WHERE rolname = :r"), {"r": APP_ROLE}
    ).one_or_none()
    if row is None:
        return [f"application role {APP_ROLE} does not exist"]
    problems = []
    if row.rolsuper or row.rolbypassrls:
        problems.append(f"application role {APP_ROLE} can bypass row-level security")
    owned = _scalar_list(
        conn,
        "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
        " WHERE n.nspname = 'public' AND pg_get_userbyid(c.relowner) = :r",
        r=APP_ROLE,
    )
    if owned:
        problems.append(f"application role {APP_ROLE} owns {', '.join(owned)}")
    return problems


def check_customer_data(conn: Connection) -> list[str]:
    bad_trn = conn.execute(
        text(
            "SELECT company_id, count(*) FROM customers"
            " WHERE trn IS NOT NULL AND trn !~ '^[0-9]{15}$' GROUP BY company_id"
        )
    ).all()
    bad_risk = conn.execute(
        text(
            "SELECT company_id, count(*) FROM customers"
            " WHERE risk_score IS NOT NULL AND (risk_score < 0 OR risk_score > 10)"
            " GROUP BY company_id"
        )
    ).all()
    return [f"company {c}: {n} customer TRN(s) are not exactly 15 digits" for c, n in bad_trn] + [
        f"company {c}: {n} risk score(s) outside 0–10" for c, n in bad_risk
    ]


def check_orphans(conn: Connection) -> list[str]:
    """Rows whose foreign key points nowhere (after disabled triggers or NOT VALID keys)."""
    problems = []
    foreign_keys = conn.execute(
        text(
            """
            SELECT k.conname, c.relname AS child, p.relname AS parent,
                   array_agg(ca.attname ORDER BY u.ord) AS child_cols,
                   array_agg(pa.attname ORDER BY u.ord) AS parent_cols
              FROM pg_constraint k
              JOIN pg_class c ON c.oid = k.conrelid
              JOIN pg_class p ON p.oid = k.confrelid
              JOIN pg_namespace n ON n.oid = c.relnamespace
              CROSS JOIN LATERAL unnest(k.conkey, k.confkey) WITH ORDINALITY AS u(ck, pk, ord)
              JOIN pg_attribute ca ON ca.attrelid = c.oid AND ca.attnum = u.ck
              JOIN pg_attribute pa ON pa.attrelid = p.oid AND pa.attnum = u.pk
             WHERE k.contype = 'f' AND n.nspname = 'public'
             GROUP BY k.conname, c.relname, p.relname
            """
        )
    ).all()
    for name, child, parent, child_cols, parent_cols in foreign_keys:
        not_null = " AND ".join(f'ch."{col}" IS NOT NULL' for col in child_cols)
        joined = " AND ".join(
            f'pa."{pc}" = ch."{cc}"' for cc, pc in zip(child_cols, parent_cols, strict=True)
        )
        count = conn.execute(
            text(
                f'SELECT count(*) FROM "{child}" ch WHERE {not_null}'
                f' AND NOT EXISTS (SELECT 1 FROM "{parent}" pa WHERE {joined})'
            )
        ).scalar_one()
        if count:
            problems.append(f"{child}: {count} row(s) break {name} (no matching {parent})")
    return problems


def run_checks(engine: Engine) -> list[CheckResult]:
    load_all_models()
    checks: list[tuple[str, Callable[[Connection], list[str]]]] = [
        ("migrations at head", lambda conn: check_migrations(conn, engine)),
        ("tables and columns", check_tables),
        ("enum types", check_enums),
        ("indexes present and valid", check_indexes_valid),
        ("RLS enabled and forced", check_rls),
        ("keys lead with company_id", check_keys_lead_with_company),
        ("application role", check_app_role),
        ("locale indexes Arabic and Thai", check_locale),
        ("customer TRNs and risk scores", check_customer_data),
        ("no orphaned rows", check_orphans),
    ]
    results = []
    for name, check in checks:
        # Each check on its own connection: one failing query must not hide the rest.
        with engine.connect() as conn:
            try:
                problems = check(conn)
            except DBAPIError as exc:
                problems = [f"could not run: {str(exc.orig).splitlines()[0]}"]
        results.append(CheckResult(name, problems))
    return results
