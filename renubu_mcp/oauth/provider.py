"""Talking to a provider's token and revocation endpoints (RFC 6749, RFC 7009): authlib's encoders over httpx.

authlib's own AsyncOAuth2Client is not used: in this authlib it runs on httpx2 (which respx cannot stand in
for), it keeps the token in the client object and refreshes under an in-process lock only, while here the
token lives in PostgreSQL and a row lock decides who refreshes. Its request encoders (token request body,
client authentication, revocation body) are used as they are.
"""

from __future__ import annotations

import asyncio
import logging
import random
import re
from dataclasses import dataclass, field
from typing import Any, Literal
from uuid import UUID

import httpx
from authlib.oauth2.auth import ClientAuth
from authlib.oauth2.rfc6749.parameters import prepare_token_request
from authlib.oauth2.rfc7009 import prepare_revoke_token_request

from .. import __version__
from .reach import unreachable

log = logging.getLogger(__name__)

USER_AGENT = f"renubu-mcp/{__version__}"
MAX_TOKEN_CHARS = 8192
MAX_EXPIRES_IN = 10 * 365 * 24 * 3600
# RFC 6749 A.7: error codes are printable ASCII without '"' and '\'.
_ERROR_CODE = re.compile(r"^[\x20\x21\x23-\x5b\x5d-\x7e]{1,64}$")
_TOKEN = re.compile(r"^[\x21-\x7e]+$")

ProblemKind = Literal["invalid_grant", "rejected", "transient", "malformed"]


@dataclass(frozen=True)
class ProviderConfig:
    """One marketplace entry as the OAuth client sees it; the client secret never shows in a repr."""

    integration_id: UUID
    slug: str
    name: str
    status: str
    authorization_url: str | None
    token_url: str | None
    revocation_url: str | None
    client_id: str | None
    client_secret: str | None = field(repr=False)
    auth_method: str
    issuer: str | None
    api_base_url: str | None
    default_scopes: tuple[str, ...] = ()


@dataclass(frozen=True)
class TokenGrant:
    """What a token endpoint answered, checked; the tokens never show in a repr."""

    access_token: str = field(repr=False)
    refresh_token: str | None = field(repr=False)
    expires_in: int | None
    scopes: tuple[str, ...] | None


class ProviderError(Exception):
    """The provider did not give us a usable answer. The message is safe to show and store: no secrets."""

    def __init__(self, kind: ProblemKind, detail: str):
        super().__init__(detail)
        self.kind = kind
        self.detail = detail


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int = 3
    first_delay: float = 0.5
    max_delay: float = 4.0
    timeout: float = 10.0

    def delay(self, attempt: int) -> float:
        base = min(self.max_delay, self.first_delay * (2**attempt))
        return base * (0.5 + random.random() / 2)


# Tests shorten these; nothing else should change them.
RETRY = RetryPolicy()


def http_client(timeout: httpx.Timeout | None = None) -> httpx.AsyncClient:
    """Every outbound call: no redirects followed, bounded time, our user agent."""
    return httpx.AsyncClient(
        timeout=timeout or httpx.Timeout(RETRY.timeout, connect=min(5.0, RETRY.timeout)),
        follow_redirects=False,
        headers={"User-Agent": USER_AGENT},
    )


async def exchange_code(cfg: ProviderConfig, code: str, code_verifier: str, redirect_uri: str) -> TokenGrant:
    """Trade an authorization code (and the PKCE verifier) for tokens. Sent at most once: a code is single-use."""
    body = prepare_token_request(
        "authorization_code", code=code, redirect_uri=redirect_uri, code_verifier=code_verifier
    )
    response = await _post(cfg, _require(cfg.token_url, "token endpoint"), body, resend_after_delivery=False)
    return parse_token_response(response)


async def refresh(cfg: ProviderConfig, refresh_token: str) -> TokenGrant:
    """A new access token (and perhaps a rotated refresh token); timeouts and 5xx are retried with backoff."""
    body = prepare_token_request("refresh_token", refresh_token=refresh_token)
    response = await _post(cfg, _require(cfg.token_url, "token endpoint"), body, resend_after_delivery=True)
    return parse_token_response(response)


async def revoke(cfg: ProviderConfig, token: str, token_type_hint: str) -> bool:
    """RFC 7009 revocation; True when the provider confirmed it. Never raises."""
    if not cfg.revocation_url:
        return False
    body, headers = prepare_revoke_token_request(token, token_type_hint)
    try:
        response = await _post(cfg, cfg.revocation_url, body, resend_after_delivery=True, headers=headers)
    except ProviderError as exc:
        log.warning("revocation at %s failed: %s", cfg.slug, exc.detail)
        return False
    if response.is_success:
        return True
    log.warning("revocation at %s answered HTTP %s", cfg.slug, response.status_code)
    return False


def _require(url: str | None, what: str) -> str:
    if not url:
        raise ProviderError("rejected", f"the integration has no {what} configured")
    return url


async def _post(
    cfg: ProviderConfig, url: str, body: str, *, resend_after_delivery: bool, headers: dict[str, str] | None = None
) -> httpx.Response:
    """POST with client authentication. A request that never reached the provider is always retried; one that
    may have (a read timeout, a 5xx) only when `resend_after_delivery`."""
    headers = {"Accept": "application/json", "Content-Type": "application/x-www-form-urlencoded", **(headers or {})}
    # Without a secret the client is public: it identifies itself with client_id alone (PKCE protects the code).
    auth = ClientAuth(cfg.client_id, cfg.client_secret, cfg.auth_method if cfg.client_secret else "none")
    url, headers, body = auth.prepare("POST", url, headers, body)
    last = "no attempt was made"
    for attempt in range(max(1, RETRY.attempts)):
        if attempt:
            await asyncio.sleep(RETRY.delay(attempt - 1))
        try:
            async with http_client() as client:
                response = await client.post(url, content=body, headers=headers)
        except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
            last = unreachable(cfg.name, url, exc, setting="token_url" if url == cfg.token_url else "revocation_url")
            continue
        except httpx.TimeoutException:
            last = f"{cfg.name} did not answer in time"
        except httpx.HTTPError as exc:
            last = f"the connection to {cfg.name} failed ({type(exc).__name__})"
        else:
            if response.status_code < 500 and response.status_code != 429:
                return response
            last = f"{cfg.name} answered HTTP {response.status_code}"
        if not resend_after_delivery:
            break
    raise ProviderError("transient", last)


def parse_token_response(response: httpx.Response) -> TokenGrant:
    """Check a token endpoint's answer strictly; anything unexpected is a ProviderError naming no secret."""
    status = response.status_code
    data = _json_object(response)
    if data is not None and "error" in data:
        code = data["error"] if isinstance(data["error"], str) and _ERROR_CODE.match(data["error"]) else "unknown_error"
        if code == "invalid_grant":
            raise ProviderError("invalid_grant", "the provider no longer accepts this authorization (invalid_grant)")
        raise ProviderError("rejected", f"the token endpoint refused the request ({code}, HTTP {status})")
    if not 200 <= status < 300:
        raise ProviderError("rejected", f"the token endpoint refused the request (HTTP {status})")
    if data is None:
        raise ProviderError("malformed", f"the token endpoint returned something that is not a token (HTTP {status})")
    access = data.get("access_token")
    if not _is_token(access):
        raise ProviderError("malformed", "the token endpoint's answer has no usable access_token")
    token_type = data.get("token_type", "Bearer")
    if not isinstance(token_type, str) or token_type.lower() != "bearer":
        raise ProviderError("malformed", "the token endpoint issued a token type other than Bearer")
    refresh_token = data.get("refresh_token")
    if refresh_token is not None and not _is_token(refresh_token):
        raise ProviderError("malformed", "the token endpoint's answer has an unusable refresh_token")
    scope = data.get("scope")
    scopes = tuple(scope.split()) if isinstance(scope, str) and scope.strip() else None
    return TokenGrant(
        access_token=str(access),  # _is_token checked it is a non-empty string
        refresh_token=refresh_token,
        expires_in=_expires_in(data.get("expires_in")),
        scopes=scopes,
    )


def _json_object(response: httpx.Response) -> dict[str, Any] | None:
    try:
        data = response.json()
    except (ValueError, UnicodeDecodeError):
        return None
    return data if isinstance(data, dict) else None


def _is_token(value: Any) -> bool:
    return isinstance(value, str) and 0 < len(value) <= MAX_TOKEN_CHARS and bool(_TOKEN.match(value))


def _expires_in(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value.strip())
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, int) and 0 < value <= MAX_EXPIRES_IN:
        return value
    return None
