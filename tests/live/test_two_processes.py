"""Two server processes on one database share notifications: a write through one reaches a subscriber of the other
(PostgreSQL LISTEN/NOTIFY), over stdio and over HTTP in both eras (a 2025-11-25 session, subscriptions/listen)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx2
import pytest
from mcp.client.streamable_http import streamable_http_client

from renubu_mcp.demo import ALICE, BOB
from tests.reliability.conftest import server  # noqa: F401 (the fixture: real `renubu-mcp serve --transport http`)
from tests.reliability.harness import ServerProcess, call_tool, new_http_client, token_for

from .conftest import ACME, INITECH, MODES, TIMEOUT, Watcher, customer_uri, stdio_params, watcher


@asynccontextmanager
async def listening_over_http(server: ServerProcess, user, mode: str = "auto") -> AsyncIterator[Watcher]:
    channel_open = asyncio.Event()  # a 2025-11-25 session's GET stream, which its updates ride

    async def on_response(response: httpx2.Response) -> None:
        if response.request.method == "GET" and response.status_code == 200:
            channel_open.set()

    headers = {"Authorization": f"Bearer {token_for(user)}"}
    async with httpx2.AsyncClient(headers=headers, timeout=TIMEOUT, event_hooks={"response": [on_response]}) as http:
        async with watcher(streamable_http_client(f"{server.url}/mcp", http_client=http), mode, channel_open) as client:
            yield client


@pytest.mark.parametrize("mode", MODES)
async def test_a_write_through_one_http_replica_reaches_a_subscriber_on_another(demo_db, server, mode):
    a = server(demo_db.app_dsn)
    b = server(demo_db.app_dsn)
    async with listening_over_http(a, ALICE, mode) as alice, listening_over_http(a, BOB, mode) as bob:
        async with (
            alice.watching(customer_uri(ACME)) as alice_next,
            bob.watching(customer_uri(ACME), customer_uri(INITECH)) as bob_next,
        ):
            async with new_http_client() as http:
                written = await call_tool(
                    http, b.url, token_for(ALICE), "update_customer", {"customer_id": ACME, "risk_score": 33}
                )
                assert written.ok, written.text
                assert await alice_next() == customer_uri(ACME)
                written = await call_tool(
                    http, b.url, token_for(ALICE), "update_customer", {"customer_id": INITECH, "risk_score": 34}
                )
                assert written.ok, written.text
            assert await bob_next() == customer_uri(INITECH)  # and never Acme, which Bob cannot read


@pytest.mark.parametrize("mode", MODES)
async def test_a_write_through_one_stdio_process_reaches_a_subscriber_of_another(demo_db, mode):
    async with (
        watcher(stdio_params(demo_db.app_dsn, ALICE.email), mode) as a,
        watcher(stdio_params(demo_db.app_dsn, ALICE.email), mode) as b,
    ):
        async with a.watching(customer_uri(ACME)) as next_update:
            await b.ok("add_contact", {"customer_id": ACME, "name": "Road Runner"})
            assert await next_update() == customer_uri(ACME)
