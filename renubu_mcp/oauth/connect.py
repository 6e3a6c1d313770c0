"""Connecting an integration through a connect page: the key never passes the assistant.

install_integration makes a single-use link to /connect/{token} on this server, bound to the user's install
and good for 10 minutes; only the token's SHA-256 is stored. The user opens it in a browser and pastes the
key (api_key), or reveals the webhook's signing secret (webhook), which is made at that moment, stored
encrypted and shown this once. For a client that opens pages itself (URL-mode elicitation), OAuth integrations
get such a link too (oauth2): the page says which user and integration it is for, then sends the browser on to
the provider's consent screen with a fresh state. The page carries no user identity: connect_link_owner() (the
login role, outside any request) says whose link it is, and everything after that runs as that user, under RLS.
The submit spends the link in the same transaction that stores the secret (or starts the authorization), so a
failure leaves it usable and a replay, or a second tab racing the first, finds it spent.

Each link is also a URL-mode elicitation, whose id is derived from the link (elicitation_id): once the page has
stored what it came for, the client that opened it is told (elicitations.py).
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
from ..errors import Conflict, InvalidArgument, NotFound
from . import flow
from .flow import requested_scopes
from .installs import open_install
from .settings import public_url, redirect_uri
from .vault import keyring, require_key

log = logging.getLogger(__name__)

CONNECT_PATH = "/connect"
WEBHOOK_PATH = "/webhooks"
MAX_API_KEY_CHARS = 4096
# secrets.token_urlsafe(32): 43 characters. Anything else in the path was not made here.
_TOKEN = re.compile(r"^[A-Za-z0-9_-]{43}$")

Purpose = Literal["api_key", "webhook", "oauth2"]


def link_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def elicitation_id(token_hash: str) -> str:
    """The URL-mode elicitation a link is: an opaque id from which the link cannot be recovered."""
    return "connect-" + hashlib.sha256(("renubu-elicitation:" + token_hash).encode()).hexdigest()[:32]


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
    elicitation_id: str = ""
    started_at: datetime | None = None  # the database's clock when the link was made


_ENTRY = """
SELECT i.id, i.slug, i.name, i.status, i.connection_type, i.authorization_url, i.client_id, i.default_scopes
FROM public.mcp_integrations i WHERE i.slug = $1 AND i.deleted_at IS NULL
"""
# One live link per install (a new one supersedes the last), and the caller's spent or expired ones go.
_TIDY = """
DELETE FROM public.connect_links l
WHERE l.user_id = (SELECT auth.uid())
  AND (l.user_integration_id = $1 OR l.consumed_at IS NOT NULL OR l.expires_at < now())
"""
_NEW_LINK = """
INSERT INTO public.connect_links (token_hash, user_id, user_integration_id, purpose, requested_scopes)
VALUES ($1, (SELECT auth.uid()), $2, $3, $4)
RETURNING expires_at, created_at
"""


async def start_connect(
    conn: asyncpg.Connection, *, server_url: str, slug: str, scopes: list[str] | None = None, oauth: bool = False
) -> ConnectStart:
    """Create or reuse the caller's install of an entry, and a link to its connect page. OAuth entries get one
    only with `oauth` (a client that opens the page itself); their page goes on to the provider."""
    entry = await conn.fetchrow(_ENTRY, slug)
    if entry is None:
        raise NotFound(f"no integration {slug!r} in the marketplace (see list_integrations)")
    kind = entry["connection_type"]
    requested = None
    if kind == "oauth2":
        if not oauth:
            raise InvalidArgument(f"{entry['name']} connects through OAuth, not a connect page")
        if not entry["authorization_url"] or not entry["client_id"]:
            raise Conflict(f"{entry['name']} is not fully set up yet (no client id); ask an admin")
        requested = list(requested_scopes(scopes, tuple(entry["default_scopes"] or ())))
    elif kind not in ("api_key", "webhook"):
        raise InvalidArgument(f"{entry['name']} cannot be connected here")
    elif scopes:
        raise InvalidArgument("scopes apply to OAuth integrations only")
    install = await open_install(conn, entry, requested)
    await conn.execute(_TIDY, install["id"])
    token = secrets.token_urlsafe(32)
    digest = link_hash(token)
    made = await conn.fetchrow(_NEW_LINK, digest, install["id"], kind, requested)
    return ConnectStart(
        install_id=install["id"],
        slug=entry["slug"],
        name=entry["name"],
        connection_type=kind,
        install_status=install["status"],
        connect_url=f"{server_url}{CONNECT_PATH}/{token}",
        expires_at=made["expires_at"],
        elicitation_id=elicitation_id(digest),
        started_at=made["created_at"],
    )


async def withdraw(conn: asyncpg.Connection, install_id: UUID) -> None:
    """The user declined to open the page: the install's live link goes (a spent one stays, to say so)."""
    await conn.execute(
        "DELETE FROM public.connect_links WHERE user_integration_id = $1 AND consumed_at IS NULL", install_id
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
    user_email: str | None = None  # whose link it is: the page says so
    requested_scopes: tuple[str, ...] = ()
    authorization_url: str | None = None  # oauth2: where the page sends the browser on to

    @property
    def elicitation_id(self) -> str:
        return elicitation_id(self.token_hash)


class LinkUnavailable(Exception):
    """The database could not be asked; the page says to try again."""


_LINK = """
SELECT l.user_integration_id AS install_id, l.purpose, i.name, i.slug, i.status = 'disabled' AS integration_disabled,
       ui.status AS install_status, w.secret_hint, p.email AS user_email, i.authorization_url,
       coalesce(l.requested_scopes, '{}') AS requested_scopes
FROM public.connect_links l
JOIN public.user_integrations ui ON ui.id = l.user_integration_id
JOIN public.mcp_integrations i ON i.id = ui.integration_id
LEFT JOIN public.webhook_endpoints w ON w.user_integration_id = ui.id
LEFT JOIN public.profiles p ON p.id = l.user_id
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
        log.error(
            "the login role may not execute public.connect_link_owner(text): grant it EXECUTE "
            "(the migrations grant it to authenticator), or connect pages cannot work"
        )
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
    values = dict(row)
    values["requested_scopes"] = tuple(values["requested_scopes"])
    return Link(
        token_hash=digest, user_id=owner["user_id"], expired=owner["expired"], consumed=owner["consumed"], **values
    )


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
_SPENT = (
    "This link has already been used, or it has expired. Ask your assistant to connect the integration "
    "again to get a new link."
)


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
    await app.elicitations.complete(link.elicitation_id)
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
    await app.elicitations.complete(link.elicitation_id)
    return Submitted(True, f"{link.name} can now send events to Renubu.", secret=secret)


@dataclass(frozen=True)
class Authorizing:
    """Where the browser goes next: the provider's consent screen (the URL carries the state)."""

    authorization_url: str = field(repr=False)


async def begin_authorization(app, link: Link) -> Authorizing | Submitted:
    """Spend an oauth2 link and start the authorization it leads to, as the link's user (flow.py); the state
    remembers the link's elicitation, so the callback can tell the client it is done."""
    key = require_key(app)
    callback = redirect_uri(app.settings, stdio=app.stdio_principal is not None)
    async with transaction_as(app, Principal(user_id=link.user_id)) as conn:
        install_id = await _spend_and_lock(conn, link, "oauth2", unstored="nothing was started")
        if isinstance(install_id, Submitted):
            return install_id
        started = await flow.start_authorization(
            conn,
            key=key,
            redirect_uri=callback,
            slug=link.slug,
            scopes=list(link.requested_scopes) or None,
            elicitation_id=link.elicitation_id,
        )
    return Authorizing(started.authorization_url)


def csrf_token(app, link: Link, nonce: str) -> str:
    """The form's anti-forgery token: an HMAC of the link (and the browser's cookie nonce) under a key derived
    from the server's encryption key, so every replica computes the same one and nobody else can."""
    secret = hmac.new(keyring(app).current.encode(), b"renubu-connect-csrf", hashlib.sha256).digest()
    return hmac.new(secret, f"{link.token_hash}:{nonce}".encode(), hashlib.sha256).hexdigest()


def csrf_ok(app, link: Link, nonce: str, given: str) -> bool:
    return bool(nonce) and hmac.compare_digest(csrf_token(app, link, nonce).encode(), given.encode())
