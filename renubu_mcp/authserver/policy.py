"""When the built-in authorization server serves, and the identifiers it uses."""

from __future__ import annotations

from urllib.parse import urlsplit

from ..config import ConfigError, Settings
from ..oauth.settings import is_loopback_host

AUTHORIZE_PATH = "/authorize"
SIGN_IN_PATH = "/authorize/sign-in"
TOKEN_PATH = "/token"
REGISTER_PATH = "/register"
REVOKE_PATH = "/revoke"
METADATA_PATH = "/.well-known/oauth-authorization-server"


def external(settings: Settings) -> bool:
    """An external authorization server is named: RENUBU_AUTH_SERVER_URL other than this server, or RENUBU_JWKS_URL."""
    return settings.jwks_url is not None or settings.auth_server_url not in (None, settings.base_url)


def enabled(settings: Settings) -> bool:
    """Without an external authorization server the HTTP server signs MCP clients in itself, with the secret that
    signs its access tokens (RENUBU_JWT_SECRET, or the embedded cluster's), unless RENUBU_BUILTIN_AUTH_SERVER=false."""
    can_sign = settings.jwt_secret is not None or settings.embedded
    return settings.builtin_auth_server and not external(settings) and can_sign


def issuer(settings: Settings) -> str:
    """The issuer identifier (RFC 8414): this server's public address, exactly as the metadata names it."""
    return settings.base_url


def resource(settings: Settings) -> str:
    """The protected resource its access tokens are for (their audience, RFC 8707)."""
    return f"{settings.base_url}/mcp"


def development(settings: Settings) -> bool:
    """Serving on a plain-http loopback address: then Client ID Metadata Documents may be http and on loopback."""
    parts = urlsplit(settings.base_url)
    return parts.scheme == "http" and is_loopback_host(parts.hostname)


def check(settings: Settings) -> None:
    """OAuth needs https outside loopback (RFC 8414 issuers, the password form): refuse to start otherwise."""
    parts = urlsplit(settings.base_url)
    if parts.scheme != "https" and not development(settings):
        raise ConfigError(
            "set RENUBU_PUBLIC_URL to this server's https address: the built-in authorization server signs users in "
            "only over https (or on a loopback address); or name an external one with RENUBU_AUTH_SERVER_URL, or "
            "set RENUBU_BUILTIN_AUTH_SERVER=false"
        )
    if parts.query or parts.fragment:
        raise ConfigError("RENUBU_PUBLIC_URL must not carry a query or fragment")
