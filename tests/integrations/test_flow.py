"""The whole OAuth flow against a fake provider (respx): authorize URL, callback, exchange, vault, refresh, revoke."""

from __future__ import annotations

import json
import logging
from urllib.parse import parse_qs, urlsplit

import asyncpg
import pytest

from renubu_mcp.demo import ALICE
from renubu_mcp.oauth.vault import key_id

from .conftest import KEY, connected, state_of

pytestmark = pytest.mark.usefixtures("mocked")

BROWSER_REQUEST = "HTTP Request: GET http://127.0.0.1:8765/oauth/callback?"


async def test_install_returns_an_s256_authorization_url_with_a_fresh_single_use_state(connect, hubspot, owner):
    async with connect("alice@example.com") as alice:
        first = await alice.ok("install_integration", {"slug": "hubspot"})
        second = await alice.ok("install_integration", {"slug": "hubspot", "scopes": ["oauth"]})

    url = urlsplit(first["authorization_url"])
    q = {k: v[0] for k, v in parse_qs(url.query).items()}
    assert f"{url.scheme}://{url.netloc}{url.path}" == hubspot.authorize_url
    assert q["response_type"] == "code" and q["client_id"] == "renubu-test-client"
    assert q["code_challenge_method"] == "S256" and len(q["code_challenge"]) == 43
    assert q["redirect_uri"] == "http://127.0.0.1:8765/oauth/callback" == first["redirect_uri"]
    assert (
        q["scope"].split()
        == first["scopes"]
        == ["oauth", "crm.objects.companies.read", "crm.objects.contacts.read", "crm.objects.deals.read"]
    )
    assert first["status"] == "pending" and second["install_id"] == first["install_id"]
    assert second["scopes"] == ["oauth"]
    # A fresh state and verifier each time; only the state's hash is stored, the verifier encrypted.
    assert state_of(first["authorization_url"]) != state_of(second["authorization_url"])
    assert parse_qs(urlsplit(second["authorization_url"]).query)["code_challenge"][0] != q["code_challenge"]
    rows = await owner.fetch(
        "SELECT state_hash, code_verifier_encrypted, encryption_key_id, expires_at - created_at"
        " AS ttl, user_id FROM public.oauth_states ORDER BY created_at"
    )
    assert len(rows) == 2 and {r["user_id"] for r in rows} == {ALICE.id}
    for row, started in zip(rows, (first, second)):
        assert state_of(started["authorization_url"]) not in row["state_hash"]
        assert row["encryption_key_id"] == key_id(KEY) and row["ttl"].total_seconds() == 600
        packet = row["code_verifier_encrypted"]
        assert (packet[0], packet[2], packet[3]) == (0xC3, 4, 9)  # PGP symmetric-key session packet: AES-256


async def test_the_whole_flow_stores_encrypted_tokens_refreshes_and_revokes(connect, hubspot, browser, owner, caplog):
    caplog.set_level(logging.DEBUG)
    results = []
    async with connect("alice@example.com") as alice:
        started = await alice.ok("install_integration", {"slug": "hubspot"})
        results.append(started)
        callback = hubspot.approve(started["authorization_url"])
        page = await browser.land(callback)
        assert page.status_code == 200 and "HubSpot is connected" in page.text
        assert page.headers["referrer-policy"] == "no-referrer" and page.headers["cache-control"] == "no-store"

        # The code exchange sent the verifier whose S256 was in the authorization URL.
        assert hubspot.calls["token:authorization_code"] == 1 and len(hubspot.verifiers_seen) == 1
        mine = (await alice.ok("list_my_integrations"))["installs"]
        results.append(mine)
        assert [(i["slug"], i["status"], i.get("last_error"), i.get("can_refresh", False)) for i in mine] == [
            ("hubspot", "active", None, True)
        ]
        assert mine[0]["installed_at"] and mine[0]["token_expires_at"]

        # Stored encrypted: no plaintext in the row, AES-256 only, and only with the key.
        access, refresh = [t for t in hubspot.issued if t.startswith(("at-", "rt-"))]
        row = await owner.fetchrow("SELECT * FROM public.oauth_tokens")
        for column, plain in (("access_token_encrypted", access), ("refresh_token_encrypted", refresh)):
            ciphertext = row[column]
            assert plain.encode() not in ciphertext and plain[3:11].encode() not in ciphertext
            assert (ciphertext[0], ciphertext[2], ciphertext[3]) == (0xC3, 4, 9)  # session-key packet: AES-256
            assert (
                await owner.fetchval(
                    "SELECT extensions.pgp_sym_decrypt($1, $2, 'expect-cipher-algo=aes256')", ciphertext, KEY
                )
                == plain
            )
            with pytest.raises(asyncpg.PostgresError, match="Wrong key"):
                await owner.fetchval("SELECT public.decrypt_oauth_token($1, $2)", ciphertext, KEY + "x")
        assert row["encryption_key_id"] == key_id(KEY) and row["user_id"] == ALICE.id
        assert await owner.fetchval("SELECT count(*) FROM public.oauth_states") == 0

        # An API call uses the token; then the token nears expiry and the next call refreshes it first.
        called = await alice.ok(
            "integration_request",
            {"slug": "hubspot", "method": "GET", "path": "crm/v3/objects/companies", "query": {"limit": 5}},
        )
        results.append(called)
        assert called["status_code"] == 200 and "Acme from the provider" in called["body"]
        assert hubspot.api_requests[-1]["path"] == "/api/v3/crm/v3/objects/companies"
        assert hubspot.api_requests[-1]["query"] == "limit=5"
        await owner.execute(
            "UPDATE public.oauth_tokens SET expires_at = now() + interval '4 minutes',"
            " refreshed_at = now() - interval '56 minutes'"
        )  # an hour's token, 4 minutes left
        results.append(await alice.ok("integration_request", {"slug": "hubspot", "method": "GET", "path": "x"}))
        assert hubspot.calls["token:refresh_token"] == 1
        new_refresh = await owner.fetchval(
            "SELECT public.decrypt_oauth_token(refresh_token_encrypted, $1) FROM public.oauth_tokens", KEY
        )
        assert new_refresh != refresh and new_refresh in hubspot.refresh_tokens  # rotated, replaced

        done = await alice.ok("uninstall_integration", {"slug": "hubspot"})
        results.append(done)
        assert done["revoked_at_provider"] is True and done["status"] == "revoked"
        assert [hint for _, hint in hubspot.revoked] == ["refresh_token", "access_token"]
        assert hubspot.revoked[0][0] == new_refresh
        assert await owner.fetchval("SELECT count(*) FROM public.oauth_tokens") == 0
        mine = (await alice.ok("list_my_integrations"))["installs"]
        results.append(mine)
        assert [(i["status"], i.get("scopes", []), i.get("can_refresh", False)) for i in mine] == [
            ("revoked", [], False)
        ]
        message = await alice.error("integration_request", {"slug": "hubspot", "method": "GET", "path": "x"})
        assert "uninstalled" in message

    secrets = hubspot.secrets() + [KEY]
    assert len(secrets) >= 7
    text = json.dumps(results[1:], default=str) + json.dumps(
        {k: v for k, v in started.items() if k != "authorization_url"}, default=str
    )
    logged = "\n".join(
        r.getMessage() + (r.exc_text or "") for r in caplog.records if not r.getMessage().startswith(BROWSER_REQUEST)
    )  # the test's browser, not the server
    for secret in secrets + [callback["code"], state_of(started["authorization_url"])]:
        assert secret not in text, "a secret appeared in a tool result"
        assert secret not in logged, "a secret appeared in a log line"
    assert any("integration hubspot connected" in r.getMessage() for r in caplog.records)


async def test_client_secret_post_and_public_clients_authenticate_as_configured(connect, provider, browser, owner):
    from .conftest import point_at

    await point_at(owner, provider, auth_method="client_secret_post")
    async with connect("alice@example.com") as alice:
        await connected(alice, provider, browser)
    assert provider.calls["token:authorization_code"] == 1
    assert (await owner.fetchval("SELECT status FROM public.user_integrations")) == "active"


async def test_reauthorizing_an_active_install_keeps_it_working_until_the_new_grant_arrives(
    connect, hubspot, browser, owner
):
    async with connect("alice@example.com") as alice:
        await connected(alice, hubspot, browser)
        again = await alice.ok("install_integration", {"slug": "hubspot", "scopes": ["oauth"]})
        assert again["status"] == "active"
        assert (await alice.ok("integration_request", {"slug": "hubspot", "method": "GET", "path": "x"}))[
            "status_code"
        ] == 200
        page = await browser.land(hubspot.deny(again["authorization_url"]))
        assert page.status_code == 400
        mine = (await alice.ok("list_my_integrations"))["installs"][0]
        assert mine["status"] == "active" and "declined" in mine.get("last_error")
        assert (await alice.ok("integration_request", {"slug": "hubspot", "method": "GET", "path": "x"}))[
            "status_code"
        ] == 200
        third = await alice.ok("install_integration", {"slug": "hubspot", "scopes": ["oauth"]})
        assert (await browser.land(hubspot.approve(third["authorization_url"]))).status_code == 200
        mine = (await alice.ok("list_my_integrations"))["installs"][0]
        assert mine["scopes"] == ["oauth"] and mine.get("last_error") is None


async def test_a_provider_that_sends_iss_must_name_the_expected_issuer(connect, hubspot, browser, owner):
    async with connect("alice@example.com") as alice:
        started = await alice.ok("install_integration", {"slug": "hubspot"})
        page = await browser.land(hubspot.approve(started["authorization_url"], iss="https://evil.test"))
        assert page.status_code == 400 and "unexpected issuer" in page.text
        assert hubspot.calls["token:authorization_code"] == 0
        again = await alice.ok("install_integration", {"slug": "hubspot"})
        # Without a configured issuer, the authorization endpoint's origin is the issuer.
        page = await browser.land(hubspot.approve(again["authorization_url"], iss=hubspot.base))
        assert page.status_code == 200, page.text


async def test_install_refuses_what_cannot_be_installed(connect, hubspot):
    async with connect("alice@example.com") as alice:
        assert "not offered" in await alice.error("install_integration", {"slug": "hubspot", "scopes": ["admin"]})
        assert "OAuth integrations only" in await alice.error("install_integration", {"slug": "gong", "scopes": ["x"]})
        assert "no integration 'google-calendar'" in await alice.error(
            "install_integration", {"slug": "google-calendar"}
        )  # disabled: not even visible to alice
        assert "no integration" in await alice.error("install_integration", {"slug": "nope"})
    async with connect("admin@example.com") as admin:
        assert "disabled" in await admin.error("install_integration", {"slug": "google-calendar"})
        assert "deprecated" in await admin.error("install_integration", {"slug": "zendesk"})


async def test_server_code_gets_a_token_through_the_one_function(connect, hubspot, browser, app):
    from renubu_mcp.oauth import get_access_token

    from .conftest import PRINCIPALS

    async with connect("alice@example.com") as alice:
        started = await connected(alice, hubspot, browser)
    by_slug = await get_access_token(app, PRINCIPALS["alice@example.com"], "hubspot")
    by_id = await get_access_token(app, PRINCIPALS["alice@example.com"], started["install_id"])
    assert by_slug == by_id and by_slug in hubspot.access_tokens


async def test_uninstall_destroys_secrets_it_cannot_decrypt(connect, hubspot, browser, owner):
    async with connect("alice@example.com") as alice:
        await connected(alice, hubspot, browser)
        await owner.execute("UPDATE public.oauth_tokens SET access_token_encrypted = '\\xdeadbeef'")
        done = await alice.ok("uninstall_integration", {"slug": "hubspot"})
    assert done["revoked_at_provider"] is False and "did not confirm" in done["message"]
    assert await owner.fetchval("SELECT count(*) FROM public.oauth_tokens") == 0
    assert hubspot.calls["revoke"] == 0
