"""API-key and webhook installs through the connect page: the key reaches the database, never the assistant."""

from __future__ import annotations

import logging

import httpx
import pytest

from .conftest import csrf_of, path_of, submit

pytestmark = pytest.mark.usefixtures("mocked")

GONG_KEY = "gong-key-0f9e8d7c6b5a4f3e2d1c"


@pytest.fixture
def gong_api(mocked):
    seen: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if (
            request.headers.get("authorization") != f"Bearer {GONG_KEY}"
            and request.headers.get("x-api-key") != GONG_KEY
        ):
            return httpx.Response(401, json={"error": "bad key"})
        return httpx.Response(200, json={"calls": [{"id": "c1"}], "echo": dict(request.headers)})

    mocked.route(host="api.gong.io").mock(side_effect=answer)
    return seen


async def test_a_pasted_api_key_connects_the_integration_and_never_reaches_the_assistant(
    connect, web, owner, gong_api, caplog
):
    caplog.set_level(logging.DEBUG)
    async with connect("alice@example.com") as alice:
        started = await alice.ok("install_integration", {"slug": "gong"})
        assert started["connection_type"] == "api_key" and started["status"] == "pending"
        assert "authorization_url" not in started and started["connect_url"].startswith(
            "http://127.0.0.1:8765/connect/"
        )
        assert "Do not ask for the key" in started["instructions"]
        assert "not connected yet" in await alice.error(
            "integration_request", {"slug": "gong", "method": "GET", "path": "calls"}
        )

        page = await submit(web, started["connect_url"], api_key=f"  {GONG_KEY}\n")
        assert page.status_code == 200 and "Gong is connected" in page.text, page.text
        mine = (await alice.ok("list_my_integrations"))["installs"]
        assert [(i["slug"], i["status"], i.get("can_refresh", False)) for i in mine] == [("gong", "active", False)]

        result = await alice.ok("integration_request", {"slug": "gong", "method": "GET", "path": "calls"})
        assert result["status_code"] == 200 and GONG_KEY not in str(result)
        assert "[redacted]" in result["body"]  # the API echoed the header back; the key did not come through
    assert gong_api[-1].headers["authorization"] == f"Bearer {GONG_KEY}"
    row = await owner.fetchrow(
        "SELECT token_type, refresh_token_encrypted, access_token_encrypted FROM public.oauth_tokens"
    )
    assert row["token_type"] == "api_key" and row["refresh_token_encrypted"] is None
    assert GONG_KEY.encode() not in row["access_token_encrypted"]
    assert not any(GONG_KEY in r.getMessage() for r in caplog.records)


async def test_a_used_link_is_refused_on_replay_and_on_reload(connect, web, owner, gong_api):
    async with connect("alice@example.com") as alice:
        started = await alice.ok("install_integration", {"slug": "gong"})
        form = await web.get(path_of(started["connect_url"]))
        fields = {"csrf": csrf_of(form), "api_key": GONG_KEY}
        headers = {"Origin": "null", "Sec-Fetch-Site": "same-origin"}
        assert (await web.post(path_of(started["connect_url"]), data=fields, headers=headers)).status_code == 200
        before = await owner.fetchrow("SELECT access_token_encrypted, updated_at FROM public.oauth_tokens")
        replay = await web.post(
            path_of(started["connect_url"]), data={**fields, "api_key": "attacker-key"}, headers=headers
        )
        assert replay.status_code == 410 and "already been used" in replay.text
        reload = await web.get(path_of(started["connect_url"]))
        assert reload.status_code == 410 and "<form" not in reload.text
    assert await owner.fetchrow("SELECT access_token_encrypted, updated_at FROM public.oauth_tokens") == before


async def test_viewing_the_page_spends_nothing_and_a_new_link_replaces_the_old(connect, web):
    async with connect("alice@example.com") as alice:
        first = await alice.ok("install_integration", {"slug": "gong"})
        for _ in range(3):
            assert (await web.get(path_of(first["connect_url"]))).status_code == 200
        assert (await web.head(path_of(first["connect_url"]))).status_code == 200
        second = await alice.ok("install_integration", {"slug": "gong"})
        assert (await web.get(path_of(first["connect_url"]))).status_code == 404
        assert (await submit(web, second["connect_url"], api_key=GONG_KEY)).status_code == 200


@pytest.mark.parametrize(
    ("change", "status"),
    [
        ({"csrf": "0" * 64}, 403),
        ({"csrf": ""}, 403),
        ({"cookie": None}, 403),
        ({"headers": {"Sec-Fetch-Site": "cross-site"}}, 403),
        ({"headers": {"Origin": "https://evil.example"}}, 403),
        ({"api_key": ""}, 400),
        ({"api_key": "two words"}, 400),
        ({"api_key": "k" * 5000}, 400),
    ],
)
async def test_a_forged_or_bad_submission_changes_nothing_and_leaves_the_link_usable(
    connect, web, owner, change, status
):
    async with connect("alice@example.com") as alice:
        started = await alice.ok("install_integration", {"slug": "gong"})
        path = path_of(started["connect_url"])
        form = await web.get(path)
        fields = {"csrf": change.get("csrf", csrf_of(form)), "api_key": change.get("api_key", GONG_KEY)}
        headers = {"Origin": "null", "Sec-Fetch-Site": "same-origin", **change.get("headers", {})}
        if "cookie" in change:
            web.cookies.clear()
        page = await web.post(path, data=fields, headers=headers)
        assert page.status_code == status, page.text
        assert GONG_KEY not in page.text and "two words" not in page.text
        assert await owner.fetchval("SELECT count(*) FROM public.oauth_tokens") == 0
        assert (await submit(web, started["connect_url"], api_key=GONG_KEY)).status_code == 200


async def test_an_expired_link_is_refused(connect, web, owner):
    async with connect("alice@example.com") as alice:
        started = await alice.ok("install_integration", {"slug": "gong"})
        await owner.execute(
            "UPDATE public.connect_links SET created_at = now() - interval '11 minutes',"
            " expires_at = now() - interval '1 minute'"
        )
        page = await web.get(path_of(started["connect_url"]))
    assert page.status_code == 410 and "expired" in page.text


@pytest.mark.parametrize("path", ["/connect/not-a-token", "/connect/" + "A" * 43])
async def test_links_that_are_not_ours_are_refused(web, path):
    page = await web.get(path)
    assert page.status_code == 404 and "not valid" in page.text


async def test_a_stdio_server_refuses_another_users_link(connect, app_factory, owner):
    from .conftest import web_app

    bobs = await app_factory(stdio_user="bob@example.com")
    async with connect("alice@example.com") as alice:
        started = await alice.ok("install_integration", {"slug": "gong"})
    transport = httpx.ASGITransport(app=web_app(bobs))
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1:8765") as client:
        page = await client.get(path_of(started["connect_url"]))
    assert page.status_code == 403 and "different Renubu user" in page.text


async def test_an_api_key_for_another_header_is_sent_alone_in_it(connect, web, owner, gong_api):
    await owner.execute("UPDATE public.mcp_integrations SET api_key_header = 'X-Api-Key' WHERE slug = 'gong'")
    async with connect("alice@example.com") as alice:
        started = await alice.ok("install_integration", {"slug": "gong"})
        await submit(web, started["connect_url"], api_key=GONG_KEY)
        assert (await alice.ok("integration_request", {"slug": "gong", "method": "GET", "path": "calls"}))[
            "status_code"
        ] == 200
    assert gong_api[-1].headers["x-api-key"] == GONG_KEY and "authorization" not in gong_api[-1].headers


async def test_the_connect_page_is_locked_down(connect, web):
    async with connect("alice@example.com") as alice:
        started = await alice.ok("install_integration", {"slug": "gong"})
    page = await web.get(path_of(started["connect_url"]))
    csp = page.headers["content-security-policy"]
    assert csp.startswith("default-src 'none'; style-src 'unsafe-inline'") and "form-action 'self'" in csp
    assert "frame-ancestors 'none'" in csp and page.headers["x-frame-options"] == "DENY"
    assert page.headers["referrer-policy"] == "no-referrer" and page.headers["cache-control"] == "no-store"
    cookie = page.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=strict" in cookie and "path=/connect/" in cookie
    for marker in ("<script", "<link", "src=", "href=", "url(", "@import", "action="):
        assert marker not in page.text


async def test_a_webhook_secret_is_shown_once_and_then_only_its_hint(connect, web, owner):
    async with connect("alice@example.com") as alice:
        started = await alice.ok("install_integration", {"slug": "stripe-billing"})
        assert started["webhook_url"] == f"http://127.0.0.1:8765/webhooks/{started['install_id']}"
        form = await web.get(path_of(started["connect_url"]))
        assert "Show the signing secret" in form.text and "whsec_" not in form.text
        page = await submit(web, started["connect_url"])
        assert page.status_code == 200 and 'id="signing-secret">whsec_' in page.text
        secret = page.text.split('id="signing-secret">')[1].split("<")[0]
        again = await web.get(path_of(started["connect_url"]))
        assert again.status_code == 410 and secret not in again.text and f"\u2026{secret[-4:]}" in again.text
        mine = (await alice.ok("list_my_integrations"))["installs"][0]
        assert mine["status"] == "active" and mine["webhook_url"] == started["webhook_url"]
        assert mine["signing_secret_hint"] == f"\u2026{secret[-4:]}" and secret not in str(mine)
        assert "no API credentials" in await alice.error(
            "integration_request", {"slug": "stripe-billing", "method": "GET", "path": "x"}
        )
    stored = await owner.fetchval("SELECT signing_secret_encrypted FROM public.webhook_endpoints")
    assert secret.encode() not in stored


async def test_uninstalling_destroys_the_key_and_the_secret(connect, web, owner, gong_api):
    async with connect("alice@example.com") as alice:
        gong = await alice.ok("install_integration", {"slug": "gong"})
        await submit(web, gong["connect_url"], api_key=GONG_KEY)
        stripe = await alice.ok("install_integration", {"slug": "stripe-billing"})
        await submit(web, stripe["connect_url"])
        await alice.ok("uninstall_integration", {"slug": "gong"})
        await alice.ok("uninstall_integration", {"slug": "stripe-billing"})
    assert await owner.fetchval("SELECT count(*) FROM public.oauth_tokens") == 0
    assert await owner.fetchval("SELECT count(*) FROM public.webhook_endpoints") == 0
    assert await owner.fetchval("SELECT count(*) FROM public.connect_links") == 0


def test_connect_tokens_stay_out_of_the_access_log():
    import logging as logging_module

    from renubu_mcp.web.oauth_callback import RedactCallbackQuery

    token = "dcEtz63g6gw6Pk1CbiQQnDSp_cpJ2jlvpjjvQ7WvtMg"
    record = logging_module.LogRecord(
        "uvicorn.access",
        20,
        __file__,
        1,
        '%s - "%s %s HTTP/%s" %d',
        ("127.0.0.1:5000", "POST", f"/connect/{token}", "1.1", 200),
        None,
    )
    RedactCallbackQuery().filter(record)
    assert token not in record.getMessage() and "/connect/[redacted]" in record.getMessage()


async def test_a_key_submitted_after_uninstalling_is_not_stored(connect, web, owner, gong_api):
    async with connect("alice@example.com") as alice:
        started = await alice.ok("install_integration", {"slug": "gong"})
        form = await web.get(path_of(started["connect_url"]))
        await alice.ok("uninstall_integration", {"slug": "gong"})
        page = await web.post(
            path_of(started["connect_url"]),
            data={"csrf": csrf_of(form), "api_key": GONG_KEY},
            headers={"Origin": "null", "Sec-Fetch-Site": "same-origin"},
        )
        assert "cannot be used" in page.text and "is connected" not in page.text  # uninstalling ended the link
    assert await owner.fetchval("SELECT count(*) FROM public.oauth_tokens") == 0
