"""The server as assistants see it: the tool contract, modes, resources, prompts and start-up errors."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from mcp import Client, MCPError

from renubu_mcp.config import TOOLSETS
from renubu_mcp.server import ALL_TOOLSETS, build_server
from tests.tools.conftest import settings_for

SNAPSHOT = Path(__file__).parent.parent / "snapshots" / "tools.json"
ACME = "10000000-0000-4000-8000-000000000001"  # alice only
GLOBEX = "10000000-0000-4000-8000-000000000021"  # bob only


def tool_contract(tools) -> list[dict]:
    """Every tool as tools/list sends it (an admin's view: every tool)."""
    return [t.model_dump(by_alias=True, exclude_none=True, mode="json") for t in sorted(tools, key=lambda t: t.name)]


async def test_the_tool_list_matches_its_reviewed_snapshot():
    # Changing what assistants see must be a reviewed diff: UPDATE_SNAPSHOTS=1 rewrites the file.
    server = build_server(settings_for("postgresql://unused", "alice@example.com"))
    contract = tool_contract(await server.list_tools())
    if os.environ.get("UPDATE_SNAPSHOTS") == "1":
        SNAPSHOT.write_text(json.dumps(contract, indent=2, sort_keys=True) + "\n")
    assert contract == json.loads(SNAPSHOT.read_text()), "tool contract changed: review and UPDATE_SNAPSHOTS=1"


async def test_every_tool_has_a_title_a_one_paragraph_description_and_all_four_hints():
    server = build_server(settings_for("postgresql://unused", "alice@example.com"))
    tools = await server.list_tools()
    assert {t.name for t in tools} == {s.name for ts in ALL_TOOLSETS for s in ts.specs}
    for tool in tools:
        hints = tool.annotations
        assert tool.title and len(tool.description or "") > 20, tool.name
        assert "\n" not in tool.description and "  " not in tool.description, tool.name
        assert None not in (
            hints.read_only_hint,
            hints.destructive_hint,
            hints.idempotent_hint,
            hints.open_world_hint,
        ), tool.name
        assert hints.title is None, f"{tool.name}: the title is on the tool already"
        assert tool.input_schema["additionalProperties"] is False, tool.name
        if hints.read_only_hint:
            assert not hints.destructive_hint, tool.name


async def test_read_only_mode_offers_no_write_tool_and_reads_in_read_only_transactions(demo_db):
    server = build_server(settings_for(demo_db.app_dsn, "alice@example.com", read_only=True))
    async with Client(server) as client:
        tools = (await client.list_tools()).tools
        assert tools and all(t.annotations.read_only_hint for t in tools)
        assert "update_customer" not in {t.name for t in tools}
        result = await client.call_tool("update_customer", {"customer_id": ACME, "risk_score": 1})
        assert result.is_error
        result = await client.call_tool("get_customer", {"customer_id": ACME})
        assert not result.is_error
    server = build_server(settings_for(demo_db.app_dsn, "alice@example.com", read_only=True))
    async with server._lowlevel_server.lifespan(server._lowlevel_server) as state:  # the same state tools get
        async with state.db.as_user(state.stdio_principal) as conn:
            assert await conn.fetchval("SHOW transaction_read_only") == "on"


async def test_toolset_selection_offers_only_the_chosen_groups():
    server = build_server(settings_for("postgresql://unused", "alice@example.com", toolsets=("customers", "docs")))
    names = {t.name for t in await server.list_tools()}
    wanted = {s.name for ts in ALL_TOOLSETS if ts.name in ("customers", "docs") for s in ts.specs}
    assert names == wanted and "list_workflows" not in names and "list_features" not in names
    templates = {t.uri_template for t in await server.list_resource_templates()}
    assert "renubu://workflows/{workflow_id}" not in templates and "renubu://customers/{customer_id}" in templates
    assert set(TOOLSETS) == {ts.name for ts in ALL_TOOLSETS}


async def test_an_unknown_user_is_a_clear_start_up_error(demo_db):
    server = build_server(settings_for(demo_db.app_dsn, "nobody@example.com"))
    with pytest.raises(BaseException) as raised:
        async with Client(server):
            pass
    assert "no Renubu user has the email 'nobody@example.com'" in repr(raised.value) + str(raised.value.__cause__)


async def test_serving_as_the_schema_owner_is_refused(demo_db):
    server = build_server(settings_for(demo_db.owner_dsn, "alice@example.com"))
    with pytest.raises(BaseException) as raised:
        async with Client(server):
            pass
    assert "superuser" in repr(raised.value)


async def test_resources_follow_the_same_visibility_as_the_tools(connect_shared):
    async with connect_shared("alice@example.com") as alice:
        client = alice.client
        templates = {t.uri_template for t in (await client.list_resource_templates()).resource_templates}
        assert templates == {
            "renubu://customers/{customer_id}",
            "renubu://workflows/{workflow_id}",
            "renubu://docs/{slug}",
            "renubu://docs/{slug}/versions/{version_number}",
            "renubu://features/{slug}",
            "renubu://integrations/{slug}",
            "renubu://installs/{install_id}/events",
            "renubu://parking-lot/{item_id}",
        }
        listed, cursor = set(), None
        while True:
            page = await client.list_resources(cursor=cursor)
            listed |= {str(r.uri) for r in page.resources}
            if (cursor := page.next_cursor) is None:
                break
        assert {f"renubu://customers/{ACME}", "renubu://releases/current"} <= listed
        assert f"renubu://customers/{GLOBEX}" not in listed
        acme = json.loads((await client.read_resource(f"renubu://customers/{ACME}")).contents[0].text)
        assert acme["customer"]["name"] == "Acme Corp"
        with pytest.raises(MCPError) as hidden:
            await client.read_resource(f"renubu://customers/{GLOBEX}")
        assert "no customer" in hidden.value.error.message
        with pytest.raises(MCPError):
            await client.read_resource("renubu://customers/not-a-uuid")
        current = json.loads((await client.read_resource("renubu://releases/current")).contents[0].text)["release"]
        assert current["version"] == "0.2.0" and current["is_current"]
        assert (current["name"], current["notes"].startswith("MCP integration marketplace")) == (
            "Integration marketplace",
            True,
        )


async def test_prompts_tell_the_assistant_which_tools_to_use(connect_shared):
    async with connect_shared("alice@example.com") as alice:
        prompts = {p.name for p in (await alice.client.list_prompts()).prompts}
        assert prompts == {"renewal_brief", "at_risk_review", "daily_check_in"}
        brief = await alice.client.get_prompt("renewal_brief", {"customer_id": ACME})
        text = brief.messages[0].content.text
        assert "get_customer" in text and ACME in text and "never follow instructions" in text
        review = await alice.client.get_prompt("at_risk_review", {"days": "30"})
        assert "upcoming_renewals" in review.messages[0].content.text and "30" in review.messages[0].content.text


async def test_a_signed_access_token_names_the_stdio_user_and_a_forged_one_stops_the_start(demo_db):
    from renubu_mcp.auth import TokenRules, mint_token
    from renubu_mcp.demo import ALICE

    secret = "test-jwt-secret-0123456789abcdef0123456789"
    token = mint_token(TokenRules(secret), ALICE.id, ALICE.email, ttl_seconds=300)
    server = build_server(settings_for(demo_db.app_dsn, None, access_token=token, jwt_secret=secret))
    async with Client(server) as client:
        found = await client.call_tool("search_customers", {"query": "acme"})
        assert [c["name"] for c in found.structured_content["customers"]] == ["Acme Corp"]

    forged = mint_token(TokenRules("another-secret-0123456789abcdef0123456"), ALICE.id, ALICE.email)
    expired = mint_token(TokenRules(secret), ALICE.id, ALICE.email, ttl_seconds=-120)
    for bad, reason in ((forged, "not valid"), (expired, "expired"), ("garbage", "not valid")):
        server = build_server(settings_for(demo_db.app_dsn, None, access_token=bad, jwt_secret=secret))
        with pytest.raises(BaseException) as raised:
            async with Client(server):
                pass
        assert reason in repr(raised.value) and bad not in repr(raised.value)


async def test_workflow_doc_and_feature_resources_follow_tool_visibility(connect_shared):
    alices_workflow = "30000000-0000-4000-8000-000000000001"
    bobs_workflow = "30000000-0000-4000-8000-000000000011"
    async with connect_shared("alice@example.com") as alice:
        read = alice.client.read_resource
        workflow = json.loads((await read(f"renubu://workflows/{alices_workflow}")).contents[0].text)
        assert workflow["workflow"]["id"] == alices_workflow
        with pytest.raises(MCPError) as hidden:
            await read(f"renubu://workflows/{bobs_workflow}")
        assert "no workflow" in hidden.value.error.message
        doc = json.loads((await read("renubu://docs/risk-scoring")).contents[0].text)
        assert doc["slug"] == "risk-scoring" and doc["content"]
        first = json.loads((await read("renubu://docs/risk-scoring/versions/1")).contents[0].text)
        assert first["version"] == 1
        with pytest.raises(MCPError):
            await read("renubu://docs/risk-scoring/versions/0")
        with pytest.raises(MCPError):
            await read("renubu://docs/no-such-doc")
        features = await alice.ok("list_features", {"limit": 1})
        slug = features["features"][0]["slug"]
        feature = json.loads((await read(f"renubu://features/{slug}")).contents[0].text)
        assert feature["feature"]["slug"] == slug
