"""A subscriptions/listen stream (2026-07-28) over HTTP ends on purpose, never by being cut: when the token it was
opened with expires or stops being accepted (the client listens again with a fresh one), and when the server shuts
down (the client listens again on another replica) instead of holding the shutdown for its full grace period."""

from __future__ import annotations

import asyncio
import signal
import time

from renubu_mcp import bearer
from renubu_mcp.cli import GRACEFUL_SHUTDOWN_SECONDS
from renubu_mcp.live import subscriptions
from renubu_mcp.demo import ALICE
from tests.reliability.conftest import server  # noqa: F401 (the fixture: real `renubu-mcp serve --transport http`)

from .conftest import ACME, TIMEOUT, customer_uri, over_http
from .test_two_processes import listening_over_http


async def drain(subscription) -> list:
    """Every event until the stream ends; a stream that is cut raises SubscriptionLost instead."""
    return [event async for event in subscription]


async def test_a_listen_stream_ends_gracefully_when_its_token_expires(http_server):
    async with over_http(http_server, ALICE, "auto", ttl_seconds=8) as alice:
        async with alice.client.listen(resource_subscriptions=[customer_uri(ACME)]) as subscription:
            assert await asyncio.wait_for(drain(subscription), TIMEOUT) == []


async def test_a_listen_stream_ends_when_its_user_is_deactivated(http_server, owner, monkeypatch):
    """As a request would be refused: the token is verified again every 30 s (0.2 s here)."""
    monkeypatch.setattr(subscriptions, "RECHECK_SECONDS", 0.2)
    monkeypatch.setattr(bearer, "USER_CHECK_TTL_SECONDS", 0.0)
    async with over_http(http_server, ALICE, "auto") as alice:
        async with alice.client.listen(resource_subscriptions=[customer_uri(ACME)]) as subscription:
            await owner.execute("UPDATE public.profiles SET deleted_at = now() WHERE id = $1", ALICE.id)
            assert await asyncio.wait_for(drain(subscription), TIMEOUT) == []


async def test_sigterm_ends_open_listen_streams_and_the_server_exits_without_waiting_for_them(demo_db, server):
    replica = server(demo_db.app_dsn)
    async with listening_over_http(replica, ALICE) as alice:
        async with alice.client.listen(resource_subscriptions=[customer_uri(ACME)]) as subscription:
            asked = time.monotonic()
            replica.proc.send_signal(signal.SIGTERM)
            assert await asyncio.wait_for(drain(subscription), TIMEOUT) == []
            code = await asyncio.to_thread(replica.proc.wait, TIMEOUT)
    assert code == 0 and time.monotonic() - asked < GRACEFUL_SHUTDOWN_SECONDS
