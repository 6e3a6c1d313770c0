"""The built-in authorization server on a real uvicorn, driven by the SDK's OAuth client and a scripted user agent.

live             the HTTP app on a loopback port, on this test's own demo database, the demo users' password
                 set to PASSWORD; live.url, live.owner (asyncpg as the schema owner), live.settings
user_agent       signs in on the page like a browser would (cookies, the form's hidden fields), with httpx
oauth_client(..) the SDK's OAuthClientProvider with in-memory storage, its browser steps done by a user agent
mcp_as(..)       an MCP client session over streamable HTTP with a bearer token or an OAuth provider
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import html
import re
import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field, replace
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import asyncpg
import httpx
import httpx2
import pytest
import uvicorn
from mcp import Client
from mcp.client.auth import AuthorizationCodeResult, OAuthClientProvider
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.auth import OAuthClientInformationFull, OAuthClientMetadata, OAuthToken
from pydantic import AnyUrl

from renubu_mcp.demo import DEMO_USERS
from renubu_mcp.http_app import build_http_app
from renubu_mcp.server import build_server
from tests.tools.conftest import settings_for

PASSWORD = "correct horse battery staple"
JWT_SECRET = "authserver-test-jwt-secret-0123456789abcdef01"
CALLBACK = "http://127.0.0.1:53682/callback"  # nothing listens: the user agent reads the redirect itself


@dataclass
class Live:
    url: str
    owner: asyncpg.Connection
    settings: Any

    @property
    def resource(self) -> str:
        return f"{self.url}/mcp"


@asynccontextmanager
async def serve(settings, port: int) -> AsyncIterator[str]:
    app = build_http_app(build_server(settings, transport="http"), settings)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()
        await asyncio.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task


async def give_demo_users_the_password(owner: asyncpg.Connection) -> None:
    for user in DEMO_USERS:
        assert await owner.fetchval("SELECT renubu_auth.set_password($1, $2)", user.email, PASSWORD) == user.id


@pytest.fixture
async def live(demo_db, free_tcp_port) -> AsyncIterator[Live]:
    settings = replace(settings_for(demo_db.app_dsn, None), port=free_tcp_port, jwt_secret=JWT_SECRET)
    owner = await asyncpg.connect(demo_db.owner_dsn)
    await give_demo_users_the_password(owner)
    try:
        async with serve(settings, free_tcp_port) as url:
            yield Live(url, owner, settings)
    finally:
        await owner.close()


# --- the user agent -------------------------------------------------------------------------------------------


def hidden_fields(page: str) -> dict[str, str]:
    return {
        m.group(1): html.unescape(m.group(2))
        for m in re.finditer(r'<input type="hidden" name="([a-z]+)" value="([^"]*)">', page)
    }


def query_of(location: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}


@dataclass
class SignInPage:
    response: httpx.Response
    http: httpx.AsyncClient

    @property
    def text(self) -> str:
        return self.response.text

    async def submit(
        self, email: str = "alice@example.com", password: str = PASSWORD, decision: str = "allow", **changes: str
    ) -> httpx.Response:
        fields = {**hidden_fields(self.text), "email": email, "password": password, "decision": decision, **changes}
        base = str(self.response.url).split("/authorize")[0]
        return await self.http.post(f"{base}/authorize/sign-in", data=fields)


class UserAgent:
    """A browser, as far as the sign-in page can tell: keeps cookies, sends the form, does not follow redirects."""

    def __init__(self) -> None:
        self.http = httpx.AsyncClient(timeout=30, follow_redirects=False)

    async def open(self, authorize_url: str) -> SignInPage:
        return SignInPage(await self.http.get(authorize_url), self.http)

    async def sign_in(
        self, authorize_url: str, email: str = "alice@example.com", password: str = PASSWORD, decision: str = "allow"
    ) -> dict[str, str]:
        """The query the browser is sent back with (code, state, iss, or an error)."""
        page = await self.open(authorize_url)
        assert page.response.status_code == 200, page.text
        answer = await page.submit(email, password, decision)
        assert answer.status_code == 303, answer.text
        return query_of(answer.headers["location"])

    async def aclose(self) -> None:
        await self.http.aclose()


@pytest.fixture
async def user_agent() -> AsyncIterator[UserAgent]:
    agent = UserAgent()
    yield agent
    await agent.aclose()


# --- the SDK's OAuth client -------------------------------------------------------------------------------------


@dataclass
class MemoryStorage:
    tokens: OAuthToken | None = None
    client_info: OAuthClientInformationFull | None = None

    async def get_tokens(self) -> OAuthToken | None:
        return self.tokens

    async def set_tokens(self, tokens: OAuthToken) -> None:
        self.tokens = tokens

    async def get_client_info(self) -> OAuthClientInformationFull | None:
        return self.client_info

    async def set_client_info(self, client_info: OAuthClientInformationFull) -> None:
        self.client_info = client_info


@dataclass
class ScriptedBrowser:
    """The OAuth client's redirect and callback handlers: sign in with the user agent, hand back the answer."""

    agent: UserAgent
    email: str = "alice@example.com"
    password: str = PASSWORD
    answers: list[dict[str, str]] = field(default_factory=list)

    async def redirect(self, authorization_url: str) -> None:
        self.answers.append(await self.agent.sign_in(authorization_url, self.email, self.password))

    async def callback(self) -> AuthorizationCodeResult:
        answer = self.answers[-1]
        return AuthorizationCodeResult(code=answer["code"], state=answer.get("state"), iss=answer.get("iss"))


def client_metadata(auth_method: str | None = None, redirect: str = CALLBACK, name: str = "Test client"):
    return OAuthClientMetadata(
        client_name=name,
        redirect_uris=[AnyUrl(redirect)],
        grant_types=["authorization_code", "refresh_token"],
        response_types=["code"],
        token_endpoint_auth_method=auth_method,
    )


def oauth_client(
    live: Live, redirect, callback, *, auth_method: str | None = None, storage: MemoryStorage | None = None
) -> tuple[OAuthClientProvider, MemoryStorage]:
    storage = storage or MemoryStorage()
    provider = OAuthClientProvider(
        live.resource, client_metadata(auth_method), storage, redirect_handler=redirect, callback_handler=callback
    )
    return provider, storage


@asynccontextmanager
async def mcp_as(live: Live, *, token: str | None = None, auth: Any = None) -> AsyncIterator[Client]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    async with httpx2.AsyncClient(headers=headers, auth=auth, timeout=60) as http:
        async with Client(streamable_http_client(live.resource, http_client=http)) as client:
            yield client


async def customer_names(client: Client) -> set[str]:
    result = await client.call_tool("search_customers", {"limit": 100})
    assert not result.is_error, result.content[0].text
    return {c["name"] for c in result.structured_content["customers"]}


async def status_with(live: Live, token: str) -> int:
    """What /mcp answers a bearer token (401 when refused)."""
    body = {"jsonrpc": "2.0", "id": 1, "method": "tools/list", "params": {}}
    headers = {
        "authorization": f"Bearer {token}",
        "content-type": "application/json",
        "accept": "application/json, text/event-stream",
        "mcp-protocol-version": "2025-11-25",
    }
    async with httpx.AsyncClient() as http:
        return (await http.post(live.resource, json=body, headers=headers)).status_code


# --- doing the protocol by hand ---------------------------------------------------------------------------------


def pkce() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).decode().rstrip("=")
    return verifier, challenge


@dataclass
class Registered:
    client_id: str
    client_secret: str | None
    redirect_uri: str

    def credentials(self) -> dict[str, str]:
        return {"client_id": self.client_id, **({"client_secret": self.client_secret} if self.client_secret else {})}


async def register(live: Live, redirect_uris: list[str] | None = None, **metadata: Any) -> Registered:
    uris = redirect_uris or [CALLBACK]
    async with httpx.AsyncClient() as http:
        answer = await http.post(
            f"{live.url}/register", json={"redirect_uris": uris, "client_name": "Hand client", **metadata}
        )
    assert answer.status_code == 201, answer.text
    body = answer.json()
    return Registered(body["client_id"], body.get("client_secret"), uris[0])


def authorize_url(
    live: Live, client: Registered, challenge: str, *, redirect_uri: str | None = None, **extra: str
) -> str:
    params = {
        "response_type": "code",
        "client_id": client.client_id,
        "redirect_uri": redirect_uri or client.redirect_uri,
        "code_challenge": challenge,
        "code_challenge_method": "S256",
        "state": "state-" + secrets.token_hex(4),
        "resource": live.resource,
        **extra,
    }
    return f"{live.url}/authorize?{urlencode({k: v for k, v in params.items() if v is not None})}"


async def token_request(live: Live, client: Registered, **form: str) -> httpx.Response:
    async with httpx.AsyncClient() as http:
        return await http.post(f"{live.url}/token", data={**client.credentials(), **form})


async def code_for(
    live: Live, agent: UserAgent, client: Registered, challenge: str, email: str = "alice@example.com", **extra: str
) -> str:
    answer = await agent.sign_in(authorize_url(live, client, challenge, **extra), email)
    assert answer["iss"] == live.url and "code" in answer, answer
    return answer["code"]


async def tokens_for(live: Live, agent: UserAgent, client: Registered, email: str = "alice@example.com") -> dict:
    verifier, challenge = pkce()
    code = await code_for(live, agent, client, challenge, email)
    answer = await token_request(
        live,
        client,
        grant_type="authorization_code",
        code=code,
        redirect_uri=client.redirect_uri,
        code_verifier=verifier,
        resource=live.resource,
    )
    assert answer.status_code == 200, answer.text
    return answer.json()
