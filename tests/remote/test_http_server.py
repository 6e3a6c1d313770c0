"""The remote server: a real uvicorn on a loopback port, driven by the SDK's HTTP client in both protocol eras."""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import replace

import httpx
import httpx2
import jwt
import pytest
import respx
import uvicorn
from cryptography.hazmat.primitives.asymmetric import rsa
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

from renubu_mcp.auth import TokenRules, mint_token, verify_token
from renubu_mcp.demo import ALICE, BOB
from renubu_mcp.http_app import build_http_app
from renubu_mcp.server import build_server
from tests.tools.conftest import settings_for

SECRET = "http-test-jwt-secret-0123456789abcdef01234567"
AUDIENCE = "renubu-mcp"
JWKS_URL = "https://auth.example.test/.well-known/jwks.json"
SIGNING_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
ACME, GLOBEX = "Acme Corp", "Globex"


def jwks_document() -> dict:
    public = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(SIGNING_KEY.public_key()))
    return {"keys": [{**public, "kid": "key-1", "alg": "RS256", "use": "sig"}]}


def rs256_token(user, kid="key-1", audience=AUDIENCE) -> str:
    now = int(time.time())
    claims = {"sub": str(user.id), "email": user.email, "aud": audience, "iat": now, "exp": now + 300}
    return jwt.encode(claims, SIGNING_KEY, algorithm="RS256", headers={"kid": kid})


def hs256_token(user, **changes) -> str:
    rules = TokenRules(changes.pop("secret", SECRET), audience=changes.pop("audience", AUDIENCE))
    return mint_token(rules, user.id, user.email, ttl_seconds=changes.pop("ttl", 300))


@pytest.fixture
async def live_server(demo_db, free_tcp_port):
    settings = replace(
        settings_for(demo_db.app_dsn, None),
        jwt_secret=SECRET,
        jwt_audience=AUDIENCE,
        jwks_url=JWKS_URL,
        port=free_tcp_port,
    )
    app = build_http_app(build_server(settings, transport="http"), settings)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=free_tcp_port, log_level="warning"))
    with respx.mock(assert_all_mocked=False, assert_all_called=False) as idp:
        jwks = idp.get(JWKS_URL).mock(return_value=httpx.Response(200, json=jwks_document()))
        idp.route(host="127.0.0.1").pass_through()
        task = asyncio.create_task(server.serve())
        while not server.started:
            await asyncio.sleep(0.02)
        yield f"http://127.0.0.1:{free_tcp_port}", jwks
        server.should_exit = True
        await task


async def customer_names(url: str, token: str, mode: str) -> set[str]:
    async with httpx2.AsyncClient(headers={"Authorization": f"Bearer {token}"}, timeout=30) as http:
        async with Client(streamable_http_client(f"{url}/mcp", http_client=http), mode=mode) as client:
            result = await client.call_tool("search_customers", {"limit": 100})
            assert not result.is_error, result.content[0].text
            return {c["name"] for c in result.structured_content["customers"]}


@pytest.mark.parametrize("mode", ["legacy", "auto"])  # the 2025-11-25 handshake and the 2026-07-28 era
async def test_alice_and_bob_each_see_their_own_book_over_http(live_server, mode):
    url, _ = live_server
    alice = await customer_names(url, hs256_token(ALICE), mode)
    bob = await customer_names(url, rs256_token(BOB), mode)
    assert ACME in alice and GLOBEX not in alice
    assert GLOBEX in bob and ACME not in bob
    assert "Initech" in alice & bob


@pytest.mark.parametrize(
    "case", ["none", "expired", "wrong signature", "wrong audience", "unknown key id", "unknown user", "not a jwt"]
)
async def test_a_missing_or_bad_token_gets_401_with_the_resource_metadata_and_touches_nothing(live_server, case):
    url, jwks = live_server
    stranger = replace(ALICE, id=ALICE.id.__class__("00000000-0000-4000-8000-0000000000ff"))
    token = {
        "none": None,
        "expired": hs256_token(ALICE, ttl=-120),
        "wrong signature": hs256_token(ALICE, secret="not-the-secret-0123456789abcdef0123456789"),
        "wrong audience": hs256_token(ALICE, audience="someone-else"),
        "unknown key id": rs256_token(ALICE, kid="key-2"),
        "unknown user": hs256_token(stranger),
        "not a jwt": "definitely-not-a-token",
    }[case]
    headers = {"content-type": "application/json", "accept": "application/json, text/event-stream"}
    if token:
        headers["authorization"] = f"Bearer {token}"
    body = {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "tools/call",
        "params": {"name": "update_customer", "arguments": {"customer_id": str(ALICE.id), "risk_score": 1}},
    }
    async with httpx2.AsyncClient() as http:
        response = await http.post(f"{url}/mcp", json=body, headers=headers)
        assert response.status_code == 401
        challenge = response.headers["www-authenticate"]
        assert challenge.startswith("Bearer") and "/.well-known/oauth-protected-resource/mcp" in challenge
        if token:
            assert token not in response.text
        metadata = (await http.get(f"{url}/.well-known/oauth-protected-resource/mcp")).json()
        assert metadata["resource"] == f"{url}/mcp"
    if case == "unknown key id":
        assert jwks.call_count == 1  # looked the kid up once, found nothing, refused


async def test_a_key_rotated_at_the_identity_provider_is_picked_up_by_refetching_the_jwks(live_server):
    url, jwks = live_server
    assert ACME in await customer_names(url, rs256_token(ALICE, kid="key-1"), "auto")
    rotated = jwks_document()
    rotated["keys"].append({**rotated["keys"][0], "kid": "key-2"})
    jwks.mock(return_value=httpx.Response(200, json=rotated))
    await asyncio.sleep(1.1)  # past the refetch rate limit
    assert ACME in await customer_names(url, rs256_token(ALICE, kid="key-2"), "auto")
    assert jwks.call_count == 2


async def test_the_health_check_reports_the_database_and_foreign_hosts_are_refused(live_server):
    url, _ = live_server
    async with httpx2.AsyncClient() as http:
        health = await http.get(f"{url}/healthz")
        assert health.status_code == 200 and health.json() == {"status": "ok", "database": "ok"}
        headers = {
            "authorization": f"Bearer {hs256_token(ALICE)}",
            "content-type": "application/json",
            "accept": "application/json, text/event-stream",
        }
        rebinding = await http.post(f"{url}/mcp", json={}, headers={**headers, "host": "evil.example"})
        assert rebinding.status_code == 421
        cross_site = await http.post(f"{url}/mcp", json={}, headers={**headers, "origin": "https://evil.example"})
        assert cross_site.status_code == 403


@pytest.mark.parametrize("builtin_auth_server", [True, False])
def test_the_embedded_welcome_prints_the_url_the_demo_password_a_token_per_demo_user_and_a_client_config(
    capsys, tmp_path, builtin_auth_server
):
    from renubu_mcp.cli import _print_local_welcome
    from renubu_mcp.config import Settings
    from renubu_mcp.demo import DEMO_USERS
    from renubu_mcp.embedded import EmbeddedCluster

    settings = Settings(data_dir=tmp_path, port=8123, builtin_auth_server=builtin_auth_server)
    _print_local_welcome(settings)
    out = capsys.readouterr().out
    assert "http://127.0.0.1:8123/mcp" in out
    secret = EmbeddedCluster(tmp_path).jwt_secret()  # the same secret the server verifies with
    lines = {line.split()[0]: line.split()[1] for line in out.splitlines() if line.startswith("  ") and "@" in line}
    assert set(lines) == {u.email for u in DEMO_USERS}
    for user in DEMO_USERS:
        assert verify_token(lines[user.email], TokenRules(secret))["sub"] == str(user.id)
    config = json.loads(out[out.index("{") :])
    entry = config["mcpServers"]["renubu"]
    assert entry["url"] == "http://127.0.0.1:8123/mcp"
    if builtin_auth_server:  # the client signs the user in: the password is the one the embedded seed uses
        assert f"with the password {EmbeddedCluster(tmp_path).demo_password()}" in out and "headers" not in entry
    else:
        assert "password" not in out and entry["headers"]["Authorization"].startswith("Bearer ")
