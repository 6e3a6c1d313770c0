"""Asking the user through the client over the real transports, in both protocol eras, driven by the SDK's client:

- stdio: the `renubu-mcp` command as a child process (its loopback listener serves the connect pages);
- HTTP: the production app under uvicorn with bearer tokens (a 2025-11-25 client that initializes gets a session,
  so it can be asked in the middle of a call);
- two HTTP server processes: a question asked by one, the retry answered by the other (2026-07-28).

The provider is the fake one, served on a loopback port (the child processes reach it over a real socket).
"""

from __future__ import annotations

import asyncio
import json
import os
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import replace
from typing import Any

import httpx
import httpx2
import pytest
import uvicorn
from mcp import Client, MCPError, StdioServerParameters
from mcp.client.streamable_http import streamable_http_client
from mcp.types import ElicitCompleteNotification, InputRequiredResult, URL_ELICITATION_REQUIRED

from renubu_mcp.auth import TokenRules, mint_token
from renubu_mcp.demo import ALICE, BOB
from renubu_mcp.http_app import build_http_app
from renubu_mcp.oauth.vault import key_id
from renubu_mcp.server import build_server
from tests.reliability.harness import JWT_SECRET, TOKEN_KEY, RENUBU_MCP, ServerProcess

from .conftest import KEY, point_at, settings_for
from .fake_provider import FakeProvider
from .person import Person, finish_page
from .test_loopback import serve

ERAS = ["legacy", "auto"]  # 2025-11-25 and 2026-07-28
NOTE = {
    "slug": "hubspot",
    "method": "POST",
    "path": "crm/v3/objects/notes",
    "body": {"properties": {"hs_note_body": "renewal call"}},
}
YES = {"consent": {"action": "accept", "content": {"send": True}}}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def writes(provider: FakeProvider) -> list[dict]:
    return [r for r in provider.api_requests if r["method"] != "GET"]


@pytest.fixture
async def provider(owner) -> AsyncIterator[FakeProvider]:
    """The fake provider on a real loopback socket, behind the demo 'hubspot' entry."""
    fake = FakeProvider(base="http://placeholder")
    async with serve(fake.asgi_app()) as url:
        fake.base = url
        await point_at(owner, fake)
        yield fake


class Completions:
    def __init__(self) -> None:
        self.ids: list[str] = []
        self.arrived = asyncio.Event()

    async def __call__(self, message: Any) -> None:
        if isinstance(message, ElicitCompleteNotification):
            self.ids.append(message.params.elicitation_id)
            self.arrived.set()


# --- stdio -------------------------------------------------------------------------------------------------------


def stdio_server(demo_db, public: str) -> StdioServerParameters:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RENUBU_")}
    env.update(
        RENUBU_DATABASE_URL=demo_db.app_dsn,
        RENUBU_USER_EMAIL="alice@example.com",
        RENUBU_TOKEN_ENCRYPTION_KEY=KEY,
        RENUBU_PUBLIC_URL=public,
        RENUBU_LOG_LEVEL="WARNING",
    )
    return StdioServerParameters(command=str(RENUBU_MCP), args=["serve"], env=env)


@pytest.mark.parametrize("mode", ERAS)
async def test_stdio_connects_through_the_client_and_confirms_writes(demo_db, provider, mode):
    public = f"http://127.0.0.1:{free_port()}"
    completions = Completions()
    async with httpx.AsyncClient() as browser:
        user = Person(browser, provider, confirm="yes", page="accept" if mode == "legacy" else "finish")
        async with Client(
            stdio_server(demo_db, public), mode=mode, elicitation_callback=user, message_handler=completions
        ) as client:
            installed = await client.call_tool("install_integration", {"slug": "hubspot"})
            assert not installed.is_error, installed.content[0].text
            assert "authorization_url" not in installed.structured_content
            (page,) = user.pages
            assert page.url.startswith(f"{public}/connect/")
            if mode == "legacy":  # the page is completed after the call returned; the client hears of it
                assert installed.structured_content["status"] == "pending"
                assert (await finish_page(browser, page.url, provider)).status_code == 200
                await asyncio.wait_for(completions.arrived.wait(), 30)
                assert completions.ids == [page.elicitation_id]
            else:
                assert installed.structured_content["status"] == "active"

            user.confirm = "decline"
            declined = await client.call_tool("integration_request", NOTE)
            assert declined.is_error and "the user declined: nothing was sent to HubSpot" in declined.content[0].text
            assert writes(provider) == []
            user.confirm = "yes"
            sent = await client.call_tool("integration_request", NOTE)
            assert not sent.is_error, sent.content[0].text
    assert [json.loads(r["body"]) for r in writes(provider)] == [NOTE["body"]]
    assert [f.message.splitlines()[0] for f in user.forms] == ["Send this POST request to HubSpot as you?"] * 2


@pytest.mark.parametrize("mode", ERAS)
async def test_stdio_without_elicitation_gets_links_and_refuses_writes(demo_db, provider, mode):
    public = f"http://127.0.0.1:{free_port()}"
    async with Client(stdio_server(demo_db, public), mode=mode) as client:
        started = await client.call_tool("install_integration", {"slug": "hubspot"})
        url = started.structured_content["authorization_url"]
        async with httpx.AsyncClient() as browser:
            page = await browser.get(f"{public}/oauth/callback", params=provider.approve(url))
        assert page.status_code == 200, page.text
        refused = await client.call_tool("integration_request", NOTE)
        assert refused.is_error and "cannot ask (it has no form elicitation)" in refused.content[0].text
    assert writes(provider) == []


# --- HTTP --------------------------------------------------------------------------------------------------------


@asynccontextmanager
async def http_server(demo_db) -> AsyncIterator[str]:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    settings = replace(settings_for(demo_db.app_dsn, None), jwt_secret=JWT_SECRET, port=port, public_url=url)
    app = build_http_app(build_server(settings, transport="http"), settings)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    task = asyncio.create_task(server.serve())
    while not server.started:
        await asyncio.sleep(0.02)
    try:
        yield url
    finally:
        server.should_exit = True
        await task


@asynccontextmanager
async def http_client(url: str, user, mode: str, **callbacks: Any) -> AsyncIterator[Client]:
    token = mint_token(TokenRules(JWT_SECRET), user.id, user.email, ttl_seconds=600)
    async with httpx2.AsyncClient(headers={"Authorization": f"Bearer {token}"}, timeout=30) as http:
        async with Client(streamable_http_client(f"{url}/mcp", http_client=http), mode=mode, **callbacks) as client:
            yield client


@pytest.mark.parametrize("mode", ERAS)
async def test_http_connects_through_the_client_and_confirms_writes(demo_db, provider, mode):
    completions = Completions()
    async with http_server(demo_db) as url, httpx.AsyncClient() as browser:
        user = Person(browser, provider, confirm="yes")
        async with http_client(url, ALICE, mode, elicitation_callback=user, message_handler=completions) as client:
            installed = await client.call_tool("install_integration", {"slug": "gong"})
            assert not installed.is_error, installed.content[0].text
            assert "connect_url" not in installed.structured_content
            (page,) = user.pages
            assert page.url.startswith(f"{url}/connect/")
            if mode == "legacy":  # the page was finished while the client waited for the answer
                await asyncio.wait_for(completions.arrived.wait(), 30)
                assert completions.ids == [page.elicitation_id]

            # Not connected yet: 2025-11-25 answers -32042 and the client retries; 2026-07-28 asks in the round.
            if mode == "legacy":
                with pytest.raises(MCPError) as required:
                    await client.call_tool("integration_request", NOTE)
                assert required.value.error.code == URL_ELICITATION_REQUIRED
                await finish_page(browser, required.value.error.data["elicitations"][0]["url"], provider)
            sent = await client.call_tool("integration_request", NOTE)
            assert not sent.is_error, sent.content[0].text
            user.confirm = "cancel"
            dismissed = await client.call_tool("integration_request", NOTE)
            assert "dismissed" in dismissed.content[0].text
    assert len(writes(provider)) == 1
    assert len(user.forms) == 2


@pytest.mark.parametrize("mode", ERAS)
async def test_http_without_elicitation_gets_links_and_refuses_writes(demo_db, provider, owner, mode):
    async with http_server(demo_db) as url:
        async with http_client(url, ALICE, mode) as client:
            started = await client.call_tool("install_integration", {"slug": "gong"})
            assert started.structured_content["connect_url"].startswith(f"{url}/connect/")
            async with httpx.AsyncClient() as browser:
                await finish_page(browser, started.structured_content["connect_url"])
            await owner.execute(
                "UPDATE public.mcp_integrations SET api_base_url = $1 WHERE slug = 'gong'", provider.api_base
            )
            refused = await client.call_tool("integration_request", {**NOTE, "slug": "gong"})
            assert refused.is_error and "cannot ask" in refused.content[0].text
    assert writes(provider) == []


async def test_a_2025_client_that_initializes_gets_a_session_of_its_own(demo_db, provider):
    """Only a client that opens a session gets one, bound to the bearer that opened it; session-less calls stay
    stateless JSON (any replica answers them)."""

    def headers(user) -> dict[str, str]:
        token = mint_token(TokenRules(JWT_SECRET), user.id, user.email, ttl_seconds=60)
        return {
            "Authorization": f"Bearer {token}",
            "Accept": "application/json, text/event-stream",
            "Content-Type": "application/json",
            "MCP-Protocol-Version": "2025-11-25",
        }

    initialize = {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "initialize",
        "params": {
            "protocolVersion": "2025-11-25",
            "capabilities": {"elicitation": {}},
            "clientInfo": {"name": "t", "version": "1"},
        },
    }
    call = {
        "jsonrpc": "2.0",
        "id": 2,
        "method": "tools/call",
        "params": {"name": "list_my_integrations", "arguments": {}},
    }
    async with http_server(demo_db) as url, httpx.AsyncClient() as http:
        opened = await http.post(f"{url}/mcp", headers=headers(ALICE), json=initialize)
        session = opened.headers.get("mcp-session-id")
        assert opened.status_code == 200 and session
        stolen = await http.post(f"{url}/mcp", headers={**headers(BOB), "mcp-session-id": session}, json=call)
        assert stolen.status_code == 404
        stateless = await http.post(f"{url}/mcp", headers=headers(BOB), json=call)
        assert stateless.status_code == 200 and "mcp-session-id" not in stateless.headers
        assert stateless.json()["result"]["structuredContent"]["installs"] == []


# --- two server processes ----------------------------------------------------------------------------------------


@pytest.fixture
def processes(demo_db):
    started: list[ServerProcess] = []

    def start(public_url: str | None = None) -> ServerProcess:
        process = ServerProcess(demo_db.app_dsn, public_url=public_url)
        started.append(process)
        return process.start()

    yield start
    for process in started:
        process.__exit__(None, None, None)


async def test_a_question_asked_by_one_process_is_answered_on_another(demo_db, provider, owner, processes):
    # The processes run with the reliability harness's token key: the entry's client secret is stored under it.
    await owner.execute(
        "UPDATE public.mcp_integrations SET client_secret_key_id = $3,"
        " client_secret_encrypted = public.encrypt_oauth_token($1, $2) WHERE slug = 'hubspot'",
        provider.client_secret,
        TOKEN_KEY,
        key_id(TOKEN_KEY),
    )
    a = processes()
    b = processes(public_url=a.url)  # another replica behind the same public URL
    async with httpx.AsyncClient() as browser:
        user = Person(browser, provider)
        async with (
            http_client(a.url, ALICE, "auto", elicitation_callback=user) as on_a,
            http_client(b.url, ALICE, "auto", elicitation_callback=user) as on_b,
        ):
            # install_integration: asked on A, the page finished (its callback lands on A), the retry sent to B.
            asked = await on_a.session.call_tool("install_integration", {"slug": "hubspot"}, allow_input_required=True)
            assert isinstance(asked, InputRequiredResult)
            assert (await finish_page(browser, asked.input_requests["connect"].params.url, provider)).status_code == 200
            done = await on_b.session.call_tool(
                "install_integration",
                {"slug": "hubspot"},
                input_responses={"connect": {"action": "accept"}},
                request_state=asked.request_state,
                allow_input_required=True,
            )
            assert not done.is_error and done.structured_content["status"] == "active", done

            # A write: confirmed on B for a question A asked; sent once, by B.
            consent = await on_a.session.call_tool("integration_request", NOTE, allow_input_required=True)
            assert list(consent.input_requests) == ["consent"] and writes(provider) == []
            sent = await on_b.session.call_tool(
                "integration_request",
                NOTE,
                input_responses=YES,
                request_state=consent.request_state,
                allow_input_required=True,
            )
            assert not sent.is_error and sent.structured_content["status_code"] == 200
        # The state is alice's: bob presenting it on B is refused.
        async with http_client(b.url, BOB, "auto", elicitation_callback=user) as bob:
            with pytest.raises(MCPError, match="Invalid or expired requestState"):
                await bob.session.call_tool(
                    "integration_request",
                    NOTE,
                    input_responses=YES,
                    request_state=consent.request_state,
                    allow_input_required=True,
                )
    assert len(writes(provider)) == 1
