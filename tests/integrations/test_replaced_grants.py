"""Two holes an independent review found: a replaced grant stayed live at the provider (RFC 7009), and a callback
without `iss` was accepted from an authorization server that identifies itself (RFC 9207 2.4)."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from renubu_mcp.oauth import rotation
from renubu_mcp.oauth.vault import Keyring
from renubu_mcp.web.oauth_callback import serve_callback_on_loopback

from .conftest import KEY, Browser, connected, point_at
from .fake_provider import FakeProvider
from .test_loopback import free_port, serve

ALICE_ID = "00000000-0000-4000-8000-000000000002"
PENDING = (
    "SELECT token_type_hint, token_encrypted, attempts FROM public.oauth_revocations ORDER BY token_type_hint DESC"
)


async def works(provider: FakeProvider, token: str) -> bool:
    """Whether the provider's API still answers this access token (asked as anyone holding it would)."""
    async with httpx.AsyncClient() as client:
        response = await client.get(f"{provider.api_base}/companies", headers={"Authorization": f"Bearer {token}"})
    return response.status_code == 200


def grant_of(provider: FakeProvider, first: int) -> tuple[str, str]:
    """(access token, refresh token) of the grant issued from `provider.issued[first:]`."""
    access = next(t for t in provider.issued[first:] if t.startswith("at-"))
    refresh = next(t for t in provider.issued[first:] if t.startswith("rt-"))
    return access, refresh


@pytest.mark.usefixtures("mocked")
async def test_reconnecting_revokes_the_replaced_grant_once_the_new_one_is_stored(
    connect, hubspot, browser, owner, mocked
):
    stored_at_revocation: list[bytes] = []
    revoke_route = mocked["revoke"]
    plain = revoke_route.side_effect

    async def revoke(request: httpx.Request) -> httpx.Response:
        stored_at_revocation.append(await owner.fetchval("SELECT access_token_encrypted FROM public.oauth_tokens"))
        return plain(request)

    revoke_route.side_effect = revoke
    async with connect("alice@example.com") as alice:
        await connected(alice, hubspot, browser)
        old_access, old_refresh = grant_of(hubspot, 0)
        before = await owner.fetchval("SELECT access_token_encrypted FROM public.oauth_tokens")
        mark = len(hubspot.issued)
        await connected(alice, hubspot, browser)
        new_access, _ = grant_of(hubspot, mark)
        result = await alice.ok("integration_request", {"slug": "hubspot", "method": "GET", "path": "companies"})
    assert result["status_code"] == 200
    assert hubspot.revoked == [(old_refresh, "refresh_token"), (old_access, "access_token")]
    assert old_access not in hubspot.access_tokens and old_refresh not in hubspot.refresh_tokens
    assert new_access in hubspot.access_tokens
    # Revoked only after the new grant was stored (and committed): never a moment without a working grant.
    assert stored_at_revocation and all(s != before for s in stored_at_revocation)
    assert await owner.fetchval("SELECT count(*) FROM public.oauth_revocations") == 0


@pytest.mark.usefixtures("mocked")
async def test_a_grant_the_provider_continues_is_not_revoked(connect, hubspot, browser, owner):
    """A re-authorization without a new refresh token continues the old grant: revoking it would end the new one."""
    async with connect("alice@example.com") as alice:
        await connected(alice, hubspot, browser)
        _, old_refresh = grant_of(hubspot, 0)
        hubspot.rotate_refresh_tokens = False
        original = hubspot._issue
        hubspot._issue = lambda scope, with_refresh: original(scope, with_refresh=False)  # no refresh token now
        await connected(alice, hubspot, browser)
        hubspot._issue = original
        await owner.execute("UPDATE public.oauth_tokens SET expires_at = now() - interval '1 second'")
        result = await alice.ok("integration_request", {"slug": "hubspot", "method": "GET", "path": "companies"})
    assert result["status_code"] == 200 and hubspot.calls["token:refresh_token"] == 1  # the kept refresh token
    assert hubspot.revoked == [] and old_refresh in hubspot.refresh_tokens


async def test_after_reconnect_and_uninstall_neither_grants_tokens_work_even_when_a_revocation_failed(
    connect, owner, app_factory
):
    """Over real sockets: the provider is down for revocations when the user reconnects; the replaced grant is
    kept (encrypted) and revoked by the uninstall."""
    provider = FakeProvider(base="http://placeholder")
    async with serve(provider.asgi_app()) as provider_url:
        provider.base = provider_url
        await point_at(owner, provider)
        browser = Browser(await app_factory())
        async with connect("alice@example.com") as alice:
            await connected(alice, provider, browser)
            first = grant_of(provider, 0)
            mark = len(provider.issued)
            provider.revocation_status = 503
            await connected(alice, provider, browser)
            second = grant_of(provider, mark)
            assert await works(provider, first[0]) and await works(provider, second[0])

            kept = await owner.fetch(PENDING)
            assert [r["token_type_hint"] for r in kept] == ["refresh_token", "access_token"]
            for row, token in zip(kept, (first[1], first[0]), strict=True):
                assert token.encode() not in row["token_encrypted"] and row["attempts"] >= 1
                # decrypt_oauth_token insists on AES-256 (tests/rls/test_policies_tokens.py)
                assert (
                    await owner.fetchval("SELECT public.decrypt_oauth_token($1, $2)", row["token_encrypted"], KEY)
                    == token
                )

            provider.revocation_status = 200
            done = await alice.ok("uninstall_integration", {"slug": "hubspot"})
        assert done["revoked_at_provider"] is True
        for access, refresh in (first, second):
            assert not await works(provider, access)
            assert refresh not in provider.refresh_tokens
        assert {t for t, _ in provider.revoked} >= {*first, *second}
    assert await owner.fetchval("SELECT count(*) FROM public.oauth_revocations") == 0
    assert await owner.fetchval("SELECT count(*) FROM public.oauth_tokens") == 0


async def test_the_browser_is_not_kept_waiting_for_the_revocation(connect, owner, app_factory):
    """The callback page is sent as soon as the new grant is stored; the replaced one is revoked afterwards."""
    provider = FakeProvider(base="http://placeholder", revocations_wait=asyncio.Event())
    async with serve(provider.asgi_app()) as provider_url:
        provider.base = provider_url
        await point_at(owner, provider)
        listener_app = await app_factory()
        port = free_port()
        async with (
            serve_callback_on_loopback(listener_app, "127.0.0.1", port) as callback,
            connect("alice@example.com") as alice,
            httpx.AsyncClient() as browser,
        ):
            for _ in range(2):
                started = await alice.ok("install_integration", {"slug": "hubspot"})
                page = await browser.get(
                    f"{callback}/oauth/callback", params=provider.approve(started["authorization_url"])
                )
                assert page.status_code == 200 and "HubSpot is connected" in page.text
            first = grant_of(provider, 0)
            assert provider.revoked == [] and await works(provider, first[0])  # the page came first
            provider.revocations_wait.set()
            for _ in range(200):
                if await owner.fetchval("SELECT count(*) FROM public.oauth_revocations") == 0:
                    break
                await asyncio.sleep(0.05)
            assert not await works(provider, first[0]) and first[1] not in provider.refresh_tokens


@pytest.mark.usefixtures("mocked")
async def test_a_kept_revocation_is_retried_at_the_next_connection(connect, hubspot, browser, owner):
    async with connect("alice@example.com") as alice:
        await connected(alice, hubspot, browser)
        first = grant_of(hubspot, 0)
        hubspot.revocation_status = 500
        await connected(alice, hubspot, browser)
        assert await owner.fetchval("SELECT count(*) FROM public.oauth_revocations") == 2
        hubspot.revocation_status = 200
        await connected(alice, hubspot, browser)
    assert await owner.fetchval("SELECT count(*) FROM public.oauth_revocations") == 0
    assert first[0] not in hubspot.access_tokens and first[1] not in hubspot.refresh_tokens


@pytest.mark.usefixtures("mocked")
async def test_uninstall_says_so_when_a_kept_revocation_still_fails(connect, hubspot, browser, owner):
    async with connect("alice@example.com") as alice:
        await connected(alice, hubspot, browser)
        hubspot.revocation_status = 503
        await connected(alice, hubspot, browser)
        done = await alice.ok("uninstall_integration", {"slug": "hubspot"})
    assert done["revoked_at_provider"] is False and "did not confirm" in done["message"]
    assert await owner.fetchval("SELECT count(*) FROM public.oauth_revocations") == 0  # the secrets still go


@pytest.mark.usefixtures("mocked")
async def test_rotation_moves_kept_revocations_to_the_new_key(connect, hubspot, browser, owner, demo_db):
    new_key = "rotated-key-" + "0d9e8c7b6a5f4e3d2c1b0a9f8e7d6c5b"
    async with connect("alice@example.com") as alice:
        await connected(alice, hubspot, browser)
        hubspot.revocation_status = 503
        await connected(alice, hubspot, browser)
    reports = {r.table: r for r in await rotation.rotate(demo_db.owner_dsn, Keyring(new_key, (KEY,)))}
    assert reports["oauth_revocations"].rotated == 2 and reports["oauth_revocations"].complete
    for value in [r[0] for r in await owner.fetch("SELECT token_encrypted FROM public.oauth_revocations")]:
        assert (await owner.fetchval("SELECT public.decrypt_oauth_token($1, $2)", value, new_key)).startswith(
            ("at-", "rt-")
        )


# --- RFC 9207: a server that identifies itself must do so in every response ----------------------------------


async def connection(owner) -> dict:
    return dict(
        await owner.fetchrow(
            "SELECT ui.status, t.access_token_encrypted, t.refresh_token_encrypted, t.updated_at"
            " FROM public.user_integrations ui JOIN public.oauth_tokens t ON t.user_integration_id = ui.id"
            " WHERE ui.user_id = $1",
            ALICE_ID,
        )
    )


@pytest.mark.usefixtures("mocked")
@pytest.mark.parametrize("how", ["configured issuer", "metadata"])
async def test_a_response_without_iss_is_refused_when_the_server_identifies_itself(connect, provider, owner, app, how):
    if how == "configured issuer":
        provider.issuer = provider.base
    else:
        provider.advertises_iss = True
    await point_at(owner, provider)
    browser = Browser(app)
    async with connect("alice@example.com") as alice:
        await connected(alice, provider, browser)  # the provider names itself: accepted
        before = await connection(owner)
        exchanges = provider.calls["token:authorization_code"]
        again = await alice.ok("install_integration", {"slug": "hubspot"})
        params = provider.approve(again["authorization_url"])
        del params["iss"]  # a response that does not say who sent it
        page = await browser.land(params)
        assert page.status_code == 400 and "did not say which server sent it" in page.text
        assert provider.calls["token:authorization_code"] == exchanges  # nothing exchanged
        assert await connection(owner) == before  # the existing connection untouched
        result = await alice.ok("integration_request", {"slug": "hubspot", "method": "GET", "path": "companies"})
        assert result["status_code"] == 200


@pytest.mark.usefixtures("mocked")
async def test_a_server_that_says_nothing_about_iss_is_judged_as_before(connect, hubspot, browser, owner):
    async with connect("alice@example.com") as alice:
        await connected(alice, hubspot, browser)  # no iss, no configured issuer, no metadata: accepted
    assert hubspot.calls["metadata"] >= 1
    assert (await connection(owner))["status"] == "active"
