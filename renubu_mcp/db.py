"""Per-user database access over the pool (pool.py): `as_user`, one transaction; `call_as`, one statement."""

from __future__ import annotations

import asyncio
import json
import logging
import urllib.parse
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any, Literal
from uuid import UUID

import asyncpg

from .pool import ConnectionPool, Lease

log = logging.getLogger(__name__)

# The only roles a request may take; never taken from a tool argument.
REQUEST_ROLES = frozenset({"authenticated", "anon"})

# One statement sets role, claims and timeout, transaction-locally, as bind parameters:
# the PostgREST model. Nothing survives COMMIT, so a pooled connection carries no identity.
_SET_REQUEST_CONTEXT = """
SELECT set_config('role', $1, true),
       set_config('request.jwt.claims', $2, true),
       set_config('statement_timeout', $3, true)
"""


async def _init_connection(conn: asyncpg.Connection) -> None:
    # JSON columns arrive as Python objects, not strings.
    for type_name in ("json", "jsonb"):
        await conn.set_type_codec(type_name, encoder=json.dumps, decoder=json.loads, schema="pg_catalog")


POOLER_PARAMETER = "pgbouncer"


def connection_options(dsn: str) -> tuple[str, dict[str, Any]]:
    """The URL for asyncpg (without our own `pgbouncer` parameter) and the pool options it implies.

    `?pgbouncer=true` (Supabase's convention) marks a transaction-pooling PgBouncer in front: it cannot
    keep prepared statements across transactions, so asyncpg's statement cache must be off.
    """
    parts = urllib.parse.urlsplit(dsn)
    query = urllib.parse.parse_qsl(parts.query, keep_blank_values=True)
    flags = [value for key, value in query if key == POOLER_PARAMETER]
    if not flags:
        return dsn, {}
    rest = urllib.parse.urlencode([(k, v) for k, v in query if k != POOLER_PARAMETER], safe="/")
    plain = urllib.parse.urlunsplit(parts._replace(query=rest))
    behind_pooler = flags[-1].strip().lower() in ("true", "1", "yes", "on")
    return plain, ({"statement_cache_size": 0} if behind_pooler else {})


# Request functions (migrations): each sets role and claims itself, transaction-locally, and reads under RLS, so a
# call is one statement and one round trip. Only the login role may execute them; check_login_role verifies it.
REQUEST_FUNCTIONS = ("public.read_as(text, text, text, text)",)


def _request_statement(signature: str) -> str:
    name, _, arguments = signature.partition("(")
    placeholders = ", ".join(f"${i}" for i in range(1, arguments.count(",") + 2))
    return f"SELECT * FROM {name}({placeholders})"


# Built once: the hot path only looks its statement up.
_REQUEST_STATEMENTS = {signature.partition("(")[0]: _request_statement(signature) for signature in REQUEST_FUNCTIONS}


# The connection broke under a request (a restart, a crash, the network). InternalClientError: asyncpg's protocol
# state when the server dies mid-exchange.
_CONNECTION_LOST = (
    OSError,
    asyncpg.PostgresConnectionError,
    asyncpg.exceptions.ConnectionDoesNotExistError,
    asyncpg.exceptions.CannotConnectNowError,
    asyncpg.exceptions.AdminShutdownError,
    asyncpg.exceptions.InternalClientError,
)


def _note_request_ended(conn: asyncpg.Connection | Lease) -> None:
    """The request's transaction is over: every request setting was transaction-local, so release needs no reset
    query. Only our own pool's leases skip it; a pool made elsewhere (tests) keeps its own rules."""
    note = getattr(conn, "note_request_ended", None)
    if note is not None:
        note()


# An active user by email or id, with their profile role (for the tool catalog; RLS decides what they may do). Only
# the login role may run it.
FIND_ACTIVE_USER = "SELECT u.id, u.email, public.user_role(u.id) AS role FROM public.find_user($1, $2) u"

# Opening a connection failed because nothing (or a server shutting down) answers at the address.
_CANNOT_CONNECT = (OSError, asyncpg.PostgresConnectionError, asyncpg.exceptions.CannotConnectNowError)
# Brings an unreachable database back; True when it may be tried again.
Revive = Callable[[], Awaitable[bool]]


class DatabaseUnavailable(RuntimeError):
    """PostgreSQL cannot be reached right now; the call may be retried later."""


class UnsafeLoginRole(RuntimeError):
    """The serving login role could bypass row-level security."""


@dataclass(frozen=True)
class Principal:
    """Who a request acts as: a verified user (role authenticated) or nobody (anon)."""

    user_id: UUID | None
    email: str | None = None
    role: Literal["authenticated", "anon"] = "authenticated"
    extra_claims: dict[str, Any] = field(default_factory=dict, repr=False)
    # The user's profile role (admin, pm, csm, user) as the database said when the principal was resolved. It only
    # shapes which tools are listed; what a request may do is decided by RLS on every statement.
    profile_role: str | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        if self.role not in REQUEST_ROLES:
            raise ValueError(f"role must be one of {sorted(REQUEST_ROLES)}")
        if self.role == "authenticated" and self.user_id is None:
            raise ValueError("an authenticated principal needs a user id")

    @classmethod
    def anonymous(cls) -> "Principal":
        return cls(user_id=None, email=None, role="anon")

    def claims_json(self) -> str:
        claims: dict[str, Any] = {**self.extra_claims, "role": self.role}
        if self.user_id is not None:
            claims["sub"] = str(self.user_id)
        if self.email is not None:
            claims["email"] = self.email
        return json.dumps(claims, separators=(",", ":"))


class Database:
    """A pool of connections as the serving login role, handing out per-user transactions."""

    def __init__(
        self,
        pool: ConnectionPool | asyncpg.Pool,
        *,
        statement_timeout_ms: int = 15_000,
        read_only: bool = False,
        open_connection: Callable[[], Awaitable[asyncpg.Connection]] | None = None,
    ):
        self.pool = pool
        # A connection of its own, outside the pool (the change feed's LISTEN); None for a pool made elsewhere.
        self.open_connection = open_connection
        self.statement_timeout = f"{int(statement_timeout_ms)}ms"
        self.statement_timeout_seconds = int(statement_timeout_ms) / 1000
        self.read_only = read_only

    @classmethod
    async def connect(
        cls,
        dsn: str,
        *,
        min_size: int = 0,
        max_size: int = 10,
        statement_timeout_ms: int = 15_000,
        read_only: bool = False,
        max_idle_seconds: float = 300.0,
        revive: Revive | None = None,
    ) -> "Database":
        """A pool on dsn. revive: called when a connection cannot be opened (the embedded cluster was stopped or
        crashed under us) to bring the database back; the connection is then tried once more."""
        # min_size 0 by default: connections open on demand and stay open for reuse (idle ones close after
        # max_idle_seconds); nothing keeps retrying in the background during an outage.
        dsn, options = connection_options(dsn)

        async def open_connection() -> asyncpg.Connection:
            try:
                conn = await asyncpg.connect(dsn, **options)
            except _CANNOT_CONNECT:
                if revive is None or not await revive():
                    raise
                conn = await asyncpg.connect(dsn, **options)
            try:
                await _init_connection(conn)
            except BaseException:
                conn.terminate()
                raise
            return conn

        try:
            pool = await ConnectionPool.create(
                open_connection, min_size=min_size, max_size=max_size, max_idle_seconds=max_idle_seconds
            )
        except (OSError, asyncpg.PostgresError) as exc:
            raise DatabaseUnavailable(f"cannot connect to PostgreSQL: {type(exc).__name__}") from None
        return cls(
            pool, statement_timeout_ms=statement_timeout_ms, read_only=read_only, open_connection=open_connection
        )

    async def close(self) -> None:
        await self.pool.close()

    @asynccontextmanager
    async def as_user(
        self, principal: Principal, *, read_only: bool | None = None
    ) -> AsyncIterator[asyncpg.Connection]:
        """Yield a connection inside one transaction acting as `principal` under RLS.

        Round trips: BEGIN, the one set_config statement (prepared once per connection, then Bind/Execute),
        the caller's queries, COMMIT. Releasing costs none: the transaction took every setting with it.
        """
        readonly = self.read_only if read_only is None else read_only
        conn = await self._acquire()
        try:
            async with conn.transaction(readonly=readonly):
                await conn.execute(
                    _SET_REQUEST_CONTEXT, principal.role, principal.claims_json(), self.statement_timeout
                )
                yield conn
        except _CONNECTION_LOST as exc:
            raise DatabaseUnavailable(f"lost the connection to PostgreSQL: {type(exc).__name__}") from None
        finally:
            _note_request_ended(conn)
            await self._release(conn)

    async def call_as(self, principal: Principal, function: str, *args: Any) -> list[asyncpg.Record]:
        """`SELECT * FROM function(role, claims, *args)` as one statement outside any transaction block.

        `function` is one of REQUEST_FUNCTIONS (a name from code, never from input). It checks the role against
        the same allow-list and sets role and claims with set_config(..., true) at the start of the statement's
        own implicit transaction: the same guarantees as as_user (one transaction, bind parameters, nothing
        survives it) in one round trip instead of BEGIN, set_config, the query and COMMIT. A setting made inside
        a statement cannot arm that statement's timer, so the statement timeout is enforced from here: asyncpg
        cancels the statement at the deadline (asyncio.TimeoutError).
        """
        statement = _REQUEST_STATEMENTS.get(function)
        if statement is None:
            raise ValueError(f"{function!r} is not a request function")
        conn = await self._acquire()
        try:
            rows = await conn.fetch(
                statement, principal.role, principal.claims_json(), *args, timeout=self.statement_timeout_seconds
            )
            _note_request_ended(conn)  # the implicit transaction has ended: nothing of the request is left
            return rows
        except asyncio.TimeoutError:  # an OSError since Python 3.11, but not a lost connection: the deadline
            raise
        except _CONNECTION_LOST as exc:
            raise DatabaseUnavailable(f"lost the connection to PostgreSQL: {type(exc).__name__}") from None
        finally:
            await self._release(conn)

    async def _acquire(self) -> asyncpg.Connection:
        try:
            return await self.pool.acquire()
        except (OSError, asyncpg.PostgresConnectionError, asyncpg.exceptions.CannotConnectNowError) as exc:
            raise DatabaseUnavailable(f"cannot reach PostgreSQL: {type(exc).__name__}") from None

    async def _release(self, conn: asyncpg.Connection) -> None:
        """A connection that breaks while being returned is discarded; the call's own outcome stands."""
        try:
            await self.pool.release(conn)
        except (
            OSError,
            asyncpg.PostgresError,
            asyncpg.InterfaceError,
            asyncpg.exceptions.InternalClientError,
            asyncio.TimeoutError,
        ) as exc:
            log.info("discarded a pool connection that failed on release: %s", type(exc).__name__)

    async def check_login_role(self) -> str:
        """Refuse to serve through a role that would bypass RLS; return the role's name."""
        async with self.pool.acquire() as conn:
            row = await conn.fetchrow(
                """
                SELECT r.rolname, r.rolsuper, r.rolbypassrls,
                       (SELECT count(*) FROM pg_class c
                        WHERE c.relowner = r.oid AND c.relkind IN ('r', 'p', 'v', 'm')) AS owned,
                       (SELECT array_agg(role) FROM unnest($1::text[]) AS role
                        WHERE NOT pg_has_role(r.oid, role, 'MEMBER')) AS missing,
                       (SELECT array_agg(fn) FROM unnest($2::text[]) AS fn
                        WHERE to_regprocedure(fn) IS NULL
                           OR NOT has_function_privilege(r.oid, to_regprocedure(fn), 'EXECUTE')) AS cannot_execute
                FROM pg_roles r WHERE r.rolname = current_user
                """,
                sorted(REQUEST_ROLES),
                list(REQUEST_FUNCTIONS),
            )
        name = row["rolname"]
        if row["rolsuper"]:
            raise UnsafeLoginRole(f"refusing to serve as {name!r}: it is a superuser and bypasses row-level security")
        if row["rolbypassrls"]:
            raise UnsafeLoginRole(f"refusing to serve as {name!r}: it has BYPASSRLS")
        if row["owned"]:
            raise UnsafeLoginRole(
                f"refusing to serve as {name!r}: it owns {row['owned']} table(s), and owners bypass row-level security"
            )
        if row["missing"]:
            raise UnsafeLoginRole(
                f"login role {name!r} cannot switch to {', '.join(row['missing'])}; "
                f"run the migrations, or GRANT {', '.join(row['missing'])} TO {name}"
            )
        if row["cannot_execute"]:
            functions = ", ".join(row["cannot_execute"])
            raise UnsafeLoginRole(
                f"login role {name!r} cannot execute {functions}; run the migrations, or GRANT EXECUTE ON FUNCTION "
                f"{functions} TO {name}"
            )
        return name
