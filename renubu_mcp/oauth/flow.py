"""The authorization-code flow with PKCE: starting it for a user, and finishing it when the provider calls back.

The state and the PKCE verifier are fresh random secrets per request. Only the state's SHA-256 is stored (so
looking it up by index reveals nothing about it), the verifier is stored encrypted, and the row expires after
10 minutes. The callback carries no user identity: consume_oauth_state() (the login role, outside any request)
hands the row out exactly once, and everything after that runs as the state's user, under RLS.
"""

from __future__ import annotations

import hashlib
import logging
import re
import secrets
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from datetime import datetime
from uuid import UUID

import asyncpg
from authlib.oauth2.rfc6749.parameters import prepare_grant_uri
from authlib.oauth2.rfc7636 import create_s256_code_challenge
from mcp.server.mcpserver.exceptions import ToolError

from ..db import DatabaseUnavailable, Principal
from ..errors import Conflict, InvalidArgument, NotFound, Unavailable
from . import metadata, provider, revocation
from .installs import open_install, provider_config
from .provider import ProviderConfig, ProviderError, TokenGrant
from ..context import transaction_as
from .vault import Keyring, fetchrow_decrypting, key_for, key_id, keyring

log = logging.getLogger(__name__)

# secrets.token_urlsafe(32): 43 characters. Anything else in `state` was not made here.
_STATE = re.compile(r"^[A-Za-z0-9_-]{43}$")
_CODE = re.compile(r"^[\x21-\x7e]{1,2048}$")
_ERROR_CODE = re.compile(r"^[\x20\x21\x23-\x5b\x5d-\x7e]{1,64}$")
SCOPE_TOKEN = re.compile(r"^[\x21\x23-\x5b\x5d-\x7e]{1,200}$")
MAX_LAST_ERROR = 2000


def state_hash(state: str) -> str:
    return hashlib.sha256(state.encode()).hexdigest()


@dataclass(frozen=True)
class AuthorizationStart:
    install_id: UUID
    slug: str
    name: str
    install_status: str
    authorization_url: str = field(repr=False)  # carries the state: a one-time capability
    redirect_uri: str
    scopes: tuple[str, ...]
    expires_at: datetime


_ENTRY = """
SELECT i.id, i.slug, i.name, i.status, i.connection_type, i.authorization_url, i.client_id, i.default_scopes
FROM public.mcp_integrations i WHERE i.slug = $1 AND i.deleted_at IS NULL
"""
_TIDY = """
DELETE FROM public.oauth_states s
WHERE s.user_id = (SELECT auth.uid()) AND (s.consumed_at IS NOT NULL OR s.expires_at < now())
"""
_NEW_STATE = """
INSERT INTO public.oauth_states
  (state_hash, user_id, user_integration_id, code_verifier_encrypted, encryption_key_id, redirect_uri,
   requested_scopes, elicitation_id)
VALUES ($1, (SELECT auth.uid()), $2, public.encrypt_oauth_token($3, $4), $5, $6, $7, $8)
RETURNING expires_at
"""


async def start_authorization(
    conn: asyncpg.Connection,
    *,
    key: str,
    redirect_uri: str,
    slug: str,
    scopes: list[str] | None,
    elicitation_id: str | None = None,
) -> AuthorizationStart:
    """Create or reuse the caller's install and a single-use state; the URL the user opens to approve.
    `elicitation_id`: the URL-mode elicitation (a connect page) this authorization completes."""
    entry = await conn.fetchrow(_ENTRY, slug)
    if entry is None:
        raise NotFound(f"no integration {slug!r} in the marketplace (see list_integrations)")
    if entry["connection_type"] != "oauth2":
        how = {"api_key": "an API key", "webhook": "webhooks"}.get(entry["connection_type"], entry["connection_type"])
        raise InvalidArgument(
            f"{entry['name']} connects with {how}, not OAuth; install_integration only connects OAuth integrations"
        )
    if not entry["authorization_url"] or not entry["client_id"]:
        raise Conflict(f"{entry['name']} is not fully set up yet (no client id); ask an admin")
    requested = requested_scopes(scopes, tuple(entry["default_scopes"] or ()))
    install = await open_install(conn, entry, list(requested))
    await conn.execute(_TIDY)

    state = secrets.token_urlsafe(32)
    verifier = secrets.token_urlsafe(64)  # 86 characters of [A-Za-z0-9_-]: RFC 7636 wants 43-128
    expires_at = await conn.fetchval(
        _NEW_STATE,
        state_hash(state),
        install["id"],
        verifier,
        key,
        key_id(key),
        redirect_uri,
        list(requested),
        elicitation_id,
    )
    url = prepare_grant_uri(
        entry["authorization_url"],
        client_id=entry["client_id"],
        response_type="code",
        redirect_uri=redirect_uri,
        scope=list(requested) or None,
        state=state,
        code_challenge=create_s256_code_challenge(verifier),
        code_challenge_method="S256",
    )
    return AuthorizationStart(
        install_id=install["id"],
        slug=entry["slug"],
        name=entry["name"],
        install_status=install["status"],
        authorization_url=url,
        redirect_uri=redirect_uri,
        scopes=requested,
        expires_at=expires_at,
    )


def requested_scopes(scopes: list[str] | None, allowed: tuple[str, ...]) -> tuple[str, ...]:
    if not scopes:
        return allowed
    requested = tuple(dict.fromkeys(s.strip() for s in scopes if s.strip()))
    bad = [s for s in requested if not SCOPE_TOKEN.match(s)]
    if bad:
        raise InvalidArgument("scopes are single words of printable characters, without quotes or backslashes")
    if allowed:
        extra = [s for s in requested if s not in allowed]
        if extra:
            raise InvalidArgument(
                f"scope(s) {', '.join(extra)} are not offered for this integration; choose from: {', '.join(allowed)}"
            )
    return requested


# --- the callback ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CallbackOutcome:
    """What the browser is told. The text is ours (plus an integration's name), never provider content."""

    ok: bool
    title: str
    message: str
    status_code: int = 200
    # Work that must not keep the browser waiting: run once the page is sent (revoking the replaced grant).
    afterwards: Callable[[], Awaitable[Any]] | None = field(default=None, repr=False, compare=False)


def _failed(message: str, title: str = "Not connected", status_code: int = 400) -> CallbackOutcome:
    return CallbackOutcome(ok=False, title=title, message=message, status_code=status_code)


_START_AGAIN = "Ask your assistant to connect the integration again to get a new link."


async def complete_authorization(
    app, params: Mapping[str, str], *, expected_user: UUID | None = None
) -> CallbackOutcome:
    """Handle the provider's redirect: check the state, exchange the code, store the tokens, or record why not.

    `expected_user` is the one user a stdio server acts for: a state bound to anyone else is refused.
    """
    state = params.get("state") or ""
    if not _STATE.match(state):
        return _failed(f"This sign-in response does not come from a link this server made. {_START_AGAIN}")
    try:
        consumed = await _consume(app, state)
    except Unavailable:
        return _failed("The Renubu database is unavailable right now. Try again in a moment.", status_code=503)
    if consumed is None:
        return _failed(f"This sign-in link has already been used, or it is not one this server issued. {_START_AGAIN}")

    principal = Principal(user_id=consumed["user_id"])
    install_id = consumed["user_integration_id"]
    try:
        return await _finish(app, principal, consumed, params, expected_user, state_hash(state))
    except ToolError as exc:  # our own messages: safe to show and to store
        await _record_failure(app, principal, install_id, f"connecting failed: {exc}")
        return _failed(f"Connecting failed: {exc}", status_code=500)


async def _consume(app, state: str) -> asyncpg.Record | None:
    try:
        async with app.db.pool.acquire() as conn:
            async with conn.transaction():
                return await conn.fetchrow("SELECT * FROM public.consume_oauth_state($1)", state_hash(state))
    except asyncpg.InsufficientPrivilegeError:
        log.error(
            "the login role may not execute public.consume_oauth_state(text): grant it EXECUTE "
            "(the migrations grant it to authenticator), or OAuth callbacks cannot complete"
        )
        raise Unavailable("database misconfigured") from None
    except (DatabaseUnavailable, OSError, asyncpg.PostgresError, asyncpg.InterfaceError):
        log.warning("could not consume an OAuth state: database error", exc_info=False)
        raise Unavailable("database unavailable") from None


async def _finish(
    app,
    principal: Principal,
    consumed: asyncpg.Record,
    params: Mapping[str, str],
    expected_user: UUID | None,
    digest: str,
) -> CallbackOutcome:
    keys = keyring(app)
    install_id = consumed["user_integration_id"]
    async with transaction_as(app, principal) as conn:
        cfg = await provider_config(conn, consumed["integration_id"], keys)
        # Started from a connect page a client opened (URL-mode elicitation): that client hears when it is done.
        elicitation = await conn.fetchval(
            "SELECT elicitation_id FROM public.oauth_states WHERE state_hash = $1", digest
        )
        verifier = None
        state_key = keys.for_id(consumed["encryption_key_id"])
        if state_key is not None:
            row = await fetchrow_decrypting(
                conn,
                "SELECT public.decrypt_oauth_token($1, $2) AS verifier",
                consumed["code_verifier_encrypted"],
                state_key,
            )
            verifier = row["verifier"] if row is not None else None

    # RFC 9207 2.4: a server that identifies itself must do so in every response (asked only when it did not).
    iss_required = "iss" not in params and "error" not in params and await metadata.sends_iss(cfg)
    problem = _problem(cfg, consumed, params, expected_user, verifier, iss_required)
    grant: TokenGrant | None = None
    if problem is None:
        assert verifier is not None  # _problem refuses a response whose verifier is lost
        try:
            grant = await provider.exchange_code(cfg, params["code"], verifier, consumed["redirect_uri"])
        except ProviderError as exc:
            problem = (f"{cfg.name} did not issue tokens: {exc.detail}.", f"the code exchange failed: {exc.detail}")
    if problem is not None:
        shown, recorded = problem
        await _record_failure(app, principal, install_id, recorded)
        log.info("authorization for %s not completed: %s", cfg.slug, recorded)
        return _failed(f"{shown} {_START_AGAIN}", title=f"{cfg.name} was not connected")

    assert grant is not None  # no problem means the code was exchanged
    stored = await _store_grant(app, principal, consumed, grant, keys, cfg)
    if stored is None:
        return _failed(
            f"{cfg.name} was uninstalled while you were signing in, so nothing was stored.",
            title=f"{cfg.name} was not connected",
            status_code=409,
        )
    log.info("integration %s connected", cfg.slug)
    await app.elicitations.complete(elicitation)
    return CallbackOutcome(
        ok=True,
        title=f"{cfg.name} is connected",
        message="You can close this window and go back to your assistant.",
        afterwards=stored,
    )


def _problem(
    cfg: ProviderConfig,
    consumed: asyncpg.Record,
    params: Mapping[str, str],
    expected_user: UUID | None,
    verifier: str | None,
    iss_required: bool = False,
) -> tuple[str, str] | None:
    """(what the browser is told, what is recorded on the install), or None when the exchange may go ahead."""
    if expected_user is not None and consumed["user_id"] != expected_user:
        return (
            "This sign-in was started by a different Renubu user, so this server did not accept it.",
            "an authorization response reached another user's server and was discarded",
        )
    if consumed["expired"]:
        return ("The sign-in link expired (links last 10 minutes).", "the authorization link expired before use")
    if "error" in params:
        code = params["error"] if _ERROR_CODE.match(params["error"] or "") else "unknown_error"
        if code == "access_denied":
            return (f"Access was declined at {cfg.name}.", "access was declined at the provider (access_denied)")
        return (f"{cfg.name} reported an error ({code}).", f"the provider reported an error ({code})")
    if cfg.status == "disabled":
        return (f"An admin has disabled {cfg.name}.", "the integration was disabled during authorization")
    if "iss" in params and not _same_issuer(params["iss"], expected_issuer(cfg)):
        # RFC 9207: a response naming another issuer may be a mix-up attack.
        return (
            "The response came from an unexpected issuer and was discarded.",
            "the authorization response named an unexpected issuer (iss)",
        )
    if iss_required:
        # The server identifies itself (a configured issuer, or its metadata says so): a response that does not
        # may come from another server (a mix-up attack), so no code is exchanged.
        return (
            "The response did not say which server sent it, so it was discarded.",
            "the authorization response had no issuer (iss), which this provider always sends",
        )
    if verifier is None:
        return (
            "The server's encryption key changed during sign-in.",
            "the PKCE verifier was encrypted with a different key",
        )
    if not _CODE.match(params.get("code") or ""):
        return (f"{cfg.name} sent no authorization code.", "the provider sent no authorization code")
    return None


def expected_issuer(cfg: ProviderConfig) -> str | None:
    return metadata.assumed_issuer(cfg)


def _same_issuer(given: str, expected: str | None) -> bool:
    return expected is not None and secrets.compare_digest(given.rstrip("/").encode(), expected.rstrip("/").encode())


async def _record_failure(app, principal: Principal, install_id: UUID, reason: str) -> None:
    """Say why on the install; its status and any tokens it already has stay as they were."""
    try:
        async with transaction_as(app, principal) as conn:
            await conn.execute(
                "UPDATE public.user_integrations SET last_error = $2 WHERE id = $1",
                install_id,
                reason[:MAX_LAST_ERROR],
            )
    except ToolError:
        log.warning("could not record why an authorization failed", exc_info=False)


_LOCK_INSTALL = "SELECT status FROM public.user_integrations WHERE id = $1 FOR UPDATE"
_UPSERT_TOKENS = """
INSERT INTO public.oauth_tokens AS t
  (user_integration_id, user_id, access_token_encrypted, refresh_token_encrypted, encryption_key_id, token_type,
   scopes, expires_at, refreshed_at)
VALUES ($1, (SELECT auth.uid()), public.encrypt_oauth_token($2, $4), public.encrypt_oauth_token($3, $4), $5,
        'Bearer', $6, CASE WHEN $7::int IS NULL THEN NULL ELSE clock_timestamp() + make_interval(secs => $7::int) END,
        clock_timestamp())
ON CONFLICT (user_integration_id) DO UPDATE SET
  access_token_encrypted = EXCLUDED.access_token_encrypted,
  -- A new grant without a refresh token keeps the one the earlier grant gave ($3 carries it then, decrypted
  -- from the old row, so it is re-encrypted under the current key with everything else).
  refresh_token_encrypted = EXCLUDED.refresh_token_encrypted,
  encryption_key_id = EXCLUDED.encryption_key_id,
  token_type = EXCLUDED.token_type,
  scopes = EXCLUDED.scopes,
  expires_at = EXCLUDED.expires_at,
  refreshed_at = EXCLUDED.refreshed_at
"""
_ACTIVATE = """
UPDATE public.user_integrations SET
  status = 'active',
  scopes = $2,
  installed_at = CASE WHEN status = 'active' AND installed_at IS NOT NULL THEN installed_at ELSE now() END,
  last_error = NULL
WHERE id = $1
"""


_OLD_GRANT = f"""
SELECT CASE WHEN t.encryption_key_id = ANY($3::text[])
            THEN public.decrypt_oauth_token(t.access_token_encrypted, {key_for("t.encryption_key_id", "$2", "$3")})
       END AS access_token,
       CASE WHEN t.encryption_key_id = ANY($3::text[])
            THEN public.decrypt_oauth_token(t.refresh_token_encrypted, {key_for("t.encryption_key_id", "$2", "$3")})
       END AS refresh_token
FROM public.oauth_tokens t WHERE t.user_integration_id = $1 AND t.token_type = 'Bearer' FOR UPDATE
"""


async def _store_grant(
    app, principal: Principal, consumed: asyncpg.Record, grant: TokenGrant, keys: Keyring, cfg: ProviderConfig
) -> Callable[[], Awaitable[Any]] | None:
    """Store the new grant; None when the install was uninstalled meanwhile. The grant it replaces is kept for
    revocation in the same transaction; what is returned revokes it (revocation.py), once the page is sent."""
    install_id = consumed["user_integration_id"]
    scopes = list(grant.scopes if grant.scopes is not None else consumed["requested_scopes"])
    async with transaction_as(app, principal) as conn:
        status = await conn.fetchval(_LOCK_INSTALL, install_id)
        if status is None or status == "revoked":
            return None
        try:
            row = await fetchrow_decrypting(conn, _OLD_GRANT, install_id, keys.keys, keys.ids)
        except Unavailable:  # undecryptable: nothing that could be revoked or kept
            row = None
        old = revocation.Replaced(row["access_token"], row["refresh_token"]) if row else revocation.Replaced()
        # A new grant without a refresh token keeps the one the earlier grant gave.
        refresh_token = grant.refresh_token or old.refresh_token
        if cfg.revocation_url:
            await revocation.retire(
                conn, install_id, revocation.to_retire(old, grant.access_token, grant.refresh_token), keys
            )
        await conn.execute(
            _UPSERT_TOKENS,
            install_id,
            grant.access_token,
            refresh_token,
            keys.current,
            keys.current_id,
            scopes,
            grant.expires_in,
        )
        await conn.execute(_ACTIVATE, install_id, scopes)
        await conn.execute("DELETE FROM public.oauth_states WHERE user_integration_id = $1", install_id)

    async def revoke_replaced() -> None:
        if cfg.revocation_url:
            await revocation.revoke_replaced(app, principal, install_id, cfg, keys)

    return revoke_replaced
