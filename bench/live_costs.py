"""What get_customer's pieces cost inside the running server, under load (complements bench/tool_overhead.py).

    .venv/bin/python bench/live_costs.py [--quick]

bench/tool_overhead.py times each piece alone in a quiet process. In the running server the same pieces cost more,
and this measures by how much. The benchmark server runs with BENCH_PROBES=1: probe tools that each do one piece
of get_customer's work (bench/probes.py). Each tool is called by 8 concurrent raw clients, as in the ladder; the
server's CPU per call comes from /proc. Medians of 3 rounds, tools interleaved within each round. Then one database
round trip (customer_detail_as as alice) is timed in three places:
    a quiet process of its own (this one, on uvloop, as the server runs)
    the server process with no HTTP request in between (probe_loop)
    the server under HTTP load, as the marginal cost of four more round trips in one call (probe_round_trips_5)
Demo scale, as alice.
"""

from __future__ import annotations

import argparse
import statistics
import sys
from collections.abc import Awaitable
from pathlib import Path
from uuid import UUID

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import (  # noqa: E402
    DEMO_USER, RawClient, bench_cluster, http_server, machine_line, prepare_demo, table, token_for,
)
from bench.ladder import throughput  # noqa: E402
from bench.probes import cpu_per_call  # noqa: E402
from renubu_mcp.db import Database, Principal  # noqa: E402

ACME = "10000000-0000-4000-8000-000000000001"
TOOLS = [
    ("echo", "the floor: an async tool, no database"),
    ("probe_wait", "awaits a 0.3 ms timer: a real suspension, no I/O"),
    ("probe_round_trip", "get_customer's one round trip, a two-letter result"),
    ("probe_round_trips_5", "the same round trip five times"),
    ("probe_result_text", "get_customer's document as text only, no database"),
    ("probe_result", "get_customer's result (text + structured, validated), no database"),
    ("get_customer", "the tool: round trip + result"),
]


async def standalone_round_trip(app_dsn: str, calls: int) -> dict[str, float]:
    """CPU microseconds per round trip in this process (no server around it), sequential and 8 concurrent."""
    db = await Database.connect(app_dsn, max_size=8)
    principal = Principal(user_id=DEMO_USER.id, email=DEMO_USER.email)
    customer = UUID(ACME)
    try:
        def round_trip() -> Awaitable[object]:
            return db.call_as(principal, "public.customer_detail_as", customer)

        await cpu_per_call(round_trip, calls // 10)  # warms the connections and their statement caches
        return await cpu_per_call(round_trip, calls)
    finally:
        await db.close()


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    seconds, calls = (1.5, 500) if args.quick else (4.0, 2000)
    print(f"# get_customer's pieces in the running server ({'quick' if args.quick else 'full'}) - {machine_line()}\n")
    with bench_cluster() as cluster:
        demo = await prepare_demo(cluster)
        app_dsn = cluster.app_dsn(demo)
        alone = [await standalone_round_trip(app_dsn, calls) for _ in range(3)]
        with http_server(app_dsn, extra_env={"BENCH_PROBES": "1", "BENCH_BEFORE": "0"}) as server:
            token = token_for(DEMO_USER)
            async with RawClient(server.port, token) as client:
                await client.call("probe_round_trip", {"customer_id": ACME})  # the document probe_result serves
                in_server = [(await client.call("probe_loop", {"customer_id": ACME, "calls": calls}))
                             ["structuredContent"] for _ in range(3)]
            samples: dict[str, list[tuple[float, float]]] = {tool: [] for tool, _ in TOOLS}
            for _ in range(3):
                for tool, _ in TOOLS:
                    arguments = {"message": "hello"} if tool == "echo" else {"customer_id": ACME}
                    rate, cpu, _ = await throughput(cluster, server.port, token, tool, arguments, 8, seconds,
                                                    server.pid)
                    samples[tool].append((rate, cpu))

    rate = {tool: statistics.median(r for r, _ in samples[tool]) for tool, _ in TOOLS}
    cpu = {tool: statistics.median(c for _, c in samples[tool]) for tool, _ in TOOLS}
    print("#### server CPU per call, 8 clients (median of 3 rounds)\n")
    print(table(["tool", "what it does", "calls/s", "server CPU ms/call", "over echo ms"],
                [(tool, what, f"{rate[tool]:.0f}", f"{cpu[tool]:.3f}", f"{cpu[tool] - cpu['echo']:+.3f}")
                 for tool, what in TOOLS]))

    def med(runs: list[dict[str, float]], key: str) -> float:
        return statistics.median(run[key] for run in runs)

    marginal = (cpu["probe_round_trips_5"] - cpu["probe_round_trip"]) / 4 * 1000
    print("\n#### one round trip (customer_detail_as, 4 KB document), CPU us, three places\n")
    print(table(["where", "sequential", "8 concurrent"], [
        ("a quiet process of its own (uvloop)", f"{med(alone, 'concurrent_1'):.0f}", f"{med(alone, 'concurrent_8'):.0f}"),
        ("the server process, no HTTP request in between (probe_loop)", f"{med(in_server, 'concurrent_1'):.0f}",
         f"{med(in_server, 'concurrent_8'):.0f}"),
        ("the server under HTTP load: (probe_round_trips_5 - probe_round_trip) / 4", "", f"{marginal:.0f}"),
        ("the server under HTTP load: probe_round_trip - probe_wait", "",
         f"{(cpu['probe_round_trip'] - cpu['probe_wait']) * 1000:.0f}"),
    ]))
    over = cpu["get_customer"] - cpu["echo"]
    parts = {
        "suspension (probe_wait - echo)": cpu["probe_wait"] - cpu["echo"],
        "the round trip (probe_round_trip - probe_wait)": cpu["probe_round_trip"] - cpu["probe_wait"],
        "the result (probe_result - echo)": cpu["probe_result"] - cpu["echo"],
    }
    print(f"\n#### get_customer over echo: {over * 1000:.0f} us of server CPU per call\n")
    rows = [(name, f"{value * 1000:.0f}", f"{value / over:.0%}") for name, value in parts.items()]
    rows.append(("the rest (not additive: measured apart)", f"{(over - sum(parts.values())) * 1000:+.0f}", ""))
    print(table(["piece", "us", "share"], rows))
    print(f"\nFor calls/s at 80 % of echo's, get_customer may cost at most echo / 0.8 = {cpu['echo'] / 0.8:.3f} ms "
          f"of server CPU, {(cpu['echo'] / 0.8 - cpu['echo']) * 1000:.0f} us over echo; it costs "
          f"{over * 1000:.0f} us over (calls/s {rate['get_customer'] / rate['echo']:.0%} of echo's in this run).")


if __name__ == "__main__":
    import uvloop

    uvloop.run(main())
