"""integration_request to an API it cannot reach says what failed, in words a user can act on, and what to check.

Each failure is real: a closed loopback port, a name under .invalid (RFC 6761: never resolves), a server that
accepts and never answers, a full accept queue, a self-signed TLS server, a plain server spoken to in TLS, and one
that does not answer in HTTP. Only the token flow before them goes to the fake provider (through respx).
"""

from __future__ import annotations

import asyncio
import datetime
import socket
import ssl
import tempfile
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

import pytest
import respx
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from renubu_mcp.oauth import api

from .conftest import connected

# Errors name the host and port, never the path. Its last segment has letters, so that no port number can contain it.
SECRET_PATH = "crm/v3/objects/companies/cmp-4242x"


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@asynccontextmanager
async def tcp_server(handle: Callable | None, tls: ssl.SSLContext | None = None) -> AsyncIterator[int]:
    async def on_connect(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            if handle is not None:
                await handle(reader, writer)
            else:
                await asyncio.sleep(3600)  # accept, read nothing, answer nothing
        except (ConnectionError, asyncio.CancelledError, ssl.SSLError):
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(on_connect, "127.0.0.1", 0, ssl=tls)
    try:
        yield server.sockets[0].getsockname()[1]
    finally:
        server.close()


async def not_http(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    await reader.read(100)
    writer.write(b"SSH-2.0-OpenSSH_9.6\r\n\r\n")
    await writer.drain()


def self_signed_context() -> ssl.SSLContext:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "renubu-test")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=1))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .sign(key, hashes.SHA256())
    )
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    with tempfile.NamedTemporaryFile() as pem:
        pem.write(cert.public_bytes(serialization.Encoding.PEM))
        pem.write(
            key.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            )
        )
        pem.flush()
        context.load_cert_chain(pem.name)
    return context


@asynccontextmanager
async def full_accept_queue() -> AsyncIterator[int]:
    """A port whose accept queue is full: the kernel drops further connection attempts, so connecting times out."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(0)
    port = listener.getsockname()[1]
    fillers = []
    try:
        for _ in range(4):  # listen(0) still queues one or two; fill it
            filler = socket.socket()
            filler.setblocking(False)
            try:
                filler.connect(("127.0.0.1", port))
            except BlockingIOError:
                pass
            fillers.append(filler)
            await asyncio.sleep(0.05)
        yield port
    finally:
        for filler in fillers:
            filler.close()
        listener.close()


@asynccontextmanager
async def scenario(kind: str) -> AsyncIterator[str]:
    """The API base URL for one kind of failure."""
    if kind == "refused":
        yield f"http://127.0.0.1:{closed_port()}/api"
    elif kind == "dns":
        yield "https://renubu-test.invalid/api"
    elif kind == "read_timeout":
        async with tcp_server(None) as port:
            yield f"http://127.0.0.1:{port}/api"
    elif kind == "connect_timeout":
        async with full_accept_queue() as port:
            yield f"http://127.0.0.1:{port}/api"
    elif kind == "tls_untrusted":
        async with tcp_server(not_http, tls=self_signed_context()) as port:
            yield f"https://127.0.0.1:{port}/api"
    elif kind == "tls_to_plain":
        async with tcp_server(not_http) as port:
            yield f"https://127.0.0.1:{port}/api"
    elif kind == "not_http":
        async with tcp_server(not_http) as port:
            yield f"http://127.0.0.1:{port}/api"


CASES = {
    "refused": ("refused the connection", "check the port in the integration's api_base_url"),
    "dns": ("the name renubu-test.invalid does not resolve", "check the host in the integration's api_base_url"),
    "read_timeout": ("accepted the connection but did not answer within 0.5 seconds", "try again later"),
    "connect_timeout": ("did not accept a connection in time", "check this server's network, firewall or proxy"),
    "tls_untrusted": ("the TLS certificate of 127.0.0.1 failed verification", "CA certificates"),
    "tls_to_plain": ("the TLS handshake with 127.0.0.1:", "check that the scheme (https) and port"),
    "not_http": ("did not answer in HTTP", "check the scheme (https or http) and port"),
}


@pytest.mark.parametrize("kind", list(CASES))
async def test_an_unreachable_api_says_what_failed_and_what_to_check(
    connect, hubspot, browser, owner, monkeypatch, kind
):
    monkeypatch.setattr(api, "REQUEST_TIMEOUT_S", 0.5)
    monkeypatch.setattr(api, "CONNECT_TIMEOUT_S", 0.5)
    async with connect("alice@example.com") as alice:
        with respx.mock(assert_all_called=False, assert_all_mocked=True) as fake_network:
            hubspot.mount(fake_network)
            await connected(alice, hubspot, browser)  # the token is fresh: the call below needs no provider
        async with scenario(kind) as base:  # the real network from here on
            await owner.execute("UPDATE public.mcp_integrations SET api_base_url = $1 WHERE slug = 'hubspot'", base)
            message = await alice.error(
                "integration_request", {"slug": "hubspot", "method": "GET", "path": SECRET_PATH}
            )
        still = await alice.ok("list_my_integrations", {})
    what, check = CASES[kind]
    assert what in message and check in message, message
    assert "could not reach HubSpot" in message or "HubSpot (127.0.0.1:" in message, message
    assert "\n" not in message and SECRET_PATH not in message and "cmp-4242x" not in message
    assert [i["status"] for i in still["installs"]] == ["active"]  # a failed call changes nothing


async def test_a_token_endpoint_that_cannot_be_reached_names_the_setting_to_check():
    from uuid import uuid4

    from renubu_mcp.oauth.provider import ProviderConfig, ProviderError, refresh

    port = closed_port()
    cfg = ProviderConfig(
        integration_id=uuid4(),
        slug="gong",
        name="Gong",
        status="enabled",
        authorization_url=None,
        token_url=f"http://127.0.0.1:{port}/oauth/token",
        revocation_url=None,
        client_id="c",
        client_secret="s",
        auth_method="client_secret_basic",
        issuer=None,
        api_base_url=None,
    )
    with pytest.raises(ProviderError) as failed:
        await refresh(cfg, "rt-not-sent-anywhere")
    assert failed.value.kind == "transient"
    assert failed.value.detail == (
        f"could not reach Gong: 127.0.0.1:{port} refused the connection; check the port in "
        "the integration's token_url (get_integration shows it), and that the service is up"
    )
