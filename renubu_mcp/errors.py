"""Errors a tool reports to the assistant, and the translation of database errors into them."""

from __future__ import annotations

import asyncpg
from mcp.server.mcpserver.exceptions import ToolError


class NotFound(ToolError):
    """The thing does not exist, or this user may not see it (the two are never told apart)."""


class InvalidArgument(ToolError):
    """An argument is wrong; the message says what is valid."""


class Forbidden(ToolError):
    """The user can see the thing but may not change it."""


class Conflict(ToolError):
    """The change clashes with the current state (a duplicate, a forbidden transition)."""


class Unavailable(ToolError):
    """The database cannot be reached or took too long; the call may be retried."""


def from_database_error(exc: asyncpg.PostgresError) -> ToolError:
    """Turn a PostgreSQL error into a tool error that names no SQL, table internals or values."""
    if isinstance(exc, asyncpg.InsufficientPrivilegeError):
        # RLS WITH CHECK failures and missing grants both land here.
        return Forbidden("you are not permitted to make this change")
    if isinstance(exc, asyncpg.UniqueViolationError):
        return Conflict("that already exists")
    if isinstance(exc, asyncpg.ForeignKeyViolationError):
        return NotFound("a referenced record does not exist or is not visible to you")
    if isinstance(exc, asyncpg.CheckViolationError):
        return InvalidArgument(f"a value is out of range or badly formed ({exc.constraint_name or 'check'})")
    if isinstance(exc, asyncpg.NotNullViolationError):
        return InvalidArgument(f"a required value is missing ({exc.column_name or 'column'})")
    if exc.sqlstate in {"22023", "P0001"}:
        # Our own functions raise these with messages written for people.
        return InvalidArgument(str(exc.message))
    if isinstance(exc, (asyncpg.DataError, asyncpg.InvalidTextRepresentationError)):
        return InvalidArgument("a value has the wrong format")
    if isinstance(exc, asyncpg.ReadOnlySQLTransactionError):
        return Forbidden("the server is in read-only mode")
    if isinstance(exc, asyncpg.QueryCanceledError):
        return Unavailable("the database took too long to answer; try a narrower request")
    if exc.sqlstate == "P0002":  # no_data_found, raised by our SQL functions for unknown names
        return NotFound(str(exc.message))
    if exc.sqlstate and exc.sqlstate.startswith(("08", "57P")):
        return Unavailable("the Renubu database is unavailable right now; try again shortly")
    return ToolError("the request could not be completed")
