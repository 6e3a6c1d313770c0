"""MCP fixtures: the real server, built by build_server(), driven through the SDK's in-process Client.

connect(email, **settings) -> async context manager yielding a Session for that user on a fresh demo db
demo (module)              -> one demo database clone shared by a module's read-only tests

async with connect("alice@example.com") as alice:
    page = await alice.ok("search_customers", {"query": "acme"})      # structured content, or fail
    message = await alice.error("get_customer", {"customer_id": ...}) # the tool error's text, or fail
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace
from typing import Any

import pytest
from mcp import Client

from renubu_mcp.config import Settings
from renubu_mcp.server import build_server

TEST_TOKEN_KEY = "test-token-key-not-a-secret-0123456789abcdef"


@dataclass
class Session:
    client: Client
    email: str

    async def call(self, tool: str, arguments: dict[str, Any] | None = None):
        return await self.client.call_tool(tool, arguments or {})

    async def ok(self, tool: str, arguments: dict[str, Any] | None = None) -> dict[str, Any]:
        result = await self.call(tool, arguments)
        assert not result.is_error, f"{tool} failed for {self.email}: {result.content[0].text}"
        return result.structured_content

    async def error(self, tool: str, arguments: dict[str, Any] | None = None) -> str:
        result = await self.call(tool, arguments)
        assert result.is_error, f"{tool} unexpectedly succeeded for {self.email}: {result.structured_content}"
        return result.content[0].text


def settings_for(app_dsn: str, email: str | None, **overrides: Any) -> Settings:
    base = Settings(database_url=app_dsn, user_email=email, token_encryption_key=TEST_TOKEN_KEY)
    return replace(base, **overrides)


@pytest.fixture(scope="module")
def demo(database_factory, template_db):
    """A demo database clone shared by one test module (for tests that only read, or clean up)."""
    db = database_factory(template=template_db.name, prefix="mcp")
    yield db
    db.drop()


@pytest.fixture
def connect(demo_db) -> Callable[..., Any]:
    """Open MCP sessions as demo users on this test's own fresh demo database."""

    @asynccontextmanager
    async def open_session(email: str, database=None, **overrides: Any) -> AsyncIterator[Session]:
        target = database or demo_db
        server = build_server(settings_for(target.app_dsn, email, **overrides))
        async with Client(server) as client:
            yield Session(client, email)

    open_session.database = demo_db  # type: ignore[attr-defined]
    return open_session


@pytest.fixture
def connect_shared(demo) -> Callable[..., Any]:
    """Like connect, on the module's shared clone: for read-only tests (cheaper)."""

    @asynccontextmanager
    async def open_session(email: str, **overrides: Any) -> AsyncIterator[Session]:
        server = build_server(settings_for(demo.app_dsn, email, **overrides))
        async with Client(server) as client:
            yield Session(client, email)

    open_session.database = demo  # type: ignore[attr-defined]
    return open_session
