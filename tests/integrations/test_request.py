"""integration_request: only the integration's API base URL, redirects returned not followed, capped, no token."""

from __future__ import annotations

import json

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from renubu_mcp.oauth.api import MAX_RESPONSE_BYTES, UnsafePath, target_url

from .conftest import connected

BASE = "https://provider.test/api/v3"


@pytest.mark.parametrize(
    ("path", "url"),
    [
        ("crm/v3/objects", "https://provider.test/api/v3/crm/v3/objects"),
        ("/crm/v3/objects/", "https://provider.test/api/v3/crm/v3/objects/"),
        ("v1/files:batchGet", "https://provider.test/api/v3/v1/files:batchGet"),
        ("contacts/j%C3%B6rg", "https://provider.test/api/v3/contacts/j%C3%B6rg"),
    ],
)
def test_a_relative_path_lands_under_the_base(path, url):
    assert str(target_url(BASE, path)) == url
    assert str(target_url(BASE + "/", path)) == url


def test_the_base_keeps_its_port_and_a_bare_host_base_works():
    assert str(target_url("http://127.0.0.1:8123/api", "x")) == "http://127.0.0.1:8123/api/x"
    assert str(target_url("https://api.hubapi.com", "crm/v3")) == "https://api.hubapi.com/crm/v3"


TRICKS = [
    "https://evil.test/x",
    "//evil.test/x",
    "HTTP://evil.test",
    "javascript:alert(1)",
    "evil.test:443/x",
    "../x",
    "a/../../x",
    "a/./b",
    "..",
    ".",
    "a//b",
    "a\\b",
    "\\\\evil.test\\x",
    "@evil.test/x",
    "a@evil.test",
    "a%2f..%2fb",
    "%2e%2e/x",
    "%2E%2E%2Fx",
    "a%5cb",
    "a%00b",
    "a%zz",
    "a?x=1",
    "a#frag",
    "a b",
    "a\tb",
    "a\nb",
    "a\x00b",
    "caf\u00e9",
    "\uff0fevil.test",
    "",
]


@pytest.mark.parametrize("path", TRICKS)
def test_paths_that_could_leave_the_base_are_refused(path):
    with pytest.raises(UnsafePath):
        target_url(BASE, path)


@given(st.text(alphabet=st.characters(min_codepoint=0x20, max_codepoint=0x7E), min_size=1, max_size=40))
def test_no_path_ever_leaves_the_base(path):
    try:
        url = target_url(BASE, path)
    except UnsafePath:
        return
    assert (url.scheme, url.host, url.port) == ("https", "provider.test", None)
    assert url.raw_path.decode().startswith("/api/v3/") and not url.userinfo
    assert ".." not in url.path.split("/") and "?" not in str(url) and "#" not in str(url)


@pytest.mark.usefixtures("mocked")
async def test_tricks_are_refused_through_the_tool_before_any_request(connect, hubspot, browser):
    async with connect("alice@example.com") as alice:
        await connected(alice, hubspot, browser)
        for path in ["https://evil.test/x", "//evil.test", "../../oauth/token", "a/%2e%2e/b", "a\\b", "x@y"]:
            message = await alice.error("integration_request", {"slug": "hubspot", "method": "GET", "path": path})
            assert "path" in message
    assert hubspot.calls["api"] == 0


@pytest.mark.usefixtures("mocked")
async def test_a_redirect_is_returned_not_followed_and_the_token_never_comes_back(connect, hubspot, browser):
    async with connect("alice@example.com") as alice:
        await connected(alice, hubspot, browser)
        moved = await alice.ok("integration_request", {"slug": "hubspot", "method": "GET", "path": "redirect"})
        echoed = await alice.ok("integration_request", {"slug": "hubspot", "method": "GET", "path": "echo"})
    token = next(t for t in hubspot.access_tokens)
    assert moved["status_code"] == 302
    assert moved["headers"]["location"] == "https://elsewhere.test/steal?token=[redacted]"
    assert echoed["status_code"] == 200 and json.loads(echoed["body"])["authorization"] == "Bearer [redacted]"
    assert token not in json.dumps([moved, echoed])
    assert hubspot.calls["api"] == 2  # nothing went to elsewhere.test


@pytest.mark.usefixtures("mocked")
async def test_a_large_body_is_capped_and_says_so(connect, hubspot, browser):
    async with connect("alice@example.com") as alice:
        await connected(alice, hubspot, browser)
        big = await alice.ok("integration_request", {"slug": "hubspot", "method": "GET", "path": "big"})
        small = await alice.ok("integration_request", {"slug": "hubspot", "method": "GET", "path": "x"})
    assert big["truncated"] is True and len(big["body"]) == MAX_RESPONSE_BYTES
    assert "truncated" not in small and big["headers"]["content-type"].startswith("text/plain")


@pytest.mark.usefixtures("mocked")
async def test_a_json_body_is_sent_for_writes_and_refused_for_reads(connect, hubspot, browser, owner):
    # This client cannot confirm writes (test_consent.py covers asking): an admin let HubSpot's go unattended.
    await owner.execute("UPDATE public.mcp_integrations SET allow_unattended_writes = true WHERE slug = 'hubspot'")
    async with connect("alice@example.com") as alice:
        await connected(alice, hubspot, browser)
        sent = await alice.ok(
            "integration_request",
            {
                "slug": "hubspot",
                "method": "POST",
                "path": "crm/v3/objects/notes",
                "body": {"properties": {"hs_note_body": "renewal call"}},
                "query": {"archived": False, "ids": ["1", "2"]},
            },
        )
        assert sent["status_code"] == 200
        assert json.loads(hubspot.api_requests[-1]["body"]) == {"properties": {"hs_note_body": "renewal call"}}
        assert hubspot.api_requests[-1]["query"] == "archived=false&ids=1&ids=2"
        labels = await alice.ok(
            "integration_request",
            {  # a top-level JSON array of any values
                "slug": "hubspot",
                "method": "PUT",
                "path": "labels",
                "body": ["renewal", 2, {"a": None}, True],
            },
        )
        assert labels["status_code"] == 200
        assert json.loads(hubspot.api_requests[-1]["body"]) == ["renewal", 2, {"a": None}, True]
        assert "takes no body" in await alice.error(
            "integration_request", {"slug": "hubspot", "method": "GET", "path": "x", "body": {"a": 1}}
        )


async def test_the_provider_being_unreachable_is_a_clear_error(connect, hubspot, browser, mocked):
    async with connect("alice@example.com") as alice:
        await connected(alice, hubspot, browser)
        mocked.route(host="provider.test", path__startswith="/api/").mock(side_effect=httpx.ConnectError("down"))
        message = await alice.error("integration_request", {"slug": "hubspot", "method": "GET", "path": "x"})
    assert "could not reach HubSpot at provider.test:443 (ConnectError)" in message


@pytest.mark.usefixtures("mocked")
async def test_requests_need_an_active_install_with_an_api_base(connect, hubspot, browser, owner):
    async with connect("alice@example.com") as alice:
        assert "not installed" in await alice.error(
            "integration_request", {"slug": "hubspot", "method": "GET", "path": "x"}
        )
        await alice.ok("install_integration", {"slug": "hubspot"})
        assert "not connected yet" in await alice.error(
            "integration_request", {"slug": "hubspot", "method": "GET", "path": "x"}
        )
        await connected(alice, hubspot, browser)
        await owner.execute("UPDATE public.mcp_integrations SET status = 'disabled' WHERE slug = 'hubspot'")
        assert "disabled" in await alice.error("integration_request", {"slug": "hubspot", "method": "GET", "path": "x"})
        await owner.execute(
            "UPDATE public.mcp_integrations SET status = 'deprecated', api_base_url = NULL WHERE slug = 'hubspot'"
        )
        assert "no API base URL" in await alice.error(
            "integration_request", {"slug": "hubspot", "method": "GET", "path": "x"}
        )
