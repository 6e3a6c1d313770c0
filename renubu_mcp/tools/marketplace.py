"""Integrations toolset, the marketplace: what can be connected to Renubu, and (admins) registering, changing,
enabling and retiring entries. Users' own connections are in installs.py, API calls and events in
integration_api.py.

Who may change the marketplace is decided by RLS (admins only), never here. Client secrets are encrypted in
PostgreSQL with the server's key and never come back in a result.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

import asyncpg
from mcp.server.mcpserver import Context
from mcp.types import CallToolResult
from pydantic import Field, SecretStr, WithJsonSchema

from ..context import app_state, read_as_caller, read_in, user_transaction
from ..errors import Conflict, Forbidden, InvalidArgument, NotFound
from ..oauth import flow
from ..oauth.settings import is_loopback_host
from ..oauth.vault import key_id, require_key
from ..results import render
from .common import Cursor, Limit, like_pattern
from .paging import decode_cursor, finish_page
from .registry import Toolset

toolset = Toolset("integrations")

ConnectionType = Literal["oauth2", "api_key", "webhook"]
Status = Literal["disabled", "enabled", "deprecated"]
AuthMethod = Literal["client_secret_basic", "client_secret_post", "none"]
Slug = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[a-z0-9]+(-[a-z0-9]+)*$")]
Url = Annotated[str, Field(min_length=1, max_length=2000)]
Scopes = Annotated[list[Annotated[str, Field(min_length=1, max_length=200)]], Field(max_length=50)]
# Typed loosely on purpose: a validation error would otherwise echo the value back.
SecretArg = Annotated[
    Any,
    WithJsonSchema(
        {
            "type": "string",
            "format": "password",
            "writeOnly": True,
            "maxLength": 500,
            "description": "stored encrypted; never shown again",
        }
    ),
]
HeaderName = Annotated[
    str,
    Field(
        min_length=1,
        max_length=64,
        pattern=r"^[A-Za-z0-9-]+$",
        description=("api_key: header for the key (Authorization sends Bearer <key>)"),
    ),
]

# integration_request sends writes only after the user confirmed each one in their client; for clients that
# cannot ask, an admin may let one integration's writes go out unattended (request_gate.py).
UNATTENDED = "send integration_request writes without the user confirming each"
FORBIDDEN = "only admins can change the marketplace; nothing was changed"
NOT_FOUND = "no integration {!r} in the marketplace; find slugs with list_integrations"
MAX_SECRET_CHARS = 500


@toolset.read("List integrations")
async def list_integrations(
    ctx: Context,
    query: Annotated[str | None, Field(max_length=100, description="part of the name")] = None,
    category: Annotated[str | None, Field(max_length=60, description="e.g. crm")] = None,
    connection_type: ConnectionType | None = None,
    status: Status | None = None,
    limit: Limit = 20,
    cursor: Cursor = None,
) -> CallToolResult:
    """The integration marketplace (admins also see disabled entries)."""
    filters = {"q": query, "category": category, "type": connection_type, "status": status}
    offset = decode_cursor(cursor, filters)
    document = await read_as_caller(
        ctx,
        "list_integrations",
        {
            "pattern": like_pattern(query),
            "category": category,
            "connection_type": connection_type,
            "status": status,
            "limit": limit,
            "offset": offset,
        },
    )
    return render(finish_page(document, offset, limit, filters))


@toolset.read("Get integration")
async def get_integration(ctx: Context, slug: Slug) -> CallToolResult:
    """One marketplace entry in full."""
    return render(await read_as_caller(ctx, "get_integration", {"slug": slug}))


@toolset.write("Register integration", destructive=False, idempotent=False, audience="admins")
async def register_integration(
    ctx: Context,
    slug: Slug,
    name: Annotated[str, Field(min_length=1, max_length=120)],
    connection_type: ConnectionType,
    category: Annotated[str, Field(min_length=1, max_length=60)] = "other",
    description: Annotated[str | None, Field(max_length=5000)] = None,
    authorization_url: Url | None = None,
    token_url: Url | None = None,
    revocation_url: Url | None = None,
    default_scopes: Scopes = [],  # noqa: B006 (pydantic copies defaults)
    client_id: Annotated[str | None, Field(min_length=1, max_length=500)] = None,
    client_secret: SecretArg = None,
    token_endpoint_auth_method: AuthMethod = "client_secret_basic",
    issuer: Annotated[Url | None, Field(description="the iss it returns (RFC 9207)")] = None,
    api_base_url: Annotated[Url | None, Field(description="integration_request calls go under it")] = None,
    api_key_header: HeaderName = "Authorization",
    docs_url: Url | None = None,
    icon_url: Url | None = None,
    allow_unattended_writes: Annotated[bool, Field(description=UNATTENDED)] = False,
) -> CallToolResult:
    """Admins: add a marketplace entry (disabled until set_integration_status). oauth2 needs authorization_url,
    token_url, client_id. URLs: https (http only for 127.0.0.1)."""
    secret = _secret(client_secret)
    values = {
        "authorization_url": authorization_url,
        "token_url": token_url,
        "revocation_url": revocation_url,
        "issuer": issuer,
        "api_base_url": api_base_url,
        "docs_url": docs_url,
        "icon_url": icon_url,
    }
    _check_urls(values)
    oauth_only = {k: values[k] for k in ("authorization_url", "token_url", "revocation_url", "issuer")}
    if connection_type == "oauth2":
        if not (authorization_url and token_url and client_id):
            raise InvalidArgument("an oauth2 integration needs authorization_url, token_url and client_id")
    elif any(oauth_only.values()) or secret is not None or client_id:
        raise InvalidArgument("only oauth2 integrations take OAuth endpoints, a client id or a client secret")
    _check_header(api_key_header)
    if api_key_header.lower() != "authorization" and connection_type != "api_key":
        raise InvalidArgument("only api_key integrations take an api_key_header")
    scopes = _scopes(default_scopes)
    key = require_key(app_state(ctx)) if secret is not None else None
    async with user_transaction(ctx) as conn:
        try:
            await conn.execute(
                """
            INSERT INTO public.mcp_integrations AS i
              (slug, name, description, category, connection_type, status, authorization_url, token_url,
               revocation_url, default_scopes, client_id, client_secret_encrypted, client_secret_key_id,
               token_endpoint_auth_method, issuer, api_base_url, docs_url, icon_url, api_key_header,
               allow_unattended_writes)
            VALUES ($1, $2, $3, $4, $5, 'disabled', $6, $7, $8, $9, $10,
                    CASE WHEN $11::text IS NOT NULL THEN public.encrypt_oauth_token($11, $12) END,
                    CASE WHEN $11::text IS NOT NULL THEN $13 END,
                    $14, $15, $16, $17, $18, $19, $20)
            """,
                slug,
                name.strip(),
                description,
                category.strip(),
                connection_type,
                authorization_url,
                token_url,
                revocation_url,
                scopes,
                client_id,
                secret.get_secret_value() if secret else None,
                key,
                key_id(key) if key else None,
                token_endpoint_auth_method,
                issuer,
                api_base_url,
                docs_url,
                icon_url,
                api_key_header,
                allow_unattended_writes,
            )
        except asyncpg.UniqueViolationError:
            raise Conflict(f"integration {slug!r} already exists; change it with update_integration") from None
        return render(await read_in(conn, "get_integration", {"slug": slug}))


Clearable = Literal["description", "revocation_url", "client_secret", "issuer", "api_base_url", "docs_url", "icon_url"]


@toolset.write("Update integration", destructive=False, idempotent=True, audience="admins")
async def update_integration(
    ctx: Context,
    slug: Slug,
    name: Annotated[str | None, Field(min_length=1, max_length=120)] = None,
    category: Annotated[str | None, Field(min_length=1, max_length=60)] = None,
    description: Annotated[str | None, Field(max_length=5000)] = None,
    authorization_url: Url | None = None,
    token_url: Url | None = None,
    revocation_url: Url | None = None,
    default_scopes: Scopes | None = None,
    client_id: Annotated[str | None, Field(min_length=1, max_length=500)] = None,
    client_secret: SecretArg = None,
    token_endpoint_auth_method: AuthMethod | None = None,
    issuer: Url | None = None,
    api_base_url: Url | None = None,
    api_key_header: HeaderName | None = None,
    docs_url: Url | None = None,
    icon_url: Url | None = None,
    allow_unattended_writes: Annotated[bool | None, Field(description=UNATTENDED)] = None,
    clear: Annotated[list[Clearable], Field(max_length=10, description="fields to empty")] = [],  # noqa: B006
) -> CallToolResult:
    """Admins: change a marketplace entry; only what you pass changes."""
    secret = _secret(client_secret)
    urls = {
        "authorization_url": authorization_url,
        "token_url": token_url,
        "revocation_url": revocation_url,
        "issuer": issuer,
        "api_base_url": api_base_url,
        "docs_url": docs_url,
        "icon_url": icon_url,
    }
    _check_urls(urls)
    changes: dict[str, Any] = {
        "name": name.strip() if name else None,
        "category": category.strip() if category else None,
        "description": description,
        "client_id": client_id,
        "token_endpoint_auth_method": token_endpoint_auth_method,
        "default_scopes": _scopes(default_scopes) if default_scopes is not None else None,
        "api_key_header": api_key_header,
        "allow_unattended_writes": allow_unattended_writes,
        **urls,
    }
    if api_key_header is not None:
        _check_header(api_key_header)
    changes = {k: v for k, v in changes.items() if v is not None}
    both = set(changes) & set(clear) | ({"client_secret"} & set(clear) if secret is not None else set())
    if both:
        raise InvalidArgument(f"{', '.join(sorted(both))}: pass a new value or clear it, not both")
    if not changes and not clear and secret is None:
        raise InvalidArgument("pass at least one field to change")

    args: list[Any] = [slug]
    sets = []
    for column, value in changes.items():
        args.append(value)
        sets.append(f"{column} = ${len(args)}")
    for column in clear:
        if column == "client_secret":
            sets += ["client_secret_encrypted = NULL", "client_secret_key_id = NULL"]
        else:
            sets.append(f"{column} = NULL")
    if secret is not None:
        key = require_key(app_state(ctx))
        args += [secret.get_secret_value(), key, key_id(key)]
        n = len(args)
        sets += [
            f"client_secret_encrypted = public.encrypt_oauth_token(${n - 2}, ${n - 1})",
            f"client_secret_key_id = ${n}",
        ]
    async with user_transaction(ctx) as conn:
        changed = await conn.fetchval(
            f"UPDATE public.mcp_integrations i SET {', '.join(sets)} WHERE i.slug = $1 AND i.deleted_at IS NULL "
            "RETURNING i.id",
            *args,
        )
        if changed is None:
            await _forbidden_or_missing(conn, slug)
        return render(await read_in(conn, "get_integration", {"slug": slug}))


@toolset.write("Set integration status", destructive=False, idempotent=True, audience="admins")
async def set_integration_status(
    ctx: Context,
    slug: Slug,
    status: Annotated[
        Status,
        Field(
            description=(
                "enabled: installable; deprecated: installs keep working, no new ones; disabled: hidden, installs stop"
            )
        ),
    ],
) -> CallToolResult:
    """Admins: enable, deprecate or disable a marketplace entry."""
    async with user_transaction(ctx) as conn:
        changed = await conn.fetchval(
            "UPDATE public.mcp_integrations i SET status = $2 WHERE i.slug = $1 AND i.deleted_at IS NULL "
            "RETURNING i.id",
            slug,
            status,
        )
        if changed is None:
            await _forbidden_or_missing(conn, slug)
        return render(await read_in(conn, "get_integration", {"slug": slug}))


async def _forbidden_or_missing(conn: asyncpg.Connection, slug: str) -> None:
    """RLS changed nothing: say whether the entry is out of reach or absent (as this user sees it)."""
    visible = await conn.fetchval(
        "SELECT EXISTS (SELECT 1 FROM public.mcp_integrations i WHERE i.slug = $1 AND i.deleted_at IS NULL)", slug
    )
    raise Forbidden(FORBIDDEN) if visible else NotFound(NOT_FOUND.format(slug))


# --- argument checks ----------------------------------------------------------------------------------------


def _check_header(name: str) -> None:
    if name.lower() in ("host", "cookie", "content-length", "content-type", "transfer-encoding", "accept"):
        raise InvalidArgument(f"{name} cannot carry an API key; use Authorization or a header such as X-Api-Key")


def _secret(value: Any) -> SecretStr | None:
    """The client secret argument, checked without ever repeating it."""
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip() or len(value) > MAX_SECRET_CHARS:
        raise InvalidArgument(f"client_secret must be a non-blank string of at most {MAX_SECRET_CHARS} characters")
    if any(ord(c) < 0x20 or ord(c) == 0x7F for c in value):
        raise InvalidArgument("client_secret must not contain control characters")
    return SecretStr(value)


def _check_urls(urls: dict[str, str | None]) -> None:
    for name, value in urls.items():
        if value is None:
            continue
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise InvalidArgument(f"{name} must be an absolute http(s) URL")
        if parts.username or parts.password or parts.fragment:
            raise InvalidArgument(f"{name} must not contain credentials or a fragment")
        if parts.query and name not in ("authorization_url", "docs_url", "icon_url"):
            raise InvalidArgument(f"{name} must not contain a query string")
        if parts.scheme == "http" and not is_loopback_host(parts.hostname):
            raise InvalidArgument(f"{name} must use https (plain http is allowed only for 127.0.0.1)")
        if any(ord(c) <= 0x20 or ord(c) == 0x7F or c == "\\" for c in value):
            raise InvalidArgument(f"{name} must not contain spaces, control characters or backslashes")


def _scopes(scopes: list[str]) -> list[str]:
    cleaned = list(dict.fromkeys(s.strip() for s in scopes if s.strip()))
    if any(not flow.SCOPE_TOKEN.match(s) for s in cleaned):
        raise InvalidArgument("each scope is one word of printable characters, without quotes or backslashes")
    return cleaned
