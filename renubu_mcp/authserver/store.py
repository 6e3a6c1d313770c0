"""The authorization server's state in PostgreSQL: each step is one call of a SQL function of schema renubu_auth
(migration 20251210000100), made by the login role outside any request. Secrets arrive hashed (tokens.digest)."""

from __future__ import annotations

from typing import Any
from uuid import UUID

import asyncpg


async def _row(app: Any, sql: str, *args: Any) -> asyncpg.Record | None:
    async with app.db.pool.acquire() as conn:
        return await conn.fetchrow(sql, *args)


async def _value(app: Any, sql: str, *args: Any) -> Any:
    async with app.db.pool.acquire() as conn:
        return await conn.fetchval(sql, *args)


async def register_client(app: Any, client_id: str, secret_sha256: str | None, metadata: dict[str, Any]) -> None:
    await _value(app, "SELECT renubu_auth.register_client($1, $2, $3)", client_id, secret_sha256, metadata)


async def client(app: Any, client_id: str) -> asyncpg.Record | None:
    return await _row(app, "SELECT * FROM renubu_auth.client($1)", client_id)


async def save_client_document(app: Any, client_id: str, metadata: dict[str, Any]) -> None:
    await _value(app, "SELECT renubu_auth.save_client_document($1, $2)", client_id, metadata)


async def start_sign_in(
    app: Any,
    attempt_hash: str,
    client_id: str,
    redirect_uri: str,
    code_challenge: str,
    state: str | None,
    resource: str | None,
    scopes: list[str],
) -> None:
    await _value(
        app,
        "SELECT renubu_auth.start_sign_in($1, $2, $3, $4, $5, $6, $7)",
        attempt_hash,
        client_id,
        redirect_uri,
        code_challenge,
        state,
        resource,
        scopes,
    )


async def sign_in(app: Any, attempt_hash: str) -> asyncpg.Record | None:
    """(client_id, redirect_uri, state, usable) of a sign-in attempt."""
    return await _row(app, "SELECT * FROM renubu_auth.sign_in($1)", attempt_hash)


async def check_password(app: Any, email: str, password: str) -> asyncpg.Record:
    """(outcome, user_id, retry_after_seconds): see renubu_auth.check_password. The password is a bind parameter."""
    row = await _row(app, "SELECT * FROM renubu_auth.check_password($1, $2)", email, password)
    assert row is not None
    return row


async def finish_sign_in(
    app: Any, attempt_hash: str, user_id: UUID | None, code_hash: str | None
) -> asyncpg.Record | None:
    """(redirect_uri, state) of an attempt ended now, with a code for the user or (no user) refused."""
    return await _row(app, "SELECT * FROM renubu_auth.finish_sign_in($1, $2, $3)", attempt_hash, user_id, code_hash)


async def look_up_code(app: Any, code_hash: str, client_id: str) -> asyncpg.Record | None:
    return await _row(app, "SELECT * FROM renubu_auth.look_up_code($1, $2)", code_hash, client_id)


async def redeem_code(
    app: Any, code_hash: str, client_id: str, refresh_hash: str, refresh_ttl_seconds: int
) -> asyncpg.Record | None:
    return await _row(
        app,
        "SELECT * FROM renubu_auth.redeem_code($1, $2, $3, $4)",
        code_hash,
        client_id,
        refresh_hash,
        refresh_ttl_seconds,
    )


async def look_up_refresh(app: Any, token_hash: str, client_id: str) -> asyncpg.Record | None:
    return await _row(app, "SELECT * FROM renubu_auth.look_up_refresh($1, $2)", token_hash, client_id)


async def rotate_refresh(
    app: Any, token_hash: str, client_id: str, new_hash: str, refresh_ttl_seconds: int
) -> asyncpg.Record | None:
    return await _row(
        app,
        "SELECT * FROM renubu_auth.rotate_refresh($1, $2, $3, $4)",
        token_hash,
        client_id,
        new_hash,
        refresh_ttl_seconds,
    )


async def revoke_grant(
    app: Any, client_id: str, *, grant_id: UUID | None = None, refresh_hash: str | None = None
) -> bool:
    return bool(await _value(app, "SELECT renubu_auth.revoke_grant($1, $2, $3)", grant_id, refresh_hash, client_id))
