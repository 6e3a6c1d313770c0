"""What clients get besides tool calls and reads: completion, the resource list, change notifications in both
protocol eras, and capabilities that promise exactly that.

Delivered, and so advertised:
  completions                   every resource-template parameter and prompt argument (completions.py)
  resources/list                paged, the caller's concrete resources (resource_list.py)
  resources.subscribe           2025-11-25 over stdio and in an HTTP session (sessions.py: the client initialized
                                and sends its mcp-session-id): resources/subscribe + notifications/resources/updated,
                                on the session's GET stream over HTTP;
                                2026-07-28 (stdio and HTTP): subscriptions/listen with resource URIs
Not delivered, and so not advertised: listChanged for tools, prompts or resources (the tool list changes only
with the server's configuration or a user's role; clients re-list), and resources/subscribe to an HTTP request
without a session (no channel to send on: refused, and an initialize answered without a session says so). Both
eras' capabilities come from here; tests/live/test_capabilities.py asserts that each advertised one behaves, and
tests/live/test_http_sessions.py covers the session-less refusals.
"""

from __future__ import annotations

from typing import Any

import asyncpg
from mcp import MCPError
from mcp.server import MCPServer
from mcp.server.caching import CacheableMethod, CacheHint
from mcp.server.context import CallNext, HandlerResult, ServerRequestContext
from mcp.server.lowlevel.server import Server
from mcp.types import (
    METHOD_NOT_FOUND,
    CompleteRequestParams,
    DiscoverResult,
    PaginatedRequestParams,
    RequestParams,
    ServerCapabilities,
    SubscribeRequestParams,
    SubscriptionsListenRequestParams,
    UnsubscribeRequestParams,
)
from mcp_types.version import MODERN_PROTOCOL_VERSIONS

from ..completions import Completions
from ..config import Settings
from ..db import Database, connection_options
from ..resource_kinds import offered
from ..resource_list import ResourceList
from . import subscriptions
from .feed import Connect
from .hub import ChangeHub

# Lists that are the same for every caller of a role (tools/list is built once per role: catalog.py; templates and
# prompts are the same for everyone): a client may reuse them for this long, within one authorization (private).
# resources/list is each user's own and keeps the default (stale at once).
LIST_TTL_MS = 300_000
_SAME_FOR_A_ROLE: tuple[CacheableMethod, ...] = ("tools/list", "prompts/list", "resources/templates/list")
CACHE_HINTS: dict[CacheableMethod, CacheHint] = {
    method: CacheHint(ttl_ms=LIST_TTL_MS, scope="private") for method in _SAME_FOR_A_ROLE
}


def behind_transaction_pooler(database_url: str | None) -> bool:
    return database_url is not None and connection_options(database_url)[1].get("statement_cache_size") == 0


def notifications_available(settings: Settings) -> bool:
    """A LISTEN needs a session of its own: not through a transaction pooler, unless a direct URL is given."""
    return settings.listen_database_url is not None or not behind_transaction_pooler(settings.database_url)


def listen_connect(settings: Settings, db: Database) -> Connect | None:
    if settings.listen_database_url is not None:
        dsn, _ = connection_options(settings.listen_database_url)
        return lambda: asyncpg.connect(dsn)
    if not notifications_available(settings):
        return None
    return db.open_connection


def change_hub(settings: Settings, db: Database) -> ChangeHub:
    return ChangeHub(db, offered(settings.toolsets), listen_connect(settings, db), read_only=settings.read_only)


def register(server: MCPServer, settings: Settings, *, recheck: subscriptions.Recheck | None = None) -> None:
    """recheck: the bearer verifier's verify_token (HTTP), so a listen stream ends, and an HTTP session's
    subscriptions fall silent, once its token is refused."""
    # MCPServer serves resources/list unpaged and offers no way to replace it, resources/subscribe or
    # server/discover; the low-level server's add_request_handler does.
    lowlevel = server._lowlevel_server  # noqa: SLF001
    lowlevel.add_request_handler("resources/list", PaginatedRequestParams, ResourceList(offered(settings.toolsets)))
    lowlevel.add_request_handler("completion/complete", CompleteRequestParams, Completions(server))
    live = notifications_available(settings)
    if live:
        lowlevel.add_request_handler(
            "subscriptions/listen", SubscriptionsListenRequestParams, subscriptions.ListenHandler(recheck)
        )
        # Registered for every connection (the SDK then advertises them in every initialize result); the gate
        # keeps both to the connections that can be sent updates.
        lowlevel.add_request_handler("resources/subscribe", SubscribeRequestParams, subscriptions.Subscribe(recheck))
        lowlevel.add_request_handler("resources/unsubscribe", UnsubscribeRequestParams, subscriptions.unsubscribe)
        server.middleware.append(SubscribeGate())
    lowlevel.add_request_handler("server/discover", RequestParams, _discover(lowlevel, subscribe=live))


def can_be_sent_updates(ctx: ServerRequestContext[Any, Any]) -> bool:
    """Whether notifications/resources/updated can reach this connection: it speaks the handshake era and has a
    standing channel (stdio, or an HTTP session's GET stream), which a session-less HTTP request lacks."""
    connection = subscriptions.connection_of(ctx)
    return connection.has_standalone_channel and connection.protocol_version not in MODERN_PROTOCOL_VERSIONS


class SubscribeGate:
    """Server middleware: resources/subscribe is served, and promised in the initialize result, only where
    can_be_sent_updates; elsewhere it is refused with the way that works there."""

    async def __call__(self, ctx: ServerRequestContext[Any, Any], call_next: CallNext) -> HandlerResult:
        if ctx.method == "initialize":
            result = await call_next(ctx)
            if isinstance(result, dict) and not subscriptions.connection_of(ctx).has_standalone_channel:
                resources = result.get("capabilities", {}).get("resources")
                if isinstance(resources, dict) and resources.get("subscribe"):
                    result = {
                        **result,
                        "capabilities": {**result["capabilities"], "resources": {**resources, "subscribe": False}},
                    }
            return result
        if ctx.method in ("resources/subscribe", "resources/unsubscribe") and not can_be_sent_updates(ctx):
            if ctx.protocol_version in MODERN_PROTOCOL_VERSIONS:
                message = f"{ctx.method} is not part of protocol {ctx.protocol_version}: use subscriptions/listen"
            else:
                message = (
                    f"{ctx.method} needs a session: send initialize first, then its mcp-session-id on every "
                    "request (updates arrive on the session's GET stream)"
                )
            raise MCPError(code=METHOD_NOT_FOUND, message=message)
        return await call_next(ctx)


def delivered(capabilities: ServerCapabilities, *, subscribe: bool) -> ServerCapabilities:
    """The capabilities with nothing promised that is not delivered: no list-changed notifications."""
    changes: dict[str, Any] = {}
    if capabilities.tools is not None:
        changes["tools"] = capabilities.tools.model_copy(update={"list_changed": False})
    if capabilities.prompts is not None:
        changes["prompts"] = capabilities.prompts.model_copy(update={"list_changed": False})
    if capabilities.resources is not None:
        changes["resources"] = capabilities.resources.model_copy(update={"list_changed": False, "subscribe": subscribe})
    return capabilities.model_copy(update=changes)


def _discover(lowlevel: Server[Any], *, subscribe: bool):
    """server/discover (2026-07-28) as the SDK answers it, except that the SDK promises every list-changed kind
    whenever subscriptions/listen is served."""

    async def discover(ctx: ServerRequestContext[Any, Any], params: RequestParams) -> DiscoverResult:
        capabilities = lowlevel.get_capabilities(protocol_version=ctx.protocol_version)
        return DiscoverResult(
            supported_versions=list(MODERN_PROTOCOL_VERSIONS),
            capabilities=delivered(capabilities, subscribe=subscribe),
            instructions=lowlevel.instructions,
        )

    return discover
