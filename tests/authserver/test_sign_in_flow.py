"""An MCP client that follows the authorization spec signs its user in by itself: discovery, registration,
the sign-in page, the code exchange with PKCE, refresh, and revocation, against the real server."""

from __future__ import annotations

import jwt
import pytest

from .conftest import (
    JWT_SECRET,
    ScriptedBrowser,
    customer_names,
    mcp_as,
    oauth_client,
    register,
    status_with,
    token_request,
    tokens_for,
)

ACME, GLOBEX = "Acme Corp", "Globex"


@pytest.mark.parametrize("auth_method", [None, "none", "client_secret_basic"])  # None: the server's default
async def test_the_sdk_client_registers_signs_alice_in_and_lists_her_tools_and_customers(live, user_agent, auth_method):
    browser = ScriptedBrowser(user_agent)
    provider, storage = oauth_client(live, browser.redirect, browser.callback, auth_method=auth_method)
    async with mcp_as(live, auth=provider) as alice:
        tools = {tool.name for tool in (await alice.list_tools()).tools}
        assert {"search_customers", "get_customer"} <= tools
        names = await customer_names(alice)
    assert ACME in names and GLOBEX not in names
    assert len(browser.answers) == 1 and browser.answers[0]["iss"] == live.url
    claims = jwt.decode(storage.tokens.access_token, JWT_SECRET, algorithms=["HS256"], audience=live.resource)
    assert claims["iss"] == live.url and claims["email"] == "alice@example.com"
    assert claims["client_id"] == storage.client_info.client_id and storage.tokens.refresh_token
    secret = await live.owner.fetchval(
        "SELECT secret_sha256 FROM renubu_auth.clients WHERE client_id = $1", storage.client_info.client_id
    )
    assert (secret is None) == (auth_method == "none")


async def test_the_metadata_advertises_exactly_what_the_server_does(live):
    import httpx

    async with httpx.AsyncClient() as http:
        resource = (await http.get(f"{live.url}/.well-known/oauth-protected-resource/mcp")).json()
        answer = await http.get(f"{live.url}/.well-known/oauth-authorization-server")
    assert resource["authorization_servers"] == [live.url]
    assert answer.status_code == 200
    metadata = answer.json()
    assert metadata["issuer"] == live.url
    assert {
        k: metadata[k]
        for k in ("authorization_endpoint", "token_endpoint", "registration_endpoint", "revocation_endpoint")
    } == {
        "authorization_endpoint": f"{live.url}/authorize",
        "token_endpoint": f"{live.url}/token",
        "registration_endpoint": f"{live.url}/register",
        "revocation_endpoint": f"{live.url}/revoke",
    }
    assert metadata["code_challenge_methods_supported"] == ["S256"]
    assert metadata["response_types_supported"] == ["code"]
    assert sorted(metadata["grant_types_supported"]) == ["authorization_code", "refresh_token"]
    assert metadata["authorization_response_iss_parameter_supported"] is True
    assert metadata["client_id_metadata_document_supported"] is True


async def test_a_refresh_rotates_the_refresh_token_and_the_new_access_token_works(live, user_agent):
    client = await register(live)
    first = await tokens_for(live, user_agent, client)
    answer = await token_request(live, client, grant_type="refresh_token", refresh_token=first["refresh_token"])
    assert answer.status_code == 200, answer.text
    second = answer.json()
    assert second["refresh_token"] != first["refresh_token"] and second["access_token"] != first["access_token"]
    assert second["expires_in"] == live.settings.access_token_ttl_seconds
    async with mcp_as(live, token=second["access_token"]) as alice:
        assert ACME in await customer_names(alice)


async def test_nothing_secret_is_stored_as_given(live, user_agent):
    client = await register(live, token_endpoint_auth_method="client_secret_post")
    tokens = await tokens_for(live, user_agent, client)
    rows = [
        r
        for table in ("clients", "sign_ins", "codes", "grants", "refresh_tokens")
        for r in await live.owner.fetch(f"SELECT * FROM renubu_auth.{table}")
    ]
    dump = "\n".join(str(dict(r)) for r in rows)
    assert tokens["refresh_token"] not in dump and client.client_secret not in dump
    assert await live.owner.fetchval("SELECT count(*) FROM renubu_auth.refresh_tokens") == 1


async def test_the_request_roles_cannot_reach_the_authorization_servers_state(live):
    for role in ("anon", "authenticated"):
        can_use = await live.owner.fetchval("SELECT has_schema_privilege($1, 'renubu_auth', 'USAGE')", role)
        can_check = await live.owner.fetchval(
            "SELECT has_function_privilege($1, 'renubu_auth.check_password(text, text)', 'EXECUTE')", role
        )
        assert (can_use, can_check) == (False, False), role
    assert await live.owner.fetchval(
        "SELECT bool_and(relrowsecurity) FROM pg_class WHERE relnamespace = 'renubu_auth'::regnamespace"
        " AND relkind = 'r'"
    )


async def test_a_dev_token_without_an_audience_still_works_but_one_for_another_resource_does_not(live):
    from renubu_mcp.auth import TokenRules, mint_token
    from renubu_mcp.demo import ALICE

    assert await status_with(live, mint_token(TokenRules(JWT_SECRET), ALICE.id, ALICE.email)) == 200
    elsewhere = mint_token(TokenRules(JWT_SECRET, audience="https://other.example/mcp"), ALICE.id, ALICE.email)
    assert await status_with(live, elsewhere) == 401


async def test_an_external_authorization_server_turns_the_built_in_one_off(demo_db, free_tcp_port):
    import httpx
    from dataclasses import replace

    from tests.tools.conftest import settings_for

    from .conftest import serve

    settings = replace(
        settings_for(demo_db.app_dsn, None),
        port=free_tcp_port,
        jwt_secret=JWT_SECRET,
        auth_server_url="https://project.supabase.co/auth/v1",
    )
    async with serve(settings, free_tcp_port) as url:
        async with httpx.AsyncClient() as http:
            assert (await http.get(f"{url}/.well-known/oauth-authorization-server")).status_code == 404
            assert (await http.get(f"{url}/authorize")).status_code == 404
            resource = (await http.get(f"{url}/.well-known/oauth-protected-resource/mcp")).json()
    assert resource["authorization_servers"] == ["https://project.supabase.co/auth/v1"]


async def test_the_built_in_server_can_be_turned_off(demo_db, free_tcp_port):
    import httpx
    from dataclasses import replace

    from tests.tools.conftest import settings_for

    from .conftest import serve

    settings = replace(
        settings_for(demo_db.app_dsn, None), port=free_tcp_port, jwt_secret=JWT_SECRET, builtin_auth_server=False
    )
    async with serve(settings, free_tcp_port) as url:
        async with httpx.AsyncClient() as http:
            assert (await http.get(f"{url}/.well-known/oauth-authorization-server")).status_code == 404
            assert (await http.post(f"{url}/register", json={})).status_code == 404


def test_off_a_loopback_address_it_needs_an_https_public_url():
    from renubu_mcp.config import ConfigError, Settings
    from renubu_mcp.server import build_server

    with pytest.raises(ConfigError, match="RENUBU_PUBLIC_URL"):
        build_server(
            Settings(database_url="postgresql://x@/y", host="0.0.0.0", jwt_secret=JWT_SECRET), transport="http"
        )
    build_server(
        Settings(
            database_url="postgresql://x@/y",
            host="0.0.0.0",
            jwt_secret=JWT_SECRET,
            public_url="https://mcp.example.com",
        ),
        transport="http",
    )


async def test_the_token_lifetimes_come_from_the_settings(live, unused_tcp_port, user_agent):
    from dataclasses import replace

    from .conftest import Live, serve

    settings = replace(live.settings, port=unused_tcp_port, access_token_ttl_seconds=120, refresh_token_ttl_days=7)
    async with serve(settings, unused_tcp_port) as url:
        other = Live(url, live.owner, settings)
        tokens = await tokens_for(other, user_agent, await register(other))
    assert tokens["expires_in"] == 120
    claims = jwt.decode(tokens["access_token"], JWT_SECRET, algorithms=["HS256"], audience=other.resource)
    assert claims["exp"] - claims["iat"] == 120
    expires = await live.owner.fetchval("SELECT expires_at - created_at FROM renubu_auth.refresh_tokens")
    assert expires.days == 7


def test_without_a_signing_secret_there_is_no_sign_in_and_the_log_says_why(caplog):
    from renubu_mcp.config import Settings
    from renubu_mcp.http_app import build_http_app
    from renubu_mcp.server import build_server

    settings = Settings(database_url="postgresql://x@/y")
    app = build_http_app(build_server(settings, transport="http"), settings)
    assert "/authorize" not in {getattr(route, "path", None) for route in app.routes}
    assert "clients cannot sign in here" in caplog.text
