"""What the model pays for the tools: the catalog's byte budget per role, over stdio and HTTP, in both protocol
eras; each role shown only the tools it can use; lean, strict input schemas."""

from __future__ import annotations

import json
from contextlib import asynccontextmanager
from dataclasses import replace

import httpx2
import pytest
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

from renubu_mcp.auth import TokenRules, mint_token
from renubu_mcp.demo import ADMIN, ALICE, BOB, PAT
from renubu_mcp.http_app import build_http_app
from renubu_mcp.server import ALL_TOOLSETS, build_server
from tests.tools.conftest import settings_for

# The budget: average bytes per tool of the compact JSON of the tools/list result (bytes / 4 is about tokens).
ADMIN_BUDGET, CSM_BUDGET = 700, 550
ADMIN_ONLY = {"register_integration", "update_integration", "set_integration_status", "create_release_snapshot"}
ADMINS_AND_PMS = {"update_feature"}
EVERY_TOOL = {spec.name for toolset in ALL_TOOLSETS for spec in toolset.specs}
SECRET = "catalog-test-jwt-secret-0123456789abcdef0123"


def catalog_bytes(result) -> int:
    return len(json.dumps(result.model_dump(by_alias=True, exclude_none=True, mode="json"), separators=(",", ":")))


@asynccontextmanager
async def stdio_client(database, email, mode):
    async with Client(build_server(settings_for(database.app_dsn, email)), mode=mode) as client:
        yield client


@asynccontextmanager
async def http_client(database, email, mode):
    """The production HTTP app in process, with the user's bearer token."""
    settings = replace(settings_for(database.app_dsn, None), jwt_secret=SECRET)
    server = build_server(settings, transport="http")
    app = build_http_app(server, settings)
    user = {u.email: u for u in (ADMIN, ALICE, BOB, PAT)}[email]
    token = mint_token(TokenRules(SECRET), user.id, user.email, ttl_seconds=300)
    async with app.router.lifespan_context(app):
        transport = httpx2.ASGITransport(app=app)
        async with httpx2.AsyncClient(
            transport=transport, base_url="http://127.0.0.1:8000", headers={"Authorization": f"Bearer {token}"}
        ) as http:
            async with Client(
                streamable_http_client("http://127.0.0.1:8000/mcp", http_client=http), mode=mode
            ) as client:
                yield client


CLIENTS = {"stdio": stdio_client, "http": http_client}


@pytest.mark.parametrize("transport", ["stdio", "http"])
@pytest.mark.parametrize("mode", ["legacy", "auto"])  # the 2025-11-25 handshake and the 2026-07-28 era
async def test_each_role_sees_only_its_tools_within_the_byte_budget(demo, transport, mode):
    shown = {}
    for user, budget in ((ADMIN, ADMIN_BUDGET), (ALICE, CSM_BUDGET), (PAT, CSM_BUDGET)):
        async with CLIENTS[transport](demo, user.email, mode) as client:
            result = await client.list_tools()
            again = await client.list_tools()  # built once per role: the same every time
        shown[user.email] = {t.name for t in result.tools}
        per_tool = catalog_bytes(result) / len(result.tools)
        assert per_tool <= budget, f"{user.email} over {transport}/{mode}: {per_tool:.0f} bytes per tool > {budget}"
        assert catalog_bytes(again) == catalog_bytes(result)
    assert shown[ADMIN.email] == EVERY_TOOL
    assert shown[PAT.email] == EVERY_TOOL - ADMIN_ONLY
    assert shown[ALICE.email] == EVERY_TOOL - ADMIN_ONLY - ADMINS_AND_PMS


async def test_a_hidden_tool_called_by_name_is_refused_as_before_and_changes_nothing(connect):
    async with connect(ALICE.email) as alice:
        assert "register_integration" not in {t.name for t in (await alice.client.list_tools()).tools}
        refused = await alice.error(
            "register_integration", {"slug": "mine", "name": "Mine", "connection_type": "webhook"}
        )
        snapshot = await alice.error("create_release_snapshot", {"version": "9.9.9"})
        feature = await alice.error("update_feature", {"slug": "salesforce-sync", "priority": 1})
        marketplace = (await alice.ok("list_integrations", {"query": "mine"}))["integrations"]
    assert "not permitted" in refused and marketplace == []
    assert "only admins can create release snapshots" in snapshot
    assert "only admins and product managers" in feature


async def test_every_input_schema_is_lean_and_refuses_unknown_arguments():
    server = build_server(settings_for("postgresql://unused", ADMIN.email))
    for tool in await server.list_tools():
        schema = tool.input_schema
        text = json.dumps(schema)
        assert schema["additionalProperties"] is False, tool.name
        assert "title" not in schema_keywords(schema), tool.name
        assert '{"type": "null"}' not in text and '"default": null' not in text, tool.name
        for sub in subschemas(schema):  # what the Inspector's strict check asks of every client's schemas
            assert sub and not isinstance(sub.get("type"), list), f"{tool.name}: not portable: {sub}"
        assert tool.output_schema is None, tool.name  # results are documented in descriptions and read as JSON


def subschemas(schema):
    """Every schema nested in a schema: property schemas, items, alternatives, additionalProperties."""
    for key in ("properties", "$defs"):
        for sub in (schema.get(key) or {}).values():
            yield sub
            yield from subschemas(sub)
    for key in ("items", "additionalProperties"):
        if isinstance(schema.get(key), dict):
            yield schema[key]
            yield from subschemas(schema[key])
    for key in ("anyOf", "oneOf", "allOf"):
        for sub in schema.get(key) or []:
            yield sub
            yield from subschemas(sub)


def schema_keywords(schema) -> set[str]:
    """Every keyword used anywhere in a schema (property names are not keywords)."""
    words: set[str] = set()
    if isinstance(schema, dict):
        for key, value in schema.items():
            words.add(key)
            subschemas = value.values() if key in ("properties", "$defs") and isinstance(value, dict) else [value]
            for sub in subschemas:
                words |= schema_keywords(sub)
    elif isinstance(schema, list):
        for item in schema:
            words |= schema_keywords(item)
    return words


@pytest.mark.parametrize("tool", sorted(EVERY_TOOL))
async def test_an_unknown_argument_is_refused_naming_the_valid_ones(connect_shared, tool):
    async with connect_shared(ADMIN.email) as admin:
        schema = next(t.input_schema for t in (await admin.client.list_tools()).tools if t.name == tool)
        message = await admin.error(tool, {"zz_unexpected": 1})
    valid = ", ".join(schema["properties"]) or "none"
    assert message == f"unknown argument 'zz_unexpected'; valid arguments: {valid}"
