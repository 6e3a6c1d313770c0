"""The authorization server's HTTP routes, on the MCP server's app: RFC 8414 metadata, the sign-in page, and the
SDK's token, registration (RFC 7591) and revocation (RFC 7009) handlers over the PostgreSQL-backed provider."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, cast

from mcp.server import MCPServer
from mcp.server.auth.handlers.metadata import MetadataHandler
from mcp.server.auth.handlers.register import RegistrationHandler
from mcp.server.auth.handlers.revoke import RevocationHandler
from mcp.server.auth.handlers.token import TokenHandler
from mcp.server.auth.provider import OAuthAuthorizationServerProvider
from mcp.server.auth.settings import ClientRegistrationOptions
from mcp.server.transport_security import RequestBodyLimitMiddleware
from mcp.shared.auth import OAuthMetadata
from mcp.shared.inbound import MCP_PROTOCOL_VERSION_HEADER
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import request_response
from starlette.types import ASGIApp

from ..config import Settings
from . import clients, policy
from .provider import AuthorizationServer, HashedSecretAuthenticator
from .signin import DATABASE_ERRORS, authorize_endpoint, database_trouble, sign_in_endpoint

MAX_BODY_BYTES = 64 * 1024


def metadata(settings: Settings) -> OAuthMetadata:
    """RFC 8414: what this server does, and nothing it does not."""
    base = policy.issuer(settings)
    # Strings, not AnyHttpUrl objects: the model keeps an issuer without a path exactly as given (no "/" added),
    # and clients compare issuers as strings (RFC 8414 section 3.3).
    return OAuthMetadata.model_validate(
        dict(
            issuer=base,
            authorization_endpoint=base + policy.AUTHORIZE_PATH,
            token_endpoint=base + policy.TOKEN_PATH,
            registration_endpoint=base + policy.REGISTER_PATH,
            revocation_endpoint=base + policy.REVOKE_PATH,
            response_types_supported=["code"],
            grant_types_supported=sorted(clients.GRANT_TYPES),
            token_endpoint_auth_methods_supported=list(clients.AUTH_METHODS),
            revocation_endpoint_auth_methods_supported=list(clients.AUTH_METHODS),
            code_challenge_methods_supported=["S256"],
            client_id_metadata_document_supported=True,
            authorization_response_iss_parameter_supported=True,
        )
    )


def _for_clients(handler: Callable[[Request], Awaitable[Response]], methods: list[str]) -> ASGIApp:
    """A JSON endpoint clients call directly (browser-based ones too, hence CORS): bounded bodies, and a database
    outage answered as one rather than as a 500."""

    async def guarded(request: Request) -> Response:
        try:
            return await handler(request)
        except DATABASE_ERRORS as exc:
            database_trouble(exc)
            return JSONResponse(
                {
                    "error": "temporarily_unavailable",
                    "error_description": "the Renubu database is unavailable; try again shortly",
                },
                status_code=503,
                headers={"Cache-Control": "no-store"},
            )

    limited = RequestBodyLimitMiddleware(request_response(guarded), MAX_BODY_BYTES)
    return CORSMiddleware(
        limited, allow_origins=["*"], allow_methods=methods, allow_headers=[MCP_PROTOCOL_VERSION_HEADER]
    )


def register(
    server: MCPServer, settings: Settings, app: Callable[[], Any], forget_grant: Callable[[Any], None]
) -> AuthorizationServer:
    """Add the routes (public: outside the bearer check) and return the provider behind them."""
    policy.check(settings)
    provider = AuthorizationServer(settings, app, forget_grant)
    # The SDK's handlers call only the provider methods AuthorizationServer has: authorization is our own sign-in
    # page, and identity-assertion grants are not offered, so it need not claim the whole protocol.
    sdk_provider = cast("OAuthAuthorizationServerProvider[Any, Any, Any]", provider)
    authenticator = HashedSecretAuthenticator(sdk_provider)
    endpoints: list[tuple[str, list[str], Any]] = [
        (policy.METADATA_PATH, ["GET", "OPTIONS"], _for_clients(MetadataHandler(metadata(settings)).handle, ["GET"])),
        (policy.AUTHORIZE_PATH, ["GET"], authorize_endpoint(settings, app)),
        (policy.SIGN_IN_PATH, ["POST"], sign_in_endpoint(settings, app)),
        (
            policy.TOKEN_PATH,
            ["POST", "OPTIONS"],
            _for_clients(TokenHandler(sdk_provider, authenticator).handle, ["POST"]),
        ),
        (
            policy.REGISTER_PATH,
            ["POST", "OPTIONS"],
            _for_clients(RegistrationHandler(sdk_provider, ClientRegistrationOptions(enabled=True)).handle, ["POST"]),
        ),
        (
            policy.REVOKE_PATH,
            ["POST", "OPTIONS"],
            _for_clients(RevocationHandler(sdk_provider, authenticator).handle, ["POST"]),
        ),
    ]
    for path, methods, endpoint in endpoints:
        server.custom_route(path, methods=methods)(endpoint)
    return provider
