"""What the authorization server refuses: wrong passwords (without saying which part), PKCE and redirect
mismatches, replayed codes and refresh tokens (which revoke what they gave), revoked tokens, locked and
deactivated accounts, forged or foreign form posts."""

from __future__ import annotations

import httpx
import pytest

from .conftest import (
    PASSWORD,
    authorize_url,
    code_for,
    pkce,
    query_of,
    register,
    status_with,
    token_request,
    tokens_for,
)

NOT_RIGHT = "The email or the password is not right."


@pytest.mark.parametrize(
    ("email", "password"),
    [
        ("alice@example.com", "not her password"),
        ("nobody@example.com", PASSWORD),
        ("ALICE@example.com ", "not her password"),
    ],
)
async def test_a_wrong_email_or_password_gets_the_same_answer_and_no_code(live, user_agent, email, password):
    client = await register(live)
    page = await user_agent.open(authorize_url(live, client, pkce()[1]))
    answer = await page.submit(email, password)
    assert answer.status_code == 401 and "location" not in answer.headers
    assert NOT_RIGHT in answer.text and password not in answer.text
    assert await live.owner.fetchval("SELECT count(*) FROM renubu_auth.codes") == 0
    # The form comes back to try again, the email kept, the password not.
    retry = await type(page)(answer, page.http).submit("alice@example.com", PASSWORD)
    assert retry.status_code == 303 and "code" in query_of(retry.headers["location"])


async def test_a_pkce_mismatch_gets_no_token(live, user_agent):
    client = await register(live)
    verifier, challenge = pkce()
    code = await code_for(live, user_agent, client, challenge)
    wrong = await token_request(
        live,
        client,
        grant_type="authorization_code",
        code=code,
        redirect_uri=client.redirect_uri,
        code_verifier=pkce()[0],
    )
    assert wrong.status_code == 400 and wrong.json()["error"] == "invalid_grant"
    right = await token_request(
        live,
        client,
        grant_type="authorization_code",
        code=code,
        redirect_uri=client.redirect_uri,
        code_verifier=verifier,
    )
    assert right.status_code == 200


@pytest.mark.parametrize(
    "params",
    [
        {"code_challenge_method": None},
        {"code_challenge_method": "plain"},
        {"code_challenge": "too-short"},
        {"response_type": "token"},
        {"resource": "https://other.example/mcp"},
    ],
)
async def test_a_request_without_pkce_s256_or_for_another_resource_goes_back_as_an_error_with_iss(
    live, user_agent, params
):
    client = await register(live)
    page = await user_agent.open(authorize_url(live, client, pkce()[1], **params))
    assert page.response.status_code == 303
    answer = query_of(page.response.headers["location"])
    assert page.response.headers["location"].startswith(client.redirect_uri)
    assert answer["error"] in ("invalid_request", "unsupported_response_type", "invalid_target")
    assert answer["iss"] == live.url and answer["state"].startswith("state-")


@pytest.mark.parametrize(
    "redirect_uri",
    ["http://127.0.0.1:53682/elsewhere", "https://evil.example/callback", "http://127.0.0.1:53682/callback?x=1"],
)
async def test_an_unregistered_redirect_uri_is_refused_on_the_page_and_never_redirected_to(
    live, user_agent, redirect_uri
):
    client = await register(live)
    page = await user_agent.open(authorize_url(live, client, pkce()[1], redirect_uri=redirect_uri))
    assert page.response.status_code == 400 and "location" not in page.response.headers
    assert "did not register" in page.text


async def test_a_loopback_redirect_uri_matches_on_any_port_but_nothing_else_may_differ(live, user_agent):
    client = await register(live, ["http://127.0.0.1/callback", "https://app.example/callback"])
    verifier, challenge = pkce()
    answer = await user_agent.sign_in(
        authorize_url(live, client, challenge, redirect_uri="http://127.0.0.1:45678/callback")
    )
    tokens = await token_request(
        live,
        client,
        grant_type="authorization_code",
        code=answer["code"],
        redirect_uri="http://127.0.0.1:45678/callback",
        code_verifier=verifier,
    )
    assert tokens.status_code == 200
    for other in ("https://app.example:8443/callback", "http://localhost:45678/callback"):
        page = await user_agent.open(authorize_url(live, client, challenge, redirect_uri=other))
        assert page.response.status_code == 400, other


async def test_a_token_request_must_name_the_redirect_uri_of_its_authorization(live, user_agent):
    client = await register(live, ["http://127.0.0.1:53682/callback", "http://127.0.0.1:53682/other"])
    verifier, challenge = pkce()
    code = await code_for(live, user_agent, client, challenge)
    wrong = await token_request(
        live,
        client,
        grant_type="authorization_code",
        code=code,
        redirect_uri="http://127.0.0.1:53682/other",
        code_verifier=verifier,
    )
    assert wrong.status_code == 400 and wrong.json()["error"] == "invalid_request"


async def test_a_replayed_code_gets_nothing_and_revokes_what_the_first_exchange_got(live, user_agent):
    client = await register(live)
    verifier, challenge = pkce()
    code = await code_for(live, user_agent, client, challenge)
    exchange = dict(
        grant_type="authorization_code", code=code, redirect_uri=client.redirect_uri, code_verifier=verifier
    )
    first = await token_request(live, client, **exchange)
    assert first.status_code == 200 and await status_with(live, first.json()["access_token"]) == 200
    replay = await token_request(live, client, **exchange)
    assert replay.status_code == 400 and replay.json()["error"] == "invalid_grant"
    assert await status_with(live, first.json()["access_token"]) == 401
    refresh = await token_request(live, client, grant_type="refresh_token", refresh_token=first.json()["refresh_token"])
    assert refresh.status_code == 400
    assert await live.owner.fetchval("SELECT revoked_because FROM renubu_auth.grants") == "code replayed"


async def test_a_code_is_only_for_the_client_it_was_issued_to(live, user_agent):
    client, other = await register(live), await register(live)
    verifier, challenge = pkce()
    code = await code_for(live, user_agent, client, challenge)
    stolen = await token_request(
        live,
        other,
        grant_type="authorization_code",
        code=code,
        redirect_uri=client.redirect_uri,
        code_verifier=verifier,
    )
    assert stolen.status_code == 400 and stolen.json()["error"] == "invalid_grant"


async def test_a_reused_refresh_token_revokes_the_whole_grant(live, user_agent):
    client = await register(live)
    first = await tokens_for(live, user_agent, client)
    second = (
        await token_request(live, client, grant_type="refresh_token", refresh_token=first["refresh_token"])
    ).json()
    assert await status_with(live, second["access_token"]) == 200
    reuse = await token_request(live, client, grant_type="refresh_token", refresh_token=first["refresh_token"])
    assert reuse.status_code == 400 and reuse.json()["error"] == "invalid_grant"
    assert await status_with(live, second["access_token"]) == 401
    latest = await token_request(live, client, grant_type="refresh_token", refresh_token=second["refresh_token"])
    assert latest.status_code == 400
    assert await live.owner.fetchval("SELECT revoked_because FROM renubu_auth.grants") == "refresh token reused"


@pytest.mark.parametrize("which", ["access_token", "refresh_token"])
async def test_a_revoked_token_stops_the_grant(live, user_agent, which):
    client = await register(live)
    tokens = await tokens_for(live, user_agent, client)
    assert await status_with(live, tokens["access_token"]) == 200
    async with httpx.AsyncClient() as http:
        other = await register(live)
        ignored = await http.post(f"{live.url}/revoke", data={**other.credentials(), "token": tokens[which]})
        assert ignored.status_code == 200 and await status_with(live, tokens["access_token"]) == 200
        revoked = await http.post(
            f"{live.url}/revoke", data={**client.credentials(), "token": tokens[which], "token_type_hint": which}
        )
    assert revoked.status_code == 200
    assert await status_with(live, tokens["access_token"]) == 401
    refresh = await token_request(live, client, grant_type="refresh_token", refresh_token=tokens["refresh_token"])
    assert refresh.status_code == 400


async def test_a_confidential_client_must_present_its_secret(live, user_agent):
    client = await register(live, token_endpoint_auth_method="client_secret_post")
    verifier, challenge = pkce()
    code = await code_for(live, user_agent, client, challenge)
    async with httpx.AsyncClient() as http:
        answer = await http.post(
            f"{live.url}/token",
            data={
                "client_id": client.client_id,
                "client_secret": "not-the-secret",
                "grant_type": "authorization_code",
                "code": code,
                "redirect_uri": client.redirect_uri,
                "code_verifier": verifier,
            },
        )
    assert answer.status_code == 401 and answer.json()["error"] == "invalid_client"


async def test_failures_slow_down_then_lock_the_account_and_a_new_password_lifts_the_lock(live, user_agent):
    client = await register(live)
    url = authorize_url(live, client, pkce()[1])
    for attempt in range(3):
        answer = await (await user_agent.open(url)).submit(password=f"guess {attempt}")
        assert answer.status_code == 401
    wait = await live.owner.fetchrow(
        "SELECT failures, next_attempt_at - last_failed_at AS delay"
        " FROM renubu_auth.sign_in_failures WHERE email = 'alice@example.com'"
    )
    assert (wait["failures"], wait["delay"].total_seconds()) == (3, 5.0)
    assert "Wait 5 seconds" in answer.text
    # While the wait runs, even the right password is not looked at.
    await live.owner.execute("UPDATE renubu_auth.sign_in_failures SET next_attempt_at = now() + interval '1 hour'")
    throttled = await (await user_agent.open(url)).submit()
    assert throttled.status_code == 429 and "Wait" in throttled.text and "location" not in throttled.headers
    # Ten failures in a row lock the account, whatever the password.
    await live.owner.execute("UPDATE renubu_auth.sign_in_failures SET failures = 9, next_attempt_at = NULL")
    locked = await (await user_agent.open(url)).submit(password="guess 9")
    assert locked.status_code == 429 and "locked for 15 minutes" in locked.text
    still = await (await user_agent.open(url)).submit()
    assert still.status_code == 429 and "locked" in still.text
    assert await live.owner.fetchval("SELECT count(*) FROM renubu_auth.codes") == 0
    await live.owner.execute("SELECT renubu_auth.set_password('alice@example.com', $1)", PASSWORD)
    assert "code" in await user_agent.sign_in(url)


async def test_a_deactivated_user_cannot_sign_in_and_their_tokens_stop(live, user_agent):
    client = await register(live)
    tokens = await tokens_for(live, user_agent, client, email="bob@example.com")
    await live.owner.execute("UPDATE public.profiles SET deleted_at = now() WHERE email = 'bob@example.com'")
    page = await user_agent.open(authorize_url(live, client, pkce()[1]))
    answer = await page.submit("bob@example.com")
    assert answer.status_code == 403 and "deactivated" in answer.text and "location" not in answer.headers
    wrong = await (await user_agent.open(authorize_url(live, client, pkce()[1]))).submit("bob@example.com", "nope")
    assert "deactivated" not in wrong.text  # only the right password learns that
    refresh = await token_request(live, client, grant_type="refresh_token", refresh_token=tokens["refresh_token"])
    assert refresh.status_code == 400
    assert await status_with(live, tokens["access_token"]) == 401


async def test_denying_sends_access_denied_back_with_state_and_iss(live, user_agent):
    client = await register(live)
    answer = await user_agent.sign_in(authorize_url(live, client, pkce()[1], state="keep-me"), decision="deny")
    assert answer == {
        "error": "access_denied",
        "error_description": "the user did not allow access",
        "state": "keep-me",
        "iss": live.url,
    }


async def test_a_sign_in_is_used_once(live, user_agent):
    client = await register(live)
    page = await user_agent.open(authorize_url(live, client, pkce()[1]))
    assert (await page.submit()).status_code == 303
    again = await page.submit()
    assert again.status_code == 410 and "expired or was used already" in again.text


async def test_a_form_without_its_cookie_or_from_another_site_is_refused(live, user_agent):
    client = await register(live)
    page = await user_agent.open(authorize_url(live, client, pkce()[1]))
    user_agent.http.cookies.clear()
    forged = await page.submit()
    assert forged.status_code == 403 and "out of date" in forged.text
    page = await user_agent.open(authorize_url(live, client, pkce()[1]))
    fields = {"email": "alice@example.com", "password": PASSWORD, "decision": "allow"}
    from .conftest import hidden_fields

    cross = await user_agent.http.post(
        f"{live.url}/authorize/sign-in",
        data={**hidden_fields(page.text), **fields},
        headers={"origin": "https://evil.example", "sec-fetch-site": "cross-site"},
    )
    assert cross.status_code == 403 and "another site" in cross.text
    assert await live.owner.fetchval("SELECT count(*) FROM renubu_auth.codes") == 0


async def test_the_page_names_the_client_escaped_and_where_the_browser_goes_back_with_the_connect_pages_headers(
    live, user_agent
):
    client = await register(live, client_name='<script>alert("x")</script> Tool')
    page = await user_agent.open(authorize_url(live, client, pkce()[1]))
    assert "<script>" not in page.text and "&lt;script&gt;" in page.text
    assert '<code id="redirect-host">127.0.0.1:53682</code>' in page.text
    headers = page.response.headers
    assert "form-action 'self' http://127.0.0.1:53682;" in headers["content-security-policy"]
    assert "default-src 'none'" in headers["content-security-policy"]
    assert headers["referrer-policy"] == "no-referrer" and headers["x-frame-options"] == "DENY"
    assert headers["cache-control"] == "no-store"
    cookie = headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=strict" in cookie and "path=/authorize" in cookie


@pytest.mark.parametrize(
    ("uris", "method", "error"),
    [
        (["javascript:alert(1)"], None, "invalid_redirect_uri"),
        (["http://app.example/callback"], None, "invalid_redirect_uri"),
        (["https://app.example/callback#frag"], None, "invalid_redirect_uri"),
        (["https://app.example/callback"], "private_key_jwt", "invalid_client_metadata"),
        ([f"https://app.example/{n}" for n in range(11)], None, "invalid_redirect_uri"),
    ],
)
async def test_registration_refuses_redirect_uris_and_methods_it_cannot_honour(live, uris, method, error):
    body = {"redirect_uris": uris, **({"token_endpoint_auth_method": method} if method else {})}
    async with httpx.AsyncClient() as http:
        answer = await http.post(f"{live.url}/register", json=body)
    assert answer.status_code == 400 and answer.json()["error"] == error
    assert await live.owner.fetchval("SELECT count(*) FROM renubu_auth.clients") == 0


async def test_an_unknown_client_or_a_malformed_link_is_refused_on_the_page(live, user_agent):
    page = await user_agent.open(f"{live.url}/authorize?client_id=nope&response_type=code")
    assert page.response.status_code == 400 and "not registered here" in page.text
    page = await user_agent.open(f"{live.url}/authorize?client_id=a&client_id=b")
    assert page.response.status_code == 400 and "malformed" in page.text
