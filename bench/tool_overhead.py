"""Where get_customer's server CPU goes beyond echo's: its pieces, timed one by one in this process.

    .venv/bin/python bench/tool_overhead.py [--quick]

CPU (process time) per operation, median of 5 rounds, demo scale as alice, one pooled connection to the benchmark
cluster, on uvloop as the server runs:
    pool acquire + release               what every database-backed call pays
    call_as round trip                   customer_detail_as(): one statement, its result read (a text column)
    model_validate_json                  the JSON document into CustomerDetail (pydantic, one pass)
    SDK convert_result                   the MCP SDK turning the model into a CallToolResult (text + structured)
    SDK convert_result, echo's string    the same for echo's result, for comparison
    SDK result serialization             what the SDK's runner does with a CallToolResult before the transport
                                         writes it: dump, validate against the protocol version's schema, dump
                                         again, JSON (mcp.server.runner._dump_result, serialize_server_result)
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from pathlib import Path
from uuid import UUID

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import pydantic_core  # noqa: E402
from mcp.server.mcpserver.utilities.func_metadata import func_metadata  # noqa: E402
from mcp.server.runner import _dump_result  # noqa: E402
from mcp_types.methods import serialize_server_result  # noqa: E402

from bench.common import DEMO_USER, bench_cluster, machine_line, prepare_demo, table  # noqa: E402
from renubu_mcp.db import Database, Principal  # noqa: E402
from renubu_mcp.tools import customers  # noqa: E402

ACME = UUID("10000000-0000-4000-8000-000000000001")


def echo(message: str) -> str:
    return message


async def cpu_per_op(fn, n: int) -> float:
    """Median over 5 rounds of process CPU per call, in microseconds."""
    for _ in range(max(50, n // 10)):
        await fn()
    rounds = []
    for _ in range(5):
        c0 = time.process_time()
        for _ in range(n):
            await fn()
        rounds.append((time.process_time() - c0) / n * 1e6)
    return statistics.median(rounds)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    n = 300 if args.quick else 3000
    print(f"# get_customer's pieces ({'quick' if args.quick else 'full'}) - {machine_line()}")
    with bench_cluster() as cluster:
        demo = await prepare_demo(cluster)
        db = await Database.connect(cluster.app_dsn(demo), min_size=1, max_size=1)
        principal = Principal(DEMO_USER.id, DEMO_USER.email)
        try:
            detail_json = (await db.call_as(principal, "public.customer_detail_as", ACME))[0]["detail"]
            model = customers.CustomerDetail.model_validate_json(detail_json)
            tool_meta, echo_meta = func_metadata(customers.get_customer), func_metadata(echo)

            async def acquire_release() -> None:
                conn = await db.pool.acquire()
                conn.note_request_ended()  # as after a request: no reset query
                await db.pool.release(conn)

            async def round_trip() -> None:
                await db.call_as(principal, "public.customer_detail_as", ACME)

            async def validate() -> None:
                customers.CustomerDetail.model_validate_json(detail_json)

            async def convert() -> None:
                tool_meta.convert_result(model)

            async def convert_echo() -> None:
                echo_meta.convert_result("hello")

            tool_result, echo_result = tool_meta.convert_result(model), echo_meta.convert_result("hello")

            def serializer(result):
                async def serialize() -> None:
                    dumped = serialize_server_result("tools/call", "2025-11-25", _dump_result(result))
                    pydantic_core.to_json(dumped)
                return serialize

            rows = [(label, f"{await cpu_per_op(fn, n):.1f}") for label, fn in (
                ("pool acquire + release", acquire_release),
                ("call_as round trip (includes acquire + release)", round_trip),
                ("model_validate_json (3.9 KB document)", validate),
                ("SDK convert_result, CustomerDetail", convert),
                ("SDK convert_result, echo's string", convert_echo),
                ("SDK result serialization, CustomerDetail (9 KB on the wire)", serializer(tool_result)),
                ("SDK result serialization, echo's string", serializer(echo_result)),
            )]
        finally:
            await db.close()
    print(f"\n### CPU per operation in the server process (median of 5 rounds of {n})\n")
    print(table(["operation", "CPU us"], rows))


if __name__ == "__main__":
    import uvloop

    uvloop.run(main())
