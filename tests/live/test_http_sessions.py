"""resources/subscribe over HTTP at 2025-11-25: a client that initialized has a session, and its updates ride the
session's GET stream, under the same RLS check as everywhere, for as long as its bearer token would be accepted; the
session's end (DELETE, idle expiry, a client that just went away) ends its subscriptions. Requests without a
session cannot be sent updates: they are refused in one line, and never promised them."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from typing import Any

import httpx2
import pytest
from mcp import MCPError
from mcp.client.streamable_http import streamable_http_client
from mcp.types import METHOD_NOT_FOUND

from renubu_mcp import live, sessions
from renubu_mcp.demo import ALICE, BOB
from renubu_mcp.live import session_tokens
from renubu_mcp.live.hub import ChangeHub

from .conftest import (
    ACME,
    INITECH,
    TIMEOUT,
    customer_uri,
    eventually,
    http_client,
    over_http,
    serving_http,
    token_for,
    watcher,
)

HANDSHAKE = "2025-11-25"


@pytest.fixture
def hubs(monkeypatch) -> list[ChangeHub]:
    """The change hub of each server started while the test runs, to see who it still watches for."""
    made: list[ChangeHub] = []
    real = live.change_hub

    def change_hub(*args: Any, **kwargs: Any) -> ChangeHub:
        made.append(real(*args, **kwargs))
        return made[-1]

    monkeypatch.setattr(live, "change_hub", change_hub)
    return made


async def test_a_session_hears_of_its_own_users_write(http_server):
    async with over_http(http_server, ALICE, "legacy") as alice:
        assert alice.client.server_capabilities.resources.subscribe
        async with alice.watching(customer_uri(ACME)) as next_update:
            await alice.ok("update_customer", {"customer_id": ACME, "risk_score": 41})
            assert await next_update() == customer_uri(ACME)


async def test_a_session_never_hears_of_a_change_its_user_cannot_read(http_server):
    async with over_http(http_server, BOB, "legacy") as bob, over_http(http_server, ALICE, "auto") as alice:
        async with bob.watching(customer_uri(ACME), customer_uri(INITECH)) as next_update:
            await alice.ok("update_customer", {"customer_id": ACME, "risk_score": 42})
            await alice.ok("update_customer", {"customer_id": INITECH, "risk_score": 43})
            assert await next_update() == customer_uri(INITECH)  # delivered in commit order: Acme was withheld
            await alice.ok("add_contact", {"customer_id": ACME, "name": "Wile E."})
            await alice.ok("update_customer", {"customer_id": INITECH, "risk_score": 44})
            assert await next_update() == customer_uri(INITECH)


async def test_unsubscribing_stops_the_updates(http_server, owner):
    async with over_http(http_server, ALICE, "legacy") as alice:
        async with alice.watching(customer_uri(ACME)) as next_update:
            await owner.execute("UPDATE public.customers SET risk_score = 45 WHERE id = $1", ACME)
            assert await next_update() == customer_uri(ACME)
        async with alice.watching(customer_uri(INITECH)) as next_update:
            await owner.execute("UPDATE public.customers SET risk_score = 46 WHERE id = $1", ACME)
            await owner.execute("UPDATE public.customers SET risk_score = 47 WHERE id = $1", INITECH)
            assert await next_update() == customer_uri(INITECH)


async def test_a_session_falls_silent_once_its_token_expires_and_a_fresh_token_resumes_it(http_server, owner):
    http, channel_open = http_client(ALICE, ttl_seconds=8)
    async with (
        http,
        watcher(streamable_http_client(f"{http_server}/mcp", http_client=http), "legacy", channel_open) as alice,
    ):
        async with alice.watching(customer_uri(ACME)) as next_update:
            await owner.execute("UPDATE public.customers SET risk_score = 48 WHERE id = $1", ACME)
            assert await next_update() == customer_uri(ACME)
            expires = time.time() + 8
            await asyncio.sleep(max(expires - time.time(), 0) + 1)
            # The GET stream is still open, but a request with this token would be refused: so is the update.
            await owner.execute("UPDATE public.customers SET risk_score = 49 WHERE id = $1", ACME)
            with pytest.raises(asyncio.TimeoutError):
                await next_update(timeout=2.0)
            # The client refreshes its token and uses it: the session's subscriptions follow.
            http.headers["Authorization"] = f"Bearer {token_for(ALICE)}"
            await alice.ok("get_customer", {"customer_id": ACME})
            await owner.execute("UPDATE public.customers SET risk_score = 50 WHERE id = $1", ACME)
            assert await next_update() == customer_uri(ACME)


async def test_leaving_the_session_ends_its_subscriptions(hubs, http_server):  # the hub is made as it starts
    async with over_http(http_server, ALICE, "legacy") as alice:
        await alice.subscribe(customer_uri(ACME))
        (hub,) = hubs
        assert len(hub.watches()) == 1 and session_tokens.tracked() == 1
    # The SDK's client ends its session (DELETE) on the way out.
    await eventually(lambda: _none_left(hub))


# --- without the SDK's client: a session whose client never comes back, and requests without a session -----------


class RawSession:
    """Streamable HTTP by hand, as a client that may drop its GET stream and never say goodbye."""

    def __init__(self, http: httpx2.AsyncClient, url: str) -> None:
        self.http, self.url, self.session_id = http, url, None
        self._next_id = 0

    def headers(self) -> dict[str, str]:
        headers = {
            "Accept": "application/json, text/event-stream",
            "Content-Type": "application/json",
            "mcp-protocol-version": HANDSHAKE,
        }
        if self.session_id is not None:
            headers["mcp-session-id"] = self.session_id
        return headers

    async def request(self, method: str, params: dict[str, Any], **extra: Any) -> dict[str, Any]:
        self._next_id += 1
        answer = await self.http.post(
            self.url,
            headers=self.headers(),
            json={"jsonrpc": "2.0", "id": self._next_id, "method": method, "params": params, **extra},
        )
        assert answer.status_code == 200, answer.text
        self.session_id = self.session_id or answer.headers.get("mcp-session-id")
        if answer.headers["content-type"].startswith("text/event-stream"):
            return next(
                json.loads(line[5:])
                for line in answer.text.splitlines()
                if line.startswith("data:") and line[5:].strip()
            )
        return answer.json()

    async def open(self) -> dict[str, Any]:
        opened = await self.request(
            "initialize",
            {"protocolVersion": HANDSHAKE, "capabilities": {}, "clientInfo": {"name": "raw", "version": "1"}},
        )
        await self.http.post(
            self.url, headers=self.headers(), json={"jsonrpc": "2.0", "method": "notifications/initialized"}
        )
        return opened["result"]


@pytest.fixture
async def raw(http_server) -> AsyncIterator[RawSession]:
    async with httpx2.AsyncClient(headers={"Authorization": f"Bearer {token_for(ALICE)}"}, timeout=TIMEOUT) as http:
        yield RawSession(http, f"{http_server}/mcp")


@pytest.fixture
async def short_lived_sessions(demo_db, free_tcp_port, monkeypatch, hubs) -> AsyncIterator[str]:
    monkeypatch.setattr(sessions, "IDLE_SECONDS", 1.0)
    async with serving_http(demo_db.app_dsn, free_tcp_port) as url:
        yield url


async def test_a_session_whose_client_went_away_ends_with_its_subscriptions(short_lived_sessions, hubs):
    async with httpx2.AsyncClient(headers={"Authorization": f"Bearer {token_for(ALICE)}"}, timeout=TIMEOUT) as http:
        alice = RawSession(http, f"{short_lived_sessions}/mcp")
        assert (await alice.open())["capabilities"]["resources"]["subscribe"] is True
        async with http.stream("GET", alice.url, headers=alice.headers()) as stream:  # the updates' channel
            assert stream.status_code == 200
            assert "error" not in await alice.request("resources/subscribe", {"uri": customer_uri(ACME)})
            (hub,) = hubs
            assert len(hub.watches()) == 1 and session_tokens.tracked() == 1
        # The GET stream is gone, with no DELETE: the session expires once idle, and its watch with it.
        await eventually(lambda: _none_left(hub))


async def test_a_request_without_a_session_is_refused_subscribe_in_one_line(raw):
    refused = await raw.request("resources/subscribe", {"uri": customer_uri(ACME)})
    assert raw.session_id is None
    assert refused["error"]["code"] == METHOD_NOT_FOUND
    assert "needs a session" in refused["error"]["message"] and "\n" not in refused["error"]["message"]


async def test_an_initialize_answered_without_a_session_does_not_promise_subscribe(raw):
    """An initialize whose body is still arriving past what the router reads before routing is answered
    statelessly: no channel, so no promise."""
    body = json.dumps(
        {
            "jsonrpc": "2.0",
            "id": 1,
            "method": "initialize",
            "params": {
                "protocolVersion": HANDSHAKE,
                "clientInfo": {"name": "raw", "version": "1"},
                "capabilities": {"experimental": {"padding": {"x": "x" * (sessions.PEEK_LIMIT + 1)}}},
            },
        }
    ).encode()

    async def in_two_parts() -> AsyncIterator[bytes]:
        yield body[: sessions.PEEK_LIMIT + 1]
        await asyncio.sleep(0.1)
        yield body[sessions.PEEK_LIMIT + 1 :]

    answer = await raw.http.post(raw.url, headers=raw.headers(), content=in_two_parts())
    assert answer.status_code == 200 and "mcp-session-id" not in answer.headers, answer.text
    assert answer.json()["result"]["capabilities"]["resources"]["subscribe"] is False


async def test_at_2026_07_28_resources_subscribe_points_to_subscriptions_listen(http_server):
    async with over_http(http_server, ALICE, "auto") as alice:
        assert alice.modern
        with pytest.raises(MCPError) as refused:
            await alice.subscribe(customer_uri(ACME))
        assert refused.value.error.code == METHOD_NOT_FOUND
        assert "subscriptions/listen" in refused.value.error.message


async def _none_left(hub: ChangeHub) -> bool:
    return not hub.watches() and session_tokens.tracked() == 0
