"""`renubu-mcp users set-password` and `renubu-mcp db seed --demo [--remove]`, as their users run them."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import asyncpg
import pytest

from renubu_mcp import migrate
from renubu_mcp.demo import DEMO_USERS

from tests.test_migrate import dump_schema

NEW_PASSWORD = "a-new-password-42"


def cli(*args: str, database_url: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RENUBU_")}
    env["RENUBU_MIGRATION_DATABASE_URL"] = database_url
    script = Path(sys.executable).with_name("renubu-mcp")
    return subprocess.run([str(script), *args], input=stdin, capture_output=True, text=True, env=env, timeout=120)


async def query(dsn: str, sql: str, *args: object):
    conn = await asyncpg.connect(dsn)
    try:
        return await conn.fetchval(sql, *args)
    finally:
        await conn.close()


async def password_is(dsn: str, email: str, password: str) -> bool:
    return await query(
        dsn,
        "SELECT u.encrypted_password = extensions.crypt($2, u.encrypted_password) FROM auth.users u WHERE u.email = $1",
        email,
        password,
    )


async def test_set_password_reads_stdin_and_stores_bcrypt_that_lifts_a_lock(demo_db):
    await query(
        demo_db.owner_dsn,
        "INSERT INTO renubu_auth.sign_in_failures (email, failures, locked_until)"
        " VALUES ('alice@example.com', 10, now() + interval '15 minutes')",
    )
    done = cli(
        "users",
        "set-password",
        "--email",
        "Alice@Example.com",
        database_url=demo_db.owner_dsn,
        stdin=NEW_PASSWORD + "\n",
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout == "password set for Alice@Example.com\n" and NEW_PASSWORD not in done.stdout + done.stderr
    assert await password_is(demo_db.owner_dsn, "alice@example.com", NEW_PASSWORD)
    assert (
        await query(
            demo_db.owner_dsn, "SELECT encrypted_password FROM auth.users WHERE email = $1", "alice@example.com"
        )
    ).startswith("$2a$10$")
    assert await query(demo_db.owner_dsn, "SELECT count(*) FROM renubu_auth.sign_in_failures") == 0


@pytest.mark.parametrize(
    ("email", "stdin", "says"),
    [
        ("alice@example.com", "short\n", "at least 8 characters"),
        ("alice@example.com", "x" * 73 + "\n", "at most 72 bytes"),
        ("alice@example.com", " padded-password\n", "white space"),
        ("nobody@example.com", NEW_PASSWORD + "\n", "no user has the email 'nobody@example.com'"),
    ],
)
async def test_set_password_refuses_in_one_line_and_changes_nothing(demo_db, email, stdin, says):
    before = await query(
        demo_db.owner_dsn, "SELECT string_agg(coalesce(encrypted_password, ''), ',' ORDER BY id) FROM auth.users"
    )
    done = cli("users", "set-password", "--email", email, database_url=demo_db.owner_dsn, stdin=stdin)
    assert done.returncode == 1 and done.stderr.count("\n") == 1 and says in done.stderr, done.stderr
    assert stdin.strip() not in done.stderr or says.startswith("no user")
    after = await query(
        demo_db.owner_dsn, "SELECT string_agg(coalesce(encrypted_password, ''), ',' ORDER BY id) FROM auth.users"
    )
    assert before == after


def test_the_password_is_never_taken_from_the_command_line():
    done = subprocess.run(
        [
            str(Path(sys.executable).with_name("renubu-mcp")),
            "users",
            "set-password",
            "--email",
            "a@example.com",
            "--password",
            "x",
        ],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 2 and "unrecognized arguments: --password" in done.stderr


def data_dump(pg, dsn: str) -> str:
    out = subprocess.run(
        [str(pg.bindir / "pg_dump"), "--data-only", "--exclude-schema=supabase_migrations", "--dbname", dsn],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return "\n".join(line for line in out.splitlines() if line.strip() and not line.startswith(("--", "\\")))


async def test_the_demo_seed_writes_users_as_supabase_auth_and_remove_takes_out_exactly_what_it_put_in(
    pg, fresh_database: Callable
):
    db = fresh_database()
    await migrate.migrate(db.owner_dsn)
    # Someone's own data, there before the demo: it must come through untouched.
    conn = await asyncpg.connect(db.owner_dsn)
    try:
        await conn.execute("""
            INSERT INTO auth.users (id, email, raw_user_meta_data) VALUES
              ('aaaaaaaa-0000-4000-8000-000000000001', 'carol@corp.example', '{"full_name": "Carol"}');
            INSERT INTO public.customers (id, name, created_by) VALUES
              ('aaaaaaaa-0000-4000-8000-0000000000c1', 'Carol Co', 'aaaaaaaa-0000-4000-8000-000000000001');
            INSERT INTO public.documentation (id, slug, title, category, content) VALUES
              ('aaaaaaaa-0000-4000-8000-0000000000d1', 'carol-notes', 'Carol notes', 'guides', 'Hers.');
        """)
    finally:
        await conn.close()
    before_data, before_schema = data_dump(pg, db.owner_dsn), dump_schema(pg, db.owner_dsn)

    loaded = cli("db", "seed", "--demo", database_url=db.owner_dsn)
    assert loaded.returncode == 0, loaded.stderr
    password = loaded.stdout.strip().rsplit(" ", 1)[1]
    for user in DEMO_USERS:
        assert await password_is(db.owner_dsn, user.email, password)
    shape = await query(
        db.owner_dsn,
        """
        SELECT bool_and(u.instance_id = '00000000-0000-0000-0000-000000000000' AND u.aud = 'authenticated'
                        AND u.role = 'authenticated' AND u.email_confirmed_at IS NOT NULL
                        AND u.raw_app_meta_data = '{"provider": "email", "providers": ["email"]}'
                        AND i.provider = 'email' AND i.provider_id = u.id::text
                        AND i.identity_data ->> 'email' = u.email AND (i.identity_data ->> 'email_verified')::bool)
        FROM auth.users u JOIN auth.identities i ON i.user_id = u.id WHERE u.email LIKE '%@example.com'""",
    )
    assert shape is True
    again = cli("db", "seed", "--demo", database_url=db.owner_dsn)
    assert again.stdout == "the demo data is loaded already; nothing changed\n"

    removed = cli("db", "seed", "--demo", "--remove", database_url=db.owner_dsn)
    assert removed.returncode == 0 and removed.stdout == "demo data removed\n", removed.stderr
    assert data_dump(pg, db.owner_dsn) == before_data
    assert dump_schema(pg, db.owner_dsn) == before_schema
    assert cli("db", "seed", "--demo", "--remove", database_url=db.owner_dsn).returncode == 0  # nothing left to do
