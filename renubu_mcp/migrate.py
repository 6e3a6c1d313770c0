"""The migration runner: applies, rolls back and reports the SQL files in migrations/."""

from __future__ import annotations

import hashlib
import logging
import re
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import asyncpg

import renubu_mcp

from .statements import fingerprint, split_statements

log = logging.getLogger(__name__)

PACKAGE_DIR = Path(renubu_mcp.__file__).parent
DEFAULT_MIGRATIONS_DIR = PACKAGE_DIR / "migrations"
DEMO_SEED_FILE = PACKAGE_DIR / "seeds" / "demo.sql"
DEMO_REMOVE_FILE = PACKAGE_DIR / "seeds" / "demo_remove.sql"
# The seed is loaded already when its first customer exists (the seed itself checks the same row).
_DEMO_MARKER = "SELECT EXISTS (SELECT 1 FROM public.customers WHERE id = '10000000-0000-4000-8000-000000000001')"

FILE_NAME = re.compile(r"^(?P<version>\d{14})_(?P<name>[a-z0-9_]+)\.sql$")
ROLLBACK_START = "/* ROLLBACK"
# A fixed 64-bit key for pg_advisory_lock, so every runner against one database queues on the same lock.
LOCK_KEY = int.from_bytes(hashlib.sha256(b"renubu_mcp.migrate").digest()[:8], "big", signed=True)

# The Supabase CLI's own table, so `supabase migration list` and this runner agree on what is applied. statements
# holds one element per statement, as the CLI writes it (so `supabase migration fetch` rebuilds the file);
# checksum (statements.fingerprint) and applied_at are extra nullable columns the CLI ignores.
RECORDS_DDL = """
CREATE SCHEMA IF NOT EXISTS supabase_migrations;
CREATE TABLE IF NOT EXISTS supabase_migrations.schema_migrations (
    version text PRIMARY KEY,
    statements text[],
    name text
);
ALTER TABLE supabase_migrations.schema_migrations ADD COLUMN IF NOT EXISTS checksum text;
ALTER TABLE supabase_migrations.schema_migrations ADD COLUMN IF NOT EXISTS applied_at timestamptz DEFAULT now();
"""


class MigrationError(RuntimeError):
    """A migration cannot be parsed, applied or rolled back; the message names the file and what to do."""


@dataclass(frozen=True)
class Migration:
    version: str
    name: str
    path: Path
    up_sql: str
    down_sql: str | None  # None: the file has no rollback block
    statements: list[str]  # the whole file split as the Supabase CLI splits it (the rollback block included)
    checksum: str  # statements.fingerprint(): what the file runs, without its comments and layout
    file_sha256: str  # sha256 of the file's bytes: the checksum recorded before fingerprints

    @property
    def filename(self) -> str:
        return self.path.name


@dataclass(frozen=True)
class MigrationStatus:
    version: str
    name: str
    state: str  # applied | pending | edited | missing-file
    applied_at: datetime | None = None


@dataclass(frozen=True)
class _Record:
    version: str
    name: str | None
    checksum: str | None
    applied_at: datetime | None
    statements: list[str] | None

    def differs_from(self, m: Migration) -> bool:
        """Whether what the file runs now differs from what was applied.

        The recorded statements decide (this runner's, the Supabase CLI's, or one element holding the whole up
        SQL as this runner wrote them before): comments, the rollback block and layout do not count, so a file
        fetched with `supabase migration fetch` is not edited, nor one whose rollback block was fixed. A record
        without statements is judged by its checksum, of either kind; one with neither is taken as applied.
        """
        if self.statements is not None:
            return fingerprint(";\n".join(self.statements)) != m.checksum
        if self.checksum is not None:
            return self.checksum not in (m.checksum, m.file_sha256)
        return False


# --- reading files -------------------------------------------------------------------------------


def split_rollback(text: str, filename: str = "<migration>") -> tuple[str, str | None]:
    """(up SQL, down SQL or None): the down SQL sits in a trailing comment opened by a line `/* ROLLBACK`."""
    lines = text.splitlines(keepends=True)
    starts = [i for i, line in enumerate(lines) if line.rstrip() == ROLLBACK_START]
    if not starts:
        return text, None
    start = starts[-1]
    up = "".join(lines[:start])
    rest = "".join(lines[start + 1 :])
    end = rest.rfind("*/")
    if end < 0:
        raise MigrationError(f"migration {filename}: the /* ROLLBACK block is never closed with */")
    trailing = [line for line in rest[end + 2 :].splitlines() if line.strip(" \t;")]
    if any(not line.lstrip(" \t;").startswith("--") for line in trailing):
        # SQL after the block would belong to neither direction. (A `;` may follow: `supabase migration fetch`
        # ends every statement with one, the block included.)
        raise MigrationError(f"migration {filename}: only comments may follow the rollback block's closing */")
    return up, rest[:end]


def parse_migration(path: Path) -> Migration:
    match = FILE_NAME.match(path.name)
    if not match:
        raise MigrationError(
            f"migration file {path.name} is not named YYYYMMDDHHMMSS_descriptive_name.sql (lowercase, underscores)"
        )
    data = path.read_bytes()
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise MigrationError(f"migration {path.name} is not UTF-8: {exc}") from None
    up, down = split_rollback(text, path.name)
    return Migration(
        version=match["version"],
        name=match["name"],
        path=path,
        up_sql=up,
        down_sql=down,
        statements=split_statements(text),
        checksum=fingerprint(text),
        file_sha256=hashlib.sha256(data).hexdigest(),
    )


def load_migrations(migrations_dir: Path | None = None) -> list[Migration]:
    """Every migration file in version order."""
    directory = Path(migrations_dir) if migrations_dir is not None else DEFAULT_MIGRATIONS_DIR
    if not directory.is_dir():
        raise MigrationError(f"migrations directory {directory} does not exist")
    migrations = [parse_migration(p) for p in sorted(directory.glob("*.sql"))]
    seen: dict[str, str] = {}
    for m in migrations:
        if m.version in seen:
            raise MigrationError(f"migrations {seen[m.version]} and {m.filename} share version {m.version}")
        seen[m.version] = m.filename
    return sorted(migrations, key=lambda m: m.version)


# --- talking to the database ---------------------------------------------------------------------


async def _connect(dsn: str) -> asyncpg.Connection:
    return await asyncpg.connect(dsn, server_settings={"application_name": "renubu-mcp migrate"})


async def _read_records(conn: asyncpg.Connection) -> dict[str, _Record]:
    exists = await conn.fetchval("SELECT to_regclass('supabase_migrations.schema_migrations') IS NOT NULL")
    if not exists:
        return {}
    has_extras = await conn.fetchval(
        "SELECT count(*) = 2 FROM information_schema.columns WHERE table_schema = 'supabase_migrations'"
        " AND table_name = 'schema_migrations' AND column_name IN ('checksum', 'applied_at')"
    )
    # A table made by the Supabase CLI alone has neither extra column until migrate() adds them.
    extras = "checksum, applied_at" if has_extras else "NULL::text AS checksum, NULL::timestamptz AS applied_at"
    rows = await conn.fetch(f"SELECT version, name, statements, {extras} FROM supabase_migrations.schema_migrations")
    return {
        r["version"]: _Record(r["version"], r["name"], r["checksum"], r["applied_at"], r["statements"]) for r in rows
    }


def _edited_error(m: Migration) -> MigrationError:
    return MigrationError(
        f"migration {m.filename} was edited after it was applied (its statements changed): "
        f"restore the file as it was and put the change in a new migration"
    )


def _failure(m: Migration, direction: str, sql: str, exc: Exception) -> MigrationError:
    where = ""
    position = getattr(exc, "position", None)
    if position and str(position).isdigit():
        # PostgreSQL reports a character offset into the whole script; a line number is what people can use.
        where = f" (line {sql.count(chr(10), 0, int(position)) + 1} of the {direction} SQL)"
    return MigrationError(f"migration {m.filename} {direction} failed{where}: {type(exc).__name__}: {exc}")


async def _reset_session(conn: asyncpg.Connection) -> None:
    # A migration may `SET search_path` or `SET ROLE` for the session; the next one must start clean,
    # as it would in its own psql session. (Not DISCARD ALL: that would release the advisory lock.)
    if not conn.is_closed():
        await conn.execute("RESET ALL; RESET ROLE")


class _MigrationLock:
    """Session-level advisory lock held for one runner's whole run; concurrent runners queue on it."""

    def __init__(self, conn: asyncpg.Connection) -> None:
        self.conn = conn

    async def __aenter__(self) -> None:
        await self.conn.execute("SELECT pg_advisory_lock($1)", LOCK_KEY)

    async def __aexit__(self, *exc: object) -> None:
        # Closing the session releases the lock too, so a failed unlock must not hide the real error.
        try:
            await self.conn.execute("SELECT pg_advisory_unlock($1)", LOCK_KEY)
        except (asyncpg.PostgresError, asyncpg.InterfaceError, OSError):
            log.debug("advisory unlock failed; the connection close releases it", exc_info=True)


# --- commands ------------------------------------------------------------------------------------


async def migrate(dsn: str, migrations_dir: Path | None = None) -> list[str]:
    """Apply every pending migration in version order, each in its own transaction; the versions applied."""
    migrations = load_migrations(migrations_dir)
    conn = await _connect(dsn)
    try:
        async with _MigrationLock(conn):
            await conn.execute(RECORDS_DDL)
            # Read only after the lock: another runner may have applied some while we waited.
            records = await _read_records(conn)
            by_version = {m.version: m for m in migrations}
            edited = [
                by_version[v] for v, r in sorted(records.items()) if v in by_version and r.differs_from(by_version[v])
            ]
            if edited:
                raise _edited_error(edited[0])
            missing = sorted(set(records) - set(by_version))
            if missing:
                log.warning("applied migrations with no file here: %s", ", ".join(missing))
            # Records are never rewritten: a rollback block may compare its row's xmin with the objects the
            # migration made in the same transaction (see the core migration's rollback).
            latest = max(records, default="")
            applied: list[str] = []
            for m in migrations:
                if m.version in records:
                    continue
                if m.version < latest:
                    log.warning("applying %s, which is older than the latest applied %s", m.filename, latest)
                log.info("applying %s", m.filename)
                try:
                    async with conn.transaction():
                        await conn.execute(m.up_sql)  # no arguments: simple protocol, many statements
                        await conn.execute(
                            "INSERT INTO supabase_migrations.schema_migrations (version, statements, name, checksum)"
                            " VALUES ($1, $2, $3, $4)",
                            m.version,
                            m.statements,
                            m.name,
                            m.checksum,
                        )
                except asyncpg.PostgresError as exc:
                    raise _failure(m, "up", m.up_sql, exc) from exc
                finally:
                    await _reset_session(conn)
                applied.append(m.version)
            return applied
    finally:
        await conn.close()


async def rollback(dsn: str, to: str | None = None, migrations_dir: Path | None = None) -> list[str]:
    """Undo the latest applied migration, or with `to` every one newer than `to` ("0": all); versions undone."""
    migrations = {m.version: m for m in load_migrations(migrations_dir)}
    conn = await _connect(dsn)
    try:
        async with _MigrationLock(conn):
            records = await _read_records(conn)
            applied = sorted(records, reverse=True)
            if to is None:
                targets = applied[:1]
            elif to == "0":
                targets = applied
            elif to in records:
                targets = [v for v in applied if v > to]
            else:
                raise MigrationError(
                    f"cannot roll back to {to}: it is not an applied migration "
                    f"(applied: {', '.join(sorted(records)) or 'none'}; use 0 to roll back everything)"
                )
            # Check every target before undoing any, so a bad file stops the run before it starts.
            plan: list[Migration] = []
            for v in targets:
                m = migrations.get(v)
                if m is None:
                    raise MigrationError(
                        f"migration {v} is applied but its file is missing, so it cannot be rolled back"
                    )
                if m.down_sql is None:
                    raise MigrationError(f"migration {m.filename} has no rollback block")
                if records[v].differs_from(m):
                    raise _edited_error(m)
                plan.append(m)
            undone: list[str] = []
            for m in plan:
                log.info("rolling back %s", m.filename)
                try:
                    async with conn.transaction():
                        await conn.execute(m.down_sql or "")
                        await conn.execute(
                            "DELETE FROM supabase_migrations.schema_migrations WHERE version = $1", m.version
                        )
                except asyncpg.PostgresError as exc:
                    raise _failure(m, "rollback", m.down_sql or "", exc) from exc
                finally:
                    await _reset_session(conn)
                undone.append(m.version)
            return undone
    finally:
        await conn.close()


async def status(dsn: str, migrations_dir: Path | None = None) -> list[MigrationStatus]:
    """Every migration known to the files or the database, in version order, with its state."""
    migrations = {m.version: m for m in load_migrations(migrations_dir)}
    conn = await _connect(dsn)
    try:
        records = await _read_records(conn)
    finally:
        await conn.close()
    result = []
    for version in sorted(set(migrations) | set(records)):
        m, r = migrations.get(version), records.get(version)
        if r is None:
            state = "pending"
        elif m is None:
            state = "missing-file"
        elif r.differs_from(m):
            state = "edited"
        else:
            state = "applied"
        name = m.name if m else (r.name if r and r.name else "")
        result.append(MigrationStatus(version, name, state, r.applied_at if r else None))
    return result


async def seed_demo(dsn: str, seed_file: Path | None = None, *, demo_password: str | None = None) -> bool:
    """Load the demo data (renubu_mcp/seeds/demo.sql) in one transaction; False when it was there already.

    demo_password: the demo users' password (bcrypt, as Supabase's Auth server stores it); without one they have
    none. It reaches the seed as a transaction-local setting, a bind parameter, never in SQL text.
    """
    path = Path(seed_file) if seed_file is not None else DEMO_SEED_FILE
    if not path.is_file():
        raise MigrationError(f"demo seed file {path} does not exist")
    sql = path.read_text(encoding="utf-8")
    conn = await _connect(dsn)
    try:
        async with conn.transaction():
            if await conn.fetchval("SELECT to_regclass('public.customers') IS NOT NULL") and await conn.fetchval(
                _DEMO_MARKER
            ):
                return False
            if demo_password:
                await conn.execute("SELECT set_config('renubu.demo_password', $1, true)", demo_password)
            await conn.execute(sql)
            return True
    except asyncpg.PostgresError as exc:
        raise MigrationError(f"demo seed {path.name} failed: {type(exc).__name__}: {exc}") from exc
    finally:
        await conn.close()


async def remove_demo(dsn: str) -> None:
    """Delete exactly what the demo seed inserted (renubu_mcp/seeds/demo_remove.sql), in one transaction."""
    sql = DEMO_REMOVE_FILE.read_text(encoding="utf-8")
    conn = await _connect(dsn)
    try:
        async with conn.transaction():
            await conn.execute(sql)
    except asyncpg.PostgresError as exc:
        raise MigrationError(f"removing the demo data failed: {type(exc).__name__}: {exc}") from exc
    finally:
        await conn.close()
