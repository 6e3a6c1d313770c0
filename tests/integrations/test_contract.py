"""The integrations toolset as assistants see it: honest hints, schemas, read-only mode, no secret in a schema."""

from __future__ import annotations

from mcp import Client

from renubu_mcp.tools import integrations

from renubu_mcp.server import build_server

from .conftest import settings_for

READS = {"list_integrations", "get_integration", "list_my_integrations", "list_integration_events"}
WRITES = {"register_integration", "update_integration", "set_integration_status", "install_integration",
          "uninstall_integration", "integration_request"}


async def tools(**overrides):
    server = build_server(settings_for("postgresql://unused", "alice@example.com", **overrides))
    return {t.name: t for t in await server.list_tools() if t.name in READS | WRITES}


async def test_every_integration_tool_has_a_title_a_description_all_four_hints_and_an_output_schema():
    offered = await tools()
    assert set(offered) == READS | WRITES == {s.name for s in integrations.toolset.specs}
    for name, tool in offered.items():
        hints = tool.annotations
        assert tool.title and len(tool.description or "") > 40, name
        assert None not in (hints.read_only_hint, hints.destructive_hint, hints.idempotent_hint,
                            hints.open_world_hint), name
        assert tool.output_schema and tool.output_schema.get("type") == "object", name
        assert hints.read_only_hint is (name in READS), name
    # Only the tools that talk to a provider say so; only the ones that can destroy something say that.
    assert {n for n, t in offered.items() if t.annotations.open_world_hint} == {"uninstall_integration",
                                                                                 "integration_request"}
    assert {n for n, t in offered.items() if t.annotations.destructive_hint} == {"uninstall_integration",
                                                                                 "integration_request"}


async def test_the_client_secret_is_a_write_only_password_field_and_no_output_carries_one():
    offered = await tools()
    for name in ("register_integration", "update_integration"):
        secret = offered[name].input_schema["properties"]["client_secret"]
        assert secret["format"] == "password" and secret["writeOnly"] is True
    # signing_secret_hint: the last 4 of a webhook secret's 43 random characters, to tell secrets apart.
    allowed = {"has_client_secret", "token_expires_at", "token_endpoint_auth_method", "token_url",
               "signing_secret_hint"}
    for tool in offered.values():
        risky = {n for n in property_names(tool.output_schema) if "secret" in n or "token" in n or "verifier" in n}
        assert risky <= allowed, (tool.name, risky - allowed)


def property_names(schema) -> set[str]:
    names: set[str] = set()
    if isinstance(schema, dict):
        names |= set(schema.get("properties", {}))
        for value in schema.values():
            names |= property_names(value)
    elif isinstance(schema, list):
        for value in schema:
            names |= property_names(value)
    return names


async def test_read_only_mode_offers_only_the_reading_tools(demo_db):
    assert set(await tools(read_only=True)) == READS
    server = build_server(settings_for(demo_db.app_dsn, "alice@example.com", read_only=True))
    async with Client(server) as client:
        result = await client.call_tool("list_my_integrations", {})
        assert not result.is_error and result.structured_content["installs"] == []
