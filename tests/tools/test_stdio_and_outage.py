"""The real `renubu-mcp` process over stdio, and riding out a database outage."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

import pytest
from mcp import Client, StdioServerParameters

from renubu_mcp import migrate
from renubu_mcp.embedded import EmbeddedCluster
from renubu_mcp.server import build_server
from tests.conftest import private_tmp_dir
from tests.tools.conftest import settings_for

RENUBU_MCP = Path(sys.executable).with_name("renubu-mcp")
ACME = "10000000-0000-4000-8000-000000000001"


def server_env(database_url: str, email: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RENUBU_")}
    env.update(RENUBU_DATABASE_URL=database_url, RENUBU_USER_EMAIL=email, RENUBU_LOG_LEVEL="INFO")
    return env


async def test_the_installed_command_serves_alice_over_stdio(demo):
    params = StdioServerParameters(
        command=str(RENUBU_MCP), args=["serve"], env=server_env(demo.app_dsn, "alice@example.com")
    )
    async with Client(params) as client:
        names = {t.name for t in (await client.list_tools()).tools}
        assert {"search_customers", "get_customer", "list_workflows", "search_docs", "list_features"} <= names
        result = await client.call_tool("search_customers", {"query": "acme"})
        assert [c["name"] for c in result.structured_content["customers"]] == ["Acme Corp"]
        hidden = await client.call_tool("search_customers", {"query": "globex"})
        assert hidden.structured_content["customers"] == []


def test_an_unknown_stdio_user_stops_the_command_with_one_clear_line_and_nothing_on_stdout(demo):
    proc = subprocess.run(
        [str(RENUBU_MCP)],
        env=server_env(demo.app_dsn, "mallory@example.com"),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 1
    assert proc.stdout == ""
    assert "no Renubu user has the email 'mallory@example.com'" in proc.stderr
    assert "Traceback" not in proc.stderr


@pytest.fixture
def private_cluster():
    data_dir = private_tmp_dir("renubu-outage-")
    cluster = EmbeddedCluster(data_dir, fast_unsafe=True)
    with cluster:
        yield cluster


async def test_a_database_outage_is_a_clear_error_and_the_server_recovers_by_itself(private_cluster):
    await migrate.migrate(private_cluster.owner_dsn())
    await migrate.seed_demo(private_cluster.owner_dsn())
    server = build_server(settings_for(private_cluster.app_dsn(), "alice@example.com"))
    async with Client(server) as client:
        assert not (await client.call_tool("get_customer", {"customer_id": ACME})).is_error

        await asyncio.to_thread(private_cluster.stop)
        for _ in range(2):  # every pooled connection is dead now, and new ones are refused
            down = await client.call_tool("get_customer", {"customer_id": ACME})
            assert down.is_error and "unavailable" in down.content[0].text.lower()
            assert "Traceback" not in down.content[0].text

        await asyncio.to_thread(private_cluster.start)
        for _ in range(50):
            back = await client.call_tool("get_customer", {"customer_id": ACME})
            if not back.is_error:
                break
            await asyncio.sleep(0.2)
        assert not back.is_error, back.content[0].text
        assert back.structured_content["customer"]["name"] == "Acme Corp"
