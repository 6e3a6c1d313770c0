"""A valid access token for a user's install, refreshed ahead of expiry by exactly one caller; and uninstalling.

Refreshing takes a row lock on the install (SELECT ... FOR UPDATE) and re-reads the token after it, so any
number of callers, in one process or many, cause one call to the token endpoint: the others wait for the lock,
find a fresh token and use it. A rotated refresh token is written in the same statement as the new access
token. Every path locks the install row before the token row, so uninstalling and refreshing cannot deadlock.
"""

from __future__ import annotations

import hmac
import logging
from dataclasses import dataclass
from uuid import UUID

import asyncpg

from ..db import Principal
from ..errors import Conflict, Forbidden, InvalidArgument, NotFound, Unavailable
from . import provider, revocation
from .installs import Install, own_install, provider_config
from .provider import ProviderError
from ..context import transaction_as
from .vault import Keyring, fetchrow_decrypting, key_for, keyring, wrong_key

log = logging.getLogger(__name__)

# A refresh may wait this long for another caller's refresh (its retries included) to finish.
LOCK_WAIT_MS = 60_000
MAX_LAST_ERROR = 2000


class ReauthorizationNeeded(Conflict):
    """The provider no longer honours the stored grant: the user must connect the integration again."""


# Refresh when less than 5 minutes are left, or half the token's lifetime if that is shorter, but never
# later than 60 seconds before expiry. clock_timestamp(): the time after any wait for the lock.
_KEY = key_for("t.encryption_key_id", "$2", "$3")
_TOKEN = f"""
SELECT t.encryption_key_id, t.expires_at,
       CASE WHEN t.encryption_key_id = ANY($3::text[])
            THEN public.decrypt_oauth_token(t.access_token_encrypted, {_KEY}) END AS access_token,
       CASE WHEN t.encryption_key_id = ANY($3::text[]) AND {{with_refresh}}
            THEN public.decrypt_oauth_token(t.refresh_token_encrypted, {_KEY}) END AS refresh_token,
       t.refresh_token_encrypted IS NOT NULL AS has_refresh_token,
       coalesce(t.expires_at <= clock_timestamp(), false) AS expired,
       coalesce(t.expires_at - least(interval '5 minutes', greatest(interval '60 seconds',
                  (t.expires_at - coalesce(t.refreshed_at, t.created_at)) / 2)) <= clock_timestamp(), false)
         AS due
FROM public.oauth_tokens t
WHERE t.user_integration_id = $1
"""
_READ = _TOKEN.format(with_refresh="false")
_READ_LOCKED = _TOKEN.format(with_refresh="true") + " FOR UPDATE"
_TOUCH = """
UPDATE public.user_integrations SET last_used_at = now()
WHERE id = $1 AND (last_used_at IS NULL OR last_used_at < now() - interval '1 minute')
"""
# $3 is the refresh token to keep: the new one, or the old one re-encrypted, so both ciphertexts are always
# under the key encryption_key_id names (the row may have been under a previous key).
_STORE_REFRESHED = """
UPDATE public.oauth_tokens SET
  access_token_encrypted = public.encrypt_oauth_token($2, $4),
  refresh_token_encrypted = public.encrypt_oauth_token($3, $4),
  encryption_key_id = $5,
  expires_at = CASE WHEN $6::int IS NULL THEN NULL ELSE clock_timestamp() + make_interval(secs => $6::int) END,
  scopes = coalesce($7::text[], scopes),
  refreshed_at = clock_timestamp()
WHERE user_integration_id = $1
"""
_REFRESHED_OK = "UPDATE public.user_integrations SET last_error = NULL, last_used_at = now() WHERE id = $1"
_NOTE = "UPDATE public.user_integrations SET last_error = $2 WHERE id = $1"
_BROKEN = "UPDATE public.user_integrations SET status = 'error', last_error = $2 WHERE id = $1"


async def get_access_token(app, principal: Principal, install_ref: str | UUID, *, stale: str | None = None) -> str:
    """A usable access token for the principal's own install (by slug or install id), refreshed if due.

    `stale`: a token the provider just refused (HTTP 401); it is refreshed unless someone already has.
    """
    keys = keyring(app)
    failure: Exception | None = None
    async with transaction_as(app, principal) as conn:
        install = await own_install(conn, install_ref)
        _check_usable(install)
        row = await fetchrow_decrypting(conn, _READ, install.id, keys.keys, keys.ids)
        token = _fresh_token(install, row, stale)
        if token is not None:
            await _touch(app, conn, install)
            return token

        # Slow path: become the one refresher for this install, then look again.
        await conn.execute("SELECT set_config('statement_timeout', $1, true)", f"{LOCK_WAIT_MS}ms")
        install = await own_install(conn, install.id, lock=True)
        _check_usable(install)
        row = await fetchrow_decrypting(conn, _READ_LOCKED, install.id, keys.keys, keys.ids)
        token = _fresh_token(install, row, stale)
        if token is not None:
            await _touch(app, conn, install)
            return token
        token, failure = await _refresh_locked(conn, install, row, keys)
        if token is not None:
            return token
    assert failure is not None  # _refresh_locked gives a token or the reason there is none
    raise failure  # after COMMIT: a recorded error status survives


async def _touch(app, conn: asyncpg.Connection, install: Install) -> None:
    if not app.db.read_only:  # a read-only server still hands out tokens that need no refresh
        await conn.execute(_TOUCH, install.id)


def _check_usable(install: Install) -> None:
    if install.connection_type == "webhook":
        raise InvalidArgument(
            f"{install.name} sends webhooks to Renubu; it has no API credentials here "
            "(read what it sent with list_integration_events)"
        )
    if install.connection_type not in ("oauth2", "api_key"):
        raise InvalidArgument(f"{install.name} does not connect through OAuth or an API key")
    if install.integration_status == "disabled":
        raise Forbidden(f"an admin has disabled {install.name}")
    if install.status == "pending":
        link = "connect page" if install.connection_type == "api_key" else "authorization URL"
        raise Conflict(f"{install.name} is not connected yet: open the {link} from install_integration")
    if install.status == "error":
        raise ReauthorizationNeeded(f"{install.name} needs to be connected again: run install_integration")
    if install.status != "active":
        raise NotFound(f"{install.name} is uninstalled; run install_integration to connect it again")


def _fresh_token(install: Install, row: asyncpg.Record | None, stale: str | None) -> str | None:
    """The stored token if it needs no refresh; None if it does."""
    if row is None:
        raise ReauthorizationNeeded(f"{install.name} has no stored token: run install_integration")
    if row["access_token"] is None:
        raise wrong_key()
    if row["due"]:
        return None
    if stale is not None and hmac.compare_digest(row["access_token"].encode(), stale.encode()):
        return None
    return row["access_token"]


async def _refresh_locked(
    conn: asyncpg.Connection, install: Install, row: asyncpg.Record, keys: Keyring
) -> tuple[str | None, Exception | None]:
    """Refresh while holding the install's lock: (new token, None) or (None, the error to raise after commit)."""
    usable_now = not row["expired"]
    if row["refresh_token"] is None:
        if row["has_refresh_token"]:
            return None, wrong_key()
        if usable_now:
            return row["access_token"], None  # nothing to refresh with; it works until it expires
        await conn.execute(
            _BROKEN, install.id, "the access token expired and the provider gave no refresh token: connect again"
        )
        return None, ReauthorizationNeeded(f"{install.name}'s access expired: run install_integration to connect again")

    cfg = await provider_config(conn, install.integration_id, keys)
    try:
        grant = await provider.refresh(cfg, row["refresh_token"])
    except ProviderError as exc:
        if exc.kind == "invalid_grant":
            await conn.execute(
                _BROKEN,
                install.id,
                f"{cfg.name} no longer accepts the stored authorization (invalid_grant): connect again",
            )
            log.warning("refresh for %s: invalid_grant; install set to error", cfg.slug)
            return None, ReauthorizationNeeded(
                f"{cfg.name} no longer accepts the stored authorization: run install_integration to connect again"
            )
        await conn.execute(_NOTE, install.id, f"refreshing the token failed: {exc.detail}"[:MAX_LAST_ERROR])
        log.warning("refresh for %s failed (%s): %s", cfg.slug, exc.kind, exc.detail)
        if usable_now:
            return row["access_token"], None  # still valid for a while: keep working, try again next time
        return None, Unavailable(f"could not refresh the {cfg.name} token ({exc.detail}); try again shortly")

    scopes = list(grant.scopes) if grant.scopes is not None else None
    await conn.execute(
        _STORE_REFRESHED,
        install.id,
        grant.access_token,
        grant.refresh_token or row["refresh_token"],
        keys.current,
        keys.current_id,
        grant.expires_in,
        scopes,
    )
    await conn.execute(_REFRESHED_OK, install.id)
    log.info("refreshed the %s token%s", cfg.slug, " (refresh token rotated)" if grant.refresh_token else "")
    return grant.access_token, None


# --- uninstalling -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Uninstalled:
    install_id: UUID
    slug: str
    name: str
    revoked_at_provider: bool | None  # None: nothing to revoke or no revocation endpoint


async def revoke_install(app, principal: Principal, install_ref: str | UUID) -> Uninstalled:
    """Revoke the grant at the provider where it has an endpoint, destroy the stored secrets, mark it revoked."""
    keys = keyring(app)
    async with transaction_as(app, principal) as conn:
        install = await own_install(conn, install_ref, lock=True)
        if install.status == "revoked":
            return Uninstalled(install.id, install.slug, install.name, None)
        revoked: bool | None = None
        try:
            row = await fetchrow_decrypting(conn, _READ_LOCKED, install.id, keys.keys, keys.ids)
        except Unavailable:  # undecryptable: nothing to send the provider, but the secrets still go
            row, revoked = None, False
        # Grants an earlier connection replaced whose revocation is not confirmed yet (revocation.py) go too.
        replaced = await revocation.pending(conn, install.id, keys)
        if row is not None or replaced:
            try:
                cfg = await provider_config(conn, install.integration_id, keys)
            except Unavailable:  # the client secret is under another key: the secrets still go
                cfg, revoked = None, False
            results = []
            if cfg is None or not cfg.revocation_url:
                pass
            elif row is not None and row["access_token"] is None:
                revoked = False  # encrypted under another key: nothing we can send
            elif row is not None:
                # Revoking the refresh token ends the whole grant (RFC 7009 2.1); the access token too, to be sure.
                if row["refresh_token"]:
                    results.append(await provider.revoke(cfg, row["refresh_token"], "refresh_token"))
                results.append(await provider.revoke(cfg, row["access_token"], "access_token"))
            if cfg is not None and cfg.revocation_url and replaced:
                results.append(not (await revocation.revoke_all(cfg, replaced))[1])
            if results:
                revoked = all(results) and revoked is not False
        await conn.execute("DELETE FROM public.oauth_tokens WHERE user_integration_id = $1", install.id)
        await conn.execute("DELETE FROM public.oauth_revocations WHERE user_integration_id = $1", install.id)
        await conn.execute("DELETE FROM public.oauth_states WHERE user_integration_id = $1", install.id)
        await conn.execute("DELETE FROM public.connect_links WHERE user_integration_id = $1", install.id)
        await conn.execute("DELETE FROM public.webhook_endpoints WHERE user_integration_id = $1", install.id)
        note = None
        if revoked is False:
            note = f"{install.name} did not confirm the revocation: remove Renubu's access in {install.name}'s settings"
        await conn.execute(
            "UPDATE public.user_integrations SET status = 'revoked', last_error = $2, scopes = '{}' WHERE id = $1",
            install.id,
            note,
        )
    return Uninstalled(install.id, install.slug, install.name, revoked)
