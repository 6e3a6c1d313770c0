"""The sign-in page in a real headless chromium, once: the SDK's OAuth client opens it, the user signs in, and
the browser carries the code back to the client's loopback listener (through the form's CSP)."""

from __future__ import annotations

import asyncio
import json
import os
import tempfile
from pathlib import Path

import pytest
import uvicorn
from mcp.client.auth import AuthorizationCodeResult, OAuthClientProvider
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from tests.integrations.test_browser import Chromium, _missing

from .conftest import PASSWORD, MemoryStorage, client_metadata, customer_names, mcp_as


@pytest.fixture
async def chromium():
    missing = _missing()
    if missing:
        if os.environ.get("RENUBU_SKIP_BROWSER_TESTS") == "1":
            pytest.skip(f"browser tests skipped on purpose (RENUBU_SKIP_BROWSER_TESTS=1); missing {missing}")
        pytest.fail(
            f"browser tests need {missing}: run scripts/bootstrap test as root on Debian "
            "(or set RENUBU_SKIP_BROWSER_TESTS=1 to skip them on purpose)"
        )
    shots = Path(tempfile.mkdtemp(prefix="renubu-sign-in-"))
    browser = await asyncio.to_thread(Chromium, shots)
    yield browser
    await asyncio.to_thread(browser.close)


@pytest.fixture
async def loopback_callback(unused_tcp_port):
    """The MCP client's own listener, as a native app runs one: the first request to /callback is the answer."""
    answer: asyncio.Future[dict[str, str]] = asyncio.get_running_loop().create_future()

    async def callback(request: Request) -> PlainTextResponse:
        if not answer.done():
            answer.set_result(dict(request.query_params))
        return PlainTextResponse("Signed in. You can close this window.")

    server = uvicorn.Server(
        uvicorn.Config(
            Starlette(routes=[Route("/callback", callback)]),
            host="127.0.0.1",
            port=unused_tcp_port,
            log_level="warning",
            lifespan="off",
        )
    )
    task = asyncio.create_task(server.serve())
    while not server.started:
        await asyncio.sleep(0.02)
    yield f"http://127.0.0.1:{unused_tcp_port}/callback", answer
    server.should_exit = True
    await task


async def test_chromium_signs_alice_in_for_the_sdk_client(live, chromium, loopback_callback):
    redirect_uri, answer = loopback_callback
    pages: list[str] = []

    async def open_in_browser(authorization_url: str) -> None:
        text = await chromium.open(authorization_url, "1-sign-in")
        pages.append(text)
        await chromium.type_into("email", "alice@example.com")
        await chromium.type_into("password", PASSWORD)
        await chromium.click("allow")

    async def wait_for_callback() -> AuthorizationCodeResult:
        query = await asyncio.wait_for(answer, timeout=60)
        # The client's own page (a favicon request included) is not ours to hold to the page rules; what the
        # browser requested on the way is.
        pages.append(await chromium.run(lambda: chromium.driver.find_element("tag name", "body").text))
        for entry in await chromium.run(chromium.driver.get_log, "performance"):
            message = json.loads(entry["message"])["message"]
            if message["method"] == "Network.requestWillBeSent":
                chromium.requested.append(message["params"]["request"]["url"])
        return AuthorizationCodeResult(code=query["code"], state=query.get("state"), iss=query.get("iss"))

    storage = MemoryStorage()
    provider = OAuthClientProvider(
        live.resource,
        client_metadata(redirect=redirect_uri, name="Chromium client"),
        storage,
        redirect_handler=open_in_browser,
        callback_handler=wait_for_callback,
    )
    async with mcp_as(live, auth=provider) as alice:
        assert "Acme Corp" in await customer_names(alice)
    sign_in, back = pages
    assert "Sign in to Renubu" in sign_in and "Chromium client" in sign_in and "127.0.0.1:" in sign_in
    assert "Signed in" in back and answer.result()["iss"] == live.url
    client_host = redirect_uri.rsplit("/", 1)[0] + "/"
    assert any(u.startswith(redirect_uri) for u in chromium.requested)
    outside = [u for u in chromium.requested if not u.startswith((live.url + "/", client_host))]
    assert chromium.requested and outside == [], f"the browser went elsewhere: {outside}"
