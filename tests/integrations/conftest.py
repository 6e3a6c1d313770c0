"""Fixtures for the integrations toolset and the OAuth flow, on a fresh demo database per test.

connect(email)        an MCP session as a demo user, on a server that also offers the integrations toolset
provider              a FakeProvider; `mocked` serves it through respx (any other outbound request fails)
hubspot(provider)     points the demo 'hubspot' entry at the fake provider, with its client secret stored
app()                 an AppState of its own (another pool on the same database): what the callback runs on
browser               drives GET /oauth/callback on the Starlette route in-process
web                   an httpx client (keeping cookies) on every web route: callback, connect pages, webhooks
"""

from __future__ import annotations

import re
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlsplit

import asyncpg
import httpx
import pytest
import respx
from mcp import Client
from starlette.applications import Starlette

from renubu_mcp.config import Settings
from renubu_mcp.context import AppState
from renubu_mcp.db import Database, Principal
from renubu_mcp.demo import ADMIN, ALICE, BOB, PAT
from renubu_mcp.oauth import metadata
from renubu_mcp.oauth import provider as provider_module
from renubu_mcp.oauth.vault import key_id
from renubu_mcp.server import build_server
from renubu_mcp.oauth import webhooks as webhook_signing
from renubu_mcp.web.connect import connect_routes
from renubu_mcp.web.oauth_callback import callback_routes
from tests.tools.conftest import Session
from tests.tools.conftest import settings_for as tools_settings_for
from renubu_mcp.web.webhooks import webhook_routes

from .fake_provider import CLIENT_ID, FakeProvider

KEY = "integration-test-key-" + "5f1c0e7a9b3d42e8a1c6f0b7d2e94a13"
PRINCIPALS = {u.email: Principal(user_id=u.id, email=u.email) for u in (ADMIN, ALICE, BOB, PAT)}


def settings_for(app_dsn: str, email: str | None, **overrides: Any) -> Settings:
    """The MCP tests' settings, with this suite's own encryption key (tests decrypt with KEY)."""
    return tools_settings_for(app_dsn, email, **{"token_encryption_key": KEY, **overrides})


@pytest.fixture(autouse=True)
def quick_retries(monkeypatch):
    monkeypatch.setattr(
        provider_module, "RETRY", provider_module.RetryPolicy(attempts=3, first_delay=0.01, max_delay=0.05, timeout=5.0)
    )


@pytest.fixture(autouse=True)
def forget_provider_metadata():
    """What a provider's metadata said is remembered per process: each test starts from nothing."""
    metadata.forget()
    yield
    metadata.forget()


@pytest.fixture
def connect(demo_db) -> Callable[..., Any]:
    @asynccontextmanager
    async def open_session(
        email: str, *, mode: str = "auto", elicitation_callback: Any = None, **overrides: Any
    ) -> AsyncIterator[Session]:
        """mode: "auto" (2026-07-28) or "legacy" (2025-11-25); elicitation_callback: what the user answers
        (the client then declares form and URL elicitation)."""
        server = build_server(settings_for(demo_db.app_dsn, email, **overrides))
        async with Client(server, mode=mode, elicitation_callback=elicitation_callback) as client:
            yield Session(client, email)

    return open_session


@pytest.fixture
async def owner(demo_db) -> AsyncIterator[asyncpg.Connection]:
    conn = await asyncpg.connect(demo_db.owner_dsn)
    yield conn
    await conn.close()


@pytest.fixture
async def app_factory(demo_db) -> AsyncIterator[Callable[..., Any]]:
    made: list[Database] = []

    async def make(stdio_user: str | None = None, max_size: int = 4, key: str | None = KEY, **settings) -> AppState:
        db = await Database.connect(demo_db.app_dsn, min_size=1, max_size=max_size)
        made.append(db)
        return AppState(
            settings=settings_for(demo_db.app_dsn, None, **settings),
            db=db,
            stdio_principal=PRINCIPALS[stdio_user] if stdio_user else None,
            token_key=key,
        )

    yield make
    for db in made:
        await db.close()


@pytest.fixture
async def app(app_factory) -> AppState:
    return await app_factory()


@pytest.fixture
def provider() -> FakeProvider:
    return FakeProvider()


@pytest.fixture
def mocked(provider) -> respx.MockRouter:
    with respx.mock(assert_all_called=False, assert_all_mocked=True) as router:
        provider.mount(router)
        yield router


async def point_at(owner: asyncpg.Connection, provider: FakeProvider, slug: str = "hubspot", **extra: Any) -> None:
    """Aim a demo marketplace entry at a fake provider, client secret encrypted with the test key."""
    await owner.execute(
        """
        UPDATE public.mcp_integrations SET authorization_url = $2, token_url = $3, revocation_url = $4,
          api_base_url = $5, client_id = $6, client_secret_encrypted = public.encrypt_oauth_token($7, $8),
          client_secret_key_id = $9, issuer = $10, token_endpoint_auth_method = $11
        WHERE slug = $1
        """,
        slug,
        provider.authorize_url,
        provider.token_url,
        extra.get("revocation_url", provider.revoke_url),
        provider.api_base,
        CLIENT_ID,
        provider.client_secret,
        KEY,
        key_id(KEY),
        provider.issuer,
        extra.get("auth_method", "client_secret_basic"),
    )


@pytest.fixture
async def hubspot(owner, provider) -> FakeProvider:
    await point_at(owner, provider)
    return provider


@dataclass
class Browser:
    """The user's browser landing on the callback (in-process, through the real Starlette route)."""

    app: AppState

    async def land(self, params: dict[str, str] | str) -> httpx.Response:
        starlette = Starlette(routes=callback_routes(lambda: self.app))
        transport = httpx.ASGITransport(app=starlette)
        async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1:8765") as client:
            if isinstance(params, str):
                return await client.get("/oauth/callback?" + params)
            return await client.get("/oauth/callback", params=params)


@pytest.fixture
def browser(app) -> Browser:
    return Browser(app)


def state_of(authorization_url: str) -> str:
    return parse_qs(urlsplit(authorization_url).query)["state"][0]


async def connected(session: Session, provider: FakeProvider, browser: Browser, slug: str = "hubspot") -> dict:
    """install_integration, approve at the provider, land on the callback: an active install."""
    started = await session.ok("install_integration", {"slug": slug})
    page = await browser.land(provider.approve(started["authorization_url"]))
    assert page.status_code == 200, page.text
    return started


# --- connect pages and webhooks ------------------------------------------------------------------------------


def web_app(app: AppState) -> Starlette:
    """Every non-MCP route, on one app state (what the HTTP app and the loopback listener serve)."""
    get_app = lambda: app  # noqa: E731
    return Starlette(routes=callback_routes(get_app) + connect_routes(get_app) + webhook_routes(get_app))


@pytest.fixture
async def web(app) -> AsyncIterator[httpx.AsyncClient]:
    """A browser-like client (it keeps cookies) on the web routes, in-process."""
    transport = httpx.ASGITransport(app=web_app(app))
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1:8765") as client:
        yield client


def path_of(url: str) -> str:
    return urlsplit(url).path


_CSRF = re.compile(r'name="csrf" value="([0-9a-f]{64})"')


def csrf_of(page: httpx.Response) -> str:
    match = _CSRF.search(page.text)
    assert match, page.text
    return match.group(1)


async def submit(web: httpx.AsyncClient, connect_url: str, **fields: str) -> httpx.Response:
    """Open the connect page, then post its form with these fields (as a browser would, same origin)."""
    form = await web.get(path_of(connect_url))
    assert form.status_code == 200, form.text
    return await web.post(
        path_of(connect_url),
        data={"csrf": csrf_of(form), **fields},
        headers={"Origin": "null", "Sec-Fetch-Site": "same-origin"},
    )


def signed(secret: str, body: bytes, timestamp: int | None = None) -> dict[str, str]:
    stamp = int(time.time()) if timestamp is None else timestamp
    return {
        "X-Renubu-Timestamp": str(stamp),
        "X-Renubu-Signature": webhook_signing.sign(secret, stamp, body),
        "Content-Type": "application/json",
    }


async def connect_webhook(session: Session, web: httpx.AsyncClient, slug: str = "stripe-billing") -> tuple[dict, str]:
    """install_integration on a webhook entry and reveal its secret: (the install, the signing secret)."""
    started = await session.ok("install_integration", {"slug": slug})
    page = await submit(web, started["connect_url"])
    assert page.status_code == 200, page.text
    secret = re.search(r'id="signing-secret">([^<]+)<', page.text).group(1)
    return started, secret
