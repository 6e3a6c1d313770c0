"""Subscribing to resources, in both protocol eras, on top of the change hub.

2025-11-25: resources/subscribe and resources/unsubscribe; changes arrive as notifications/resources/updated on the
connection's standing channel: stdio, or an HTTP session's standalone GET stream (sessions.py). A session-less
HTTP request has no such channel, so it is refused there and not advertised (live/__init__.py decides).

2026-07-28: subscriptions/listen; the response is the stream. The SDK's own handler delivers whatever is published
to every stream that named the URI; this one delivers only what the hub let through for the stream's user, honours
only what it can deliver (resource URIs of the kinds this server offers; no list-changed kinds: the lists do not
announce their changes), and ends the stream when the bearer token it was opened with expires or stops being
accepted (its user deactivated, its grant revoked: checked every 30 s, as requests are): the client listens again.
"""

from __future__ import annotations

import asyncio
import logging
import time
import weakref
from collections.abc import Awaitable, Callable
from typing import Any

import anyio
from anyio.streams.memory import MemoryObjectSendStream
from mcp import MCPError
from mcp.server.auth.middleware.auth_context import get_access_token
from mcp.server.auth.provider import AccessToken
from mcp.server.context import ServerRequestContext
from mcp.server.mcpserver.exceptions import ToolError
from mcp.shared.subscriptions import SUBSCRIPTION_ID_META_KEY, ResourceUpdated, event_to_notification
from mcp.types import (
    INTERNAL_ERROR,
    INVALID_PARAMS,
    INVALID_REQUEST,
    EmptyResult,
    SubscribeRequestParams,
    SubscriptionFilter,
    SubscriptionsAcknowledgedNotification,
    SubscriptionsAcknowledgedNotificationParams,
    SubscriptionsListenRequestParams,
    SubscriptionsListenResult,
    UnsubscribeRequestParams,
)

from ..context import AppState
from ..resource_kinds import ResourceRef
from . import session_tokens
from .hub import ChangeHub, Watch

log = logging.getLogger(__name__)

MAX_STREAMS = 1024  # open listen streams per server process
MAX_URIS = 1000  # resource URIs per subscription
MAX_BUFFERED = 1024  # updates waiting for a slow client; past that the stream ends (the client listens again)
RECHECK_SECONDS = 30.0  # how often an open stream's bearer token is verified again

Recheck = Callable[[str], Awaitable[object | None]]  # the bearer verifier's verify_token: None when refused

_WATCH = "renubu.watch"
_WATCH_LOCK = "renubu.watch_lock"


def _hub(ctx: ServerRequestContext[AppState, Any]) -> ChangeHub:
    hub = ctx.lifespan_context.changes
    assert hub is not None, "subscriptions are registered only with a change hub"
    return hub


def _unknown(uri: str) -> MCPError:
    return MCPError(
        code=INVALID_PARAMS,
        message=(
            f"{uri!r} is not a resource of this server; subscribe to a URI from resources/list or "
            "resources/templates/list"
        ),
    )


def _unavailable(exc: ToolError) -> MCPError:
    return MCPError(code=INTERNAL_ERROR, message=str(exc))


# --- 2025-11-25 ----------------------------------------------------------------------------------------------------


def connection_of(ctx: ServerRequestContext[Any, Any]) -> Any:
    # The SDK gives handlers the connection only through the session (mcp.server.context.Context has it, but
    # handlers get ServerRequestContext); its `state` and `exit_stack` are the connection's public scratch space.
    return ctx.session._connection  # noqa: SLF001


class Subscribe:
    """Serves resources/subscribe: the connection's first subscription opens its watch, closed with the connection
    (stdio exit; an HTTP session's DELETE, idle expiry or end). Over an HTTP session the updates go out on its
    standalone GET stream, each one only while the newest bearer token the session presented is accepted
    (`recheck`, as listen streams are checked): the GET stream was authenticated once, when it opened."""

    def __init__(self, recheck: Recheck | None = None) -> None:
        self._recheck = recheck

    async def __call__(self, ctx: ServerRequestContext[AppState, Any], params: SubscribeRequestParams) -> EmptyResult:
        uri = str(params.uri)
        hub = _hub(ctx)
        ref = hub.parse(uri)
        if ref is None:
            raise _unknown(uri)
        connection = connection_of(ctx)
        lock = connection.state.setdefault(_WATCH_LOCK, asyncio.Lock())
        async with lock:
            watch: Watch | None = connection.state.get(_WATCH)
            if watch is None:
                try:
                    principal = ctx.lifespan_context.principal()
                    watch = await hub.watch(principal, self._delivery(connection))
                except ToolError as exc:
                    raise _unavailable(exc) from None
                connection.state[_WATCH] = watch
                connection.exit_stack.callback(hub.unwatch, watch)
            hub.add(watch, ref, uri)
        return EmptyResult()

    def _delivery(self, connection: Any) -> Callable[[str], Awaitable[None]]:
        token = get_access_token()
        if connection.session_id is None or token is None:
            return connection.send_resource_updated  # stdio: the user is the configured one, for the process's life
        session_tokens.track(connection.session_id, token)
        connection.exit_stack.callback(session_tokens.untrack, connection.session_id)
        return WhileTokenAccepted(connection.send_resource_updated, connection.session_id, token, self._recheck)


class WhileTokenAccepted:
    """Delivery to a 2025-11-25 HTTP session: nothing while the newest token it presented has expired or is refused
    (its user deactivated, its grant revoked), so it stops when a request would be refused; a request with an
    accepted token (a refreshed one) resumes it. The hub has already checked RLS as the session's user."""

    def __init__(
        self, send: Callable[[str], Awaitable[None]], session_id: str, token: AccessToken, recheck: Recheck | None
    ) -> None:
        self._send = send
        self._session_id = session_id
        self._token = token
        self._recheck = recheck
        # (token, when checked, accepted): the token was verified just now, by the request that subscribed
        self._checked = (token.token, time.monotonic(), True)

    async def __call__(self, uri: str) -> None:
        if await self._accepted():
            await self._send(uri)

    async def _accepted(self) -> bool:
        token = session_tokens.newest(self._session_id) or self._token
        if token.expires_at is not None and token.expires_at <= time.time():
            return False
        if self._recheck is None:
            return True
        text, when, accepted = self._checked
        if text != token.token or time.monotonic() - when >= RECHECK_SECONDS:
            accepted = await self._recheck(token.token) is not None
            self._checked = (token.token, time.monotonic(), accepted)
        return accepted


async def unsubscribe(ctx: ServerRequestContext[AppState, Any], params: UnsubscribeRequestParams) -> EmptyResult:
    hub = _hub(ctx)
    ref = hub.parse(str(params.uri))
    watch: Watch | None = connection_of(ctx).state.get(_WATCH)
    if ref is not None and watch is not None:
        hub.remove(watch, ref)
    return EmptyResult()


# --- 2026-07-28 ----------------------------------------------------------------------------------------------------

_handlers: weakref.WeakSet[ListenHandler] = weakref.WeakSet()


def end_all_streams() -> None:
    """End every open listen stream of this process gracefully (the server is shutting down): each client gets the
    listen result, the spec's sign that the server closed it on purpose, and listens again elsewhere."""
    for handler in list(_handlers):
        handler.close()


class ListenHandler:
    """Serves subscriptions/listen: one call is one stream, acknowledged first, every frame stamped with the
    subscription id (the listen request's id). `recheck` verifies a bearer token again (HTTP)."""

    def __init__(self, recheck: Recheck | None = None) -> None:
        self._recheck = recheck
        self._streams: set[MemoryObjectSendStream[str]] = set()
        _handlers.add(self)

    def close(self) -> None:
        for stream in list(self._streams):
            stream.close()

    async def __call__(
        self, ctx: ServerRequestContext[AppState, Any], params: SubscriptionsListenRequestParams
    ) -> SubscriptionsListenResult:
        subscription_id = ctx.request_id
        if subscription_id is None:
            raise MCPError(INVALID_REQUEST, "subscriptions/listen requires a request id")
        if len(self._streams) >= MAX_STREAMS:
            raise MCPError(INTERNAL_ERROR, "subscription limit reached; try again later")
        hub = _hub(ctx)
        requested = list(dict.fromkeys(params.notifications.resource_subscriptions or ()))
        if len(requested) > MAX_URIS:
            raise MCPError(INVALID_PARAMS, f"at most {MAX_URIS} resource URIs per subscription")
        uris: dict[ResourceRef, str] = {}
        for uri in requested:
            ref = hub.parse(uri)
            if ref is not None:
                uris.setdefault(ref, uri)
        honored = SubscriptionFilter(resource_subscriptions=list(uris.values()) or None)
        meta: dict[str, Any] = {SUBSCRIPTION_ID_META_KEY: subscription_id}
        send, receive = anyio.create_memory_object_stream[str](MAX_BUFFERED)

        async def deliver(uri: str) -> None:
            try:
                send.send_nowait(uri)
            except anyio.WouldBlock:
                log.warning("listen stream %r stopped reading; ending it", subscription_id)
                send.close()
            except anyio.ClosedResourceError:
                pass

        token = get_access_token()
        lasts = token.expires_at - time.time() if token is not None and token.expires_at else None
        watch = None
        self._streams.add(send)
        try:
            if uris:
                try:
                    watch = await hub.watch(ctx.lifespan_context.principal(), deliver, uris, on_close=send.close)
                except ToolError as exc:
                    raise _unavailable(exc) from None
            await ctx.session.send_notification(
                SubscriptionsAcknowledgedNotification(
                    params=SubscriptionsAcknowledgedNotificationParams(notifications=honored, _meta=meta)
                ),
                related_request_id=subscription_id,
            )
            async with anyio.create_task_group() as checks:
                if self._recheck is not None and token is not None:
                    checks.start_soon(self._end_when_refused, token.token, send)
                with anyio.move_on_after(max(lasts, 0) if lasts is not None else float("inf")):
                    async for uri in receive:
                        await ctx.session.send_notification(
                            event_to_notification(ResourceUpdated(uri=uri), meta), related_request_id=subscription_id
                        )
                checks.cancel_scope.cancel()
        finally:
            if watch is not None:
                hub.unwatch(watch)
            self._streams.discard(send)
            send.close()
            receive.close()
        return SubscriptionsListenResult(_meta=meta)

    async def _end_when_refused(self, token: str, send: MemoryObjectSendStream[str]) -> None:
        assert self._recheck is not None
        while True:
            await anyio.sleep(RECHECK_SECONDS)
            if await self._recheck(token) is None:
                send.close()  # the stream ends after what it holds already
                return
