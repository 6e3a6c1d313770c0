"""The migration runner, and the real migration files: idempotent, reversible, safe to run concurrently."""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from renubu_mcp import migrate as runner
from renubu_mcp.embedded import EmbeddedCluster
from renubu_mcp.migrate import MigrationError

REAL_MIGRATIONS = sorted(runner.DEFAULT_MIGRATIONS_DIR.glob("*.sql"))
PSQL = shutil.which("psql") or "/usr/bin/psql"
# Where our bookkeeping lives; everything else in a database is the schema under test.
SYSTEM_SCHEMAS = ("pg_catalog", "information_schema", "pg_toast", "supabase_migrations")

needs_real_migrations = pytest.mark.skipif(not REAL_MIGRATIONS, reason="no migration files yet")


# --- helpers -------------------------------------------------------------------------------------


def dump_schema(pg: EmbeddedCluster, dsn: str) -> str:
    """pg_dump --schema-only without the lines that differ between identical schemas."""
    out = subprocess.run(
        [str(pg.bindir / "pg_dump"), "--schema-only", "--dbname", dsn], capture_output=True, text=True, check=True
    ).stdout
    noise = ("--", "SET ", "SELECT pg_catalog.set_config(", "\\restrict", "\\unrestrict")
    return "\n".join(line for line in out.splitlines() if line.strip() and not line.startswith(noise))


def psql_file(dsn: str, path: Path) -> None:
    proc = subprocess.run(
        [PSQL, "-X", "-q", "-v", "ON_ERROR_STOP=1", "-f", str(path), dsn], capture_output=True, text=True
    )
    assert proc.returncode == 0, f"{path.name} failed under psql:\n{proc.stderr}"


async def fetch(dsn: str, sql: str, *args: object) -> list[asyncpg.Record]:
    conn = await asyncpg.connect(dsn)
    try:
        return await conn.fetch(sql, *args)
    finally:
        await conn.close()


async def user_relations(dsn: str) -> list[str]:
    rows = await fetch(
        dsn,
        """
        SELECT n.nspname || '.' || c.relname AS rel
        FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE c.relkind IN ('r', 'p', 'v', 'm', 'f')
          AND n.nspname <> ALL($1::text[]) AND n.nspname NOT LIKE 'pg_temp%' AND n.nspname NOT LIKE 'pg_toast%'
        ORDER BY 1""",
        list(SYSTEM_SCHEMAS),
    )
    return [r["rel"] for r in rows]


async def recorded_versions(dsn: str) -> list[str]:
    rows = await fetch(dsn, "SELECT version FROM supabase_migrations.schema_migrations ORDER BY version")
    return [r["version"] for r in rows]


def write_migration(directory: Path, version: str, name: str, up: str, down: str | None = "") -> Path:
    path = directory / f"{version}_{name}.sql"
    text = up.rstrip() + "\n"
    if down is not None:
        text += f"\n/* ROLLBACK\n{down.strip()}\n*/\n"
    path.write_text(text)
    return path


V1, V2, V3 = "20250101000001", "20250101000002", "20250101000003"


@pytest.fixture
def synthetic(tmp_path: Path) -> Path:
    """Two tiny migrations that fail if applied twice (plain CREATE TABLE), each logging that it ran."""
    directory = tmp_path / "migrations"
    directory.mkdir()
    write_migration(
        directory,
        V1,
        "first",
        "CREATE TABLE ran (version text);\nINSERT INTO ran VALUES ('1');\nSELECT pg_sleep(0.2);",
        "DROP TABLE ran;",
    )
    write_migration(
        directory, V2, "second", "CREATE TABLE second (id int);\nINSERT INTO ran VALUES ('2');", "DROP TABLE second;"
    )
    return directory


# --- parsing -------------------------------------------------------------------------------------


def test_split_rollback_takes_the_trailing_block_with_nested_comments() -> None:
    text = "CREATE TABLE t (id int);\n/* ROLLBACK\n/* nested */\nDROP TABLE t;\n*/\n"
    up, down = runner.split_rollback(text)
    assert up == "CREATE TABLE t (id int);\n"
    assert down == "/* nested */\nDROP TABLE t;\n"
    assert runner.split_rollback("SELECT 1;\n") == ("SELECT 1;\n", None)


def test_split_rollback_accepts_the_semicolon_a_fetched_file_puts_after_the_block() -> None:
    assert runner.split_rollback("SELECT 1;\n/* ROLLBACK\nDROP TABLE t;\n*/;\n") == ("SELECT 1;\n", "DROP TABLE t;\n")


@pytest.mark.parametrize(
    "text, complaint",
    [
        ("SELECT 1;\n/* ROLLBACK\nDROP TABLE t;\n", "never closed"),
        ("SELECT 1;\n/* ROLLBACK\nDROP TABLE t;\n*/\n-- fine\nSELECT 2;\n", "only comments"),
    ],
)
def test_split_rollback_rejects_malformed_blocks(text: str, complaint: str) -> None:
    with pytest.raises(MigrationError, match=complaint):
        runner.split_rollback(text)


def test_load_rejects_bad_names_and_duplicate_versions(tmp_path: Path) -> None:
    (tmp_path / "2025_bad.sql").write_text("SELECT 1;")
    with pytest.raises(MigrationError, match="YYYYMMDDHHMMSS"):
        runner.load_migrations(tmp_path)
    (tmp_path / "2025_bad.sql").unlink()
    write_migration(tmp_path, V1, "a", "SELECT 1;")
    write_migration(tmp_path, V1, "b", "SELECT 1;")
    with pytest.raises(MigrationError, match="share version"):
        runner.load_migrations(tmp_path)


@needs_real_migrations
def test_real_migrations_parse_and_all_have_rollback_blocks() -> None:
    for m in runner.load_migrations():
        assert m.down_sql and m.down_sql.strip(), f"{m.filename} has no rollback block"


# --- the real migration files --------------------------------------------------------------------


@needs_real_migrations
def test_real_migrations_are_idempotent_under_psql(pg: EmbeddedCluster, fresh_database: Callable) -> None:
    db = fresh_database()
    dumps = []
    for _ in range(2):
        for path in REAL_MIGRATIONS:
            psql_file(db.owner_dsn, path)
        dumps.append(dump_schema(pg, db.owner_dsn))
    assert dumps[0] == dumps[1]


@needs_real_migrations
async def test_real_migrations_roll_back_to_nothing_and_reapply_identically(
    pg: EmbeddedCluster, fresh_database: Callable
) -> None:
    db = fresh_database()
    applied = await runner.migrate(db.owner_dsn)
    assert applied == [p.name[:14] for p in REAL_MIGRATIONS]
    before = dump_schema(pg, db.owner_dsn)

    undone = await runner.rollback(db.owner_dsn, to="0")
    assert undone == applied[::-1]
    assert await user_relations(db.owner_dsn) == []
    assert await recorded_versions(db.owner_dsn) == []
    # What the migrations created goes too: the extensions and their schema.
    assert [r["extname"] for r in await fetch(db.owner_dsn, "SELECT extname FROM pg_extension")] == ["plpgsql"]
    assert await fetch(db.owner_dsn, "SELECT 1 FROM pg_namespace WHERE nspname IN ('extensions', 'auth')") == []

    assert await runner.migrate(db.owner_dsn) == applied
    assert dump_schema(pg, db.owner_dsn) == before
    assert await runner.migrate(db.owner_dsn) == []


@needs_real_migrations
async def test_rolling_back_keeps_the_extensions_that_were_there_before(fresh_database: Callable) -> None:
    db = fresh_database()
    await fetch(db.owner_dsn, "CREATE SCHEMA extensions")
    await fetch(db.owner_dsn, "CREATE EXTENSION pg_trgm WITH SCHEMA extensions")
    await runner.migrate(db.owner_dsn)
    await runner.rollback(db.owner_dsn, to="0")
    rows = await fetch(db.owner_dsn, "SELECT extname FROM pg_extension ORDER BY 1")
    assert [r["extname"] for r in rows] == ["pg_trgm", "plpgsql"]
    assert len(await fetch(db.owner_dsn, "SELECT 1 FROM pg_namespace WHERE nspname = 'extensions'")) == 1


# --- the runner (synthetic migrations) -----------------------------------------------------------


async def test_two_runners_at_once_apply_each_migration_once(fresh_database: Callable, synthetic: Path) -> None:
    db = fresh_database()
    results = await asyncio.gather(runner.migrate(db.owner_dsn, synthetic), runner.migrate(db.owner_dsn, synthetic))
    assert sorted(results) == [[], [V1, V2]]
    assert await recorded_versions(db.owner_dsn) == [V1, V2]
    assert [r["version"] for r in await fetch(db.owner_dsn, "SELECT version FROM ran ORDER BY 1")] == ["1", "2"]


async def test_migrate_records_checksum_and_statements(fresh_database: Callable, synthetic: Path) -> None:
    db = fresh_database()
    await runner.migrate(db.owner_dsn, synthetic)
    rows = await fetch(
        db.owner_dsn,
        "SELECT version, name, statements, checksum, applied_at"
        " FROM supabase_migrations.schema_migrations ORDER BY version",
    )
    first = runner.load_migrations(synthetic)[0]
    assert (rows[0]["version"], rows[0]["name"], rows[0]["checksum"]) == (V1, "first", first.checksum)
    # One element per statement, as the Supabase CLI writes them: its `migration fetch` rebuilds the file.
    assert rows[0]["statements"] == [
        "CREATE TABLE ran (version text)",
        "INSERT INTO ran VALUES ('1')",
        "SELECT pg_sleep(0.2)",
        "/* ROLLBACK\nDROP TABLE ran;\n*/",
    ]
    assert rows[0]["applied_at"] is not None


async def test_edited_applied_file_stops_migrate(fresh_database: Callable, synthetic: Path) -> None:
    db = fresh_database()
    await runner.migrate(db.owner_dsn, synthetic)
    edited = next(synthetic.glob(f"{V1}_*.sql"))
    edited.write_text(edited.read_text().replace("VALUES ('1')", "VALUES ('one')"))
    write_migration(synthetic, V3, "third", "CREATE TABLE third (id int);", "DROP TABLE third;")

    with pytest.raises(MigrationError) as caught:
        await runner.migrate(db.owner_dsn, synthetic)
    assert edited.name in str(caught.value)
    assert "new migration" in str(caught.value)
    assert await recorded_versions(db.owner_dsn) == [V1, V2]
    assert await user_relations(db.owner_dsn) == ["public.ran", "public.second"]


async def test_a_record_the_supabase_cli_wrote_is_checked_by_its_statements(
    fresh_database: Callable, synthetic: Path
) -> None:
    """The CLI writes statements but no checksum: its rows are held to the file all the same, and left as written."""
    db = fresh_database()
    await runner.migrate(db.owner_dsn, synthetic)
    await fetch(db.owner_dsn, "UPDATE supabase_migrations.schema_migrations SET checksum = NULL, applied_at = NULL")
    assert await runner.migrate(db.owner_dsn, synthetic) == []
    assert [s.state for s in await runner.status(db.owner_dsn, synthetic)] == ["applied", "applied"]
    rows = await fetch(db.owner_dsn, "SELECT checksum FROM supabase_migrations.schema_migrations")
    assert [r["checksum"] for r in rows] == [None, None]
    second = next(synthetic.glob(f"{V2}_*.sql"))
    second.write_text(second.read_text().replace("(id int)", "(id bigint)"))
    assert [s.state for s in await runner.status(db.owner_dsn, synthetic)] == ["applied", "edited"]
    with pytest.raises(MigrationError, match=f"{second.name} was edited"):
        await runner.migrate(db.owner_dsn, synthetic)


async def test_a_file_rebuilt_by_supabase_migration_fetch_is_not_edited_and_still_rolls_back(
    fresh_database: Callable, synthetic: Path
) -> None:
    db = fresh_database()
    await runner.migrate(db.owner_dsn, synthetic)
    # What `supabase migration fetch` writes: the recorded statements joined by ";\n", and a final ";\n".
    for row in await fetch(db.owner_dsn, "SELECT version, name, statements FROM supabase_migrations.schema_migrations"):
        (synthetic / f"{row['version']}_{row['name']}.sql").write_text(";\n".join(row["statements"]) + ";\n")
    assert [s.state for s in await runner.status(db.owner_dsn, synthetic)] == ["applied", "applied"]
    assert await runner.migrate(db.owner_dsn, synthetic) == []
    assert await runner.rollback(db.owner_dsn, to="0", migrations_dir=synthetic) == [V2, V1]
    assert await user_relations(db.owner_dsn) == []


async def test_a_fixed_rollback_block_or_comment_is_not_an_edit_and_the_fixed_block_runs(
    fresh_database: Callable, synthetic: Path
) -> None:
    db = fresh_database()
    await runner.migrate(db.owner_dsn, synthetic)
    first = next(synthetic.glob(f"{V1}_*.sql"))
    text = first.read_text().replace("DROP TABLE ran;", "DROP TABLE ran;\nCREATE TABLE undone (id int);")
    first.write_text("-- a comment added later\n" + text.replace("\n\n", "\n   \n"))
    assert [s.state for s in await runner.status(db.owner_dsn, synthetic)] == ["applied", "applied"]
    await runner.rollback(db.owner_dsn, to="0", migrations_dir=synthetic)
    assert await user_relations(db.owner_dsn) == ["public.undone"]


async def test_a_record_from_the_earlier_runner_is_judged_by_its_statements(
    fresh_database: Callable, synthetic: Path
) -> None:
    """Before, one element held the whole up SQL and the checksum covered the file: a fixed rollback block in such
    a file is not an edit, a changed statement is."""
    db = fresh_database()
    await runner.migrate(db.owner_dsn, synthetic)
    for m in runner.load_migrations(synthetic):
        await fetch(
            db.owner_dsn,
            "UPDATE supabase_migrations.schema_migrations SET statements = $1, checksum = $2 WHERE version = $3",
            [m.up_sql],
            m.file_sha256,
            m.version,
        )
    first = next(synthetic.glob(f"{V1}_*.sql"))
    first.write_text(first.read_text().replace("DROP TABLE ran;", "DROP TABLE IF EXISTS ran;"))
    assert [s.state for s in await runner.status(db.owner_dsn, synthetic)] == ["applied", "applied"]
    first.write_text(first.read_text().replace("SELECT pg_sleep(0.2)", "SELECT pg_sleep(0.1)"))
    assert [s.state for s in await runner.status(db.owner_dsn, synthetic)] == ["edited", "applied"]
    # Without statements, the old whole-file checksum still vouches for an untouched file.
    await fetch(db.owner_dsn, "UPDATE supabase_migrations.schema_migrations SET statements = NULL")
    assert [s.state for s in await runner.status(db.owner_dsn, synthetic)] == ["edited", "applied"]


async def test_failed_migration_applies_nothing_of_itself(fresh_database: Callable, synthetic: Path) -> None:
    db = fresh_database()
    write_migration(synthetic, V3, "broken", "CREATE TABLE third (id int);\nSELECT no_such_column FROM ran;")
    with pytest.raises(MigrationError, match=rf"{V3}_broken.sql up failed \(line 2"):
        await runner.migrate(db.owner_dsn, synthetic)
    assert await recorded_versions(db.owner_dsn) == [V1, V2]
    assert "public.third" not in await user_relations(db.owner_dsn)


async def test_status_shows_every_state(fresh_database: Callable, synthetic: Path) -> None:
    db = fresh_database()
    assert [(s.version, s.state) for s in await runner.status(db.owner_dsn, synthetic)] == [
        (V1, "pending"),
        (V2, "pending"),
    ]
    await runner.migrate(db.owner_dsn, synthetic)
    edited = next(synthetic.glob(f"{V2}_*.sql"))
    edited.write_text(edited.read_text().replace("VALUES ('2')", "VALUES ('2'), ('3')"))
    write_migration(synthetic, V3, "third", "CREATE TABLE third (id int);", "DROP TABLE third;")
    await fetch(
        db.owner_dsn,
        "INSERT INTO supabase_migrations.schema_migrations (version, name) VALUES ('20240101000000', 'gone')",
    )
    states = [(s.version, s.name, s.state) for s in await runner.status(db.owner_dsn, synthetic)]
    assert states == [
        ("20240101000000", "gone", "missing-file"),
        (V1, "first", "applied"),
        (V2, "second", "edited"),
        (V3, "third", "pending"),
    ]


async def test_rollback_latest_then_to_version_then_everything(fresh_database: Callable, synthetic: Path) -> None:
    db = fresh_database()
    write_migration(synthetic, V3, "third", "CREATE TABLE third (id int);", "DROP TABLE third;")
    await runner.migrate(db.owner_dsn, synthetic)
    assert await runner.rollback(db.owner_dsn, migrations_dir=synthetic) == [V3]
    await runner.migrate(db.owner_dsn, synthetic)
    assert await runner.rollback(db.owner_dsn, to=V1, migrations_dir=synthetic) == [V3, V2]
    assert await user_relations(db.owner_dsn) == ["public.ran"]
    assert await runner.rollback(db.owner_dsn, to="0", migrations_dir=synthetic) == [V1]
    assert await user_relations(db.owner_dsn) == []
    assert await runner.rollback(db.owner_dsn, migrations_dir=synthetic) == []


async def test_rollback_to_unapplied_version_is_a_clear_error(fresh_database: Callable, synthetic: Path) -> None:
    db = fresh_database()
    await runner.migrate(db.owner_dsn, synthetic)
    with pytest.raises(MigrationError, match="20990101000000.*not an applied migration"):
        await runner.rollback(db.owner_dsn, to="20990101000000", migrations_dir=synthetic)
    assert await recorded_versions(db.owner_dsn) == [V1, V2]


async def test_rollback_without_block_is_refused_before_anything_is_undone(
    fresh_database: Callable, synthetic: Path
) -> None:
    db = fresh_database()
    write_migration(synthetic, V3, "one_way", "CREATE TABLE third (id int);", down=None)
    await runner.migrate(db.owner_dsn, synthetic)
    with pytest.raises(MigrationError, match=f"migration {V3}_one_way.sql has no rollback block"):
        await runner.rollback(db.owner_dsn, to="0", migrations_dir=synthetic)
    assert await recorded_versions(db.owner_dsn) == [V1, V2, V3]


async def test_session_settings_do_not_leak_between_migrations(fresh_database: Callable, tmp_path: Path) -> None:
    """Like psql running each file in its own session: a SET in one file does not reach the next."""
    write_migration(tmp_path, V1, "sets_path", "CREATE SCHEMA other; SET search_path = other;")
    write_migration(tmp_path, V2, "uses_default", "CREATE TABLE plain (id int);")
    db = fresh_database()
    await runner.migrate(db.owner_dsn, tmp_path)
    assert await user_relations(db.owner_dsn) == ["public.plain"]


async def test_seed_demo_requires_the_file(fresh_database: Callable, tmp_path: Path) -> None:
    db = fresh_database()
    with pytest.raises(MigrationError, match="does not exist"):
        await runner.seed_demo(db.owner_dsn, tmp_path / "demo.sql")
    (tmp_path / "demo.sql").write_text("CREATE TABLE seeded (id int); INSERT INTO seeded VALUES (1);")
    await runner.seed_demo(db.owner_dsn, tmp_path / "demo.sql")
    assert [r["id"] for r in await fetch(db.owner_dsn, "SELECT id FROM seeded")] == [1]


# --- the CLI -------------------------------------------------------------------------------------


def run_cli(*args: str, database_url: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RENUBU_")}
    env["RENUBU_MIGRATION_DATABASE_URL"] = database_url
    script = Path(sys.executable).with_name("renubu-mcp")
    command = [str(script)] if script.exists() else [sys.executable, "-m", "renubu_mcp.cli"]
    return subprocess.run([*command, *args], capture_output=True, text=True, env=env, timeout=120)


def test_cli_db_status(fresh_database: Callable) -> None:
    db = fresh_database()
    proc = run_cli("db", "status", database_url=db.owner_dsn)
    assert proc.returncode == 0, proc.stderr
    header, *rows = proc.stdout.splitlines()
    assert header.split()[:3] == ["VERSION", "NAME", "STATE"]
    if REAL_MIGRATIONS:
        assert [row.split()[2] for row in rows] == ["pending"] * len(REAL_MIGRATIONS)


def test_cli_error_is_one_line_and_exit_1(fresh_database: Callable) -> None:
    db = fresh_database()
    proc = run_cli("db", "rollback", "--to", "20990101000000", database_url=db.owner_dsn)
    assert proc.returncode == 1
    assert "Traceback" not in proc.stderr
    assert proc.stderr.count("\n") == 1 and "not an applied migration" in proc.stderr


# --- the shared fixtures other tests build on ----------------------------------------------------


@needs_real_migrations
async def test_demo_db_is_a_private_migrated_copy(demo_db: Any, database_factory: Callable, template_db: Any) -> None:
    assert await recorded_versions(demo_db.owner_dsn) == [p.name[:14] for p in REAL_MIGRATIONS]
    # The server's login role reaches it, and is neither superuser nor able to bypass RLS.
    who = (
        await fetch(
            demo_db.app_dsn,
            "SELECT current_user AS name, rolsuper, rolbypassrls FROM pg_roles WHERE rolname = current_user",
        )
    )[0]
    assert (who["name"], who["rolsuper"], who["rolbypassrls"]) == ("authenticator", False, False)
    # Changes stay in this copy.
    await fetch(demo_db.owner_dsn, "CREATE TABLE only_here (id int)")
    other = database_factory(template=template_db.name)
    assert "public.only_here" not in await user_relations(other.owner_dsn)
    other.drop()
