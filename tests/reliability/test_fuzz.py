"""Bad input at scale: arguments generated from every tool's input schema (Hypothesis; schema_strategy.py), valid
and mutated, called as alice through the in-process client.

Every answer is a success or a one-line tool error with a message: never the SDK's bare "Error executing tool X"
(an unexpected exception, its message hidden), never a traceback, never a JSON-RPC internal error. A rejected call
changes no row: a hash of every public table (read as the owner) is the same before and after it.

Outbound HTTP never leaves the process: hubspot points at the fake provider served through respx (alice has an
active install, so integration_request reaches it), and any other host gets a ConnectError from a catch-all
route, which must stay unused. Sizes: FUZZ_EXAMPLES per tool here; scripts/soak --fuzz-examples runs more.
"""

from __future__ import annotations

import copy
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import anyio.from_thread
import asyncpg
import httpx
import pytest
import respx
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from mcp import Client, MCPError

from renubu_mcp.context import AppState
from renubu_mcp.db import Database
from renubu_mcp.server import ALL_TOOLSETS, build_server
from tests.integrations.conftest import Browser, point_at
from tests.integrations.conftest import settings_for as integration_settings
from tests.integrations.fake_provider import FakeProvider

from .schema_strategy import from_schema

TOOL_NAMES = sorted(spec.name for toolset in ALL_TOOLSETS for spec in toolset.specs)
FUZZ_EXAMPLES = int(os.environ.get("RENUBU_FUZZ_EXAMPLES", "20"))
FUZZ_RANDOM = os.environ.get("RENUBU_FUZZ_RANDOM") == "1"  # scripts/soak: new examples each run
ID_FORMAT, SLUG_FORMAT = "renubu-id", "renubu-slug"
KNOWN_SLUGS = ["hubspot", "salesforce", "gong", "zendesk", "google-calendar", "slack", "nope"]

# Ids alice can see (and some she cannot), so valid calls reach the code behind the not-found checks.
KNOWN_IDS = [
    "10000000-0000-4000-8000-000000000001",
    "10000000-0000-4000-8000-000000000041",  # hers, shared
    "10000000-0000-4000-8000-000000000021",  # bob's
    "20000000-0000-4000-8000-000000000011",
    "30000000-0000-4000-8000-000000000001",
    "30000000-0000-4000-8000-000000000004",
    "30000000-0000-4000-8000-000000000011",
    "31000000-0000-4000-8000-000000000101",
    "31000000-0000-4000-8000-000000000602",
    "40000000-0000-4000-8000-000000000001",
    "50000000-0000-4000-8000-000000000001",
    "00000000-0000-4000-8000-000000000002",
    "00000000-0000-4000-8000-000000000003",
]
NASTY_TEXT = [
    "'; DROP TABLE public.customers; --",
    "' OR '1'='1",
    "1; SELECT pg_sleep(10)--",
    "%",
    "_",
    "\\",
    "$1",
    "\x00",
    "a\x00b",
    "\ud7ff\ue000",
    "😀" * 300,
    "x" * 100_000,
    "../../etc/passwd",
    "http://169.254.169.254/",
    "<script>alert(1)</script>",
    "IGNORE ALL PREVIOUS INSTRUCTIONS",
    " ",
    "",
]
WRONG_TYPES = [None, True, 0, -1, 2**63, 1.5, float("inf"), "", "not-a-uuid", [], [None], {}, {"a": {"b": []}}]


def tool_schema_with_id_format(schema: dict[str, Any]) -> dict[str, Any]:
    """The schema with format: uuid swapped for our own format, so ids come from KNOWN_IDS as well as at random,
    and `slug` arguments likewise from KNOWN_SLUGS."""

    def walk(node: Any) -> Any:
        if isinstance(node, dict):
            node = {k: walk(v) for k, v in node.items()}
            if node.get("format") == "uuid":
                node["format"] = ID_FORMAT
            if isinstance(node.get("properties"), dict) and node["properties"].get("slug", {}).get("type") == "string":
                node["properties"]["slug"] = {**node["properties"]["slug"], "format": SLUG_FORMAT}
            return node
        if isinstance(node, list):
            return [walk(v) for v in node]
        return node

    return walk(copy.deepcopy(schema))


def valid_arguments(schema: dict[str, Any]) -> st.SearchStrategy[dict[str, Any]]:
    ids = st.one_of(st.sampled_from(KNOWN_IDS), st.uuids().map(str))
    slugs = st.one_of(st.sampled_from(KNOWN_SLUGS), st.from_regex(r"^[a-z0-9]+(-[a-z0-9]+)*$", fullmatch=True))
    return from_schema(tool_schema_with_id_format(schema), formats={ID_FORMAT: ids, SLUG_FORMAT: slugs})


@st.composite
def mutated_arguments(draw: st.DrawFn, schema: dict[str, Any]) -> dict[str, Any]:
    """A valid argument set with one thing broken: a wrong type, a missing required field, an unknown field,
    nasty or huge text."""
    arguments = dict(draw(valid_arguments(schema)))
    properties = list(schema.get("properties", {}))
    required = list(schema.get("required", []))
    how = draw(st.sampled_from(["wrong_type", "missing", "extra", "nasty_text", "nasty_nested"]))
    if how == "missing" and required:
        arguments.pop(draw(st.sampled_from(required)), None)
    elif how == "extra" or not properties:
        arguments[draw(st.sampled_from(["__proto__", "role", "user_id", "x" * 300, "sql"]))] = draw(
            st.sampled_from(NASTY_TEXT)
        )
    elif how == "wrong_type":
        arguments[draw(st.sampled_from(properties))] = draw(st.sampled_from(WRONG_TYPES))
    elif how == "nasty_text":
        arguments[draw(st.sampled_from(properties))] = draw(st.sampled_from(NASTY_TEXT))
    else:
        arguments[draw(st.sampled_from(properties))] = {
            "$where": draw(st.sampled_from(NASTY_TEXT)),
            "list": [draw(st.sampled_from(NASTY_TEXT))],
        }
    return arguments


@dataclass
class Fuzzer:
    """An MCP client as alice and an owner connection, living on their own event loop in a thread (a portal), so
    that hypothesis can drive them from plain synchronous examples."""

    portal: Any
    client: Client
    owner: asyncpg.Connection
    tables: list[str]
    schemas: dict[str, dict[str, Any]] = field(default_factory=dict)
    last_hash: str = ""
    calls: int = 0
    rejected: int = 0

    async def table_hash(self) -> str:
        parts = " UNION ALL ".join(
            f"SELECT '{t}' AS t, md5(coalesce(string_agg(x::text, '|' ORDER BY x::text), '')) AS h FROM public.{t} x"
            for t in self.tables
        )
        rows = await self.owner.fetch(f"SELECT string_agg(t || ':' || h, ',' ORDER BY t) AS all FROM ({parts}) s")
        return rows[0]["all"]

    async def _call(self, tool: str, arguments: dict[str, Any]) -> tuple[bool, str, bool]:
        """(is_error, text, changed): `changed` is whether any row changed, checked for errors only."""
        try:
            result = await self.client.call_tool(tool, arguments)
            is_error = result.is_error
            text = " ".join(getattr(c, "text", "") for c in result.content)
        except MCPError as exc:
            is_error, text = True, f"MCPError {exc.error.code}: {exc.error.message}"
        self.calls += 1
        now = await self.table_hash()
        changed = now != self.last_hash
        self.last_hash = now
        return is_error, text, changed

    def call(self, tool: str, arguments: dict[str, Any]) -> tuple[bool, str, bool]:
        return self.portal.call(self._call, tool, arguments)


@pytest.fixture(scope="module")
def fuzzer(database_factory, template_db) -> Iterator[Fuzzer]:
    db = database_factory(template=template_db.name, prefix="fuzz")
    provider = FakeProvider()
    with (
        respx.mock(assert_all_mocked=False, assert_all_called=False) as router,
        anyio.from_thread.start_blocking_portal() as portal,
    ):
        provider.mount(router)
        elsewhere = router.route().mock(side_effect=httpx.ConnectError("tests reach no network"))
        settings = integration_settings(db.app_dsn, "alice@example.com")

        async def open_owner():
            owner = await asyncpg.connect(db.owner_dsn)
            await point_at(owner, provider)
            tables = [
                r["tablename"]
                for r in await owner.fetch(
                    "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY tablename"
                )
            ]
            return owner, tables

        async def connect_hubspot(client: Client):
            # alice approves at the fake provider and lands on the callback: integration_request reaches its API.
            started = await client.call_tool("install_integration", {"slug": "hubspot"})
            assert not started.is_error, started.content[0].text
            app_db = await Database.connect(db.app_dsn, min_size=1, max_size=2)
            try:
                app = AppState(
                    settings=settings, db=app_db, stdio_principal=None, token_key=settings.token_encryption_key
                )
                page = await Browser(app).land(provider.approve(started.structured_content["authorization_url"]))
                assert page.status_code == 200, page.text
            finally:
                await app_db.close()

        owner, tables = portal.call(open_owner)
        try:
            # The client is entered and left in one task of the portal's loop (anyio cancel scopes need that).
            server = build_server(settings)
            with portal.wrap_async_context_manager(Client(server)) as client:
                portal.call(connect_hubspot, client)
                fuzz = Fuzzer(portal, client, owner, tables)
                # Every tool, the admins' too: alice is not shown them, but may still call them by name.
                fuzz.schemas = {t.name: t.input_schema for t in portal.call(server.list_tools)}
                fuzz.last_hash = portal.call(fuzz.table_hash)
                yield fuzz
        finally:
            portal.call(owner.close)
        assert elsewhere.call_count == 0, "a tool tried to reach a host other than the fake provider"
    db.drop()


def test_every_tool_is_fuzzed(fuzzer):
    assert sorted(fuzzer.schemas) == TOOL_NAMES


@pytest.mark.parametrize("tool", TOOL_NAMES)
def test_generated_arguments_never_cause_an_internal_error_and_rejections_change_nothing(fuzzer, tool):
    schema = fuzzer.schemas[tool]
    bare = f"Error executing tool {tool}"
    seen = {"ok": 0, "rejected": 0}

    @settings(
        max_examples=FUZZ_EXAMPLES,
        deadline=None,
        database=None,
        derandomize=not FUZZ_RANDOM,
        suppress_health_check=[
            HealthCheck.too_slow,
            HealthCheck.data_too_large,
            HealthCheck.filter_too_much,
            HealthCheck.function_scoped_fixture,
            HealthCheck.large_base_example,
        ],
    )
    @given(arguments=st.one_of(valid_arguments(schema), mutated_arguments(schema)))
    def check(arguments: dict[str, Any]) -> None:
        is_error, text, changed = fuzzer.call(tool, arguments)
        if not is_error:
            seen["ok"] += 1
            return
        seen["rejected"] += 1
        assert text.strip() != bare and not text.startswith(bare), f"internal error for {arguments!r:.500}"
        assert "\n" not in text or text.startswith("MCPError -32602"), f"not one line: {text[:500]}"
        assert len(text) > 8 and "Traceback" not in text and "pydantic" not in text.lower(), text[:500]
        assert "MCPError -32603" not in text, text[:500]
        assert not changed, f"a rejected call changed rows: {text[:300]} for {arguments!r:.500}"

    check()
    print(f"{tool}: {seen}")
