"""Refreshing: exactly once under concurrency (two pools), rotation, invalid_grant, retries, the 401 path."""

from __future__ import annotations

import asyncio

import pytest

from renubu_mcp.errors import Unavailable
from renubu_mcp.oauth import ReauthorizationNeeded, get_access_token

from .conftest import KEY, PRINCIPALS, connected

pytestmark = pytest.mark.usefixtures("mocked")
ALICE = PRINCIPALS["alice@example.com"]


async def stored(owner) -> dict:
    row = await owner.fetchrow(
        "SELECT public.decrypt_oauth_token(t.access_token_encrypted, $1) AS access,"
        " public.decrypt_oauth_token(t.refresh_token_encrypted, $1) AS refresh, t.expires_at > now() AS fresh,"
        " ui.status, ui.last_error FROM public.oauth_tokens t JOIN public.user_integrations ui"
        " ON ui.id = t.user_integration_id",
        KEY,
    )
    return dict(row) if row else {}


async def expire(owner, when: str = "now() - interval '1 minute'") -> None:
    await owner.execute(f"UPDATE public.oauth_tokens SET expires_at = {when}, refreshed_at = now() - interval '1 hour'")


async def test_twenty_concurrent_callers_on_two_pools_cause_exactly_one_refresh(
    connect, hubspot, browser, owner, app_factory
):
    async with connect("alice@example.com") as alice:
        await connected(alice, hubspot, browser)
    await expire(owner)
    hubspot.token_delay = 0.3  # the refresh is slow: everyone else arrives while it is in flight
    pools = [await app_factory(max_size=10), await app_factory(max_size=10)]
    tokens = await asyncio.gather(*(get_access_token(pools[i % 2], ALICE, "hubspot") for i in range(20)))
    assert hubspot.calls["token:refresh_token"] == 1
    now = await stored(owner)
    assert set(tokens) == {now["access"]} and now["fresh"] and now["status"] == "active"
    assert now["refresh"] in hubspot.refresh_tokens and len(hubspot.refresh_tokens) == 1


async def test_a_rotated_refresh_token_replaces_the_old_one_and_an_unrotated_one_is_kept(
    connect, hubspot, browser, owner, app
):
    async with connect("alice@example.com") as alice:
        await connected(alice, hubspot, browser)
    first = await stored(owner)
    await expire(owner)
    await get_access_token(app, ALICE, "hubspot")
    second = await stored(owner)
    assert second["access"] != first["access"] and second["refresh"] != first["refresh"]
    assert first["refresh"] not in hubspot.refresh_tokens  # the provider would now treat it as stolen

    hubspot.rotate_refresh_tokens = False
    await expire(owner)
    await get_access_token(app, ALICE, "hubspot")
    third = await stored(owner)
    assert third["access"] != second["access"] and third["refresh"] == second["refresh"]


async def test_invalid_grant_marks_the_install_for_reauthorization(connect, hubspot, browser, owner, app):
    async with connect("alice@example.com") as alice:
        await connected(alice, hubspot, browser)
        await expire(owner)
        hubspot.failures.append("invalid_grant")
        with pytest.raises(ReauthorizationNeeded, match="connect again"):
            await get_access_token(app, ALICE, "hubspot")
        assert hubspot.calls["token:refresh_token"] == 1  # not retried
        mine = (await alice.ok("list_my_integrations"))["installs"][0]
        assert mine["status"] == "error" and "invalid_grant" in mine["last_error"]
        message = await alice.error("integration_request", {"slug": "hubspot", "method": "GET", "path": "x"})
        assert "needs to be connected again" in message
        # Connecting again brings it back.
        await connected(alice, hubspot, browser)
        assert (await alice.ok("list_my_integrations"))["installs"][0]["status"] == "active"


async def test_timeouts_and_5xx_are_retried_with_backoff_and_the_install_stays_active(
    connect, hubspot, browser, owner, app
):
    async with connect("alice@example.com") as alice:
        await connected(alice, hubspot, browser)
    await expire(owner)
    hubspot.failures += ["timeout", "500"]
    token = await get_access_token(app, ALICE, "hubspot")
    assert hubspot.calls["token:refresh_token"] == 3
    now = await stored(owner)
    assert token == now["access"] and now["fresh"] and now["status"] == "active" and now["last_error"] is None


async def test_a_provider_that_stays_down_leaves_the_install_active(connect, hubspot, browser, owner, app):
    async with connect("alice@example.com") as alice:
        await connected(alice, hubspot, browser)
    before = await stored(owner)

    # Due for refresh but not yet expired: the current token is still handed out.
    await expire(owner, "now() + interval '2 minutes'")
    hubspot.failures += ["500"] * 3
    assert await get_access_token(app, ALICE, "hubspot") == before["access"]
    now = await stored(owner)
    assert now["status"] == "active" and "HTTP 500" in now["last_error"] and now["refresh"] == before["refresh"]

    # Expired: the caller is told to try again; still active, nothing lost.
    await expire(owner)
    hubspot.failures += ["timeout"] * 3
    with pytest.raises(Unavailable, match="try again"):
        await get_access_token(app, ALICE, "hubspot")
    now = await stored(owner)
    assert now["status"] == "active" and now["refresh"] == before["refresh"]
    assert await get_access_token(app, ALICE, "hubspot") != before["access"]  # the provider is back
    assert (await stored(owner))["last_error"] is None


async def test_an_expired_token_without_a_refresh_token_needs_reauthorization(connect, hubspot, browser, owner, app):
    async with connect("alice@example.com") as alice:
        await connected(alice, hubspot, browser)
    await owner.execute("UPDATE public.oauth_tokens SET refresh_token_encrypted = NULL")
    await expire(owner)
    with pytest.raises(ReauthorizationNeeded):
        await get_access_token(app, ALICE, "hubspot")
    assert (await owner.fetchval("SELECT status FROM public.user_integrations")) == "error"
    assert hubspot.calls["token:refresh_token"] == 0


async def test_a_401_from_the_api_refreshes_once_and_retries(connect, hubspot, browser, owner):
    async with connect("alice@example.com") as alice:
        await connected(alice, hubspot, browser)
        hubspot.expire_all_access_tokens()  # the provider revoked it early; our expiry says it is fine
        result = await alice.ok("integration_request", {"slug": "hubspot", "method": "GET", "path": "x"})
        assert result["status_code"] == 200 and hubspot.calls["token:refresh_token"] == 1
        assert hubspot.calls["api"] == 2
        # A 401 that refreshing does not fix comes back as it is, after one retry.
        hubspot.expire_all_access_tokens()
        hubspot.unusable_tokens = True
        result = await alice.ok("integration_request", {"slug": "hubspot", "method": "GET", "path": "x"})
        assert result["status_code"] == 401 and hubspot.calls["api"] == 4
        assert hubspot.calls["token:refresh_token"] == 2


async def test_a_token_under_another_key_is_reported_not_decrypted_wrongly(connect, hubspot, browser, app_factory):
    async with connect("alice@example.com") as alice:
        await connected(alice, hubspot, browser)
    other = await app_factory(key="a-different-key-" + "0" * 32)
    with pytest.raises(Unavailable, match="different RENUBU_TOKEN_ENCRYPTION_KEY"):
        await get_access_token(other, ALICE, "hubspot")
    keyless = await app_factory(key=None)
    with pytest.raises(Unavailable, match="no RENUBU_TOKEN_ENCRYPTION_KEY"):
        await get_access_token(keyless, ALICE, "hubspot")


async def test_a_stored_token_that_is_not_aes256_is_refused(connect, hubspot, browser, owner, app):
    async with connect("alice@example.com") as alice:
        await connected(alice, hubspot, browser)
    # Someone with write access to the table swaps in an AES-128 ciphertext (pgcrypto's default cipher).
    await owner.execute(
        "UPDATE public.oauth_tokens SET access_token_encrypted = extensions.pgp_sym_encrypt('downgraded-token', $1)",
        KEY,
    )
    with pytest.raises(Unavailable, match="not AES-256"):
        await get_access_token(app, ALICE, "hubspot")
