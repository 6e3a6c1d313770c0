"""Authenticated calls to an integration's API for a user: under its base URL only, and never the token back.

The assistant names a path relative to the integration's api_base_url. Anything that could lead elsewhere is
refused before a request is made (absolute URLs, `//`, `.`/`..` segments, backslashes, `@`, encoded separators,
control or non-ASCII characters), the joined URL is checked to keep the base's scheme, host, port and path
prefix, and redirects are returned, not followed.
"""

from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass
from typing import Any, cast
from urllib.parse import quote
from uuid import UUID

import httpx

from ..context import transaction_as
from ..db import Principal
from ..errors import Conflict, InvalidArgument, Unavailable
from .installs import own_install
from .provider import http_client
from .reach import unreachable
from .tokens import get_access_token

log = logging.getLogger(__name__)

METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")
MAX_PATH_CHARS = 2000
MAX_REQUEST_BYTES = 1_000_000
MAX_RESPONSE_BYTES = 100_000
REQUEST_TIMEOUT_S = 30.0
CONNECT_TIMEOUT_S = 10.0
# Response headers worth passing on; cookies and anything else stay behind.
RETURNED_HEADERS = (
    "content-type",
    "content-length",
    "location",
    "retry-after",
    "link",
    "x-ratelimit-limit",
    "x-ratelimit-remaining",
    "x-ratelimit-reset",
)
REDACTED = "[redacted]"

_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:")
_BAD_PERCENT = re.compile(r"%(?![0-9A-Fa-f]{2})")
_ENCODED_SEPARATOR = re.compile(r"%(2e|2f|5c|00)", re.IGNORECASE)


class UnsafePath(InvalidArgument):
    """The path could leave the integration's API base URL."""


def target_url(api_base_url: str, path: str) -> httpx.URL:
    """The URL for `path` under the base, or UnsafePath saying why not."""
    if not path or len(path) > MAX_PATH_CHARS:
        raise UnsafePath(f"path must be 1-{MAX_PATH_CHARS} characters")
    if any(not 0x21 <= ord(c) <= 0x7E for c in path):
        raise UnsafePath("path may hold only printable ASCII without spaces; percent-encode anything else")
    if _SCHEME.match(path) or path.startswith("//"):
        raise UnsafePath("path must be relative to the integration's API base URL, not a full URL")
    for char, why in (("\\", "backslashes"), ("@", "'@'"), ("#", "fragments ('#')"), ("?", "'?': pass query")):
        if char in path:
            raise UnsafePath(f"path must not contain {why}" + (" parameters in `query`" if char == "?" else ""))
    if _BAD_PERCENT.search(path):
        raise UnsafePath("path has a '%' that does not start a percent-encoded byte")
    if _ENCODED_SEPARATOR.search(path):
        raise UnsafePath("path must not percent-encode '.', '/', '\\' or NUL")
    segments = path.lstrip("/").split("/")
    if any(s in (".", "..") for s in segments) or "" in segments[:-1]:
        raise UnsafePath("path must not contain '.' or '..' segments or empty segments ('//')")

    base = httpx.URL(api_base_url)
    base_path = base.raw_path.decode("ascii").split("?", 1)[0].rstrip("/")
    url = base.copy_with(raw_path=(base_path + "/" + path.lstrip("/")).encode("ascii"))
    same_origin = (url.scheme, url.host, url.port) == (base.scheme, base.host, base.port) and not url.userinfo
    if not same_origin or not url.raw_path.decode("ascii").startswith(base_path + "/"):
        raise UnsafePath("path does not stay under the integration's API base URL")
    return url


@dataclass(frozen=True)
class ApiResponse:
    status_code: int
    url: str
    headers: dict[str, str]
    body: str
    truncated: bool


async def integration_request(
    app,
    principal: Principal,
    install_ref: str | UUID,
    method: str,
    path: str,
    query: dict[str, Any] | None = None,
    body: Any = None,
) -> ApiResponse:
    """One call to the integration's API with the user's token; on a 401, one refresh and one retry."""
    method = method.upper()
    content = request_body(method, body)
    async with transaction_as(app, principal) as conn:
        install = await own_install(conn, install_ref)
    if not install.api_base_url:
        raise Conflict(f"{install.name} has no API base URL configured; ask an admin")
    url = target_url(install.api_base_url, path)

    token = await get_access_token(app, principal, install.id)
    tokens = [token]
    header = install.api_key_header if install.connection_type == "api_key" else "Authorization"
    response = await _send(install.name, method, url, query, content, header, token)
    if response.status_code == 401:
        newer = await get_access_token(app, principal, install.id, stale=token)
        if newer != token:
            tokens.append(newer)
            response = await _send(install.name, method, url, query, content, header, newer)
    return _redacted(response, tokens)


def request_body(method: str, body: Any) -> bytes | None:
    """The body as it is sent (compact JSON), after checking the method takes one and its size."""
    if method not in METHODS:
        raise InvalidArgument(f"method must be one of {', '.join(METHODS)}")
    if body is None:
        return None
    if method in ("GET", "DELETE"):
        raise InvalidArgument(f"a {method} request takes no body")
    content = json.dumps(body, separators=(",", ":")).encode()
    if len(content) > MAX_REQUEST_BYTES:
        raise InvalidArgument(f"body must be at most {MAX_REQUEST_BYTES} bytes as JSON")
    return content


def query_pairs(query: dict[str, Any] | None) -> list[tuple[str, str]] | None:
    """The query parameters as they are sent."""
    return _params(query)


def credential_header(header: str, token: str) -> dict[str, str]:
    """OAuth tokens and API keys go in `Authorization: Bearer ...`; a key for another header goes in it alone."""
    if header.lower() == "authorization":
        return {"Authorization": f"Bearer {token}"}
    return {header: token}


async def _send(
    name: str,
    method: str,
    url: httpx.URL,
    query: dict[str, Any] | None,
    content: bytes | None,
    header: str,
    token: str,
) -> ApiResponse:
    headers = {**credential_header(header, token), "Accept": "application/json"}
    if content is not None:
        headers["Content-Type"] = "application/json"
    try:
        async with http_client(timeout=httpx.Timeout(REQUEST_TIMEOUT_S, connect=CONNECT_TIMEOUT_S)) as client:
            async with client.stream(
                method, url, params=cast(Any, _params(query)), content=content, headers=headers
            ) as resp:
                chunks, size, truncated = [], 0, False
                async for chunk in resp.aiter_bytes():
                    chunks.append(chunk)
                    size += len(chunk)
                    if size > MAX_RESPONSE_BYTES:
                        truncated = True
                        break
                raw = b"".join(chunks)[:MAX_RESPONSE_BYTES]
                text = raw.decode(resp.charset_encoding or "utf-8", errors="replace")
                kept = {k: resp.headers[k] for k in RETURNED_HEADERS if k in resp.headers}
                return ApiResponse(resp.status_code, str(resp.request.url), kept, text, truncated)
    except httpx.HTTPError as exc:
        raise Unavailable(unreachable(name, url, exc, read_timeout_s=REQUEST_TIMEOUT_S)) from None
    except LookupError:  # an unknown charset
        raise Unavailable(f"{name} answered in an unknown character set") from None


def _params(query: dict[str, Any] | None) -> list[tuple[str, str]] | None:
    if not query:
        return None
    pairs: list[tuple[str, str]] = []
    for name, value in query.items():
        for item in value if isinstance(value, list) else [value]:
            pairs.append((name, json.dumps(item) if isinstance(item, bool) else str(item)))
    return pairs


def _redacted(response: ApiResponse, tokens: list[str]) -> ApiResponse:
    """An API that echoes the request (or a redirect that carries it) must not hand the token to the assistant."""

    def scrub(text: str) -> str:
        for token in tokens:
            for form in {token, quote(token, safe="")}:
                text = text.replace(form, REDACTED)
        return text

    return ApiResponse(
        status_code=response.status_code,
        url=scrub(response.url),
        headers={k: scrub(v) for k, v in response.headers.items()},
        body=scrub(response.body),
        truncated=response.truncated,
    )
