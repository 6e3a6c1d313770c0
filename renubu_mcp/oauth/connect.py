"""Connecting API-key and webhook integrations through a connect page: the key never passes the assistant.

install_integration makes a single-use link to /connect/{token} on this server, bound to the user's install
and good for 10 minutes; only the token's SHA-256 is stored. The user opens it in a browser and pastes the
key (api_key), or reveals the webhook's signing secret (webhook), which is made at that moment, stored
encrypted and shown this once. The page carries no user identity: connect_link_owner() (the login role,
outside any request) says whose link it is, and everything after that runs as that user, under RLS. The
submit spends the link in the same transaction that stores the secret, so a failure leaves it usable and a
replay, or a second tab racing the first, finds it spent.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import re
import secrets
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal
from uuid import UUID

import asyncpg
from mcp.server.mcpserver.exceptions import ToolError

from ..context import transaction_as
from ..db import DatabaseUnavailable, Principal
from ..errors import InvalidArgument, NotFound
from .installs import open_install
from .settings import public_url
from .vault import keyring

log = logging.getLogger(__name__)

CONNECT_PATH = "/connect"
WEBHOOK_PATH = "/webhooks"
MAX_API_KEY_CHARS = 4096
# secrets.token_urlsafe(32): 43 characters. Anything else in the path was not made here.
_TOKEN = re.compile(r"^[A-Za-z0-9_-]{43}$")

Purpose = Literal["api_key", "webhook"]


def link_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def is_link_token(token: str) -> bool:
    return bool(_TOKEN.match(token))


def base_url(app) -> str:
    """Where browsers and webhook senders reach this server: RENUBU_PUBLIC_URL, or the address it serves on."""
    return public_url(app.settings, stdio=app.stdio_principal is not None)


def webhook_url(app, install_id: UUID) -> str:
    return f"{base_url(app)}{WEBHOOK_PATH}/{install_id}"


# --- making a link (inside the tool's transaction, as the user) ----------------------------------------------


@dataclass(frozen=True)
class ConnectStart:
    install_id: UUID
    slug: str
    name: str
    connection_type: Purpose
    install_status: str
    connect_url: str = field(repr=False)  # carries the token: a one-time capability
    expires_at: datetime


_ENTRY = """
SELECT i.id, i.slug, i.name, i.status, i.connection_type
FROM public.mcp_integrations i WHERE i.slug = $1 AND i.deleted_at IS NULL
"""
# One live link per install (a new one supersedes the last), and the caller's spent or expired ones go.
_TIDY = """
DELETE FROM public.connect_links l
WHERE l.user_id = (SELECT auth.uid())
  AND (l.user_integration_id = $1 OR l.consumed_at IS NOT NULL OR l.expires_at < now())
"""
_NEW_LINK = """
INSERT INTO public.connect_links (token_hash, user_id, user_integration_id, purpose)
VALUES ($1, (SELECT auth.uid()), $2, $3)
RETURNING expires_at
"""


async def start_connect(conn: asyncpg.Connection, *, server_url: str, slug: str) -> ConnectStart:
    """Create or reuse the caller's install of an API-key or webhook entry, and a link to its connect page."""
    entry = await conn.fetchrow(_ENTRY, slug)
    if entry is None:
        raise NotFound(f"no integration {slug!r} in the marketplace (see list_integrations)")
    if entry["connection_type"] not in ("api_key", "webhook"):
        raise InvalidArgument(f"{entry['name']} connects through OAuth, not a connect page")
    install = await open_install(conn, entry)
    await conn.execute(_TIDY, install["id"])
    token = secrets.token_urlsafe(32)
    expires_at = await conn.fetchval(_NEW_LINK, link_hash(token), install["id"], entry["connection_type"])
    return ConnectStart(
        install_id=install["id"], slug=entry["slug"], name=entry["name"], connection_type=entry["connection_type"],
        install_status=install["status"], connect_url=f"{server_url}{CONNECT_PATH}/{token}", expires_at=expires_at,
    )


# --- the page (no user identity: the link names the user) ---------------------------------------------------


@dataclass(frozen=True)
class Link:
    """A connect link as its page sees it."""

    token_hash: str
    user_id: UUID
    install_id: UUID
    purpose: Purpose
    name: str
    slug: str
    expired: bool
    consumed: bool
    integration_disabled: bool
    install_status: str
    secret_hint: str | None


class LinkUnavailable(Exception):
    """The database could not be asked; the page says to try again."""


_LINK = """
SELECT l.user_integration_id AS install_id, l.purpose, i.name, i.slug, i.status = 'disabled' AS integration_disabled,
       ui.status AS install_status, w.secret_hint
FROM public.connect_links l
JOIN public.user_integrations ui ON ui.id = l.user_integration_id
JOIN public.mcp_integrations i ON i.id = ui.integration_id
LEFT JOIN public.webhook_endpoints w ON w.user_integration_id = ui.id
WHERE l.token_hash = $1
"""


async def find_link(app, token: str) -> Link | None:
    """The link this token names, or None when it is not one of ours (spent links are reported as spent)."""
    if not is_link_token(token):
        return None
    digest = link_hash(token)
    try:
        async with app.db.pool.acquire() as conn:
            async with conn.transaction():
                owner = await conn.fetchrow("SELECT * FROM public.connect_link_owner($1)", digest)
    except asyncpg.InsufficientPrivilegeError:
        log.error("the login role may not execute public.connect_link_owner(text): grant it EXECUTE "
                  "(the migrations grant it to authenticator), or connect pages cannot work")
        raise LinkUnavailable from None
    except (DatabaseUnavailable, OSError, asyncpg.PostgresError, asyncpg.InterfaceError):
        log.warning("could not look a connect link up: database error")
        raise LinkUnavailable from None
    if owner is None:
        return None
    try:
        async with transaction_as(app, Principal(user_id=owner["user_id"])) as conn:
            row = await conn.fetchrow(_LINK, digest)
    except ToolError:
        raise LinkUnavailable from None
    if row is None:
        return None
    return Link(token_hash=digest, user_id=owner["user_id"], expired=owner["expired"], consumed=owner["consumed"],
                **dict(row))


@dataclass(frozen=True)
class Submitted:
    ok: bool
    message: str
    secret: str | None = field(default=None, repr=False)  # webhook: the signing secret, shown this once


_SPEND = """
UPDATE public.connect_links SET consumed_at = now()
WHERE token_hash = $1 AND purpose = $2 AND consumed_at IS NULL AND expires_at > now()
RETURNING user_integration_id
"""
_LOCK_INSTALL = "SELECT status FROM public.user_integrations WHERE id = $1 FOR UPDATE"
_STORE_KEY = """
INSERT INTO public.oauth_tokens AS t
  (user_integration_id, user_id, access_token_encrypted, refresh_token_encrypted, encryption_key_id, token_type,
   scopes, expires_at, refreshed_at)
VALUES ($1, (SELECT auth.uid()), public.encrypt_oauth_token($2, $3), NULL, $4, 'api_key', '{}', NULL,
        clock_timestamp())
ON CONFLICT (user_integration_id) DO UPDATE SET
  access_token_encrypted = EXCLUDED.access_token_encrypted,
  refresh_token_encrypted = NULL,
  encryption_key_id = EXCLUDED.encryption_key_id,
  token_type = EXCLUDED.token_type,
  scopes = EXCLUDED.scopes,
  expires_at = NULL,
  refreshed_at = EXCLUDED.refreshed_at
"""
_STORE_SECRET = """
INSERT INTO public.webhook_endpoints AS w
  (user_integration_id, user_id, signing_secret_encrypted, encryption_key_id, secret_hint)
VALUES ($1, (SELECT auth.uid()), public.encrypt_oauth_token($2, $3), $4, $5)
ON CONFLICT (user_integration_id) DO UPDATE SET
  signing_secret_encrypted = EXCLUDED.signing_secret_encrypted,
  encryption_key_id = EXCLUDED.encryption_key_id,
  secret_hint = EXCLUDED.secret_hint
"""
_ACTIVATE = """
UPDATE public.user_integrations SET
  status = 'active',
  installed_at = CASE WHEN status = 'active' AND installed_at IS NOT NULL THEN installed_at ELSE now() END,
  last_error = NULL
WHERE id = $1
"""
_SPENT = ("This link has already been used, or it has expired. Ask your assistant to connect the integration "
          "again to get a new link.")


def check_api_key(value: str) -> str | None:
    """What is wrong with a pasted key (in words that never repeat it), or None."""
    if not value:
        return "Paste the API key into the field."
    if len(value) > MAX_API_KEY_CHARS:
        return f"That is longer than {MAX_API_KEY_CHARS} characters; paste only the key."
    if any(not 0x21 <= ord(c) <= 0x7E for c in value):
        return "An API key is one word of printable characters, without spaces or line breaks."
    return None


async def _spend_and_lock(conn, link: Link, kind: str, *, unstored: str) -> UUID | Submitted:
    """Spend the link and lock its install (in the caller's transaction): the install's id, or why not.

    A link that was spent already, or whose install was uninstalled meanwhile, stores nothing; the link is spent
    either way, so it cannot be tried again."""
    install_id = await conn.fetchval(_SPEND, link.token_hash, kind)
    if install_id is None:
        return Submitted(False, _SPENT)
    if await conn.fetchval(_LOCK_INSTALL, install_id) in (None, "revoked"):
        return Submitted(False, f"{link.name} was uninstalled, so {unstored}.")
    return install_id


async def submit_api_key(app, link: Link, api_key: str) -> Submitted:
    """Store the key encrypted as the link's user and make the install active; the link is spent doing so."""
    keys = keyring(app)
    async with transaction_as(app, Principal(user_id=link.user_id)) as conn:
        install_id = await _spend_and_lock(conn, link, "api_key", unstored="nothing was stored")
        if isinstance(install_id, Submitted):
            return install_id
        await conn.execute(_STORE_KEY, install_id, api_key, keys.current, keys.current_id)
        await conn.execute(_ACTIVATE, install_id)
    log.info("integration %s connected with an API key", link.slug)
    return Submitted(True, f"{link.name} is connected. You can close this window and go back to your assistant.")


def new_signing_secret() -> str:
    return "whsec_" + secrets.token_urlsafe(32)


async def reveal_webhook_secret(app, link: Link) -> Submitted:
    """Make the install's signing secret (replacing any earlier one), store it encrypted, return it once."""
    keys = keyring(app)
    secret = new_signing_secret()
    async with transaction_as(app, Principal(user_id=link.user_id)) as conn:
        install_id = await _spend_and_lock(conn, link, "webhook", unstored="no secret was made")
        if isinstance(install_id, Submitted):
            return install_id
        await conn.execute(_STORE_SECRET, install_id, secret, keys.current, keys.current_id, secret[-4:])
        await conn.execute(_ACTIVATE, install_id)
    log.info("integration %s: webhook signing secret issued", link.slug)
    return Submitted(True, f"{link.name} can now send events to Renubu.", secret=secret)


def csrf_token(app, link: Link, nonce: str) -> str:
    """The form's anti-forgery token: an HMAC of the link (and the browser's cookie nonce) under a key derived
    from the server's encryption key, so every replica computes the same one and nobody else can."""
    secret = hmac.new(keyring(app).current.encode(), b"renubu-connect-csrf", hashlib.sha256).digest()
    return hmac.new(secret, f"{link.token_hash}:{nonce}".encode(), hashlib.sha256).hexdigest()


def csrf_ok(app, link: Link, nonce: str, given: str) -> bool:
    return bool(nonce) and hmac.compare_digest(csrf_token(app, link, nonce).encode(), given.encode())
