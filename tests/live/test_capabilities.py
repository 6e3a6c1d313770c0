"""Advertised exactly as delivered: over stdio (the real `renubu-mcp` process) and streamable HTTP, in both protocol
eras, every capability the server advertises is exercised through the SDK's client, and a capability with no check
here fails the test until it gets one."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

import pytest
from mcp.types import ResourceTemplateReference

from renubu_mcp.demo import ALICE
from renubu_mcp.live import LIST_TTL_MS

from .conftest import ACME, MODES, Watcher, customer_uri, in_process, over_http, stdio_params, watcher

TRANSPORTS = ("stdio", "http")


async def check_tools(alice: Watcher) -> None:
    assert "get_customer" in {t.name for t in (await alice.client.list_tools()).tools}
    assert (await alice.ok("get_customer", {"customer_id": ACME}))["customer"]["name"] == "Acme Corp"


async def check_prompts(alice: Watcher) -> None:
    assert "renewal_brief" in {p.name for p in (await alice.client.list_prompts()).prompts}
    brief = await alice.client.get_prompt("renewal_brief", {"customer_id": ACME})
    assert ACME in brief.messages[0].content.text


async def check_resources(alice: Watcher) -> None:
    listed = await alice.client.list_resources()
    assert customer_uri(ACME) in {str(r.uri) for r in listed.resources} and listed.next_cursor
    assert (await alice.client.list_resources(cursor=listed.next_cursor)).resources
    assert (await alice.client.list_resource_templates()).resource_templates
    assert "Acme Corp" in (await alice.client.read_resource(customer_uri(ACME))).contents[0].text


async def check_subscribe(alice: Watcher) -> None:
    async with alice.watching(customer_uri(ACME)) as next_update:
        await alice.ok("update_customer", {"customer_id": ACME, "risk_score": 61})
        assert await next_update() == customer_uri(ACME)


async def check_completions(alice: Watcher) -> None:
    ref = ResourceTemplateReference(type="ref/resource", uri="renubu://customers/{customer_id}")
    assert (await alice.client.complete(ref, {"name": "customer_id", "value": "acm"})).completion.values == [ACME]


CHECKS: dict[str, Callable[[Watcher], Awaitable[None]]] = {
    "tools": check_tools,
    "prompts": check_prompts,
    "resources": check_resources,
    "resources.subscribe": check_subscribe,
    "completions": check_completions,
}


def advertised(alice: Watcher) -> set[str]:
    """Every capability and sub-capability the server promised: an object, or a flag set to true."""
    promised = set()
    for name, value in alice.client.server_capabilities.model_dump(by_alias=True, exclude_none=True).items():
        promised.add(name)
        if isinstance(value, dict):
            promised |= {f"{name}.{flag}" for flag, on in value.items() if on is True or isinstance(on, dict)}
    return promised


@asynccontextmanager
async def connected(transport: str, mode: str, demo_db, http_url: str | None) -> AsyncIterator[Watcher]:
    if transport == "stdio":
        async with watcher(stdio_params(demo_db.app_dsn, ALICE.email), mode) as alice:
            yield alice
    else:
        async with over_http(http_url, ALICE, mode) as alice:
            yield alice


@pytest.fixture
async def http_url(request, demo_db, free_tcp_port) -> AsyncIterator[str | None]:
    if request.node.callspec.params["transport"] != "http":
        yield None
        return
    from .conftest import serving_http

    async with serving_http(demo_db.app_dsn, free_tcp_port) as url:
        yield url


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("transport", TRANSPORTS)
async def test_every_advertised_capability_behaves_and_nothing_else_is_promised(transport, mode, demo_db, http_url):
    async with connected(transport, mode, demo_db, http_url) as alice:
        promised = advertised(alice)
        assert promised <= set(CHECKS), f"advertised without a check: {sorted(promised - set(CHECKS))}"
        # Every transport and era delivers resource updates: over stdio, over an HTTP session at 2025-11-25 (the
        # SDK's client initializes, so it has one: updates ride its GET stream), and at 2026-07-28 on the
        # subscriptions/listen stream. Session-less HTTP is tested in test_http_sessions.py.
        assert promised == set(CHECKS)
        for capability in sorted(promised):
            await CHECKS[capability](alice)


@pytest.mark.parametrize("transport", TRANSPORTS)
async def test_lists_the_same_for_every_caller_of_a_role_carry_private_cache_hints(transport, demo_db, http_url):
    async with connected(transport, "auto", demo_db, http_url) as alice:
        client = alice.client
        for listed in (
            await client.list_tools(cache_mode="bypass"),
            await client.list_prompts(cache_mode="bypass"),
            await client.list_resource_templates(cache_mode="bypass"),
        ):
            assert (listed.ttl_ms, listed.cache_scope) == (LIST_TTL_MS, "private")
        own = await client.list_resources(cache_mode="bypass")  # each user's own, and it changes: not to be reused
        assert (own.ttl_ms, own.cache_scope) == (0, "private")


async def test_behind_a_transaction_pooler_notifications_need_a_direct_listen_url(demo_db):
    """PgBouncer in transaction mode cannot hold a LISTEN: without RENUBU_LISTEN_DATABASE_URL nothing is promised."""
    pooled = f"{demo_db.app_dsn}&pgbouncer=true"
    async with watcher(in_process(pooled, ALICE.email), "auto") as alice:
        assert not alice.client.server_capabilities.resources.subscribe
        assert (
            await alice.client.complete(
                ResourceTemplateReference(type="ref/resource", uri="renubu://customers/{customer_id}"),
                {"name": "customer_id", "value": "acm"},
            )
        ).completion.values == [ACME]
    async with watcher(in_process(pooled, ALICE.email, listen_database_url=demo_db.app_dsn), "auto") as alice:
        assert alice.client.server_capabilities.resources.subscribe
        await check_subscribe(alice)
