"""Where the OAuth callback lives: one fixed redirect URI per deployment, from RENUBU_PUBLIC_URL."""

from __future__ import annotations

import ipaddress
import os
from typing import Any
from urllib.parse import urlsplit

from ..config import ConfigError

DEFAULT_PUBLIC_URL = "http://127.0.0.1:8765"
CALLBACK_PATH = "/oauth/callback"


def is_loopback_host(host: str | None) -> bool:
    if not host:
        return False
    host = host.strip("[]").lower()
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def public_url(settings: Any = None, *, stdio: bool = True) -> str:
    """The server's public base URL: RENUBU_PUBLIC_URL; without it, the HTTP server's own address (http://host:port)
    when serving HTTP, or the loopback listener's default when serving stdio."""
    if settings is not None and hasattr(settings, "public_url"):
        raw = settings.public_url
    else:  # a Settings object from before config.py knew RENUBU_PUBLIC_URL
        raw = os.environ.get("RENUBU_PUBLIC_URL")
    if not raw:
        raw = getattr(settings, "base_url", None) if not stdio else None
    raw = (raw or DEFAULT_PUBLIC_URL).strip()
    parts = urlsplit(raw)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError("RENUBU_PUBLIC_URL must be an http(s) URL such as https://mcp.example.com")
    if parts.query or parts.fragment or parts.username or parts.password:
        raise ConfigError("RENUBU_PUBLIC_URL must not carry a query, fragment or credentials")
    if parts.scheme == "http" and not is_loopback_host(parts.hostname):
        raise ConfigError(
            "set RENUBU_PUBLIC_URL to this server's https address: OAuth redirects may use plain "
            "http only on a loopback address (127.0.0.1)"
        )
    return raw.rstrip("/")


def redirect_uri(settings: Any = None, *, stdio: bool = True) -> str:
    """The exact redirect URI registered at every provider."""
    return public_url(settings, stdio=stdio) + CALLBACK_PATH


def loopback_listen_address(settings: Any = None) -> tuple[str, int] | None:
    """(host, port) for a stdio server to listen on for the callback; None when the public URL is not loopback."""
    parts = urlsplit(public_url(settings, stdio=True))
    if parts.scheme != "http" or parts.hostname is None or not is_loopback_host(parts.hostname):
        return None
    return parts.hostname, parts.port or 80
