"""The flow over real sockets: a provider served by uvicorn on 127.0.0.1, and the stdio server's loopback callback."""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
import socket
from collections.abc import AsyncIterator
from dataclasses import replace

import httpx
import pytest
import uvicorn
from mcp import Client

from renubu_mcp.config import Settings
from renubu_mcp.oauth.settings import loopback_listen_address, redirect_uri
from renubu_mcp.server import build_server
from renubu_mcp.web.oauth_callback import RedactCallbackQuery, install_access_log_redaction, serve_callback_on_loopback

from .conftest import KEY, point_at, settings_for
from .fake_provider import FakeProvider


class _TestServer(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self):
        yield


@contextlib.asynccontextmanager
async def serve(app) -> AsyncIterator[str]:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(16)
    server = _TestServer(uvicorn.Config(app, lifespan="off", log_config=None, access_log=False, log_level="warning"))
    task = asyncio.create_task(server.serve(sockets=[sock]))
    while not server.started:
        await asyncio.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        await task
        sock.close()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def test_the_whole_flow_over_loopback_http(connect, owner, app_factory, monkeypatch, caplog):
    caplog.set_level(logging.DEBUG)
    port = free_port()
    public = f"http://127.0.0.1:{port}"
    monkeypatch.setenv("RENUBU_PUBLIC_URL", public)
    assert loopback_listen_address() == ("127.0.0.1", port)
    provider = FakeProvider(base="http://placeholder")
    async with serve(provider.asgi_app()) as provider_url:
        provider.base = provider_url
        await point_at(owner, provider)
        stdio_app = await app_factory(stdio_user="alice@example.com", public_url=public)
        async with (
            serve_callback_on_loopback(stdio_app, "127.0.0.1", port) as callback_base,
            connect("alice@example.com", public_url=public) as alice,
        ):
            assert callback_base == f"http://127.0.0.1:{port}"
            started = await alice.ok("install_integration", {"slug": "hubspot"})
            assert started["redirect_uri"] == redirect_uri() == f"{callback_base}/oauth/callback"
            params = provider.approve(started["authorization_url"])
            async with httpx.AsyncClient() as browser:  # the user's browser follows the provider's redirect
                page = await browser.get(started["redirect_uri"], params=params)
            assert page.status_code == 200 and "HubSpot is connected" in page.text
            assert page.headers["referrer-policy"] == "no-referrer"
            assert provider.calls["token:authorization_code"] == 1

            result = await alice.ok("integration_request", {"slug": "hubspot", "method": "GET", "path": "companies"})
            assert result["status_code"] == 200 and "Acme from the provider" in result["body"]
            await owner.execute("UPDATE public.oauth_tokens SET expires_at = now() - interval '1 second'")
            await alice.ok("integration_request", {"slug": "hubspot", "method": "GET", "path": "companies"})
            assert provider.calls["token:refresh_token"] == 1
            done = await alice.ok("uninstall_integration", {"slug": "hubspot"})
            assert done["revoked_at_provider"] is True and provider.calls["revoke"] == 2
    logged = "\n".join(r.getMessage() for r in caplog.records if "/oauth/callback?" not in r.getMessage())
    for secret in provider.secrets() + [KEY]:
        assert secret not in logged


async def test_a_taken_port_leaves_the_server_running_without_a_listener(app, caplog):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        async with serve_callback_on_loopback(app, "127.0.0.1", port) as url:
            assert url is None
    assert any("cannot listen for OAuth callbacks" in r.getMessage() for r in caplog.records)


async def test_the_listener_stops_when_the_block_ends(app):
    port = free_port()
    async with serve_callback_on_loopback(app, "127.0.0.1", port) as url:
        async with httpx.AsyncClient() as client:
            assert (await client.get(f"{url}/oauth/callback")).status_code == 400
            assert (await client.get(f"{url}/anything-else")).status_code == 404
    with pytest.raises(httpx.ConnectError):
        async with httpx.AsyncClient() as client:
            await client.get(f"{url}/oauth/callback")


async def _refused(url: str) -> bool:
    try:
        async with httpx.AsyncClient() as browser:
            await browser.get(url)
    except httpx.ConnectError:
        return True
    return False


async def test_a_stdio_server_listens_from_its_first_install_until_it_exits(demo_db, hubspot, monkeypatch):
    port = free_port()
    public = f"http://127.0.0.1:{port}"
    monkeypatch.setenv("RENUBU_PUBLIC_URL", public)
    server = build_server(
        settings_for(demo_db.app_dsn, "alice@example.com", public_url=public), oauth_callback_listener=True
    )
    async with Client(server) as client:
        assert await _refused(f"{public}/oauth/callback"), "a server that hands out no link must not listen"
        started = await client.call_tool("install_integration", {"slug": "hubspot"})
        assert not started.is_error, started.content[0].text
        assert started.structured_content["redirect_uri"] == f"{public}/oauth/callback"
        async with httpx.AsyncClient() as browser:
            page = await browser.get(f"{public}/oauth/callback", params={"code": "x", "state": "y" * 43})
        assert page.status_code == 400 and "already been used" in page.text
        again = await client.call_tool("install_integration", {"slug": "gong"})  # a connect page: same listener
        assert not again.is_error, again.content[0].text
        assert again.structured_content["connect_url"].startswith(f"{public}/connect/")
    assert await _refused(f"{public}/oauth/callback")


async def test_when_it_cannot_listen_install_says_so_plainly_and_changes_nothing(demo_db, hubspot, owner, monkeypatch):
    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen(1)
    public = f"http://127.0.0.1:{taken.getsockname()[1]}"
    monkeypatch.setenv("RENUBU_PUBLIC_URL", public)
    server = build_server(
        settings_for(demo_db.app_dsn, "alice@example.com", public_url=public), oauth_callback_listener=True
    )
    count = (
        "SELECT (SELECT count(*) FROM public.user_integrations) + (SELECT count(*) FROM public.oauth_states)"
        " + (SELECT count(*) FROM public.connect_links)"
    )
    before = await owner.fetchval(count)
    async with Client(server) as client:
        for slug in ("hubspot", "gong"):  # an OAuth redirect, a connect page
            refused = await client.call_tool("install_integration", {"slug": slug})
            assert refused.is_error
            message = refused.content[0].text
            assert f"cannot hand out a link: this server cannot listen on 127.0.0.1:{taken.getsockname()[1]}" in message
            assert "Nothing was changed" in message and "RENUBU_PUBLIC_URL" in message
        assert await owner.fetchval(count) == before

        taken.close()  # the other program exits: the next install listens and hands out its link
        started = await client.call_tool("install_integration", {"slug": "hubspot"})
        assert not started.is_error, started.content[0].text
        async with httpx.AsyncClient() as browser:
            page = await browser.get(f"{public}/oauth/callback", params={"code": "x", "state": "y" * 43})
        assert page.status_code == 400


def test_access_logs_lose_the_callbacks_code_and_state():
    request_line = ("127.0.0.1:5000", "GET", "/oauth/callback?code=SECRETCODE&state=SECRETSTATE", "1.1", 200)
    record = logging.LogRecord(
        "uvicorn.access", logging.INFO, __file__, 1, '%s - "%s %s HTTP/%s" %d', request_line, None
    )
    RedactCallbackQuery().filter(record)
    assert record.getMessage() == '127.0.0.1:5000 - "GET /oauth/callback?[redacted] HTTP/1.1" 200'
    install_access_log_redaction()
    install_access_log_redaction()
    assert sum(isinstance(f, RedactCallbackQuery) for f in logging.getLogger("uvicorn.access").filters) == 1


@pytest.mark.parametrize(
    ("url", "listen"),
    [
        ("http://127.0.0.1:8765", ("127.0.0.1", 8765)),
        ("http://localhost:9000/", ("localhost", 9000)),
        ("https://mcp.example.com", None),
    ],
)
def test_the_public_url_decides_the_redirect_uri_and_the_loopback_listener(monkeypatch, url, listen):
    monkeypatch.setenv("RENUBU_PUBLIC_URL", url)
    assert redirect_uri() == url.rstrip("/") + "/oauth/callback"
    assert loopback_listen_address() == listen


@pytest.mark.parametrize("url", ["http://mcp.example.com", "ftp://x", "https://x.test/?a=1", "https://u:p@x.test"])
def test_a_public_url_that_is_not_safe_is_refused(monkeypatch, url):
    from renubu_mcp.config import ConfigError

    monkeypatch.setenv("RENUBU_PUBLIC_URL", url)
    with pytest.raises(ConfigError):
        redirect_uri()


@pytest.mark.skipif(not hasattr(Settings, "base_url"), reason="config.py has no HTTP settings yet")
def test_without_a_public_url_http_uses_its_own_address_and_stdio_the_loopback_default():
    http = Settings(host="127.0.0.1", port=8123)
    assert redirect_uri(http, stdio=False) == "http://127.0.0.1:8123/oauth/callback"
    assert redirect_uri(http, stdio=True) == "http://127.0.0.1:8765/oauth/callback"
    assert (
        redirect_uri(replace(http, public_url="https://mcp.example.com"), stdio=False)
        == "https://mcp.example.com/oauth/callback"
    )
    from renubu_mcp.config import ConfigError

    with pytest.raises(ConfigError, match="RENUBU_PUBLIC_URL"):
        redirect_uri(Settings(host="0.0.0.0", port=8000), stdio=False)  # a real deployment must name itself


async def test_the_http_app_serves_the_callback_without_a_bearer_token(demo_db):
    from renubu_mcp import http_app

    if "transport" not in inspect.signature(build_server).parameters:
        pytest.skip("no HTTP transport yet")
    settings = settings_for(demo_db.app_dsn, None, public_url="http://127.0.0.1:8000")
    server = build_server(settings, transport="http")
    app = http_app.build_http_app(server, settings)
    if "/oauth/callback" not in {getattr(r, "path", None) for r in app.routes}:
        pytest.skip("http_app does not register the callback route yet (see the integrations report)")
    async with server._lowlevel_server.lifespan(server._lowlevel_server):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1:8000") as browser:
            page = await browser.get("/oauth/callback", params={"code": "x", "state": "s" * 43})
    assert page.status_code == 400 and "already been used" in page.text
    assert page.headers["referrer-policy"] == "no-referrer"
