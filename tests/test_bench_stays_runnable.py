"""The benchmarks keep up with the server: every bench script imports, and the ladder calls every read tool (and only
tools that exist) with arguments the server accepts. Correctness only: nothing is timed."""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

import pytest
from mcp import Client

from renubu_mcp.server import ALL_TOOLSETS, build_server
from tests.tools.conftest import settings_for

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

SCRIPTS = sorted(
    p.stem for p in (Path(__file__).resolve().parent.parent / "bench").glob("*.py") if p.stem != "__init__"
)


@pytest.mark.parametrize("script", SCRIPTS)
def test_every_bench_script_imports(script):
    importlib.import_module(f"bench.{script}")


async def test_the_ladder_calls_every_read_tool_with_arguments_the_server_accepts(demo_db):
    from bench.ladder import ladder_calls

    calls = [params for _, method, params in ladder_calls("demo") if method == "tools/call"]
    reads = {spec.name for toolset in ALL_TOOLSETS for spec in toolset.specs if spec.read_only}
    assert reads <= {c["name"] for c in calls}
    async with Client(build_server(settings_for(demo_db.app_dsn, "alice@example.com"))) as alice:
        for call in calls:
            if call["name"] not in ("echo", "echo_sync"):
                result = await alice.call_tool(call["name"], call["arguments"])
                assert not result.is_error, (call, result.content[0].text)
