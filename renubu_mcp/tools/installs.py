"""Integrations toolset, your connections: connecting an integration (OAuth, API key or webhook), listing and
disconnecting them. No token, key or secret is ever part of a result."""

from __future__ import annotations

from typing import Annotated, Literal

from mcp.server.mcpserver import Context
from mcp.types import CallToolResult, InputRequiredResult
from pydantic import Field

from .. import asking
from ..context import app_state, read_as_caller, user_transaction
from ..errors import InvalidArgument
from ..oauth import connect, flow, tokens
from ..oauth.settings import redirect_uri
from ..oauth.vault import require_key
from ..results import render, utc_text
from . import connecting
from .common import Cursor, Limit
from .marketplace import Scopes, Slug, toolset
from .paging import decode_cursor, finish_page


@toolset.write("Install integration", destructive=False, idempotent=False)
async def install_integration(
    ctx: Context,
    slug: Slug,
    scopes: Annotated[Scopes | None, Field(description="oauth2; default all")] = None,
) -> CallToolResult | InputRequiredResult:
    """Connect an integration: a one-time page in the user's browser, which their client opens or you get as a
    link (never ask for keys in chat)."""
    app = app_state(ctx)
    key = require_key(app)
    channel = asking.channel(ctx)
    if channel.can_open_page:  # the client opens the page for the user: no link through the model
        return await connecting.install(ctx, slug, scopes, channel)
    async with user_transaction(ctx) as conn:
        kind = await conn.fetchval(
            "SELECT connection_type FROM public.mcp_integrations WHERE slug = $1 AND deleted_at IS NULL", slug
        )
        if kind in ("api_key", "webhook"):
            if scopes:
                raise InvalidArgument("scopes apply to OAuth integrations only")
            linked = await connect.start_connect(conn, server_url=connect.base_url(app), slug=slug)
        else:
            callback = redirect_uri(app.settings, stdio=app.stdio_principal is not None)
            started = await flow.start_authorization(conn, key=key, redirect_uri=callback, slug=slug, scopes=scopes)
    if kind in ("api_key", "webhook"):
        if kind == "api_key":
            todo = (
                f"Ask the user to open connect_url in their browser and paste their {linked.name} API key there. "
                "Do not ask for the key in this conversation."
            )
            webhook = {}
        else:
            todo = (
                f"Ask the user to open connect_url in their browser: it shows the signing secret once. In "
                f"{linked.name}'s webhook settings they set the endpoint to webhook_url and paste the secret."
            )
            webhook = {"webhook_url": connect.webhook_url(app, linked.install_id)}
        return render(
            {
                "install_id": str(linked.install_id),
                "slug": linked.slug,
                "name": linked.name,
                "connection_type": kind,
                "status": linked.install_status,
                "connect_url": linked.connect_url,
                **webhook,
                "expires_at": utc_text(linked.expires_at),
                "instructions": todo + " Then call list_my_integrations.",
            },
            untrusted=False,
        )
    return render(
        {
            "install_id": str(started.install_id),
            "slug": started.slug,
            "name": started.name,
            "connection_type": "oauth2",
            "status": started.install_status,
            "authorization_url": started.authorization_url,
            "expires_at": utc_text(started.expires_at),
            "redirect_uri": started.redirect_uri,
            "scopes": list(started.scopes),
            "instructions": (
                f"Ask the user to open authorization_url in their browser and approve access to "
                f"{started.name}. The page they land on says whether it worked; then call "
                "list_my_integrations."
            ),
        },
        untrusted=False,
    )


@toolset.read("List my integrations")
async def list_my_integrations(
    ctx: Context,
    status: Literal["pending", "active", "error", "revoked"] | None = None,
    limit: Limit = 20,
    cursor: Cursor = None,
) -> CallToolResult:
    """Your connected integrations: status, scopes, last use and error."""
    filters = {"status": status}
    offset = decode_cursor(cursor, filters)
    app = app_state(ctx)
    document = await read_as_caller(ctx, "list_my_integrations", {"status": status, "limit": limit, "offset": offset})
    for install in document["installs"]:
        if install["connection_type"] == "webhook" and install["status"] != "revoked":
            install["webhook_url"] = connect.webhook_url(app, install["install_id"])
    return render(finish_page(document, offset, limit, filters))


@toolset.write("Uninstall integration", destructive=True, idempotent=True, open_world=True)
async def uninstall_integration(ctx: Context, slug: Slug) -> CallToolResult:
    """Disconnect one of your integrations and revoke its tokens at the provider."""
    app = app_state(ctx)
    done = await tokens.revoke_install(app, app.principal(), slug)
    if done.revoked_at_provider is False:
        message = (
            f"{done.name} is disconnected here, but {done.name} did not confirm revoking access: "
            f"remove Renubu in {done.name}'s connected-apps settings to be sure"
        )
    else:
        message = f"{done.name} is disconnected and its stored tokens are deleted"
    result = {
        "slug": done.slug,
        "status": "revoked",
        "revoked_at_provider": done.revoked_at_provider,
        "message": message,
    }
    return render({k: v for k, v in result.items() if v is not None}, untrusted=False)
