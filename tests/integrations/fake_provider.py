"""A fake OAuth provider: authorize (approval simulated), token (code + refresh, PKCE checked), revoke, an API.

One implementation, two ways in: `mount(router)` serves it through respx (no sockets), `asgi_app()` as a
Starlette app that a test runs under uvicorn on a loopback port. Every secret it hands out is random, so tests
can search logs and results for them.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import secrets
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

CLIENT_ID = "renubu-test-client"


def s256(verifier: str) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).decode().rstrip("=")


@dataclass
class PendingCode:
    client_id: str
    redirect_uri: str
    challenge: str
    scope: str


@dataclass
class FakeProvider:
    base: str = "https://provider.test"
    client_secret: str = field(default_factory=lambda: "cs-" + secrets.token_hex(12))
    issuer: str | None = None
    rotate_refresh_tokens: bool = True
    expires_in: int | None = 3600
    token_delay: float = 0.0
    # Canned answers for the next token requests: "garbage", "invalid_grant", "500", "timeout", "not_bearer".
    failures: list[str] = field(default_factory=list)
    revocation_status: int = 200
    # Issue access tokens the API then refuses (a provider whose refreshes do not help).
    unusable_tokens: bool = False
    # Its RFC 8414 metadata says it puts `iss` in every authorization response (RFC 9207); otherwise it has none.
    advertises_iss: bool = False
    # Served over HTTP: revocation requests wait for this (a slow provider), when set.
    revocations_wait: asyncio.Event | None = None

    calls: Counter = field(default_factory=Counter)
    codes: dict[str, PendingCode] = field(default_factory=dict)
    access_tokens: dict[str, float] = field(default_factory=dict)  # token -> expiry (epoch seconds)
    refresh_tokens: set[str] = field(default_factory=set)
    revoked: list[tuple[str, str]] = field(default_factory=list)  # (token, hint)
    verifiers_seen: list[str] = field(default_factory=list)
    issued: list[str] = field(default_factory=list)  # every secret handed out, for leak checks
    api_requests: list[dict[str, Any]] = field(default_factory=list)

    @property
    def authorize_url(self) -> str:
        return self.base + "/oauth/authorize"

    @property
    def token_url(self) -> str:
        return self.base + "/oauth/token"

    @property
    def revoke_url(self) -> str:
        return self.base + "/oauth/revoke"

    @property
    def api_base(self) -> str:
        return self.base + "/api/v3"

    def secrets(self) -> list[str]:
        return [self.client_secret, *self.issued, *self.verifiers_seen]

    # --- the user at the consent screen --------------------------------------------------------------------

    def approve(self, authorization_url: str, *, iss: str | None = None) -> dict[str, str]:
        """The user says yes: the query the provider redirects back with."""
        q = {k: v[0] for k, v in parse_qs(urlsplit(authorization_url).query).items()}
        assert authorization_url.startswith(self.authorize_url + "?"), authorization_url
        assert q["response_type"] == "code" and q["client_id"] == CLIENT_ID
        assert q["code_challenge_method"] == "S256" and len(q["code_challenge"]) == 43
        code = "code-" + secrets.token_urlsafe(16)
        self.issued.append(code)
        self.codes[code] = PendingCode(CLIENT_ID, q["redirect_uri"], q["code_challenge"], q.get("scope", ""))
        params = {"code": code, "state": q["state"]}
        if iss or self.issuer or self.advertises_iss:
            params["iss"] = iss or self.issuer or self.base
        return params

    def deny(self, authorization_url: str) -> dict[str, str]:
        q = {k: v[0] for k, v in parse_qs(urlsplit(authorization_url).query).items()}
        return {"error": "access_denied", "error_description": "The user said no", "state": q["state"]}

    def expire_all_access_tokens(self) -> None:
        for token in self.access_tokens:
            self.access_tokens[token] = 0

    # --- endpoints -----------------------------------------------------------------------------------------

    async def token(self, form: dict[str, str], authorization: str | None) -> tuple[int, Any]:
        grant = form.get("grant_type", "?")
        self.calls[f"token:{grant}"] += 1
        if self.token_delay:
            await asyncio.sleep(self.token_delay)
        if self.failures:
            failure = self.failures.pop(0)
            if failure == "timeout":
                raise httpx.ReadTimeout("fake timeout")
            if failure == "garbage":
                return 200, "<html>Service temporarily unavailable, here is a cat</html>"
            if failure == "500":
                return 500, {"error": "server_error"}
            if failure == "invalid_grant":
                return 400, {"error": "invalid_grant", "error_description": "Token has been revoked"}
            if failure == "not_bearer":
                return 200, {"access_token": "mac-token", "token_type": "mac"}
        if not self._client_ok(form, authorization):
            return 401, {"error": "invalid_client"}
        if grant == "authorization_code":
            pending = self.codes.pop(form.get("code", ""), None)
            if pending is None:
                return 400, {"error": "invalid_grant", "error_description": "unknown or used code"}
            verifier = form.get("code_verifier", "")
            self.verifiers_seen.append(verifier)
            if s256(verifier) != pending.challenge:
                return 400, {"error": "invalid_grant", "error_description": "PKCE verification failed"}
            if form.get("redirect_uri") != pending.redirect_uri:
                return 400, {"error": "invalid_grant", "error_description": "redirect_uri mismatch"}
            return 200, self._issue(pending.scope, with_refresh=True)
        if grant == "refresh_token":
            presented = form.get("refresh_token", "")
            if presented not in self.refresh_tokens:
                return 400, {"error": "invalid_grant", "error_description": "refresh token reused or revoked"}
            if self.rotate_refresh_tokens:
                self.refresh_tokens.discard(presented)
            return 200, self._issue(None, with_refresh=self.rotate_refresh_tokens)
        return 400, {"error": "unsupported_grant_type"}

    def _client_ok(self, form: dict[str, str], authorization: str | None) -> bool:
        if authorization and authorization.startswith("Basic "):
            given = base64.b64decode(authorization[6:]).decode()
            return given == f"{CLIENT_ID}:{self.client_secret}"
        return form.get("client_id") == CLIENT_ID and form.get("client_secret") == self.client_secret

    def _issue(self, scope: str | None, *, with_refresh: bool) -> dict[str, Any]:
        access = "at-" + secrets.token_urlsafe(24)
        if not self.unusable_tokens:
            self.access_tokens[access] = time.time() + (self.expires_in or 10**9)
        self.issued.append(access)
        body: dict[str, Any] = {"access_token": access, "token_type": "bearer"}
        if self.expires_in is not None:
            body["expires_in"] = self.expires_in
        if with_refresh:
            refresh = "rt-" + secrets.token_urlsafe(24)
            self.refresh_tokens.add(refresh)
            self.issued.append(refresh)
            body["refresh_token"] = refresh
        if scope:
            body["scope"] = scope
        return body

    def revoke(self, form: dict[str, str], authorization: str | None) -> int:
        self.calls["revoke"] += 1
        if not self._client_ok(form, authorization):
            return 401
        if self.revocation_status >= 400:  # failing: nothing is revoked
            return self.revocation_status
        token = form.get("token", "")
        self.revoked.append((token, form.get("token_type_hint", "")))
        self.refresh_tokens.discard(token)
        self.access_tokens.pop(token, None)
        return self.revocation_status

    def api(self, method: str, path: str, query: str, authorization: str | None, body: bytes) -> tuple[int, Any, dict]:
        self.calls["api"] += 1
        token = (authorization or "").removeprefix("Bearer ")
        self.api_requests.append({"method": method, "path": path, "query": query, "body": body})
        if self.access_tokens.get(token, 0) < time.time():
            return 401, {"message": "expired or unknown token"}, {}
        if path.endswith("/echo"):  # an API that reflects the request, headers and all
            return 200, {"authorization": authorization, "path": path, "query": query}, {}
        if path.endswith("/redirect"):
            return 302, "", {"Location": "https://elsewhere.test/steal?token=" + token}
        if path.endswith("/big"):
            return 200, "x" * 300_000, {"Content-Type": "text/plain"}
        return 200, {"results": [{"id": "1", "name": "Acme from the provider"}], "method": method, "path": path}, {}

    def metadata(self, path: str) -> tuple[int, Any]:
        self.calls["metadata"] += 1
        if path != "/.well-known/oauth-authorization-server" or not self.advertises_iss:
            return 404, {"error": "not_found"}
        return 200, {
            "issuer": self.base,
            "authorization_endpoint": self.authorize_url,
            "token_endpoint": self.token_url,
            "revocation_endpoint": self.revoke_url,
            "authorization_response_iss_parameter_supported": True,
        }

    # --- respx --------------------------------------------------------------------------------------------

    def mount(self, router) -> None:
        host = urlsplit(self.base).netloc

        async def token(request: httpx.Request) -> httpx.Response:
            status, body = await self.token(_form(request.content), request.headers.get("authorization"))
            return _response(status, body)

        def revoke(request: httpx.Request) -> httpx.Response:
            return httpx.Response(self.revoke(_form(request.content), request.headers.get("authorization")))

        def api(request: httpx.Request) -> httpx.Response:
            status, body, headers = self.api(
                request.method,
                request.url.path,
                request.url.query.decode(),
                request.headers.get("authorization"),
                request.content,
            )
            return _response(status, body, headers)

        def metadata(request: httpx.Request) -> httpx.Response:
            return _response(*self.metadata(request.url.path))

        router.post(self.token_url, name="token").mock(side_effect=token)
        router.route(method="GET", host=host, path__startswith="/.well-known/", name="metadata").mock(
            side_effect=metadata
        )
        router.post(self.revoke_url, name="revoke").mock(side_effect=revoke)
        router.route(host=host, path__startswith="/api/").mock(side_effect=api)

    # --- a real HTTP server ---------------------------------------------------------------------------------

    def asgi_app(self) -> Starlette:
        async def token(request: Request) -> Response:
            try:
                status, body = await self.token(_form(await request.body()), request.headers.get("authorization"))
            except httpx.ReadTimeout:
                await asyncio.sleep(60)
                raise
            return _starlette(status, body)

        async def revoke(request: Request) -> Response:
            if self.revocations_wait is not None:
                await self.revocations_wait.wait()
            return Response(status_code=self.revoke(_form(await request.body()), request.headers.get("authorization")))

        async def api(request: Request) -> Response:
            status, body, headers = self.api(
                request.method,
                request.url.path,
                request.url.query,
                request.headers.get("authorization"),
                await request.body(),
            )
            return _starlette(status, body, headers)

        async def metadata(request: Request) -> Response:
            return _starlette(*self.metadata(request.url.path))

        async def authorize(request: Request) -> Response:
            """A browser at the consent screen: the user approves at once, and is sent back."""
            back = self.approve(str(request.url))
            redirect = parse_qs(request.url.query)["redirect_uri"][0]
            return Response(status_code=302, headers={"Location": f"{redirect}?{urlencode(back)}"})

        return Starlette(
            routes=[
                Route("/.well-known/{rest:path}", metadata, methods=["GET"]),
                Route("/oauth/authorize", authorize, methods=["GET"]),
                Route("/oauth/token", token, methods=["POST"]),
                Route("/oauth/revoke", revoke, methods=["POST"]),
                Route("/api/{rest:path}", api, methods=["GET", "POST", "PUT", "PATCH", "DELETE"]),
            ]
        )


def _form(content: bytes) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(content.decode()).items()}


def _response(status: int, body: Any, headers: dict | None = None) -> httpx.Response:
    if isinstance(body, str):
        return httpx.Response(status, text=body, headers=headers or {"Content-Type": "text/html"})
    return httpx.Response(status, json=body, headers=headers)


def _starlette(status: int, body: Any, headers: dict | None = None) -> Response:
    if isinstance(body, str):
        return Response(body, status_code=status, headers=headers, media_type="text/html")
    return Response(json.dumps(body), status_code=status, headers=headers, media_type="application/json")
