"""`majlis db health`: the weekly look an operator takes at the database.

Slowest statements (pg_stat_statements), index usage per table, indexes never
scanned, the largest tables and indexes, and when each table was last
analyzed and vacuumed. Runs as the schema owner; reads statistics only.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Engine, text
from sqlalchemy.exc import DBAPIError


@dataclass(frozen=True)
class HealthSection:
    title: str
    columns: list[str]
    rows: list[list[Any]]
    note: str = ""


_SECTIONS = {
    "slowest statements (mean ms)": """
        SELECT left(regexp_replace(query, '\\s+', ' ', 'g'), 90) AS statement, calls,
               round(mean_exec_time::numeric, 2) AS mean_ms,
               round(total_exec_time::numeric, 0) AS total_ms, rows
          FROM pg_stat_statements
         WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())
         ORDER BY mean_exec_time DESC LIMIT :limit""",
    "index usage by table": """
        SELECT relname AS table, seq_scan, coalesce(idx_scan, 0) AS idx_scan,
               CASE WHEN seq_scan + coalesce(idx_scan, 0) = 0 THEN NULL
                    ELSE round(100.0 * coalesce(idx_scan, 0)
                               / (seq_scan + coalesce(idx_scan, 0)), 1) END AS idx_pct,
               n_live_tup AS live_rows
          FROM pg_stat_user_tables ORDER BY n_live_tup DESC LIMIT :limit""",
    "unused indexes (never scanned, not unique)": """
        SELECT s.relname AS table, s.indexrelname AS index,
               pg_size_pretty(pg_relation_size(s.indexrelid)) AS size
          FROM pg_stat_user_indexes s JOIN pg_index i ON i.indexrelid = s.indexrelid
         WHERE s.idx_scan = 0 AND NOT i.indisunique AND NOT i.indisprimary
         ORDER BY pg_relation_size(s.indexrelid) DESC LIMIT :limit""",
    "largest tables and indexes": """
        SELECT c.relname AS name, CASE c.relkind WHEN 'i' THEN 'index' WHEN 'm' THEN 'matview'
                                   ELSE 'table' END AS kind,
               pg_size_pretty(pg_total_relation_size(c.oid)) AS size
          FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
         WHERE n.nspname = 'public' AND c.relkind IN ('r', 'i', 'm')
         ORDER BY pg_total_relation_size(c.oid) DESC LIMIT :limit""",
    "last analyze / vacuum": """
        SELECT relname AS table,
               greatest(last_analyze, last_autoanalyze) AS last_analyze,
               greatest(last_vacuum, last_autovacuum) AS last_vacuum,
               n_dead_tup AS dead_rows
          FROM pg_stat_user_tables ORDER BY n_dead_tup DESC, relname LIMIT :limit""",
}


def _section(conn: Connection, title: str, sql: str, limit: int) -> HealthSection:
    try:
        with conn.begin_nested():
            result = conn.execute(text(sql), {"limit": limit})
            return HealthSection(title, list(result.keys()), [list(row) for row in result])
    except DBAPIError as exc:
        # pg_stat_statements may not be preloaded on an external server: say so, go on.
        return HealthSection(title, [], [], note=str(exc.orig).strip().splitlines()[0])


def database_health(engine: Engine, limit: int = 10) -> list[HealthSection]:
    """Every section of the report; a section that cannot be read carries a note instead."""
    with engine.connect() as conn, conn.begin():
        return [_section(conn, title, sql, limit) for title, sql in _SECTIONS.items()]
