"""GET /oauth/callback when something is wrong: a clear page, the reason recorded, nothing stored, nothing lost."""

from __future__ import annotations

import logging

import httpx
import pytest
from starlette.applications import Starlette

from renubu_mcp.web.oauth_callback import callback_routes

from .conftest import Browser, connected, state_of

pytestmark = pytest.mark.usefixtures("mocked")


async def install(owner) -> dict:
    return dict(
        await owner.fetchrow(
            "SELECT ui.status, ui.last_error, (SELECT count(*) FROM public.oauth_tokens) AS tokens"
            " FROM public.user_integrations ui JOIN public.mcp_integrations i ON i.id = ui.integration_id"
            " WHERE i.slug = 'hubspot' AND ui.user_id = '00000000-0000-4000-8000-000000000002'"
        )
    )


async def test_a_replayed_state_is_refused_and_changes_nothing(connect, hubspot, browser, owner):
    async with connect("alice@example.com") as alice:
        started = await alice.ok("install_integration", {"slug": "hubspot"})
        callback = hubspot.approve(started["authorization_url"])
        assert (await browser.land(callback)).status_code == 200
        before = await owner.fetchrow("SELECT access_token_encrypted, updated_at FROM public.oauth_tokens")
        replay = await browser.land(callback)
    assert replay.status_code == 400 and "already been used" in replay.text
    assert hubspot.calls["token:authorization_code"] == 1
    assert await owner.fetchrow("SELECT access_token_encrypted, updated_at FROM public.oauth_tokens") == before
    assert (await install(owner))["status"] == "active"


async def test_an_expired_state_is_refused_and_the_reason_recorded(connect, hubspot, browser, owner):
    async with connect("alice@example.com") as alice:
        started = await alice.ok("install_integration", {"slug": "hubspot"})
        await owner.execute(
            "UPDATE public.oauth_states SET created_at = now() - interval '11 minutes',"
            " expires_at = now() - interval '1 minute'"
        )
        callback = hubspot.approve(started["authorization_url"])
        page = await browser.land(callback)
        assert page.status_code == 400 and "expired" in page.text
        assert await install(owner) == {
            "status": "pending",
            "tokens": 0,
            "last_error": "the authorization link expired before use",
        }
        assert hubspot.calls["token:authorization_code"] == 0
        assert "already been used" in (await browser.land(callback)).text  # consumed all the same
        mine = (await alice.ok("list_my_integrations"))["installs"][0]
        assert mine["status"] == "pending" and "expired" in mine.get("last_error")


async def test_a_state_can_only_complete_the_install_it_was_made_for(connect, hubspot, browser, owner):
    async with connect("alice@example.com") as alice, connect("bob@example.com") as bob:
        alices = await alice.ok("install_integration", {"slug": "hubspot"})
        await bob.ok("install_integration", {"slug": "hubspot"})
        assert (await browser.land(hubspot.approve(alices["authorization_url"]))).status_code == 200
        assert [i["status"] for i in (await bob.ok("list_my_integrations"))["installs"]] == ["pending"]
        assert [i["status"] for i in (await alice.ok("list_my_integrations"))["installs"]] == ["active"]
    owners = await owner.fetch("SELECT user_id FROM public.oauth_tokens")
    assert [str(r["user_id"]) for r in owners] == ["00000000-0000-4000-8000-000000000002"]


async def test_a_stdio_server_refuses_another_users_state(connect, hubspot, app_factory, owner):
    bobs_server = Browser(await app_factory(stdio_user="bob@example.com"))
    async with connect("alice@example.com") as alice:
        started = await alice.ok("install_integration", {"slug": "hubspot"})
        page = await bobs_server.land(hubspot.approve(started["authorization_url"]))
    assert page.status_code == 400 and "different Renubu user" in page.text
    assert hubspot.calls["token:authorization_code"] == 0
    assert await install(owner) == {
        "status": "pending",
        "tokens": 0,
        "last_error": "an authorization response reached another user's server and was discarded",
    }


async def test_access_denied_at_the_provider_is_shown_and_recorded(connect, hubspot, browser, owner):
    async with connect("alice@example.com") as alice:
        started = await alice.ok("install_integration", {"slug": "hubspot"})
        page = await browser.land(hubspot.deny(started["authorization_url"]))
    assert page.status_code == 400 and "Access was declined at HubSpot" in page.text
    assert "The user said no" not in page.text  # provider text is not relayed
    assert await install(owner) == {
        "status": "pending",
        "tokens": 0,
        "last_error": "access was declined at the provider (access_denied)",
    }
    assert hubspot.calls["token:authorization_code"] == 0


@pytest.mark.parametrize(
    ("failure", "shown"),
    [
        ("garbage", "not a token"),
        ("500", "HubSpot answered HTTP 500"),
        ("invalid_grant", "invalid_grant"),
        ("not_bearer", "other than Bearer"),
        ("timeout", "did not answer in time"),
    ],
)
async def test_a_failed_code_exchange_stores_nothing_and_loses_nothing(
    connect, hubspot, browser, owner, caplog, failure, shown
):
    caplog.set_level(logging.DEBUG)
    async with connect("alice@example.com") as alice:
        await connected(alice, hubspot, browser)
        working = await owner.fetchrow("SELECT access_token_encrypted FROM public.oauth_tokens")
        again = await alice.ok("install_integration", {"slug": "hubspot"})
        hubspot.failures.append(failure)
        page = await browser.land(hubspot.approve(again["authorization_url"]))
        assert page.status_code == 400 and shown in page.text, page.text
        assert hubspot.calls["token:authorization_code"] == 2  # a code is never sent twice
        row = await install(owner)
        assert row["status"] == "active" and row["tokens"] == 1 and shown in row.get("last_error")
        assert await owner.fetchrow("SELECT access_token_encrypted FROM public.oauth_tokens") == working
        assert (await alice.ok("integration_request", {"slug": "hubspot", "method": "GET", "path": "x"}))[
            "status_code"
        ] == 200
    logged = "\n".join(r.getMessage() for r in caplog.records if "/oauth/callback?" not in r.getMessage())
    assert not any(secret in logged for secret in hubspot.secrets())


async def test_a_first_install_whose_exchange_fails_stays_pending_and_can_be_retried(connect, hubspot, browser, owner):
    async with connect("alice@example.com") as alice:
        started = await alice.ok("install_integration", {"slug": "hubspot"})
        hubspot.failures.append("garbage")
        assert (await browser.land(hubspot.approve(started["authorization_url"]))).status_code == 400
        assert (await install(owner))["status"] == "pending"
        await connected(alice, hubspot, browser)
    assert await install(owner) == {"status": "active", "tokens": 1, "last_error": None}


@pytest.mark.parametrize(
    "query",
    [
        "",
        "code=abc",
        "code=abc&state=not-a-state-we-made",
        "code=abc&state=" + "A" * 43,
        "error=access_denied",
    ],
)
async def test_responses_that_are_not_ours_are_refused_without_touching_anything(browser, hubspot, owner, query):
    page = await browser.land(query)
    assert page.status_code == 400 and "Not connected" in page.text
    assert hubspot.calls["token:authorization_code"] == 0


async def test_duplicated_parameters_and_head_requests_do_not_spend_the_state(connect, hubspot, browser, app, owner):
    async with connect("alice@example.com") as alice:
        started = await alice.ok("install_integration", {"slug": "hubspot"})
        callback = hubspot.approve(started["authorization_url"])
        state = state_of(started["authorization_url"])
        dup = await browser.land(f"code={callback['code']}&state={state}&state={state}")
        assert dup.status_code == 400 and "malformed" in dup.text
        transport = httpx.ASGITransport(app=Starlette(routes=callback_routes(lambda: app)))
        async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1:8765") as client:
            head = await client.head("/oauth/callback", params=callback)
        assert head.status_code == 405
        assert (await browser.land(callback)).status_code == 200


async def test_the_page_loads_nothing_leaks_no_referrer_and_escapes_what_it_shows(connect, hubspot, browser, owner):
    await owner.execute(
        "UPDATE public.mcp_integrations SET name = '<img src=x onerror=alert(1)>' WHERE slug = 'hubspot'"
    )
    async with connect("alice@example.com") as alice:
        page = await browser.land(
            hubspot.approve((await alice.ok("install_integration", {"slug": "hubspot"}))["authorization_url"])
        )
    assert page.status_code == 200
    assert page.headers["content-security-policy"].startswith("default-src 'none'; style-src 'unsafe-inline'")
    assert page.headers["referrer-policy"] == "no-referrer"
    assert page.headers["cache-control"] == "no-store"
    assert page.headers["x-content-type-options"] == "nosniff"
    assert page.headers["content-type"].startswith("text/html")
    assert "<img" not in page.text and "&lt;img src=x onerror=alert(1)&gt; is connected" in page.text
    for marker in ("<script", "<link", 'src="', "href=", "url(", "@import"):
        assert marker not in page.text
