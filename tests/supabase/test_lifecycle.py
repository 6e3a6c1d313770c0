"""On a database built the Supabase way: migrate, seed, remove the seed, roll back to 0 (from files rebuilt by
`supabase migration fetch`), and the catalog and the data are exactly as Supabase made them."""

from __future__ import annotations

import subprocess
from pathlib import Path

import asyncpg
import pytest

from renubu_mcp import migrate
from renubu_mcp.demo import DEMO_USERS

from .cluster import EARLY_USER, superuser_dsn
from .conftest import PASSWORD

AUTH_FUNCTIONS = ("auth.uid()", "auth.role()", "auth.email()", "auth.jwt()")


def catalog(pg, dbname: str) -> str:
    """Everything pg_dump sees (schema, privileges, data), but the CLI's history table, and the cluster's roles."""
    dump = subprocess.run(
        [str(pg.bindir / "pg_dump"), "--exclude-schema=supabase_migrations", "--dbname", superuser_dsn(pg, dbname)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    lines = [line for line in dump.splitlines() if line.strip() and not line.startswith(("--", "\\"))]
    roles = subprocess.run(
        [
            str(pg.bindir.parent / "bin" / "psql"),
            "-X",
            "-A",
            "-t",
            "-d",
            superuser_dsn(pg, dbname),
            "-c",
            "SELECT r.rolname, r.rolsuper, r.rolinherit, r.rolbypassrls, r.rolcanlogin,"
            " r.rolconfig, array(SELECT m.rolname FROM pg_auth_members a"
            " JOIN pg_roles m ON m.oid = a.roleid WHERE a.member = r.oid ORDER BY 1)"
            " FROM pg_roles r ORDER BY 1",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return "\n".join(lines) + "\n-- roles --\n" + roles


async def fetch(dsn: str, sql: str, *args):
    conn = await asyncpg.connect(dsn)
    try:
        return await conn.fetch(sql, *args)
    finally:
        await conn.close()


async def executable_by_request_roles(dsn: str) -> set[tuple[str, str]]:
    rows = await fetch(
        dsn,
        """
        SELECT f AS fn, a.grantee::regrole::text AS role
        FROM unnest($1::text[]) AS f, pg_proc p, aclexplode(coalesce(p.proacl, acldefault('f', p.proowner))) a
        WHERE p.oid = to_regprocedure(f) AND a.grantee <> 0 AND a.grantee::regrole::text IN
              ('anon', 'authenticated', 'service_role')""",
        list(AUTH_FUNCTIONS),
    )
    return {(r["fn"], r["role"]) for r in rows}


def fetched_copies(rows, directory: Path) -> Path:
    """The migration files as `supabase migration fetch` writes them from the history table."""
    directory.mkdir()
    for row in rows:
        (directory / f"{row['version']}_{row['name']}.sql").write_text(";\n".join(row["statements"]) + ";\n")
    return directory


@pytest.mark.parametrize("project_has_pg_trgm", [False, True])
async def test_migrate_seed_remove_and_roll_back_leave_the_supabase_catalog_exactly_as_it_was(
    pg, database_factory, tmp_path, project_has_pg_trgm
):
    db = database_factory()
    if project_has_pg_trgm:  # the project enabled it itself: it is Supabase's, not ours
        await fetch(db.owner_dsn, "CREATE EXTENSION pg_trgm WITH SCHEMA extensions")
    before = catalog(pg, db.name)

    applied = await migrate.migrate(db.owner_dsn)
    assert applied and await executable_by_request_roles(db.owner_dsn) == {
        (f, r) for f in AUTH_FUNCTIONS for r in ("anon", "authenticated", "service_role")
    }
    assert await migrate.seed_demo(db.owner_dsn, demo_password=PASSWORD)
    users = await fetch(
        db.owner_dsn,
        "SELECT u.email, u.aud, u.role, u.instance_id::text, u.email_confirmed_at,"
        " u.encrypted_password = extensions.crypt($1, u.encrypted_password) AS ok,"
        " (SELECT count(*) FROM auth.identities i WHERE i.user_id = u.id) AS identities"
        " FROM auth.users u ORDER BY u.email",
        PASSWORD,
    )
    demo = [u for u in users if u["email"].endswith("@example.com")]
    assert [u["email"] for u in demo] == sorted(u.email for u in DEMO_USERS)
    assert all(
        (u["aud"], u["role"], u["instance_id"], u["ok"], u["identities"])
        == ("authenticated", "authenticated", "00000000-0000-0000-0000-000000000000", True, 1)
        and u["email_confirmed_at"] is not None
        for u in demo
    )

    # What the CLI recorded lets `supabase migration fetch` rebuild files this runner takes as they are.
    history = await fetch(db.owner_dsn, "SELECT version, name, statements FROM supabase_migrations.schema_migrations")
    assert all(len(row["statements"]) > 1 for row in history)
    fetched = fetched_copies(history, tmp_path / "fetched")
    assert {s.state for s in await migrate.status(db.owner_dsn, fetched)} == {"applied"}
    assert await migrate.migrate(db.owner_dsn, fetched) == []

    await migrate.remove_demo(db.owner_dsn)
    undone = await migrate.rollback(db.owner_dsn, to="0", migrations_dir=fetched)
    assert undone == applied[::-1]
    assert await executable_by_request_roles(db.owner_dsn) == set()
    extensions = {r["extname"] for r in await fetch(db.owner_dsn, "SELECT extname FROM pg_extension")}
    assert ("pg_trgm" in extensions) is project_has_pg_trgm
    after = catalog(pg, db.name)
    assert after == before


async def test_the_early_sign_up_is_left_alone_and_later_sign_ups_get_a_profile(demo_db):
    from .cluster import auth_server_signs_up

    rows = await fetch(demo_db.owner_dsn, "SELECT id::text, email FROM public.profiles WHERE email = $1", EARLY_USER[1])
    assert rows == []  # signed up before the migrations: no profile, so not a Renubu user
    await auth_server_signs_up(
        superuser_dsn(demo_db._cluster, demo_db.name),
        "5b1e0000-0000-4000-8000-0000000000d0",
        "dave@later.example",
        "a later password",
        "Dave Later",
    )
    rows = await fetch(
        demo_db.owner_dsn, "SELECT full_name, role FROM public.profiles WHERE email = $1", "dave@later.example"
    )
    assert [tuple(r) for r in rows] == [("Dave Later", "user")]


async def test_the_serving_role_is_checked_as_supabase_made_it(demo_db):
    from renubu_mcp.db import Database, UnsafeLoginRole

    app = await Database.connect(demo_db.app_dsn, max_size=1)
    try:
        assert await app.check_login_role() == "authenticator"
    finally:
        await app.close()
    owner = await Database.connect(demo_db.owner_dsn, max_size=1)
    try:
        with pytest.raises(UnsafeLoginRole, match="BYPASSRLS"):
            await owner.check_login_role()
    finally:
        await owner.close()
