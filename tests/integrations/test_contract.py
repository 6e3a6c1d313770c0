"""The integrations toolset as assistants see it: honest hints, schemas, read-only mode, no secret in a schema."""

from __future__ import annotations

from mcp import Client

from renubu_mcp.server import build_server
from renubu_mcp.tools import marketplace

from .conftest import settings_for

READS = {"list_integrations", "get_integration", "list_my_integrations", "list_integration_events"}
WRITES = {
    "register_integration",
    "update_integration",
    "set_integration_status",
    "install_integration",
    "uninstall_integration",
    "integration_request",
}


async def tools(**overrides):
    server = build_server(settings_for("postgresql://unused", "alice@example.com", **overrides))
    return {t.name: t for t in await server.list_tools() if t.name in READS | WRITES}


async def test_every_integration_tool_has_a_title_a_description_and_all_four_hints():
    offered = await tools()
    assert set(offered) == READS | WRITES == {s.name for s in marketplace.toolset.specs}
    for name, tool in offered.items():
        hints = tool.annotations
        assert tool.title and len(tool.description or "") > 20, name
        assert None not in (
            hints.read_only_hint,
            hints.destructive_hint,
            hints.idempotent_hint,
            hints.open_world_hint,
        ), name
        assert hints.read_only_hint is (name in READS), name
    # Only the tools that talk to a provider say so; only the ones that can destroy something say that.
    assert {n for n, t in offered.items() if t.annotations.open_world_hint} == {
        "uninstall_integration",
        "integration_request",
    }
    assert {n for n, t in offered.items() if t.annotations.destructive_hint} == {
        "uninstall_integration",
        "integration_request",
    }


async def test_the_client_secret_is_a_write_only_password_field_and_no_result_carries_one(demo_db):
    offered = await tools()
    for name in ("register_integration", "update_integration"):
        secret = offered[name].input_schema["properties"]["client_secret"]
        assert secret["format"] == "password" and secret["writeOnly"] is True
    # signing_secret_hint: the last 4 of a webhook secret's 43 random characters, to tell secrets apart.
    allowed = {
        "has_client_secret",
        "token_expires_at",
        "token_endpoint_auth_method",
        "token_url",
        "signing_secret_hint",
    }
    server = build_server(settings_for(demo_db.app_dsn, "admin@example.com"))
    async with Client(server) as admin:
        results = [
            await admin.call_tool("get_integration", {"slug": "hubspot"}),
            await admin.call_tool("list_integrations", {}),
            await admin.call_tool("update_integration", {"slug": "hubspot", "client_secret": "s3cr3t-value"}),
            await admin.call_tool("install_integration", {"slug": "hubspot"}),
            await admin.call_tool("list_my_integrations", {}),
        ]
    for result in results:
        assert not result.is_error, result.content[0].text
        assert "s3cr3t-value" not in result.content[0].text
        risky = {n for n in key_names(result.structured_content) if "secret" in n or "token" in n or "verifier" in n}
        assert risky <= allowed, risky - allowed


def key_names(data) -> set[str]:
    names: set[str] = set()
    if isinstance(data, dict):
        names |= set(data)
        for value in data.values():
            names |= key_names(value)
    elif isinstance(data, list):
        for value in data:
            names |= key_names(value)
    return names


async def test_read_only_mode_offers_only_the_reading_tools(demo_db):
    assert set(await tools(read_only=True)) == READS
    server = build_server(settings_for(demo_db.app_dsn, "alice@example.com", read_only=True))
    async with Client(server) as client:
        result = await client.call_tool("list_my_integrations", {})
        assert not result.is_error and result.structured_content["installs"] == []
