"""What every tool and resource reaches through the SDK context: the app state and a per-user transaction."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import TYPE_CHECKING, Any, cast
from uuid import UUID

import asyncpg
from mcp.server.auth.middleware.auth_context import get_access_token
from mcp.server.auth.provider import AccessToken
from mcp.server.mcpserver import Context

from .config import Settings
from .db import Database, DatabaseUnavailable, Principal
from .elicitations import Elicitations
from .errors import Unavailable, from_database_error

if TYPE_CHECKING:
    from .live.hub import ChangeHub


class CheckedAccessToken(AccessToken):
    """A validly signed token whose user exists and is active, with the profile role the database gave."""

    profile_role: str | None = None


class UncheckedAccessToken(AccessToken):
    """A validly signed token whose user could not be checked because the database was unreachable."""


@dataclass
class AppState:
    """Lives for the server's lifetime (the MCP lifespan yields it)."""

    settings: Settings
    db: Database
    # The one user a stdio server acts for; None when each HTTP request brings its own token.
    stdio_principal: Principal | None
    token_key: str | None = field(default=None, repr=False)
    jwt_secret: str | None = field(default=None, repr=False)
    # Sessions waiting to hear that a page they opened for the user has done its work (2025-11-25).
    elicitations: Elicitations = field(default_factory=Elicitations, repr=False)
    # stdio: the loopback listener that serves the pages links lead to (opened by the first link); None otherwise.
    link_listener: Any = field(default=None, repr=False)
    # Who watches which resources (live/hub.py); None where nothing is served (a bare AppState in tests).
    changes: ChangeHub | None = None

    def principal(self) -> Principal:
        if self.stdio_principal is not None:
            return self.stdio_principal
        token = get_access_token()
        if token is None or not token.subject:
            return Principal.anonymous()
        if isinstance(token, UncheckedAccessToken):
            raise Unavailable("the Renubu database is unavailable right now; try again shortly")
        claims: dict[str, Any] = token.claims or {}
        return Principal(
            user_id=UUID(token.subject), email=claims.get("email"), profile_role=getattr(token, "profile_role", None)
        )

    def caller_profile_role(self) -> str | None:
        """The caller's profile role, for the tool catalog only (None: not known, shown what everyone may use)."""
        if self.stdio_principal is not None:
            return self.stdio_principal.profile_role
        return getattr(get_access_token(), "profile_role", None)


def app_state(ctx: Context) -> AppState:
    return cast(AppState, ctx.request_context.lifespan_context)


@asynccontextmanager
async def user_transaction(ctx: Context) -> AsyncIterator[asyncpg.Connection]:
    """One transaction as the calling user; database errors become tool errors that leak nothing."""
    async with transaction_as_caller(app_state(ctx)) as conn:
        yield conn


@asynccontextmanager
async def transaction_as_caller(app: AppState) -> AsyncIterator[asyncpg.Connection]:
    """user_transaction for code that holds the app state but no request context (static resources)."""
    async with transaction_as(app, app.principal()) as conn:
        yield conn


@asynccontextmanager
async def transaction_as(app: AppState, principal: Principal) -> AsyncIterator[asyncpg.Connection]:
    """One transaction as `principal` under RLS; database errors become tool errors that leak nothing."""
    with _database_errors_as_tool_errors():
        async with app.db.as_user(principal) as conn:
            yield conn


async def call_as_caller(app: AppState, function: str, *args: Any) -> list[asyncpg.Record]:
    """A request function (db.REQUEST_FUNCTIONS) as the calling user, in one round trip; errors as in transaction_as."""
    with _database_errors_as_tool_errors():
        try:
            return await app.db.call_as(app.principal(), function, *args)
        except asyncio.TimeoutError:
            raise Unavailable("the database took too long to answer; try a narrower request") from None


async def read_as_caller(ctx: Context | AppState, read: str, args: dict[str, Any]) -> dict[str, Any]:
    """A read tool's document (renubu_read.<read>, migration 20251204) as the calling user, in one round trip.
    `read` is a name from code, never from input."""
    app = ctx if isinstance(ctx, AppState) else app_state(ctx)
    rows = await call_as_caller(app, "public.read_as", read, _json_args(args))
    return json.loads(rows[0][0])


async def read_in(conn: asyncpg.Connection, read: str, args: dict[str, Any]) -> dict[str, Any]:
    """The same document inside a transaction the caller already holds (after a write, or after waking)."""
    assert read.isidentifier(), read  # a name from code, never from input
    return json.loads(await conn.fetchval(f"SELECT renubu_read.{read}($1::text::jsonb)", _json_args(args)))


def _json_args(args: dict[str, Any]) -> str:
    """The arguments as JSON text (ids, dates and times as their text)."""
    return json.dumps({k: (str(v) if isinstance(v, (UUID, date, datetime)) else v) for k, v in args.items()})


@contextmanager
def _database_errors_as_tool_errors() -> Iterator[None]:
    try:
        yield
    except DatabaseUnavailable:
        raise Unavailable("the Renubu database is unavailable right now; try again shortly") from None
    except asyncpg.PostgresError as exc:
        raise from_database_error(exc) from None
    except (OSError, asyncpg.InterfaceError):
        raise Unavailable("lost the connection to the Renubu database; try again shortly") from None
