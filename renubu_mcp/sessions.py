"""2025-11-25 clients over HTTP get a session when they open one (`initialize`), so the server can ask them
something in the middle of a call (form and URL elicitation) and tell them afterwards
(notifications/elicitation/complete, and notifications/resources/updated for what they subscribed to: live/).
Without one, a stateless server neither knows what a 2025-11-25 client declared nor has a way back to it.

Everything else stays stateless, answered with plain JSON by any replica: 2026-07-28 requests (stateless by
design: questions travel in InputRequiredResult), and calls from clients that never open a session. A session
lives on the replica that opened it: behind a load balancer, route on the `mcp-session-id` header; a client
whose session is unknown gets 404 and opens a new one (the specification's rule).
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import anyio
from mcp.server import MCPServer
from mcp.server.auth.middleware.bearer_auth import AuthenticatedUser, RequireAuthMiddleware
from mcp.server.streamable_http import MCP_PROTOCOL_VERSION_HEADER, MCP_SESSION_ID_HEADER
from mcp.server.streamable_http_manager import StreamableHTTPASGIApp, StreamableHTTPSessionManager
from mcp.server.transport_security import TransportSecuritySettings
from mcp_types.version import HANDSHAKE_PROTOCOL_VERSIONS
from starlette.applications import Starlette
from starlette.routing import Route
from starlette.types import Message, Receive, Scope, Send

from .live import session_tokens

MCP_PATH = "/mcp"
# An initialize request is small; a body larger than this is not one (the transport still limits bodies itself).
PEEK_LIMIT = 64 * 1024
# A session with no request in flight (no open GET stream either) for this long ends, and its subscriptions with it.
IDLE_SECONDS = 1800.0


class _SessionsBeside(StreamableHTTPSessionManager):
    """Stateful sessions served with the state the stateless manager's lifespan opened (the server's database,
    keys and listeners are opened once, not once per manager)."""

    def __init__(self, primary: StreamableHTTPSessionManager, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._primary = primary

    @asynccontextmanager
    async def run(self) -> AsyncIterator[None]:
        async with anyio.create_task_group() as tg:
            self._lifespan_state = self._primary._lifespan_state
            self._task_group = tg  # type: ignore[assignment]  # the SDK types it None until its own run()
            try:
                yield
            finally:
                tg.cancel_scope.cancel()
                self._task_group = None
                self._lifespan_state = None
                self._server_instances.clear()
                self._session_owners.clear()


class _ByEra:
    """Sends a request to the session manager when it opens or belongs to a session, to the stateless one
    otherwise."""

    def __init__(self, stateless: Any, sessions: Any) -> None:
        self.stateless = stateless
        self.sessions = sessions

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await self.stateless(scope, receive, send)
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
        if MCP_SESSION_ID_HEADER in headers:
            user = scope.get("user")
            if isinstance(user, AuthenticatedUser):  # a session's subscriptions follow the token it uses now
                session_tokens.seen(headers[MCP_SESSION_ID_HEADER], user.access_token)
            return await self.sessions(scope, receive, send)
        version = headers.get(MCP_PROTOCOL_VERSION_HEADER)
        if scope["method"] != "POST" or (version is not None and version not in HANDSHAKE_PROTOCOL_VERSIONS):
            return await self.stateless(scope, receive, send)
        body, more, receive = await _peek(receive)
        target = self.sessions if not more and _is_initialize(body) else self.stateless
        return await target(scope, receive, send)


async def _peek(receive: Receive) -> tuple[bytes, bool, Receive]:
    """The start of the body (up to PEEK_LIMIT), whether there is more, and a `receive` that replays it."""
    chunks: list[Message] = []
    size, more = 0, True
    while more and size <= PEEK_LIMIT:
        message = await receive()
        chunks.append(message)
        if message["type"] != "http.request":
            break
        size += len(message.get("body", b""))
        more = message.get("more_body", False)
    body = b"".join(m.get("body", b"") for m in chunks if m["type"] == "http.request")

    async def replay() -> Message:
        if chunks:
            return chunks.pop(0)
        return await receive()

    return body, more, replay


def _is_initialize(body: bytes) -> bool:
    # Every session-less POST passes here before the SDK parses it: most are not an initialize, and a substring
    # test spares them a second JSON parse.
    if b'"initialize"' not in body:
        return False
    try:
        message = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return False
    return isinstance(message, dict) and message.get("method") == "initialize"


def add_sessions(server: MCPServer, app: Starlette, security: TransportSecuritySettings) -> Starlette:
    """`app` (MCPServer.streamable_http_app, stateless) with sessions for the clients that open one."""
    route = next(r for r in app.routes if isinstance(r, Route) and r.path == MCP_PATH)
    guard = route.app if isinstance(route.app, RequireAuthMiddleware) else None
    stateless = guard.app if guard is not None else route.app
    assert isinstance(stateless, StreamableHTTPASGIApp), type(stateless)
    sessions = _SessionsBeside(
        stateless.session_manager,
        app=server._lowlevel_server,
        json_response=False,
        stateless=False,
        security_settings=security,
        session_idle_timeout=IDLE_SECONDS,
    )
    router = _ByEra(stateless, StreamableHTTPASGIApp(sessions))
    if guard is not None:
        guard.app = router  # the bearer check stays in front of both
    else:
        route.app = router
    opened = app.router.lifespan_context

    @asynccontextmanager
    async def lifespan(starlette: Starlette) -> AsyncIterator[Any]:
        async with opened(starlette) as state, sessions.run():
            yield state

    app.router.lifespan_context = lifespan
    return app
