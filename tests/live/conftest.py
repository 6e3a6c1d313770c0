"""The server's live features as clients meet them: the SDK's Client over stdio (a real `renubu-mcp` process),
streamable HTTP (a real uvicorn) or in process, in the 2025-11-25 handshake era ("legacy") or the 2026-07-28 era
("auto"), each with what it was told changed.

    async with open_client(target, "legacy") as alice:       # a Watcher
        async with alice.watching(uri) as next_update:        # resources/subscribe, or subscriptions/listen
            ...                                               # a change
            assert await next_update() == uri                 # fails after TIMEOUT seconds
"""

from __future__ import annotations

import asyncio
import os
import sys
import time
import warnings
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import asyncpg
import httpx2
import pytest
import uvicorn
from mcp import Client, StdioServerParameters
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.exceptions import MCPDeprecationWarning
from mcp.types import ResourceUpdatedNotification
from mcp_types.version import MODERN_PROTOCOL_VERSIONS

from renubu_mcp.auth import TokenRules, mint_token
from renubu_mcp.demo import DemoUser
from renubu_mcp.http_app import build_http_app
from renubu_mcp.live import waking
from renubu_mcp.server import build_server
from tests.tools.conftest import TEST_TOKEN_KEY, settings_for

MODES = ("legacy", "auto")  # the 2025-11-25 handshake, and the 2026-07-28 era
TIMEOUT = 60.0  # generous: other suites share the two cores
RENUBU_MCP = Path(sys.executable).with_name("renubu-mcp")
JWT_SECRET = "live-test-jwt-secret-not-a-secret-0123456789abcdef"

ACME = "10000000-0000-4000-8000-000000000001"  # alice's
GLOBEX = "10000000-0000-4000-8000-000000000021"  # bob's
INITECH = "10000000-0000-4000-8000-000000000041"  # shared by alice and bob
MASSIVE = "10000000-0000-4000-8000-000000000042"  # shared; bob runs a workflow on it, alice none
ALICE_ACME_WORKFLOW = "30000000-0000-4000-8000-000000000001"
BOB_MASSIVE_WORKFLOW = "30000000-0000-4000-8000-000000000014"


def customer_uri(customer_id: str) -> str:
    return f"renubu://customers/{customer_id}"


def workflow_uri(workflow_id: str) -> str:
    return f"renubu://workflows/{workflow_id}"


@dataclass
class Watcher:
    client: Client
    updates: asyncio.Queue[str]  # notifications/resources/updated (2025-11-25)
    # Over an HTTP session, updates ride the GET stream the client opens after initializing: subscribing waits for
    # it, as nothing sent before it opens can arrive.
    channel_open: asyncio.Event | None = None

    @property
    def modern(self) -> bool:
        return self.client.protocol_version in MODERN_PROTOCOL_VERSIONS

    async def ok(self, tool: str, arguments: dict[str, Any]) -> dict[str, Any]:
        result = await self.client.call_tool(tool, arguments)
        assert not result.is_error, result.content[0].text
        return result.structured_content

    @asynccontextmanager
    async def watching(self, *uris: str) -> AsyncIterator[Callable[..., Awaitable[str]]]:
        """Watch these URIs the way this era does; yields next_update(), the next URI this client is told of."""
        if self.modern:
            async with self.client.listen(resource_subscriptions=list(uris)) as subscription:
                assert subscription.honored.resource_subscriptions == list(uris)

                async def next_event(timeout: float = TIMEOUT) -> str:
                    event = await asyncio.wait_for(subscription.__anext__(), timeout)
                    return event.uri

                yield next_event
            return
        for uri in uris:
            await self.subscribe(uri)

        async def next_update(timeout: float = TIMEOUT) -> str:
            return await asyncio.wait_for(self.updates.get(), timeout)

        try:
            yield next_update
        finally:
            for uri in uris:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", MCPDeprecationWarning)
                    await self.client.session.unsubscribe_resource(uri)

    async def subscribe(self, uri: str) -> None:
        """resources/subscribe: the 2025-11-25 way (deprecated for 2026-07-28, which this era is not)."""
        if self.channel_open is not None and not self.modern:
            await asyncio.wait_for(self.channel_open.wait(), TIMEOUT)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", MCPDeprecationWarning)
            await self.client.session.subscribe_resource(uri)


@asynccontextmanager
async def watcher(
    target: Any, mode: str, channel_open: asyncio.Event | None = None, **client_options: Any
) -> AsyncIterator[Watcher]:
    updates: asyncio.Queue[str] = asyncio.Queue()

    async def on_message(message: Any) -> None:
        if isinstance(message, ResourceUpdatedNotification):
            updates.put_nowait(str(message.params.uri))

    async with Client(target, mode=mode, message_handler=on_message, **client_options) as client:
        yield Watcher(client, updates, channel_open)


def http_client(user: DemoUser, ttl_seconds: int = 3600) -> tuple[httpx2.AsyncClient, asyncio.Event]:
    """An HTTP client with `user`'s bearer token, and an event set once it has opened a session's GET stream."""
    channel_open = asyncio.Event()

    async def on_response(response: httpx2.Response) -> None:
        if response.request.method == "GET" and response.status_code == 200:
            channel_open.set()

    http = httpx2.AsyncClient(
        headers={"Authorization": f"Bearer {token_for(user, ttl_seconds)}"},
        timeout=TIMEOUT,
        event_hooks={"response": [on_response]},
    )
    return http, channel_open


def in_process(app_dsn: str, email: str, **overrides: Any):
    return build_server(settings_for(app_dsn, email, **overrides))


def stdio_params(app_dsn: str, email: str) -> StdioServerParameters:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RENUBU_")}
    env.update(
        RENUBU_DATABASE_URL=app_dsn,
        RENUBU_USER_EMAIL=email,
        RENUBU_TOKEN_ENCRYPTION_KEY=TEST_TOKEN_KEY,
        RENUBU_LOG_LEVEL="WARNING",
    )
    return StdioServerParameters(command=str(RENUBU_MCP), args=["serve"], env=env)


def token_for(user: DemoUser, ttl_seconds: int = 3600) -> str:
    return mint_token(TokenRules(JWT_SECRET), user.id, user.email, ttl_seconds=ttl_seconds)


@asynccontextmanager
async def over_http(base_url: str, user: DemoUser, mode: str, ttl_seconds: int = 3600) -> AsyncIterator[Watcher]:
    http, channel_open = http_client(user, ttl_seconds)
    async with http:
        async with watcher(streamable_http_client(f"{base_url}/mcp", http_client=http), mode, channel_open) as client:
            yield client


@asynccontextmanager
async def serving_http(app_dsn: str, port: int) -> AsyncIterator[str]:
    """The production HTTP app on uvicorn in this process, on a loopback port."""
    settings = replace(settings_for(app_dsn, None), jwt_secret=JWT_SECRET, port=port)
    app = build_http_app(build_server(settings, transport="http"), settings)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    task = asyncio.create_task(server.serve())
    while not server.started:
        assert not task.done(), task.exception()
        await asyncio.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task


@pytest.fixture(scope="module")
def demo(database_factory, template_db):
    """A demo database clone shared by one test module, for tests that only read."""
    db = database_factory(template=template_db.name, prefix="live")
    yield db
    db.drop()


@pytest.fixture
async def http_server(demo_db, free_tcp_port) -> AsyncIterator[str]:
    async with serving_http(demo_db.app_dsn, free_tcp_port) as url:
        yield url


@pytest.fixture
async def owner(demo_db) -> AsyncIterator[asyncpg.Connection]:
    conn = await asyncpg.connect(demo_db.owner_dsn)
    yield conn
    await conn.close()


@pytest.fixture
def quick_waking(monkeypatch) -> None:
    """Watched workflows are checked for waking every 0.2 s instead of every 15."""
    monkeypatch.setattr(waking, "SWEEP_SECONDS", 0.2)


async def eventually(check: Callable[[], Awaitable[bool]], timeout: float = TIMEOUT) -> None:
    deadline = time.monotonic() + timeout
    while not await check():
        assert time.monotonic() < deadline, "gave up waiting"
        await asyncio.sleep(0.05)
