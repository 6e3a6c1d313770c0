"""Connecting an integration through the client: the client opens the connect page for the user (URL-mode
elicitation) instead of the model handing a link on. install_integration and integration_request share it.

The page (web/connect.py) says which user and integration it is for, is single-use and lasts 10 minutes; the
URL carries only that link's token. 2026-07-28: the question goes out in an InputRequiredResult and the retry
finds the connection made (or asks again); 2025-11-25: `elicitation/create` in url mode, or the
URL-elicitation-required error where a call cannot go on, and notifications/elicitation/complete once the page
or the OAuth callback stored the credential (elicitations.py).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from mcp.server.mcpserver import Context
from mcp.server.mcpserver.exceptions import ToolError
from mcp.shared.exceptions import UrlElicitationRequiredError
from mcp.types import CallToolResult, ElicitRequest, ElicitRequestURLParams, InputRequiredResult

from .. import asking
from ..context import app_state, user_transaction
from ..oauth import connect
from ..results import render, utc_text

KEY = "connect"  # the question's key in input_requests / input_responses


def page_message(name: str) -> str:
    return (
        f"Connect {name} to Renubu: the page says which Renubu account it is for, then asks for {name}'s "
        "approval or key. Come back when it says you are connected."
    )


async def open_page(ctx: Context, slug: str, scopes: list[str] | None = None) -> connect.ConnectStart:
    """A connect-page link for the caller's install of `slug` (made or reopened), as the caller."""
    app = app_state(ctx)
    if app.link_listener is not None:  # stdio: the loopback listener serves the page
        await app.link_listener.ensure()
    async with user_transaction(ctx) as conn:
        return await connect.start_connect(conn, server_url=connect.base_url(app), slug=slug, scopes=scopes, oauth=True)


def page_request(started: connect.ConnectStart, *, with_id: bool) -> ElicitRequest:
    """The page as a question; 2025-11-25 names it with an id (for notifications/elicitation/complete),
    2026-07-28 has no such id."""
    return asking.page(page_message(started.name), started.connect_url, started.elicitation_id if with_id else None)


def asked(started: connect.ConnectStart) -> dict[str, Any]:
    """What the next round must know about the page it sent the user to."""
    return {
        "install": str(started.install_id),
        "name": started.name,
        "since": started.started_at.isoformat() if started.started_at else None,
    }


def required_error(started: connect.ConnectStart) -> UrlElicitationRequiredError:
    """2025-11-25: the call cannot go on until the user connected (-32042, carrying the page for the client)."""
    params = ElicitRequestURLParams(
        message=page_message(started.name), url=started.connect_url, elicitation_id=started.elicitation_id
    )
    return UrlElicitationRequiredError(
        [params],
        message=f"{started.name} is not connected: the client can open its connect page for the user, "
        "then retry this call",
    )


async def withdraw(ctx: Context, install_id: str | UUID) -> None:
    async with user_transaction(ctx) as conn:
        await connect.withdraw(conn, UUID(str(install_id)))


_FINISHED = """
SELECT ui.status = 'active'
       AND ($2::timestamptz IS NULL OR greatest(t.refreshed_at, w.updated_at) >= $2::timestamptz)
FROM public.user_integrations ui
LEFT JOIN public.oauth_tokens t ON t.user_integration_id = ui.id
LEFT JOIN public.webhook_endpoints w ON w.user_integration_id = ui.id
WHERE ui.id = $1
"""


async def finished(ctx: Context, state: dict[str, Any]) -> bool:
    """The install the page was for is active with a credential stored since the page was made."""
    since = datetime.fromisoformat(state["since"]) if state.get("since") else None
    async with user_transaction(ctx) as conn:
        return bool(await conn.fetchval(_FINISHED, UUID(state["install"]), since))


def declined(name: str, *, sent: bool = False) -> ToolError:
    return ToolError(
        f"the user did not connect {name}"
        + ("; nothing was sent" if sent else "")
        + ": call install_integration when they want to"
    )


# --- install_integration through the client ------------------------------------------------------------------

_INSTALL = """
SELECT ui.id, i.slug, i.name, i.connection_type, ui.status, ui.scopes
FROM public.user_integrations ui JOIN public.mcp_integrations i ON i.id = ui.integration_id
WHERE ui.id = $1
"""


async def _install(ctx: Context, install_id: str | UUID) -> dict[str, Any]:
    async with user_transaction(ctx) as conn:
        row = await conn.fetchrow(_INSTALL, UUID(str(install_id)))
    install = {
        "install_id": str(row["id"]),
        "slug": row["slug"],
        "name": row["name"],
        "connection_type": row["connection_type"],
        "status": row["status"],
    }
    if row["scopes"]:
        install["scopes"] = list(row["scopes"])
    if row["connection_type"] == "webhook":
        install["webhook_url"] = connect.webhook_url(app_state(ctx), row["id"])
    return install


async def install(
    ctx: Context, slug: str, scopes: list[str] | None, channel: asking.Channel
) -> CallToolResult | InputRequiredResult:
    """install_integration for a client that opens pages itself."""
    if channel.rounds:
        state = asking.round_state(ctx).get(KEY)
        reply = asking.answer(ctx, KEY)
        if state and reply is not None:
            if reply.action != "accept":
                await withdraw(ctx, state["install"])
                raise declined(state["name"])
            if await finished(ctx, state):
                done = await _install(ctx, state["install"])
                return render({**done, "message": f"{done['name']} is connected"}, untrusted=False)
        started = await open_page(ctx, slug, scopes)  # first round, or the user came back without finishing
        return asking.ask_again({KEY: page_request(started, with_id=False)}, {KEY: asked(started)})

    started = await open_page(ctx, slug, scopes)
    app = app_state(ctx)
    app.elicitations.wait_for(started.elicitation_id, ctx.session)
    reply = await asking.ask_now(ctx, page_request(started, with_id=True))
    if reply is None or reply.action != "accept":
        app.elicitations.forget(started.elicitation_id)
        await withdraw(ctx, started.install_id)
        raise declined(started.name)
    return render(
        {
            "install_id": str(started.install_id),
            "slug": started.slug,
            "name": started.name,
            "connection_type": started.connection_type,
            "status": started.install_status,
            "expires_at": utc_text(started.expires_at),
            "instructions": (
                f"The user's client opened the {started.name} connect page for them. When they finish, "
                "the client is told; then call list_my_integrations."
            ),
        },
        untrusted=False,
    )
