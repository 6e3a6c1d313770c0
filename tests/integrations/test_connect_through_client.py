"""Connecting through the client: a client that declares URL-mode elicitation opens the connect page for the user,
instead of the model handing a link on.

2026-07-28: install_integration and integration_request answer with an InputRequiredResult carrying the page; the
client retries once the user finished, and the call goes on. 2025-11-25: `elicitation/create` in url mode, the
URL-elicitation-required error where a call cannot go on, and notifications/elicitation/complete once the page or
the OAuth callback stored the credential (those tests serve the pages on the server's own loopback listener,
as a stdio server does). A client without URL elicitation gets today's links.
"""

from __future__ import annotations

import asyncio
import socket
from typing import Any

import httpx
import pytest
from mcp import Client, MCPError
from mcp.types import ElicitCompleteNotification, InputRequiredResult, URL_ELICITATION_REQUIRED

from renubu_mcp.server import build_server

from .conftest import connected, settings_for
from .person import Person, finish_page

pytestmark = pytest.mark.usefixtures("mocked")

GET = {"slug": "hubspot", "method": "GET", "path": "companies"}
LIVE_LINKS = "SELECT count(*) FROM public.connect_links WHERE consumed_at IS NULL"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# --- 2026-07-28 ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("slug", "kind"), [("hubspot", "oauth2"), ("gong", "api_key"), ("stripe-billing", "webhook")])
async def test_install_opens_the_page_through_the_client_and_returns_once_connected(connect, hubspot, web, slug, kind):
    user = Person(web, hubspot)
    async with connect("alice@example.com", elicitation_callback=user) as alice:
        done = await alice.ok("install_integration", {"slug": slug})
        mine = (await alice.ok("list_my_integrations"))["installs"]
    assert done["status"] == "active" and done["connection_type"] == kind and done["message"].endswith("is connected")
    assert "authorization_url" not in done and "connect_url" not in done  # the model never saw a link
    assert [(i["slug"], i["status"]) for i in mine] == [(slug, "active")]
    if kind == "webhook":
        assert done["webhook_url"].endswith(f"/webhooks/{done['install_id']}")
    (page,) = user.pages
    assert page.mode == "url" and page.url.startswith("http://127.0.0.1:8765/connect/")
    assert page.elicitation_id is None  # 2026-07-28 names no elicitation (there is no completion to announce)
    assert page.message.startswith(f"Connect {done['name']} to Renubu")


async def test_the_page_says_whose_it_is_is_single_use_and_carries_nothing_else(connect, hubspot, web, owner):
    user = Person(web, hubspot, page="accept")  # agrees to open it, then looks at it here
    async with connect("alice@example.com", elicitation_callback=user) as alice:
        session = alice.client.session
        asked = await session.call_tool("install_integration", {"slug": "hubspot"}, allow_input_required=True)
        page_url = asked.input_requests["connect"].params.url
        page = await web.get(page_url)
        assert page.status_code == 200
        assert "This connects HubSpot to the Renubu account of <strong>alice@example.com</strong>" in page.text
        assert "Continue to HubSpot" in page.text
        # The form may send the browser on to the provider, and nowhere else.
        assert "form-action 'self' https://provider.test;" in page.headers["content-security-policy"]
        assert page.headers["referrer-policy"] == "no-referrer"
        assert await owner.fetchval("SELECT count(*) FROM public.oauth_states") == 0  # nothing started by a GET
        landed = await finish_page(web, page_url, hubspot)
        assert landed.status_code == 200 and "HubSpot is connected" in landed.text
        again = await web.get(page_url)
        assert again.status_code == 410 and "already been used" in again.text
        # The URL holds one token, and only the link's hash is stored.
        token = page_url.rsplit("/", 1)[1]
        assert await owner.fetchval("SELECT count(*) FROM public.connect_links WHERE token_hash = $1", token) == 0
        retried = await session.call_tool(
            "install_integration",
            {"slug": "hubspot"},
            input_responses={"connect": {"action": "accept"}},
            request_state=asked.request_state,
            allow_input_required=True,
        )
    assert not retried.is_error and retried.structured_content["status"] == "active"


async def test_a_user_who_comes_back_without_finishing_is_asked_again(connect, hubspot, web):
    user = Person(web, hubspot, page="accept")
    async with connect("alice@example.com", elicitation_callback=user) as alice:
        session = alice.client.session
        first = await session.call_tool("install_integration", {"slug": "gong"}, allow_input_required=True)
        second = await session.call_tool(
            "install_integration",
            {"slug": "gong"},
            input_responses={"connect": {"action": "accept"}},
            request_state=first.request_state,
            allow_input_required=True,
        )
        assert isinstance(second, InputRequiredResult)  # not connected yet: a fresh page
        old, new = first.input_requests["connect"].params.url, second.input_requests["connect"].params.url
        assert old != new
        assert (await web.get(old)).status_code == 404  # the new link replaced the old one
        assert (await finish_page(web, new)).status_code == 200
        done = await session.call_tool(
            "install_integration",
            {"slug": "gong"},
            input_responses={"connect": {"action": "accept"}},
            request_state=second.request_state,
            allow_input_required=True,
        )
    assert done.structured_content["status"] == "active"


@pytest.mark.parametrize("answer", ["decline", "cancel"])
async def test_a_declined_page_connects_nothing_and_withdraws_the_link(connect, hubspot, web, owner, answer):
    async with connect("alice@example.com", elicitation_callback=Person(web, hubspot, page=answer)) as alice:
        message = await alice.error("install_integration", {"slug": "gong"})
        assert message == "the user did not connect Gong: call install_integration when they want to"
        mine = (await alice.ok("list_my_integrations"))["installs"]
    assert [i["status"] for i in mine] == ["pending"]
    assert await owner.fetchval(LIVE_LINKS) == 0


@pytest.mark.parametrize("before", ["not installed", "pending", "error", "revoked"])
async def test_integration_request_connects_first_and_then_runs(connect, hubspot, web, browser, owner, before):
    if before != "not installed":
        async with connect("alice@example.com") as plain:
            await connected(plain, hubspot, browser)
            if before == "revoked":
                await plain.ok("uninstall_integration", {"slug": "hubspot"})
        if before in ("pending", "error"):
            await owner.execute("UPDATE public.user_integrations SET status = $1", before)
    user = Person(web, hubspot)
    async with connect("alice@example.com", elicitation_callback=user) as alice:
        result = await alice.ok("integration_request", GET)
    assert result["status_code"] == 200 and "Acme from the provider" in result["body"]
    assert len(user.pages) == 1 and user.forms == []  # a read: no confirmation
    assert hubspot.api_requests[-1]["method"] == "GET"


async def test_integration_request_declined_connection_sends_nothing(connect, hubspot, web):
    async with connect("alice@example.com", elicitation_callback=Person(web, hubspot, page="decline")) as alice:
        message = await alice.error("integration_request", GET)
    assert message == "the user did not connect HubSpot; nothing was sent: call install_integration when they want to"
    assert hubspot.api_requests == []


async def test_a_grant_the_provider_stops_honouring_mid_call_is_connected_again(connect, hubspot, web, browser, owner):
    async with connect("alice@example.com") as plain:
        await connected(plain, hubspot, browser)
    await owner.execute("UPDATE public.oauth_tokens SET expires_at = now() - interval '1 second'")
    hubspot.failures.append("invalid_grant")  # the refresh is refused: the install goes to error mid-call
    user = Person(web, hubspot)
    async with connect("alice@example.com", elicitation_callback=user) as alice:
        result = await alice.ok("integration_request", GET)
    assert result["status_code"] == 200 and len(user.pages) == 1


async def test_a_client_without_url_elicitation_gets_todays_links(connect, hubspot):
    async with connect("alice@example.com") as alice:  # declares no elicitation
        started = await alice.ok("install_integration", {"slug": "hubspot"})
        assert started["authorization_url"].startswith(hubspot.authorize_url + "?")
        assert "not connected yet" in await alice.error("integration_request", GET)
    async with connect("alice@example.com", mode="legacy") as alice:
        started = await alice.ok("install_integration", {"slug": "gong"})
        assert started["connect_url"].startswith("http://127.0.0.1:8765/connect/")


# --- 2025-11-25: elicitation/create, -32042 and notifications/elicitation/complete -----------------------------


class Completions:
    """The client's message handler: the notifications/elicitation/complete it received."""

    def __init__(self) -> None:
        self.ids: list[str] = []
        self.arrived = asyncio.Event()

    async def __call__(self, message: Any) -> None:
        if isinstance(message, ElicitCompleteNotification):
            self.ids.append(message.params.elicitation_id)
            self.arrived.set()


async def legacy_server_with_its_own_pages(demo_db, monkeypatch, mocked):
    """A stdio-style server whose loopback listener serves the connect pages and the callback itself."""
    mocked.route(host="127.0.0.1").pass_through()  # the browser reaches the listener over a real socket
    public = f"http://127.0.0.1:{free_port()}"
    monkeypatch.setenv("RENUBU_PUBLIC_URL", public)
    return build_server(
        settings_for(demo_db.app_dsn, "alice@example.com", public_url=public), oauth_callback_listener=True
    )


@pytest.mark.parametrize("slug", ["hubspot", "gong"])
async def test_2025_install_opens_the_page_and_the_client_hears_when_it_is_done(
    demo_db, hubspot, monkeypatch, mocked, slug
):
    server = await legacy_server_with_its_own_pages(demo_db, monkeypatch, mocked)
    completions = Completions()
    async with httpx.AsyncClient() as browser:
        user = Person(browser, hubspot, page="accept")
        async with Client(server, mode="legacy", elicitation_callback=user, message_handler=completions) as client:
            opened = await client.call_tool("install_integration", {"slug": slug})
            assert not opened.is_error, opened.content[0].text
            assert not {"connect_url", "authorization_url"} & set(opened.structured_content)
            assert opened.structured_content["status"] == "pending"
            (page,) = user.pages
            assert completions.ids == []
            landed = await finish_page(browser, page.url, hubspot)
            assert landed.status_code == 200, landed.text
            await asyncio.wait_for(completions.arrived.wait(), 10)
            assert completions.ids == [page.elicitation_id]
            mine = (await client.call_tool("list_my_integrations", {})).structured_content["installs"]
    assert [i["status"] for i in mine] == ["active"]


async def test_2025_integration_request_answers_url_elicitation_required_then_runs(
    demo_db, hubspot, monkeypatch, mocked
):
    server = await legacy_server_with_its_own_pages(demo_db, monkeypatch, mocked)
    completions = Completions()
    async with httpx.AsyncClient() as browser:
        user = Person(browser, hubspot)
        async with Client(server, mode="legacy", elicitation_callback=user, message_handler=completions) as client:
            with pytest.raises(MCPError) as refused:
                await client.call_tool("integration_request", GET)
            assert refused.value.error.code == URL_ELICITATION_REQUIRED
            (wanted,) = refused.value.error.data["elicitations"]
            assert wanted["mode"] == "url" and "/connect/" in wanted["url"] and wanted["elicitationId"]
            assert hubspot.api_requests == []
            await finish_page(browser, wanted["url"], hubspot)
            await asyncio.wait_for(completions.arrived.wait(), 10)
            assert completions.ids == [wanted["elicitationId"]]
            result = await client.call_tool("integration_request", GET)  # the client retries
    assert not result.is_error and result.structured_content["status_code"] == 200


async def test_2025_a_declined_page_withdraws_the_link(demo_db, hubspot, owner, monkeypatch, mocked):
    server = await legacy_server_with_its_own_pages(demo_db, monkeypatch, mocked)
    async with Client(server, mode="legacy", elicitation_callback=Person(page="decline")) as client:
        refused = await client.call_tool("install_integration", {"slug": "gong"})
    assert refused.is_error and "did not connect Gong" in refused.content[0].text
    assert await owner.fetchval(LIVE_LINKS) == 0
