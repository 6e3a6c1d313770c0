"""The connect and OAuth callback pages in a real headless browser (Debian's chromium), on a real uvicorn.

scripts/bootstrap installs chromium and chromium-driver (as root on Debian). Without them these tests fail,
in CI as anywhere, unless RENUBU_SKIP_BROWSER_TESTS=1 says to skip them on purpose. Every page is
screenshotted into a temp dir, and the browser's own network log must show no request leaving this server.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import tempfile
from dataclasses import replace
from pathlib import Path
from urllib.parse import urlencode

import pytest
import uvicorn

from renubu_mcp.http_app import build_http_app
from renubu_mcp.server import build_server

from .conftest import settings_for, state_of

pytestmark = pytest.mark.usefixtures("mocked")

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--window-size=1000,800",
]


def _missing() -> str | None:
    try:
        import selenium  # noqa: F401
    except ImportError:
        return "the selenium package (the test extra)"
    for path in (CHROMIUM, CHROMEDRIVER):
        if not os.access(path, os.X_OK):
            return path
    return None


@pytest.fixture(scope="module")
def screenshots() -> Path:
    directory = Path(tempfile.mkdtemp(prefix="renubu-browser-"))
    print(f"\nbrowser screenshots: {directory}")
    return directory


class Chromium:
    """A headless chromium driven by chromedriver; every call runs in a thread (the server shares our loop)."""

    def __init__(self, shots: Path):
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service

        self.profile = tempfile.mkdtemp(prefix="renubu-chromium-")
        options = webdriver.ChromeOptions()
        options.binary_location = CHROMIUM
        for flag in FLAGS:
            options.add_argument(flag)
        options.add_argument(f"--user-data-dir={self.profile}")
        options.set_capability("goog:loggingPrefs", {"performance": "ALL"})
        self.driver = webdriver.Chrome(options=options, service=Service(executable_path=CHROMEDRIVER))
        self.shots = shots
        self.requested: list[str] = []
        # The browser's own start page loads chrome:// resources: begin the network log after it.
        self.driver.get("about:blank")
        self.driver.get_log("performance")

    async def run(self, fn, *args):
        return await asyncio.to_thread(fn, *args)

    async def open(self, url: str, shot: str) -> str:
        await self.run(self.driver.get, url)
        return await self.page(shot)

    async def page(self, shot: str) -> str:
        """The page's visible text, after a screenshot and collecting what the browser requested."""
        await self.run(self.driver.save_screenshot, str(self.shots / f"{shot}.png"))
        for entry in await self.run(self.driver.get_log, "performance"):
            message = json.loads(entry["message"])["message"]
            if message["method"] == "Network.requestWillBeSent":
                self.requested.append(message["params"]["request"]["url"])
        resources = await self.run(
            self.driver.execute_script, "return performance.getEntriesByType('resource').map(e => e.name)"
        )
        # The browser may ask for the site's icon itself (after a form's redirects, say): not the page's doing.
        resources = [r for r in resources if not r.endswith("/favicon.ico")]
        assert resources == [], f"{shot}: the page loaded {resources}"
        return await self.run(lambda: self.driver.find_element("tag name", "body").text)

    async def type_into(self, element_id: str, text: str) -> None:
        element = await self.run(self.driver.find_element, "id", element_id)
        await self.run(element.send_keys, text)

    async def click(self, element_id: str) -> None:
        element = await self.run(self.driver.find_element, "id", element_id)
        await self.run(element.click)

    def close(self) -> None:
        self.driver.quit()
        shutil.rmtree(self.profile, ignore_errors=True)


@pytest.fixture
async def chromium(screenshots):
    missing = _missing()
    if missing:
        if os.environ.get("RENUBU_SKIP_BROWSER_TESTS") == "1":
            pytest.skip(f"browser tests skipped on purpose (RENUBU_SKIP_BROWSER_TESTS=1); missing {missing}")
        pytest.fail(
            f"browser tests need {missing}: run scripts/bootstrap test as root on Debian "
            "(or set RENUBU_SKIP_BROWSER_TESTS=1 to skip them on purpose)"
        )
    browser = await asyncio.to_thread(Chromium, screenshots)
    yield browser
    await asyncio.to_thread(browser.close)


@pytest.fixture
async def live(demo_db, free_tcp_port):
    """The HTTP app on a loopback port: the routes the browser lands on."""
    base = f"http://127.0.0.1:{free_tcp_port}"
    settings = replace(
        settings_for(demo_db.app_dsn, None), port=free_tcp_port, jwt_secret="browser-test-jwt-secret-0123456789abcdef"
    )
    server = uvicorn.Server(
        uvicorn.Config(
            build_http_app(build_server(settings, transport="http"), settings),
            host="127.0.0.1",
            port=free_tcp_port,
            log_level="warning",
        )
    )
    task = asyncio.create_task(server.serve())
    while not server.started:
        await asyncio.sleep(0.02)
    yield base
    server.should_exit = True
    await task


def only_this_server(chromium: Chromium, base: str) -> None:
    outside = [u for u in chromium.requested if not u.startswith(base + "/")]
    assert chromium.requested and outside == [], f"requests outside {base}: {outside}"


async def test_pasting_a_key_connects_and_the_link_then_refuses(chromium, live, connect, owner):
    async with connect("alice@example.com", public_url=live) as alice:
        started = await alice.ok("install_integration", {"slug": "gong"})
        assert started["connect_url"].startswith(live + "/connect/")
        text = await chromium.open(started["connect_url"], "1-api-key-form")
        assert "Paste your Gong API key" in text
        await chromium.type_into("api_key", "gong-browser-key-5e4d3c2b1a")
        await chromium.click("submit")
        text = await chromium.page("2-api-key-connected")
        assert "Gong is connected" in text, text
        assert (await alice.ok("list_my_integrations"))["installs"][0]["status"] == "active"
        text = await chromium.open(started["connect_url"], "3-api-key-link-replayed")
        assert "already been used" in text and "gong-browser-key" not in text
    assert await owner.fetchval("SELECT count(*) FROM public.oauth_tokens WHERE token_type = 'api_key'") == 1
    only_this_server(chromium, live)


async def test_the_webhook_secret_is_shown_once(chromium, live, connect):
    async with connect("alice@example.com", public_url=live) as alice:
        started = await alice.ok("install_integration", {"slug": "stripe-billing"})
        text = await chromium.open(started["connect_url"], "4-webhook-form")
        assert started["webhook_url"] in text and "whsec_" not in text
        await chromium.click("submit")
        text = await chromium.page("5-webhook-secret")
        secret = (await chromium.run(chromium.driver.find_element, "id", "signing-secret")).text
        assert secret.startswith("whsec_") and len(secret) == 49 and secret in text
        text = await chromium.open(started["connect_url"], "6-webhook-second-visit")
        assert secret not in text and "already shown" in text and secret[-4:] in text
    only_this_server(chromium, live)


async def test_the_oauth_callback_page_shows_success_and_errors(chromium, live, connect, hubspot):
    async with connect("alice@example.com", public_url=live) as alice:
        started = await alice.ok("install_integration", {"slug": "hubspot"})
        assert started["redirect_uri"] == live + "/oauth/callback"
        callback = f"{live}/oauth/callback?{urlencode(hubspot.approve(started['authorization_url']))}"
        text = await chromium.open(callback, "7-oauth-connected")
        assert "HubSpot is connected" in text, text
        text = await chromium.open(callback, "8-oauth-replayed")
        assert "already been used" in text
        again = await alice.ok("install_integration", {"slug": "hubspot"})
        denied = f"{live}/oauth/callback?{urlencode(hubspot.deny(again['authorization_url']))}"
        text = await chromium.open(denied, "9-oauth-denied")
        assert "Access was declined at HubSpot" in text and state_of(again["authorization_url"]) not in text
    only_this_server(chromium, live)


async def test_the_oauth_connect_page_names_the_user_and_goes_on_to_the_provider(
    chromium, live, connect, owner, mocked
):
    """A client that opens pages itself gets this page for OAuth too (2026-07-28 here): it says whose account it is
    for, and its form sends the browser on to the provider (the CSP lets exactly that redirect through), which
    sends it back to the callback."""
    from mcp.types import InputRequiredResult

    from .conftest import point_at
    from .fake_provider import FakeProvider
    from .person import Person
    from .test_loopback import serve

    mocked.route(host="127.0.0.1").pass_through()  # the server asks the provider's metadata over the socket
    provider = FakeProvider(base="http://placeholder")
    async with serve(provider.asgi_app()) as provider_url:
        provider.base = provider_url
        await point_at(owner, provider)
        async with connect("alice@example.com", public_url=live, elicitation_callback=Person(page="accept")) as alice:
            session = alice.client.session
            asked = await session.call_tool("install_integration", {"slug": "hubspot"}, allow_input_required=True)
            assert isinstance(asked, InputRequiredResult)
            page_url = asked.input_requests["connect"].params.url
            text = await chromium.open(page_url, "10-oauth-connect-page")
            assert "This connects HubSpot to the Renubu account of alice@example.com" in text, text
            await chromium.click("submit")
            text = await chromium.page("11-oauth-connected-through-the-page")
            assert "HubSpot is connected" in text, text
            done = await session.call_tool(
                "install_integration",
                {"slug": "hubspot"},
                input_responses={"connect": {"action": "accept"}},
                request_state=asked.request_state,
                allow_input_required=True,
            )
            assert done.structured_content["status"] == "active"
    outside = [u for u in chromium.requested if not u.startswith((live + "/", provider_url + "/"))]
    assert outside == [], outside
