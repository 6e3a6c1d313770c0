"""Grants the request roles end up with: on plain PostgreSQL, and under Supabase's default privileges.

A Supabase project runs `ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT ALL ON TABLES / FUNCTIONS TO anon,
authenticated, service_role`, so every table and function the migrations create there is granted to anon and
authenticated explicitly. `REVOKE ... FROM PUBLIC` does not undo an explicit grant, and a column-level SELECT
grant means nothing next to a table-level one. The migrations say they run on Supabase; these tests hold
them to the same privileges there as here.
"""

from __future__ import annotations

import asyncpg
import pytest

from renubu_mcp import migrate as migrations
from renubu_mcp.db import REQUEST_FUNCTIONS

from .catalog import definer_functions_executable_by_anon

SUPABASE_DEFAULTS = """
ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT ALL ON TABLES TO anon, authenticated, service_role;
ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT ALL ON FUNCTIONS TO anon, authenticated, service_role;
ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT ALL ON SEQUENCES TO anon, authenticated, service_role;
"""

# What anon may touch at all: public reading of releases and published help articles.
ANON_TABLE_PRIVILEGES = {("releases", "SELECT"), ("help_articles", "SELECT")}


@pytest.fixture(scope="module", params=["plain PostgreSQL", "Supabase default privileges"])
async def granted(request, database_factory, rls_template):  # rls_template: the roles exist cluster-wide
    db = database_factory(prefix="rls_grants")
    conn = await asyncpg.connect(db.owner_dsn)
    if request.param == "Supabase default privileges":
        await conn.execute(SUPABASE_DEFAULTS)
    await migrations.migrate(db.owner_dsn)
    yield conn
    await conn.close()
    db.drop()


@pytest.mark.parametrize("role", ["anon", "authenticated", "service_role"])
async def test_only_the_login_role_can_execute_a_request_function(granted, role):
    """A request function takes the role and claims as arguments: a user who could call it could be anyone."""
    for function in REQUEST_FUNCTIONS:
        assert not await granted.fetchval("SELECT has_function_privilege($1, $2, 'EXECUTE')", role, function)
        assert await granted.fetchval("SELECT has_function_privilege('authenticator', $1, 'EXECUTE')", function)


async def test_anon_can_execute_no_security_definer_function(granted):
    offenders = await definer_functions_executable_by_anon(granted)
    assert offenders == [], "anon can execute: " + ", ".join(offenders)


async def test_only_the_login_role_can_look_users_up(granted):
    rows = await granted.fetch(
        "SELECT r AS role FROM unnest(ARRAY['anon', 'authenticated']) AS r"
        " WHERE has_function_privilege(r, 'public.find_user(text, uuid)', 'EXECUTE')"
    )
    assert [r["role"] for r in rows] == [], "request roles that can enumerate users: " + str([r["role"] for r in rows])
    assert await granted.fetchval(
        "SELECT has_function_privilege('authenticator', 'public.find_user(text, uuid)', 'EXECUTE')"
    )


@pytest.mark.parametrize("role", ["anon", "authenticated"])
async def test_no_request_role_can_select_the_integration_client_secret(granted, role):
    assert not await granted.fetchval(
        "SELECT has_column_privilege($1, 'public.mcp_integrations', 'client_secret_encrypted', 'SELECT')", role
    )


async def test_anon_holds_no_table_privilege_beyond_public_reading(granted):
    rows = await granted.fetch(
        """
        SELECT c.relname, p.priv FROM pg_class c
        CROSS JOIN unnest(ARRAY['SELECT', 'INSERT', 'UPDATE', 'DELETE', 'TRUNCATE', 'REFERENCES', 'TRIGGER']) AS p(priv)
        WHERE c.relnamespace = 'public'::regnamespace AND c.relkind IN ('r', 'p', 'v')
          AND has_table_privilege('anon', c.oid, p.priv)
        """
    )
    extra = sorted({(r["relname"], r["priv"]) for r in rows} - ANON_TABLE_PRIVILEGES)
    assert extra == [], f"anon holds {extra}"


@pytest.mark.parametrize("role", ["anon", "authenticated"])
async def test_no_request_role_can_truncate_or_hang_triggers_on_a_table(granted, role):
    """TRUNCATE ignores row-level security altogether; TRIGGER and REFERENCES are never needed by a request."""
    rows = await granted.fetch(
        """
        SELECT c.relname || ' ' || p.priv AS held FROM pg_class c
        CROSS JOIN unnest(ARRAY['TRUNCATE', 'TRIGGER', 'REFERENCES']) AS p(priv)
        WHERE c.relnamespace = 'public'::regnamespace AND c.relkind IN ('r', 'p') AND has_table_privilege($1, c.oid, p.priv)
        ORDER BY 1
        """,
        role,
    )
    assert [r["held"] for r in rows] == [], f"{role} holds: " + ", ".join(r["held"] for r in rows)
