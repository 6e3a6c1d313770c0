"""Where get_customer's server CPU goes beyond echo's: its pieces, timed one by one in this process.

    .venv/bin/python bench/tool_overhead.py [--quick]

CPU (process time) per operation, median of 5 rounds, demo scale as alice, one pooled connection to the benchmark
cluster, on uvloop as the server runs:
    pool acquire + release               what every database-backed call pays (renubu_mcp/pool.py), and the same
                                         with asyncpg's own Pool (what the server used before), for comparison
    call_as round trip                   customer_detail_as(): one statement, its result read (a text column)
    get_customer's result                the document into a CallToolResult as get_customer builds it (json.loads)
                                         plus the SDK's convert_result (validation against CustomerDetail)
    before: model round trip             what it did until migration 20251201: model_validate_json into
                                         CustomerDetail, then the SDK's convert_result of the model (text + dump)
    SDK convert_result, echo's string    the same for echo's result, for comparison
    SDK result serialization             what the SDK's runner does with a CallToolResult before the transport
                                         writes it: dump, validate against the protocol version's schema, dump
                                         again, JSON (mcp.server.runner._dump_result, serialize_server_result)
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path
from uuid import UUID

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import json  # noqa: E402

import asyncpg  # noqa: E402
import pydantic_core  # noqa: E402
from mcp.server.mcpserver.utilities.func_metadata import func_metadata  # noqa: E402
from mcp.server.runner import _dump_result  # noqa: E402
from mcp.types import CallToolResult, TextContent  # noqa: E402
from mcp_types.methods import serialize_server_result  # noqa: E402

from bench.common import DEMO_USER, bench_cluster, machine_line, no_reset, prepare_demo, table  # noqa: E402
from renubu_mcp.db import Database, Principal  # noqa: E402
from renubu_mcp.tools import customers  # noqa: E402

ACME = UUID("10000000-0000-4000-8000-000000000001")


async def echo(message: str) -> str:
    return message


async def get_customer_before(ctx, customer_id: UUID) -> customers.CustomerDetail:  # noqa: ANN001
    """get_customer's signature until migration 20251201 (it returned the model)."""
    raise NotImplementedError


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
            before_meta = func_metadata(get_customer_before)
            asyncpg_pool = await asyncpg.create_pool(cluster.app_dsn(demo), min_size=1, max_size=1,
                                                     reset=no_reset)

            async def acquire_release() -> None:
                conn = await db.pool.acquire()
                conn.note_request_ended()  # as after a request: no reset query
                await db.pool.release(conn)

            async def acquire_release_asyncpg() -> None:
                conn = await asyncpg_pool.acquire()
                await asyncpg_pool.release(conn)

            def result_now() -> CallToolResult:
                return tool_meta.convert_result(CallToolResult(
                    content=[TextContent(type="text", text=detail_json)], structured_content=json.loads(detail_json)))

            async def round_trip() -> None:
                await db.call_as(principal, "public.customer_detail_as", ACME)

            async def convert_now() -> None:
                result_now()

            async def convert_before() -> None:
                before_meta.convert_result(customers.CustomerDetail.model_validate_json(detail_json))

            async def convert_echo() -> None:
                echo_meta.convert_result("hello")

            tool_result, echo_result = result_now(), echo_meta.convert_result("hello")
            before_result = before_meta.convert_result(model)

            def serializer(result):
                async def serialize() -> None:
                    dumped = serialize_server_result("tools/call", "2025-11-25", _dump_result(result))
                    pydantic_core.to_json(dumped)
                return serialize

            rows = [(label, f"{await cpu_per_op(fn, n):.1f}") for label, fn in (
                ("pool acquire + release (renubu_mcp/pool.py)", acquire_release),
                ("pool acquire + release, asyncpg's Pool (before)", acquire_release_asyncpg),
                ("call_as round trip (includes acquire + release)", round_trip),
                ("get_customer's result: json.loads + SDK convert_result (validates)", convert_now),
                ("before: model_validate_json + SDK convert_result of the model", convert_before),
                ("SDK convert_result, echo's string", convert_echo),
                ("SDK result serialization, get_customer's result", serializer(tool_result)),
                ("SDK result serialization, before (indented text)", serializer(before_result)),
                ("SDK result serialization, echo's string", serializer(echo_result)),
            )]
            await asyncpg_pool.close()
        finally:
            await db.close()
    print(f"\n### CPU per operation in the server process (median of 5 rounds of {n})\n")
    print(table(["operation", "CPU us"], rows))


if __name__ == "__main__":
    import uvloop

    uvloop.run(main())
