"""What every tool and resource reaches through the SDK context: the app state and a per-user transaction."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

import asyncpg
from mcp.server.auth.middleware.auth_context import get_access_token
from mcp.server.auth.provider import AccessToken
from mcp.server.mcpserver import Context

from .config import Settings
from .db import Database, DatabaseUnavailable, Principal
from .errors import Unavailable, from_database_error


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

    def principal(self) -> Principal:
        if self.stdio_principal is not None:
            return self.stdio_principal
        token = get_access_token()
        if token is None or not token.subject:
            return Principal.anonymous()
        if isinstance(token, UncheckedAccessToken):
            raise Unavailable("the Renubu database is unavailable right now; try again shortly")
        claims: dict[str, Any] = token.claims or {}
        return Principal(user_id=UUID(token.subject), email=claims.get("email"))


def app_state(ctx: Context) -> AppState:
    return ctx.request_context.lifespan_context


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


async def call_as_caller(ctx: Context, function: str, *args: Any) -> list[asyncpg.Record]:
    """A request function (db.REQUEST_FUNCTIONS) as the calling user, in one round trip; errors as in transaction_as."""
    app = app_state(ctx)
    with _database_errors_as_tool_errors():
        try:
            return await app.db.call_as(app.principal(), function, *args)
        except asyncio.TimeoutError:
            raise Unavailable("the database took too long to answer; try a narrower request") from None


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
