"""The token vault: which key encrypts integration secrets, and reading what it encrypted.

Encryption happens in PostgreSQL (encrypt_oauth_token / decrypt_oauth_token: pgcrypto, AES-256); the key
travels only as a bind parameter. Beside every ciphertext we store a short fingerprint of the key that made
it, so a key rotation can find the rows still on the old key.
"""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING

import asyncpg

from ..errors import Unavailable

if TYPE_CHECKING:
    from ..context import AppState


def key_id(key: str) -> str:
    """A fingerprint of the key, safe to store: it names the key without revealing it."""
    return hashlib.sha256(("renubu-key-id:" + key).encode()).hexdigest()[:16]


def require_key(app: AppState) -> str:
    if not app.token_key:
        raise Unavailable(
            "integration secrets cannot be stored or read: the server has no RENUBU_TOKEN_ENCRYPTION_KEY"
        )
    return app.token_key


def wrong_key() -> Unavailable:
    return Unavailable(
        "this secret was encrypted with a different RENUBU_TOKEN_ENCRYPTION_KEY than the server has now; "
        "restore that key or connect the integration again"
    )


async def fetchrow_decrypting(conn: asyncpg.Connection, sql: str, *args: object) -> asyncpg.Record | None:
    """fetchrow for a statement that decrypts: a ciphertext that is corrupt, under another key or not AES-256
    becomes an error that says so (and names no value)."""
    try:
        async with conn.transaction():  # a savepoint: the caller's transaction survives a refusal
            return await conn.fetchrow(sql, *args)
    except (asyncpg.InvalidParameterValueError, asyncpg.ExternalRoutineInvocationError):
        raise Unavailable(
            "a stored secret could not be decrypted (corrupt, not AES-256, or under another key); "
            "connect the integration again"
        ) from None
