"""Consent before data leaves: integration_request sends a write only after the user confirmed it in their client
(a form in the middle of the call on 2025-11-25, an InputRequiredResult round trip on 2026-07-28). Declined,
dismissed or unanswered: nothing is sent. A client that cannot ask is refused, unless an admin allows
unattended writes for that integration.

In process here, in both eras; tests/integrations/test_asking_transports.py drives stdio and HTTP.
"""

from __future__ import annotations

import json

import pytest
from mcp import Client, MCPError
from mcp.types import ElicitResult, InputRequiredResult

from renubu_mcp import asking
from renubu_mcp.server import build_server

from .conftest import connected, settings_for
from .person import Person

pytestmark = pytest.mark.usefixtures("mocked")

ERAS = ["legacy", "auto"]  # 2025-11-25 and 2026-07-28
NOTE = {
    "slug": "hubspot",
    "method": "POST",
    "path": "crm/v3/objects/notes",
    "query": {"archived": False},
    "body": {"properties": {"hs_note_body": "renewal call with Acme"}},
}


def writes(provider) -> list[dict]:
    return [r for r in provider.api_requests if r["method"] != "GET"]


@pytest.mark.parametrize("mode", ERAS)
async def test_a_write_is_sent_once_the_user_confirmed_what_it_is(connect, hubspot, browser, mode):
    user = Person(confirm="yes")
    async with connect("alice@example.com") as plain:
        await connected(plain, hubspot, browser)
    async with connect("alice@example.com", mode=mode, elicitation_callback=user) as alice:
        sent = await alice.ok("integration_request", NOTE)
    assert sent["status_code"] == 200
    assert [json.loads(r["body"]) for r in writes(hubspot)] == [NOTE["body"]]
    (form,) = user.forms
    body_bytes = len(json.dumps(NOTE["body"], separators=(",", ":")))
    assert form.message == (
        "Send this POST request to HubSpot as you?\nHost: provider.test\n"
        "Path: /api/v3/crm/v3/objects/notes?archived=false\n"
        f"Body: {body_bytes} bytes of JSON\nNothing is sent unless you confirm."
    )
    assert form.requested_schema["properties"]["send"]["type"] == "boolean"


@pytest.mark.parametrize("mode", ERAS)
@pytest.mark.parametrize(
    ("answer", "said"),
    [("decline", "the user declined"), ("no", "the user declined"), ("cancel", "the user dismissed the confirmation")],
)
async def test_a_declined_or_dismissed_write_sends_nothing(connect, hubspot, browser, mode, answer, said):
    async with connect("alice@example.com") as plain:
        await connected(plain, hubspot, browser)
    async with connect("alice@example.com", mode=mode, elicitation_callback=Person(confirm=answer)) as alice:
        message = await alice.error("integration_request", NOTE)
        assert message == f"{said}: nothing was sent to HubSpot"
        assert (await alice.ok("integration_request", {"slug": "hubspot", "method": "GET", "path": "x"}))[
            "status_code"
        ] == 200  # reads are never asked
    assert writes(hubspot) == []


async def test_an_unanswered_confirmation_sends_nothing_2025(connect, hubspot, browser, monkeypatch):
    monkeypatch.setattr(asking, "ANSWER_WAIT_S", 0.5)
    async with connect("alice@example.com") as plain:
        await connected(plain, hubspot, browser)
    async with connect("alice@example.com", mode="legacy", elicitation_callback=Person(confirm="never")) as alice:
        message = await alice.error("integration_request", NOTE)
    assert message == "the user did not answer the confirmation: nothing was sent to HubSpot"
    assert writes(hubspot) == []


async def test_an_unanswered_confirmation_sends_nothing_2026(connect, hubspot, browser):
    async with connect("alice@example.com") as plain:
        await connected(plain, hubspot, browser)
    async with connect("alice@example.com", elicitation_callback=Person()) as alice:
        session = alice.client.session
        asked = await session.call_tool("integration_request", NOTE, allow_input_required=True)
        assert isinstance(asked, InputRequiredResult) and list(asked.input_requests) == ["consent"]
        assert writes(hubspot) == []  # the client never came back: nothing was sent
        again = await session.call_tool(
            "integration_request", NOTE, request_state=asked.request_state, allow_input_required=True
        )  # back, but without an answer
        assert again.is_error and again.content[0].text == (
            "the user did not answer the confirmation: nothing was sent to HubSpot"
        )
    assert writes(hubspot) == []


async def test_a_yes_counts_only_for_the_question_it_answered(connect, hubspot, browser):
    yes = {"consent": ElicitResult(action="accept", content={"send": True})}
    async with connect("alice@example.com") as plain:
        await connected(plain, hubspot, browser)
    async with connect("alice@example.com", elicitation_callback=Person()) as alice:
        session = alice.client.session
        # A yes the server never asked for (no state of its own) is no answer: the question comes first.
        forged = await session.call_tool("integration_request", NOTE, input_responses=yes, allow_input_required=True)
        assert isinstance(forged, InputRequiredResult)
        # The state is bound to the arguments: a yes to one body does not send another.
        other = {**NOTE, "body": {"properties": {"hs_note_body": "something else"}}}
        with pytest.raises(MCPError, match="Invalid or expired requestState"):
            await session.call_tool(
                "integration_request",
                other,
                input_responses=yes,
                request_state=forged.request_state,
                allow_input_required=True,
            )
        # Nor is state the client made up.
        with pytest.raises(MCPError, match="Invalid or expired requestState"):
            await session.call_tool(
                "integration_request",
                NOTE,
                input_responses=yes,
                request_state='{"v":1,"agreed":"x"}',
                allow_input_required=True,
            )
        assert writes(hubspot) == []
        sent = await session.call_tool(
            "integration_request",
            NOTE,
            input_responses=yes,
            request_state=forged.request_state,
            allow_input_required=True,
        )
        assert not sent.is_error and sent.structured_content["status_code"] == 200
    assert len(writes(hubspot)) == 1


@pytest.mark.parametrize("mode", ERAS)
async def test_a_client_that_cannot_ask_is_refused_unless_an_admin_allows_unattended_writes(
    connect, hubspot, browser, mode
):
    async with connect("alice@example.com", mode=mode) as alice, connect("admin@example.com", mode=mode) as admin:
        await connected(alice, hubspot, browser)
        refused = await alice.error("integration_request", NOTE)
        assert refused == (
            "a POST request sends data to HubSpot, so the user must confirm it, and this client cannot ask (it has "
            "no form elicitation): nothing was sent. Use a client that can, or ask an admin to allow unattended "
            "writes for HubSpot"
        )
        assert "allow_unattended_writes" not in await admin.ok("get_integration", {"slug": "hubspot"})  # off

        on = await admin.ok("update_integration", {"slug": "hubspot", "allow_unattended_writes": True})
        assert on["allow_unattended_writes"] is True
        assert (await alice.ok("get_integration", {"slug": "hubspot"}))["allow_unattended_writes"] is True
        assert (await alice.ok("integration_request", NOTE))["status_code"] == 200

        off = await admin.ok("update_integration", {"slug": "hubspot", "allow_unattended_writes": False})
        assert "allow_unattended_writes" not in off
        assert "must confirm it" in await alice.error("integration_request", NOTE)
        assert "only admins" in await alice.error(
            "update_integration", {"slug": "hubspot", "allow_unattended_writes": True}
        )
    assert len(writes(hubspot)) == 1


async def test_an_unattended_integration_is_not_asked_even_by_a_client_that_can(connect, hubspot, browser, owner):
    await owner.execute("UPDATE public.mcp_integrations SET allow_unattended_writes = true WHERE slug = 'hubspot'")
    user = Person(confirm="decline")
    async with connect("alice@example.com") as plain:
        await connected(plain, hubspot, browser)
    async with connect("alice@example.com", elicitation_callback=user) as alice:
        assert (await alice.ok("integration_request", NOTE))["status_code"] == 200
    assert user.forms == []


async def test_register_integration_takes_the_switch_off_by_default(connect):
    entry = {"name": "Acme CRM", "connection_type": "api_key", "api_base_url": "https://api.acme.test"}
    async with connect("admin@example.com") as admin:
        plain = await admin.ok("register_integration", {"slug": "acme-crm", **entry})
        trusted = await admin.ok(
            "register_integration", {"slug": "acme-trusted", **entry, "allow_unattended_writes": True}
        )
    assert "allow_unattended_writes" not in plain and trusted["allow_unattended_writes"] is True


async def test_a_bad_request_is_refused_before_anyone_is_asked(connect, hubspot, browser):
    user = Person()
    async with connect("alice@example.com") as plain:
        await connected(plain, hubspot, browser)
    async with connect("alice@example.com", elicitation_callback=user) as alice:
        assert "path must not contain" in await alice.error("integration_request", {**NOTE, "path": "../admin"})
        assert "takes no body" in await alice.error("integration_request", {**NOTE, "method": "DELETE"})
    assert user.forms == [] and writes(hubspot) == []


async def test_the_client_loop_drives_both_questions_in_one_round(demo_db, hubspot, web):
    """Not connected yet and a write: the connect page and the confirmation go out together (2026-07-28)."""
    user = Person(web, hubspot, confirm="yes")
    server = build_server(settings_for(demo_db.app_dsn, "alice@example.com"))
    async with Client(server, elicitation_callback=user) as client:
        result = await client.call_tool("integration_request", NOTE)
    assert not result.is_error, result.content[0].text
    assert len(user.pages) == 1 and len(user.forms) == 1
    assert len(writes(hubspot)) == 1
