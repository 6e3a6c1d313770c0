"""The per-request transaction as it was before issue 6 (git HEAD's renubu_mcp/db.py), kept for before/after runs.

    BEGIN; SELECT set_config(role, claims, timeout); <queries>; COMMIT; then asyncpg's reset query on release
    (pg_advisory_unlock_all(); CLOSE ALL; UNLISTEN *; RESET ALL): 4 + n round trips for n queries.

install() swaps it into renubu_mcp.db.Database for one process (the benchmark server, when BENCH_DB=baseline).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import asyncpg

from renubu_mcp import db as current
from renubu_mcp.db import Database, DatabaseUnavailable, Principal, _init_connection

_SET_REQUEST_CONTEXT = """
SELECT set_config('role', $1, true),
       set_config('request.jwt.claims', $2, true),
       set_config('statement_timeout', $3, true)
"""


async def connect_baseline(dsn: str, *, min_size: int = 1, max_size: int = 10, statement_timeout_ms: int = 15_000,
                           read_only: bool = False, max_idle_seconds: float = 300.0) -> Database:
    pool = await asyncpg.create_pool(dsn, min_size=min_size, max_size=max_size, init=_init_connection,
                                     max_inactive_connection_lifetime=max_idle_seconds)
    return Database(pool, statement_timeout_ms=statement_timeout_ms, read_only=read_only)


@asynccontextmanager
async def as_user_baseline(self: Database, principal: Principal, *, read_only: bool | None = None
                           ) -> AsyncIterator[asyncpg.Connection]:
    readonly = self.read_only if read_only is None else read_only
    try:
        conn: asyncpg.Connection = await self.pool.acquire()
    except (OSError, asyncpg.PostgresConnectionError, asyncpg.exceptions.CannotConnectNowError):
        raise DatabaseUnavailable("cannot reach PostgreSQL") from None
    try:
        async with conn.transaction(readonly=readonly):
            await conn.execute(_SET_REQUEST_CONTEXT, principal.role, principal.claims_json(), self.statement_timeout)
            yield conn
    except (OSError, asyncpg.PostgresConnectionError, asyncpg.exceptions.ConnectionDoesNotExistError,
            asyncpg.exceptions.CannotConnectNowError, asyncpg.exceptions.AdminShutdownError):
        raise DatabaseUnavailable("lost the connection to PostgreSQL") from None
    finally:
        await self.pool.release(conn)


def install() -> None:
    """Make this process's Database behave as before (default pool reset, the old as_user)."""

    async def connect(cls, dsn, **kwargs):  # noqa: ANN001
        return await connect_baseline(dsn, **kwargs)

    current.Database.connect = classmethod(connect)  # type: ignore[method-assign]
    current.Database.as_user = as_user_baseline  # type: ignore[method-assign]


# --- asyncpg's Pool as the server used it until renubu_mcp/pool.py (everything else as now) ----------------------


class _NotingConnection(asyncpg.Connection):
    """What db.py's pool connections were: they note a request that ended cleanly, so release skips the reset."""

    _request_ended_cleanly = False

    def note_request_ended(self) -> None:
        self._request_ended_cleanly = not self.is_closed() and not self.is_in_transaction()


async def _reset_unless_request_ended(conn: asyncpg.Connection) -> None:
    if getattr(conn, "_request_ended_cleanly", False):
        conn._request_ended_cleanly = False  # type: ignore[attr-defined]
        return
    reset_query = conn.get_reset_query()
    if reset_query:
        await conn.execute(reset_query)


def install_asyncpg_pool() -> None:
    """Make this process's Database use asyncpg's Pool (acquire/release through asyncio.shield) instead of ours."""

    async def connect(cls, dsn, *, min_size: int = 0, max_size: int = 10, statement_timeout_ms: int = 15_000,  # noqa: ANN001
                      read_only: bool = False, max_idle_seconds: float = 300.0):
        dsn, options = current.connection_options(dsn)
        pool = await asyncpg.create_pool(dsn, min_size=min_size, max_size=max_size, init=_init_connection,
                                         connection_class=_NotingConnection, reset=_reset_unless_request_ended,
                                         max_inactive_connection_lifetime=max_idle_seconds, **options)
        return cls(pool, statement_timeout_ms=statement_timeout_ms, read_only=read_only)

    current.Database.connect = classmethod(connect)  # type: ignore[method-assign]
