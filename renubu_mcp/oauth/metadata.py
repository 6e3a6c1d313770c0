"""Whether an authorization server identifies itself in its authorization responses (RFC 9207), for an integration
with no configured issuer: its metadata (RFC 8414, or OpenID Connect discovery) says so with
`authorization_response_iss_parameter_supported`.

Asked only at a callback that arrived without `iss`, at the origin of the integration's authorization URL (the
issuer a provider without a configured one is assumed to be), and remembered for an hour. A server whose metadata
cannot be had, or names another issuer, has said nothing: the response is judged as before.
"""

from __future__ import annotations

import logging
import time
from urllib.parse import urlsplit

import httpx

from .provider import ProviderConfig, http_client

log = logging.getLogger(__name__)

WELL_KNOWN = ("/.well-known/oauth-authorization-server", "/.well-known/openid-configuration")
REMEMBER_S = 3600.0
UNREACHABLE_S = 60.0  # an unreachable server is asked again sooner
MAX_DOCUMENT_BYTES = 100_000
TIMEOUT_S = 5.0

_said: dict[str, tuple[float, bool]] = {}  # issuer -> (until, sends iss)


def assumed_issuer(cfg: ProviderConfig) -> str | None:
    """The issuer an integration without a configured one is taken to be: its authorization URL's origin."""
    if cfg.issuer:
        return cfg.issuer.rstrip("/")
    if not cfg.authorization_url:
        return None
    parts = urlsplit(cfg.authorization_url)
    return f"{parts.scheme}://{parts.netloc}"


async def sends_iss(cfg: ProviderConfig) -> bool:
    """True when the integration's authorization server has said it puts `iss` in every authorization response:
    a configured issuer, or metadata advertising authorization_response_iss_parameter_supported."""
    if cfg.issuer:
        return True
    issuer = assumed_issuer(cfg)
    if issuer is None:
        return False
    now = time.monotonic()
    known = _said.get(issuer)
    if known is not None and known[0] > now:
        return known[1]
    said, answered = await _advertised(issuer, cfg.slug)
    _said[issuer] = (now + (REMEMBER_S if answered else UNREACHABLE_S), said)
    return said


def forget() -> None:
    """Drop what was learnt (tests, or an admin who changed a provider)."""
    _said.clear()


async def _advertised(issuer: str, slug: str) -> tuple[bool, bool]:
    """(whether it advertises iss, whether it answered at all)."""
    async with http_client(timeout=httpx.Timeout(TIMEOUT_S)) as client:
        for path in WELL_KNOWN:
            try:
                response = await client.get(issuer + path, headers={"Accept": "application/json"})
            except httpx.HTTPError as exc:
                log.info("no authorization server metadata for %s (%s)", slug, type(exc).__name__)
                return False, False
            if response.status_code != 200 or len(response.content) > MAX_DOCUMENT_BYTES:
                continue
            try:
                document = response.json()
            except ValueError:
                continue
            # RFC 8414 3.3: metadata naming another issuer must not be used.
            if not isinstance(document, dict) or str(document.get("issuer", "")).rstrip("/") != issuer:
                continue
            return document.get("authorization_response_iss_parameter_supported") is True, True
    return False, True
