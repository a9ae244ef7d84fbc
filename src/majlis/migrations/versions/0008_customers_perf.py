"""Per-request overhead: authenticate a token and name the tenant in one round trip.

Every API request used to spend four statements before its real work: name the
company, look the token up, name the user, and (once a minute) stamp
`last_used_at`. `majlis_authenticate` does all of it in one call. It runs as the
caller (no SECURITY DEFINER), so the token lookup stays under row-level
security: the function names the company first, then reads.

Revision ID: 0008_customers_perf
Revises: 0002_customers
"""

from alembic import op

from majlis.core.schema import APP_ROLE

revision = "0008_customers_perf"
down_revision = "0002_customers"
branch_labels = ("customers_perf",)
depends_on = None

SIGNATURE = "majlis_authenticate(uuid, bytea)"
# What this migration locks on tables that may already be large, and the way around it.
LOCKS = "none: creates one function only; existing tables are untouched."


def upgrade() -> None:
    # No SET clause on the function: with one, PostgreSQL would undo the
    # transaction-local settings made inside it when it returns. Names are
    # schema-qualified instead.
    op.execute(
        """
        CREATE FUNCTION majlis_authenticate(p_company_id uuid, p_token_hash bytea)
        RETURNS TABLE (token_user_id uuid, token_role text, token_usable boolean)
        LANGUAGE plpgsql VOLATILE AS
        $$
        DECLARE
          hit record;
        BEGIN
          PERFORM pg_catalog.set_config('majlis.company_id', p_company_id::text, true);
          SELECT t.id, t.user_id, m.role::text AS role, t.last_used_at,
                 t.revoked_at IS NULL AND m.is_active AND u.is_active AS usable
            INTO hit
            FROM public.api_tokens t
            JOIN public.memberships m ON m.company_id = t.company_id AND m.user_id = t.user_id
            JOIN public.users u ON u.id = t.user_id
           WHERE t.company_id = p_company_id AND t.token_hash = p_token_hash;
          IF NOT FOUND THEN
            RETURN;
          END IF;
          IF hit.usable THEN
            PERFORM pg_catalog.set_config('majlis.user_id', hit.user_id::text, true);
            -- Stamping every request would turn reads into writes; a minute is precise enough.
            -- The stamp's row lock lasts as long as the request's transaction, so concurrent
            -- requests with the same token skip the stamp (SKIP LOCKED) instead of queueing
            -- behind each other: under load a blocking UPDATE here serialised every request.
            IF hit.last_used_at IS NULL OR hit.last_used_at < now() - interval '1 minute' THEN
              PERFORM 1 FROM public.api_tokens
               WHERE company_id = p_company_id AND id = hit.id
                 FOR UPDATE SKIP LOCKED;
              IF FOUND THEN
                UPDATE public.api_tokens SET last_used_at = now()
                 WHERE company_id = p_company_id AND id = hit.id
                   AND (last_used_at IS NULL OR last_used_at < now() - interval '1 minute');
              END IF;
            END IF;
          END IF;
          RETURN QUERY SELECT hit.user_id, hit.role, hit.usable;
        END
        $$
        """
    )
    op.execute(f"REVOKE ALL ON FUNCTION {SIGNATURE} FROM PUBLIC")
    op.execute(f"GRANT EXECUTE ON FUNCTION {SIGNATURE} TO {APP_ROLE}")


def downgrade() -> None:
    op.execute(f"DROP FUNCTION {SIGNATURE}")
