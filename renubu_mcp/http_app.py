"""The HTTP deployment: streamable HTTP at /mcp (stateless, so any replica answers; a 2025-11-25 client that
initializes gets a session: sessions.py), /healthz, and the web routes."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from urllib.parse import urlsplit

from mcp.server import MCPServer
from mcp.server.transport_security import TransportSecuritySettings
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse

from . import sessions
from .authserver import policy as auth_policy
from .authserver import routes as auth_routes
from .bearer import BearerTokenVerifier
from .config import Settings
from .context import AppState
from .oauth.connect import CONNECT_PATH, WEBHOOK_PATH
from .oauth.settings import CALLBACK_PATH
from .web.connect import connect_endpoint
from .web.oauth_callback import callback_endpoint, install_access_log_redaction
from .web.webhooks import webhook_endpoint

log = logging.getLogger(__name__)

LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1", "[::1]")


def transport_security(settings: Settings) -> TransportSecuritySettings:
    """Host and Origin allow-lists against DNS rebinding: this server's own address plus what is configured."""
    public = urlsplit(settings.base_url)
    hosts = [public.netloc, *settings.allowed_hosts]
    origins = [f"{public.scheme}://{public.netloc}", *settings.allowed_origins]
    if settings.host in LOOPBACK_HOSTS:
        hosts += ["127.0.0.1:*", "localhost:*", "[::1]:*"]
        origins += ["http://127.0.0.1:*", "http://localhost:*", "http://[::1]:*"]
    return TransportSecuritySettings(
        enable_dns_rebinding_protection=True,
        allowed_hosts=list(dict.fromkeys(hosts)),
        allowed_origins=list(dict.fromkeys(origins)),
    )


def register_routes(
    server: MCPServer, app: Callable[[], AppState], settings: Settings, verifier: BearerTokenVerifier
) -> None:
    """The non-MCP routes of the HTTP app (public: they sit outside the bearer check)."""

    @server.custom_route("/healthz", methods=["GET"])
    async def healthz(_: Request) -> JSONResponse:
        try:
            async with asyncio.timeout(2.0):
                async with app().db.pool.acquire() as conn:
                    await conn.fetchval("SELECT 1")
        except Exception as exc:  # any failure means "not healthy"; the reason goes to the log, not the caller
            log.warning("health check failed: %s", type(exc).__name__)
            return JSONResponse({"status": "unavailable", "database": "unreachable"}, status_code=503)
        return JSONResponse({"status": "ok", "database": "ok"})

    # Where providers send the browser back after consent (no bearer token: the state is the credential).
    server.custom_route(CALLBACK_PATH, methods=["GET", "HEAD"])(callback_endpoint(app))
    # Where a user pastes an API key or reveals a webhook secret (no bearer token: the link is the credential).
    server.custom_route(CONNECT_PATH + "/{token}", methods=["GET", "POST"])(connect_endpoint(app))
    # Where other products deliver webhooks (no bearer token: each delivery is signed with the install's secret).
    server.custom_route(WEBHOOK_PATH + "/{install_id}", methods=["POST"])(webhook_endpoint(app))
    # Where MCP clients sign their users in, unless an external authorization server is named.
    if auth_policy.enabled(settings):
        auth_routes.register(server, settings, app, verifier.forget_grant)
    elif settings.builtin_auth_server and not auth_policy.external(settings):
        log.warning("no RENUBU_JWT_SECRET and no external authorization server: clients cannot sign in here")


def build_http_app(server: MCPServer, settings: Settings) -> Starlette:
    install_access_log_redaction()  # the callback's code and state, and connect tokens, stay out of access logs
    security = transport_security(settings)
    app = server.streamable_http_app(
        stateless_http=True, json_response=True, transport_security=security, host=settings.host
    )
    return sessions.add_sessions(server, app, security)  # 2025-11-25 clients that initialize get a session
