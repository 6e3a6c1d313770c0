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
                           read_only: bool = False) -> Database:
    pool = await asyncpg.create_pool(dsn, min_size=min_size, max_size=max_size, init=_init_connection)
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
