"""The token vault: which key encrypts integration secrets, and reading what it encrypted.

Encryption happens in PostgreSQL (encrypt_oauth_token / decrypt_oauth_token: pgcrypto, AES-256); the key
travels only as a bind parameter. Beside every ciphertext we store a short fingerprint of the key that made
it. New secrets are encrypted with the current key (RENUBU_TOKEN_ENCRYPTION_KEY); a row is decrypted with
whichever configured key its fingerprint names, so the server keeps working while `renubu-mcp tokens
rotate-key` moves rows from a previous key (RENUBU_TOKEN_ENCRYPTION_PREVIOUS_KEYS) to the current one.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import asyncpg

from ..errors import Unavailable

if TYPE_CHECKING:
    from ..context import AppState


def key_id(key: str) -> str:
    """A fingerprint of the key, safe to store: it names the key without revealing it."""
    return hashlib.sha256(("renubu-key-id:" + key).encode()).hexdigest()[:16]


@dataclass(frozen=True)
class Keyring:
    """The current key (encrypts everything new) and the previous ones (decrypt only); never in a repr."""

    current: str = field(repr=False)
    previous: tuple[str, ...] = field(default=(), repr=False)

    def __post_init__(self) -> None:
        if not self.current:
            raise ValueError("the current key is empty")
        # The current key is never also "previous"; duplicates would only confuse the arrays below.
        kept = tuple(dict.fromkeys(k for k in self.previous if k and k != self.current))
        object.__setattr__(self, "previous", kept)

    @property
    def current_id(self) -> str:
        return key_id(self.current)

    @property
    def keys(self) -> list[str]:
        """Every configured key, current first: bind as text[] beside `ids` (see key_for)."""
        return [self.current, *self.previous]

    @property
    def ids(self) -> list[str]:
        return [key_id(k) for k in self.keys]

    @property
    def previous_ids(self) -> list[str]:
        return [key_id(k) for k in self.previous]

    def for_id(self, kid: str | None) -> str | None:
        """The configured key with this fingerprint, or None."""
        return next((k for k in self.keys if key_id(k) == kid), None)


def key_for(key_id_column: str, keys_param: str, ids_param: str) -> str:
    """SQL for the configured key that made a row's ciphertexts (NULL if none did), from two bind parameters:
    the keyring's keys and their ids, both text[]. The keys stay bind parameters."""
    return f"({keys_param}::text[])[array_position({ids_param}::text[], {key_id_column})]"


def keyring(app: AppState) -> Keyring:
    """The server's keys: RENUBU_TOKEN_ENCRYPTION_KEY, then RENUBU_TOKEN_ENCRYPTION_PREVIOUS_KEYS."""
    previous = getattr(app.settings, "token_encryption_previous_keys", ()) or ()
    return Keyring(require_key(app), tuple(previous))


def require_key(app: AppState) -> str:
    if not app.token_key:
        raise Unavailable("integration secrets cannot be stored or read: the server has no RENUBU_TOKEN_ENCRYPTION_KEY")
    return app.token_key


def wrong_key() -> Unavailable:
    return Unavailable(
        "this secret was encrypted with a different RENUBU_TOKEN_ENCRYPTION_KEY than the server has now "
        "(and none of RENUBU_TOKEN_ENCRYPTION_PREVIOUS_KEYS made it); restore that key or connect the integration again"
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
