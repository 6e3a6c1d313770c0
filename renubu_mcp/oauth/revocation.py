"""Revoking grants a newer one replaced (RFC 7009), without ever losing track of one.

Connecting an active OAuth install again stores a new grant; the one it replaces would otherwise stay live at the
provider. In the transaction that stores the new grant, the replaced tokens move to public.oauth_revocations
(encrypted under the current key, like every token); after that commits they are revoked, and each one the
provider confirms is deleted. One that cannot be revoked now (the provider is down, or refuses) stays, and is
tried again at the next connection of the install and at uninstall, which revokes everything the install still
holds. Rotation (rotation.py) re-encrypts these rows like the tokens.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from uuid import UUID

import asyncpg

from ..context import transaction_as
from ..db import Principal
from ..errors import Unavailable
from . import provider
from .provider import ProviderConfig
from .vault import Keyring, fetchrow_decrypting, key_for

log = logging.getLogger(__name__)

MAX_LAST_ERROR = 2000


@dataclass(frozen=True)
class Replaced:
    """The tokens of the grant a new one replaces; never in a repr."""

    access_token: str | None = field(default=None, repr=False)
    refresh_token: str | None = field(default=None, repr=False)


def to_retire(old: Replaced, new_access: str, new_refresh: str | None) -> list[tuple[str, str]]:
    """(token, token_type_hint) of the replaced grant that must stop working once the new one is stored.

    A new grant without a refresh token keeps the old one (the provider continued the same grant): then nothing
    is revoked, since revoking either old token may end the grant the new access token belongs to."""
    if new_refresh is None and old.refresh_token is not None:
        return []
    tokens = []
    if old.refresh_token and old.refresh_token != new_refresh:
        # Revoking the refresh token ends the whole grant (RFC 7009 2.1); the access token too, to be sure.
        tokens.append((old.refresh_token, "refresh_token"))
    if old.access_token and old.access_token != new_access:
        tokens.append((old.access_token, "access_token"))
    return tokens


_RETIRE = """
INSERT INTO public.oauth_revocations (user_integration_id, user_id, token_encrypted, token_type_hint, encryption_key_id)
VALUES ($1, (SELECT auth.uid()), public.encrypt_oauth_token($2, $4), $3, $5)
"""


async def retire(conn: asyncpg.Connection, install_id: UUID, tokens: list[tuple[str, str]], keys: Keyring) -> None:
    """Keep these tokens (encrypted) until the provider confirms their revocation; in the caller's transaction."""
    for token, hint in tokens:
        await conn.execute(_RETIRE, install_id, token, hint, keys.current, keys.current_id)


# Refresh tokens first: each ends its whole grant.
_PENDING = """
SELECT r.id FROM public.oauth_revocations r WHERE r.user_integration_id = $1
ORDER BY r.token_type_hint DESC, r.created_at
"""
# One row at a time, so a ciphertext that does not decrypt spoils only itself.
_DECRYPTED = f"""
SELECT r.token_type_hint,
       CASE WHEN r.encryption_key_id = ANY($3::text[])
            THEN public.decrypt_oauth_token(r.token_encrypted, {key_for("r.encryption_key_id", "$2", "$3")}) END
         AS token
FROM public.oauth_revocations r WHERE r.id = $1
"""
_CONFIRMED = "DELETE FROM public.oauth_revocations WHERE id = ANY($1::uuid[])"
_FAILED = """
UPDATE public.oauth_revocations SET attempts = attempts + 1, last_error = $2 WHERE id = ANY($1::uuid[])
"""


async def pending(conn: asyncpg.Connection, install_id: UUID, keys: Keyring) -> list[tuple[UUID, str | None, str]]:
    """(row id, token or None when no configured key decrypts it, hint) of what the install still has to revoke."""
    rows: list[tuple[UUID, str | None, str]] = []
    for (row_id,) in await conn.fetch(_PENDING, install_id):
        try:
            row = await fetchrow_decrypting(conn, _DECRYPTED, row_id, keys.keys, keys.ids)
        except Unavailable:  # corrupt: nothing that could be sent
            rows.append((row_id, None, "access_token"))
            continue
        if row is not None:
            rows.append((row_id, row["token"], row["token_type_hint"]))
    return rows


async def revoke_all(cfg: ProviderConfig, tokens: list[tuple[UUID, str | None, str]]) -> tuple[list[UUID], list[UUID]]:
    """Ask the provider to revoke each token: (confirmed row ids, unconfirmed row ids)."""
    confirmed: list[UUID] = []
    failed: list[UUID] = []
    for row_id, token, hint in tokens:
        ok = token is not None and await provider.revoke(cfg, token, hint)
        (confirmed if ok else failed).append(row_id)
    return confirmed, failed


async def revoke_replaced(app, principal: Principal, install_id: UUID, cfg: ProviderConfig, keys: Keyring) -> bool:
    """Revoke what the install still has to (after a new grant was stored); True when nothing is left over.
    Never raises: what is not confirmed stays for the next try."""
    try:
        async with transaction_as(app, principal) as conn:
            tokens = await pending(conn, install_id, keys)
        if not tokens:
            return True
        confirmed, failed = await revoke_all(cfg, tokens)
        async with transaction_as(app, principal) as conn:
            if confirmed:
                await conn.execute(_CONFIRMED, confirmed)
            if failed:
                await conn.execute(_FAILED, failed, f"{cfg.name} did not confirm the revocation"[:MAX_LAST_ERROR])
    except Exception as exc:  # the new grant is stored; what is left is tried again later, never lost
        log.warning("revoking %s's replaced grant failed (%s); it is kept to try again", cfg.slug, type(exc).__name__)
        return False
    if failed:
        log.warning("%s did not confirm revoking %d replaced token(s); kept to try again", cfg.slug, len(failed))
    return not failed
