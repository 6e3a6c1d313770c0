"""Issue 6, benchmark 5: resident memory of the HTTP server after 10k and 100k tool calls (it must stay flat).

    .venv/bin/python bench/memory.py            # full run: 100k calls, about 4 minutes
    .venv/bin/python bench/memory.py --quick    # 1k / 10k calls

The bench server (bench/serve_http.py, the production HTTP app) on the demo database, driven by 8 concurrent
keep-alive clients cycling through get_customer, search_customers, search_docs, list_workflows and echo, as
alice and bob (two tokens). VmRSS of the server process (/proc/PID/status) is read after start, after a warm-up of
1k calls, then after 10k and 100k calls (counting from the start). "Flat": growth from 10k to 100k calls is under
5 % of the 10k figure.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import (  # noqa: E402
    BenchUser,
    RawClient,
    bench_cluster,
    http_server,
    machine_line,
    prepare_demo,
    table,
    token_for,
)
from renubu_mcp.demo import ALICE, BOB  # noqa: E402

CALLS = [
    ("get_customer", {"customer_id": "10000000-0000-4000-8000-000000000041"}),  # Initech: alice and bob share it
    ("search_customers", {"query": "co"}),
    ("search_docs", {"query": "renewal"}),
    ("list_workflows", {}),
    ("echo", {"message": "hello"}),
]


async def drive(port: int, tokens: list[str], total: int, clients: int = 8) -> None:
    counter = itertools.count()

    async def worker(k: int) -> None:
        async with RawClient(port, tokens[k % len(tokens)]) as client:
            while (i := next(counter)) < total:
                tool, args = CALLS[i % len(CALLS)]
                await client.call(tool, args)

    await asyncio.gather(*(worker(k) for k in range(clients)))


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    checkpoints = [1_000, 10_000] if args.quick else [1_000, 10_000, 100_000]
    print(f"# resident memory ({'quick' if args.quick else 'full'}) - {machine_line()}")
    with bench_cluster() as cluster:
        demo = await prepare_demo(cluster)
        tokens = [token_for(BenchUser(u.id, u.email)) for u in (ALICE, BOB)]
        with http_server(cluster.app_dsn(demo)) as server:
            rows = [("after start", 0, server.rss_kib() / 1024, "")]
            done, started = 0, time.perf_counter()
            for mark in checkpoints:
                await drive(server.port, tokens, mark - done)
                done = mark
                rows.append(
                    (
                        f"after {mark:,} calls",
                        mark,
                        server.rss_kib() / 1024,
                        f"{done / (time.perf_counter() - started):.0f}",
                    )
                )
        by_calls = {r[1]: r[2] for r in rows}
        last = checkpoints[-1]
        growth = (by_calls[last] - by_calls[10_000]) / by_calls[10_000]
        rows = [(a, f"{b:,}", f"{c:.1f}", d) for a, b, c, d in rows]
        print(table(["point", "calls", "VmRSS MiB", "calls/s so far"], rows))
        if last != 10_000:
            print(
                f"\ngrowth from 10k to {last:,} calls: {growth:+.1%} ({'flat' if abs(growth) < 0.05 else 'NOT flat'})"
            )


if __name__ == "__main__":
    asyncio.run(main())
