"""Client ID Metadata Documents: a client whose client_id is an https URL describes itself at that URL.

Fetching a URL someone typed into an authorization request is a way into the server's network, so the fetch is
fenced: https only (http too on a loopback development server), a path and no credentials, fragment or dot
segments in the URL; the host's every address must be public (loopback allowed only in development; private,
link-local, shared, multicast and reserved ranges never), and the connection goes to the address that was
checked, so a second DNS answer cannot swap in another; no redirect is followed; 5 seconds and 64 KB at most.
"""

from __future__ import annotations

import asyncio
import ipaddress
import json
import socket
import ssl
from collections.abc import Iterable
from typing import Any
from urllib.parse import urlsplit

import httpcore

TIMEOUT_SECONDS = 5.0
MAX_BYTES = 64 * 1024


class DocumentRefused(Exception):
    """The document was not fetched or not usable; the message says why, in words fit for the sign-in page."""


def check_url(url: str, *, development: bool) -> None:
    parts = urlsplit(url)
    allowed = ("https", "http") if development else ("https",)
    if parts.scheme not in allowed or not parts.hostname:
        raise DocumentRefused("the app's client_id must be an https URL")
    if parts.username is not None or parts.password is not None or parts.fragment or "#" in url:
        raise DocumentRefused("the app's client_id URL must not carry credentials or a fragment")
    segments = parts.path.split("/")
    if parts.path in ("", "/") or "." in segments or ".." in segments:
        raise DocumentRefused("the app's client_id URL must have a path, without . or .. segments")
    if len(url) > 2000:
        raise DocumentRefused("the app's client_id URL is too long")


def address_allowed(address: str, *, development: bool) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    if ip.is_loopback:
        return development
    return ip.is_global and not ip.is_multicast


async def _addresses(host: str, port: int) -> list[str]:
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except OSError:
        raise DocumentRefused(f"the app's host {host} could not be resolved") from None
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


class _PinnedBackend(httpcore.AsyncNetworkBackend):
    """Connects to the address that was checked, whatever host the request names (TLS still checks the name)."""

    def __init__(self, address: str) -> None:
        self._address = address
        self._inner = httpcore.AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        return await self._inner.connect_tcp(
            self._address, port, timeout=timeout, local_address=local_address, socket_options=socket_options
        )

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


async def fetch_document(url: str, *, development: bool) -> dict[str, Any]:
    """The JSON object at `url`, fetched under the rules above; DocumentRefused otherwise."""
    check_url(url, development=development)
    parts = urlsplit(url)
    if parts.hostname is None:  # check_url refused it already; this keeps the type checker informed
        raise DocumentRefused("the app's URL names no host")
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        async with asyncio.timeout(TIMEOUT_SECONDS):
            addresses = await _addresses(parts.hostname, port)
            refused = [a for a in addresses if not address_allowed(a, development=development)]
            if not addresses or refused:
                raise DocumentRefused(f"the app's host {parts.hostname} is not on the public internet")
            body = await _get(url, addresses[0])
    except TimeoutError:
        raise DocumentRefused(f"the app's description at {parts.hostname} took too long to fetch") from None
    try:
        document = json.loads(body)
    except (UnicodeDecodeError, ValueError):
        raise DocumentRefused("the app's description is not JSON") from None
    if not isinstance(document, dict):
        raise DocumentRefused("the app's description is not a JSON object")
    return document


async def _get(url: str, address: str) -> bytes:
    timeouts = {"connect": TIMEOUT_SECONDS, "read": TIMEOUT_SECONDS, "write": TIMEOUT_SECONDS, "pool": TIMEOUT_SECONDS}
    async with httpcore.AsyncConnectionPool(
        ssl_context=ssl.create_default_context(), retries=0, max_connections=1, network_backend=_PinnedBackend(address)
    ) as pool:
        try:
            async with pool.stream(
                "GET",
                url,
                headers={"Accept": "application/json", "User-Agent": "renubu-mcp"},
                extensions={"timeout": timeouts},
            ) as response:
                if 300 <= response.status < 400:
                    raise DocumentRefused("the app's description URL redirects elsewhere (redirects are not followed)")
                if response.status != 200:
                    raise DocumentRefused(f"the app's description could not be fetched (HTTP {response.status})")
                declared = [v for k, v in response.headers if k.lower() == b"content-length"]
                if declared and declared[0].isdigit() and int(declared[0]) > MAX_BYTES:
                    raise DocumentRefused("the app's description is too large")
                body = b""
                async for chunk in response.aiter_stream():
                    body += chunk
                    if len(body) > MAX_BYTES:
                        raise DocumentRefused("the app's description is too large")
                return body
        except httpcore.TimeoutException:
            raise DocumentRefused("the app's description took too long to fetch") from None
        except httpcore.NetworkError:
            raise DocumentRefused("the app's description could not be fetched (connection failed)") from None
        except httpcore.ProtocolError:
            raise DocumentRefused("the app's description could not be fetched (bad response)") from None
