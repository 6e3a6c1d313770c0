"""Probe tools for bench/live_costs.py: each does one piece of get_customer's work, so that the running server's
CPU per call can be split into pieces. Registered by bench/serve_http.py when BENCH_PROBES=1; never in the
product.

    probe_wait           awaits a 0.3 ms timer: the request really suspends, other requests run meanwhile, no I/O
    probe_round_trip     get_customer's one round trip (call_as customer_detail_as), a two-letter result
    probe_round_trips_5  the same round trip five times in a row (the marginal cost of one more round trip)
    probe_result         get_customer's result (text + structured content, validated against CustomerDetail)
                         from a document read once at start-up, no database
    probe_result_text    the same document as text content only (no structured content, no output schema)
    probe_loop           2,000 round trips inside one call, sequential and 8 at a time, timed with the process'
                         CPU clock: the round trip in the server process without HTTP requests in between
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable
from typing import Annotated

from mcp.server.mcpserver import Context, MCPServer
from mcp.types import CallToolResult, TextContent

from renubu_mcp.context import call_as_caller
from renubu_mcp.tools.customers import CustomerDetail, CustomerId

_DOCUMENTS: dict[str, str] = {}  # customer id -> its document, as probe_round_trip last read it


async def _round_trip(ctx: Context, customer_id: CustomerId) -> None:
    rows = await call_as_caller(ctx, "public.customer_detail_as", customer_id)
    _DOCUMENTS[str(customer_id)] = rows[0]["detail"]


async def probe_wait(customer_id: CustomerId) -> str:
    await asyncio.sleep(0.0003)
    return "ok"


async def probe_round_trip(ctx: Context, customer_id: CustomerId) -> str:
    await _round_trip(ctx, customer_id)
    return "ok"


async def probe_round_trips_5(ctx: Context, customer_id: CustomerId) -> str:
    for _ in range(5):
        await _round_trip(ctx, customer_id)
    return "ok"


async def probe_result(customer_id: CustomerId) -> Annotated[CallToolResult, CustomerDetail]:
    detail = _DOCUMENTS[str(customer_id)]
    return CallToolResult(content=[TextContent(type="text", text=detail)], structured_content=json.loads(detail))


async def probe_result_text(customer_id: CustomerId) -> CallToolResult:
    return CallToolResult(content=[TextContent(type="text", text=_DOCUMENTS[str(customer_id)])])


async def probe_loop(ctx: Context, customer_id: CustomerId, calls: int = 2000) -> dict[str, float]:
    """CPU microseconds per round trip, sequential and 8 concurrent, with no HTTP request in between."""
    return await cpu_per_call(lambda: _round_trip(ctx, customer_id), calls)


async def cpu_per_call(call: Callable[[], Awaitable[object]], calls: int) -> dict[str, float]:
    """Process CPU microseconds per `call()`, made `calls` times one after the other, then 8 at a time."""
    out: dict[str, float] = {}
    for concurrent in (1, 8):
        async def worker() -> None:
            for _ in range(calls // concurrent):
                await call()

        cpu = time.process_time()
        await asyncio.gather(*(worker() for _ in range(concurrent)))
        out[f"concurrent_{concurrent}"] = (time.process_time() - cpu) / calls * 1e6
    return out


def register(server: MCPServer) -> None:
    for probe in (probe_wait, probe_round_trip, probe_round_trips_5, probe_result, probe_result_text, probe_loop):
        server.add_tool(probe, name=probe.__name__)
