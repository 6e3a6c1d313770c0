"""Two server processes on one database: an OAuth flow started on A completes on B, and concurrent refreshes fired
at both cause exactly one call to the provider's token endpoint (the row lock works across processes).

The provider is tests/integrations' fake, served by a real uvicorn on a loopback port; the servers are real
`renubu-mcp serve --transport http` processes with the same database, token key and JWT secret.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator

import asyncpg
import uvicorn

from tests.integrations.fake_provider import CLIENT_ID, FakeProvider

from .harness import ADMIN, ALICE, call_tool, new_http_client, token_for


class _QuietServer(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self):  # the test process keeps its own signal handling
        yield


@contextlib.asynccontextmanager
async def serve_provider(provider: FakeProvider) -> AsyncIterator[str]:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(64)
    base = f"http://127.0.0.1:{sock.getsockname()[1]}"
    provider.base = base
    server = _QuietServer(
        uvicorn.Config(provider.asgi_app(), lifespan="off", log_config=None, access_log=False, log_level="warning")
    )
    task = asyncio.create_task(server.serve(sockets=[sock]))
    while not server.started:
        await asyncio.sleep(0.01)
    try:
        yield base
    finally:
        server.should_exit = True
        await task
        sock.close()


async def test_an_oauth_flow_started_on_one_process_completes_on_the_other_and_refreshes_once(demo_db, server):
    provider = FakeProvider(base="http://127.0.0.1")
    async with serve_provider(provider) as provider_url:
        a = server(demo_db.app_dsn)
        b = server(demo_db.app_dsn, public_url=a.url)  # both name A as the public URL (and redirect URI)
        async with new_http_client(connections=32) as http:
            admin, alice = token_for(ADMIN), token_for(ALICE)
            # An admin points the hubspot entry at the provider and registers its client secret, through A.
            entry = await call_tool(
                http,
                a.url,
                admin,
                "update_integration",
                {
                    "slug": "hubspot",
                    "authorization_url": f"{provider_url}/oauth/authorize",
                    "token_url": f"{provider_url}/oauth/token",
                    "revocation_url": f"{provider_url}/oauth/revoke",
                    "api_base_url": f"{provider_url}/api/v3",
                    "client_id": CLIENT_ID,
                    "client_secret": provider.client_secret,
                    "token_endpoint_auth_method": "client_secret_basic",
                },
            )
            assert entry.ok, entry.text
            assert entry.data["has_client_secret"] is True and provider.client_secret not in entry.text

            started = await call_tool(http, a.url, alice, "install_integration", {"slug": "hubspot"})
            assert started.ok, started.text
            assert started.data["redirect_uri"] == f"{a.url}/oauth/callback"
            # The browser comes back to B (another replica behind the same public URL).
            page = await http.get(f"{b.url}/oauth/callback", params=provider.approve(started.data["authorization_url"]))
            assert page.status_code == 200 and "connected" in page.text, page.text
            assert provider.calls["token:authorization_code"] == 1
            for replica in (a, b):
                mine = await call_tool(http, replica.url, alice, "list_my_integrations", {})
                assert [(i["slug"], i["status"]) for i in mine.data["installs"]] == [("hubspot", "active")]

            # The token expires; 24 calls land on both processes at once while the provider is slow to refresh.
            owner = await asyncpg.connect(demo_db.owner_dsn)
            try:
                await owner.execute(
                    "UPDATE public.oauth_tokens SET expires_at = now() - interval '1 minute', "
                    "refreshed_at = now() - interval '1 hour'"
                )
            finally:
                await owner.close()
            provider.token_delay = 0.5
            request = {"slug": "hubspot", "method": "GET", "path": "crm/v3/objects/companies"}
            results = await asyncio.gather(
                *(call_tool(http, (a if i % 2 else b).url, alice, "integration_request", request) for i in range(24))
            )
            assert all(r.ok and r.data["status_code"] == 200 for r in results), [r.text[:200] for r in results]
            assert provider.calls["token:refresh_token"] == 1
            assert len(provider.refresh_tokens) == 1  # rotated once; no refresh token was spent twice
            assert provider.calls["api"] == 24
    for replica in (a, b):
        assert "Traceback" not in replica.log(), replica.log()
        for secret in provider.secrets():
            assert secret not in replica.log()
