"""The marketplace: admins register, update and enable entries (RLS decides who is an admin); users browse."""

from __future__ import annotations

import json
import logging

import pytest

from renubu_mcp.oauth.vault import key_id

from .conftest import KEY, connected
from .fake_provider import CLIENT_ID

SECRET = "registry-client-secret-7f3a9c1e5b"


def entry(provider, **overrides) -> dict:
    return {
        "slug": "acme-crm",
        "name": "Acme CRM",
        "connection_type": "oauth2",
        "category": "crm",
        "description": "Accounts and deals from Acme CRM.",
        "authorization_url": provider.authorize_url,
        "token_url": provider.token_url,
        "revocation_url": provider.revoke_url,
        "default_scopes": ["read", "write"],
        "client_id": CLIENT_ID,
        "client_secret": provider.client_secret,
        "api_base_url": provider.api_base,
        **overrides,
    }


@pytest.mark.usefixtures("mocked")
async def test_an_admin_registers_and_enables_an_entry_and_a_user_connects_it(
    connect, provider, browser, owner, caplog
):
    caplog.set_level(logging.DEBUG)
    async with connect("admin@example.com") as admin, connect("alice@example.com") as alice:
        registered = await admin.ok("register_integration", entry(provider))
        assert registered["status"] == "disabled" and registered["has_client_secret"] is True
        assert "client_secret" not in registered and provider.client_secret not in json.dumps(registered)
        assert "no integration 'acme-crm'" in await alice.error("install_integration", {"slug": "acme-crm"})
        assert "acme-crm" not in json.dumps(await alice.ok("list_integrations"))

        enabled = await admin.ok("set_integration_status", {"slug": "acme-crm", "status": "enabled"})
        assert enabled["status"] == "enabled"
        seen = await alice.ok("get_integration", {"slug": "acme-crm"})
        assert seen["has_client_secret"] is True and provider.client_secret not in json.dumps(seen)
        await connected(alice, provider, browser, slug="acme-crm")
        assert (await alice.ok("integration_request", {"slug": "acme-crm", "method": "GET", "path": "deals"}))[
            "status_code"
        ] == 200

    row = await owner.fetchrow(
        "SELECT client_secret_encrypted, client_secret_key_id FROM public.mcp_integrations WHERE slug = 'acme-crm'"
    )
    assert provider.client_secret.encode() not in row["client_secret_encrypted"]
    assert row["client_secret_key_id"] == key_id(KEY)
    assert (
        await owner.fetchval(
            "SELECT extensions.pgp_sym_decrypt($1, $2, 'expect-cipher-algo=aes256')",
            row["client_secret_encrypted"],
            KEY,
        )
        == provider.client_secret
    )
    assert not any(provider.client_secret in r.getMessage() for r in caplog.records)


@pytest.mark.parametrize("who", ["alice@example.com", "pat@example.com"])
async def test_non_admins_cannot_register_update_or_enable_entries(connect, provider, owner, who):
    before = await owner.fetch("SELECT * FROM public.mcp_integrations ORDER BY id")
    async with connect(who) as user:
        assert "not permitted" in await user.error("register_integration", entry(provider))
        assert "only admins" in await user.error("update_integration", {"slug": "hubspot", "name": "Mine"})
        assert "only admins" in await user.error(
            "update_integration", {"slug": "hubspot", "client_secret": "attacker-secret"}
        )
        assert "only admins" in await user.error("set_integration_status", {"slug": "hubspot", "status": "disabled"})
        # A disabled entry is not even visible to them.
        assert "no integration" in await user.error(
            "set_integration_status", {"slug": "google-calendar", "status": "enabled"}
        )
    assert await owner.fetch("SELECT * FROM public.mcp_integrations ORDER BY id") == before


async def test_users_see_enabled_entries_and_admins_see_every_status(connect):
    async with connect("alice@example.com") as alice, connect("admin@example.com") as admin:
        mine = (await alice.ok("list_integrations", {"limit": 100}))["integrations"]
        everything = (await admin.ok("list_integrations", {"limit": 100}))["integrations"]
        assert {i["slug"] for i in mine} == {"hubspot", "salesforce", "gong", "intercom", "stripe-billing", "segment"}
        assert {i["status"] for i in mine} == {"enabled"}
        assert len(everything) == 9 and {i["status"] for i in everything} == {"enabled", "disabled", "deprecated"}
        first = await admin.ok("list_integrations", {"limit": 4})
        rest = await admin.ok("list_integrations", {"limit": 10, "cursor": first["next_cursor"]})
        assert [i["slug"] for i in first["integrations"] + rest["integrations"]] == [i["slug"] for i in everything]
        assert [i["slug"] for i in (await admin.ok("list_integrations", {"status": "deprecated"}))["integrations"]] == [
            "zendesk"
        ]
        assert [
            i["slug"] for i in (await alice.ok("list_integrations", {"connection_type": "webhook"}))["integrations"]
        ] == ["segment", "stripe-billing"]
        assert "no integration" in await alice.error("get_integration", {"slug": "google-calendar"})
        assert (await admin.ok("get_integration", {"slug": "google-calendar"}))["status"] == "disabled"


@pytest.mark.parametrize(
    ("change", "complaint"),
    [
        ({"authorization_url": None}, "needs authorization_url, token_url and client_id"),
        ({"token_url": "http://provider.example.com/token"}, "must use https"),
        ({"api_base_url": "https://user:pw@provider.test/api"}, "credentials"),
        ({"token_url": "https://provider.test/token?x=1"}, "query string"),
        ({"connection_type": "api_key"}, "only oauth2 integrations"),
        ({"default_scopes": ["has space"]}, "scope"),
        ({"client_secret": 12345}, "client_secret must be a non-blank string"),
        ({"client_secret": "x" * 501}, "at most 500"),
        ({"slug": "Not A Slug"}, "slug"),
    ],
)
async def test_register_checks_its_arguments(connect, provider, change, complaint):
    async with connect("admin@example.com") as admin:
        message = await admin.error("register_integration", entry(provider, **change))
    assert complaint in message
    assert provider.client_secret not in message and "x" * 20 not in message


async def test_a_duplicate_slug_is_a_conflict(connect, provider):
    async with connect("admin@example.com") as admin:
        assert "already exists" in await admin.error("register_integration", entry(provider, slug="hubspot"))


async def test_an_admin_updates_fields_replaces_and_clears_the_secret(connect, provider, owner, caplog):
    caplog.set_level(logging.DEBUG)
    async with connect("admin@example.com") as admin:
        assert (await admin.ok("get_integration", {"slug": "hubspot"}))["has_client_secret"] is False
        updated = await admin.ok(
            "update_integration",
            {
                "slug": "hubspot",
                "client_secret": SECRET,
                "default_scopes": ["oauth"],
                "issuer": "https://app.hubspot.com",
                "token_endpoint_auth_method": "client_secret_post",
            },
        )
        assert updated["has_client_secret"] is True and updated["default_scopes"] == ["oauth"]
        assert updated["issuer"] == "https://app.hubspot.com"
        assert updated["token_endpoint_auth_method"] == "client_secret_post"
        assert (
            await owner.fetchval(
                "SELECT public.decrypt_oauth_token(client_secret_encrypted, $1)"
                " FROM public.mcp_integrations WHERE slug = 'hubspot'",
                KEY,
            )
            == SECRET
        )
        assert "not both" in await admin.error(
            "update_integration", {"slug": "hubspot", "issuer": "https://x.test", "clear": ["issuer"]}
        )
        assert "at least one" in await admin.error("update_integration", {"slug": "hubspot"})
        cleared = await admin.ok("update_integration", {"slug": "hubspot", "clear": ["client_secret", "issuer"]})
        assert cleared["has_client_secret"] is False and "issuer" not in cleared
        assert "no integration" in await admin.error("update_integration", {"slug": "nope", "name": "x"})
        assert "revocation_url" not in await admin.ok(
            "update_integration", {"slug": "hubspot", "clear": ["revocation_url"]}
        )
    assert not any(SECRET in r.getMessage() for r in caplog.records)


async def test_registering_a_secret_needs_the_encryption_key(connect, provider):
    async with connect("admin@example.com", token_encryption_key=None) as admin:
        message = await admin.error("register_integration", entry(provider))
    assert "RENUBU_TOKEN_ENCRYPTION_KEY" in message
