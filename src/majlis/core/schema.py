"""DDL helpers that every migration uses, so tenancy is applied one way everywhere.

`enable_tenant_rls` is the only way a tenant table is created in Majlis:
RLS enabled *and forced* (the owner is not exempt by accident), a
`tenant_isolation` policy checking every read and write against the
transaction's `majlis.company_id`, and an explicit `maintenance` policy for
the schema owner alone (migrations, operator checks, the narrow SECURITY
DEFINER functions). The application role never gets it.
"""

from __future__ import annotations

from alembic import op

APP_ROLE = "majlis_app"
CURRENT_COMPANY = "majlis_current_company()"


def enable_tenant_rls(table: str, *, key: str = "company_id") -> None:
    op.execute(f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY")
    op.execute(f"ALTER TABLE {table} FORCE ROW LEVEL SECURITY")
    op.execute(
        f"CREATE POLICY tenant_isolation ON {table} "
        f"USING ({key} = {CURRENT_COMPANY}) WITH CHECK ({key} = {CURRENT_COMPANY})"
    )
    op.execute(
        f"CREATE POLICY maintenance ON {table} TO CURRENT_USER USING (true) WITH CHECK (true)"
    )


def grant_to_app(table: str, privileges: str = "SELECT, INSERT, UPDATE, DELETE") -> None:
    op.execute(f"GRANT {privileges} ON {table} TO {APP_ROLE}")
