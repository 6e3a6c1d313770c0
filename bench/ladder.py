"""Issue 6, benchmark 1: the tool-call ladder over streamable HTTP (stateless, JSON responses, bearer tokens).

    .venv/bin/python bench/ladder.py            # full run (demo scale, large scale, before issue 6), ~12 minutes
    .venv/bin/python bench/ladder.py --quick    # smoke run, about 2 minutes

One server process (bench/serve_http.py: the production HTTP app on uvicorn + uvloop + httptools, plus an async
`echo` tool on the same server instance (the floor; `echo_sync`, the same as a plain def, is shown too: the SDK
runs sync tools on a worker thread, which makes it slower than the floor) and the tools as they were before issue 6, bench/before.py), driven from this
process by minimal keep-alive HTTP/1.1 clients that POST JSON-RPC tools/call requests with a valid bearer token
("raw": cheap on the client side, so the server's cost dominates; the ratios use it). For one client it also
measures httpx2 POSTs and the MCP SDK's own HTTP client.

For each tool: p50/p99 over sequential calls with one client; calls per second with 8 and 32 concurrent clients
(each with its own connection) over a fixed time; and the CPU each call costs, from /proc over the 8-client
window, in the server process and in PostgreSQL (all backends of the benchmark cluster). Ratios against the echo
floor of the same run. Extra tables, each from its own server process on the same database: the interpreter's
default garbage collector settings; asyncpg's Pool in place of renubu_mcp/pool.py; everything before issue 6.
Targets: get_customer p50 <= echo p50 + 0.6 ms; calls/s >= 80 % of echo's.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import (  # noqa: E402
    DEMO_USER, BenchUser, RawClient, bench_cluster, cluster_pids, http_server, machine_line, ms, p50, pct,
    postgres_cpu_between, postgres_cpu_snapshot, prepare_demo, prepare_large, process_cpu_seconds, table, timed,
    token_for,
)
from bench.scale_data import bench_customer_id, bench_user_email, bench_user_id  # noqa: E402

ACME = "10000000-0000-4000-8000-000000000001"
LARGE_USER = BenchUser(bench_user_id(1), bench_user_email(1))


def ladder_calls(scale: str) -> list[tuple[str, str, dict[str, Any]]]:
    """(label, tool, arguments) for one scale."""
    customer = ACME if scale == "demo" else str(bench_customer_id(1))
    return [
        ("echo (floor)", "echo", {"message": "hello"}),
        ("get_customer", "get_customer", {"customer_id": customer}),
        ("echo, sync def (reference)", "echo_sync", {"message": "hello"}),
        ("search_customers", "search_customers", {"query": "tech"}),
        ("search_docs", "search_docs", {"query": "renewal playbook"}),
        ("before: get_customer", "before_get_customer", {"customer_id": customer}),
        ("before: search_customers", "before_search_customers", {"query": "tech"}),
        ("before: search_docs", "before_search_docs", {"query": "renewal playbook"}),
    ]


async def one_client(port: int, token: str, tool: str, args: dict[str, Any], n: int,
                     budget: float = 20.0) -> list[float]:
    """Up to n sequential calls (after a warm-up), stopping early after `budget` seconds (slow tools)."""
    async with RawClient(port, token) as client:
        deadline = time.perf_counter() + budget
        for _ in range(max(20, n // 20)):
            await client.call(tool, args)
            if time.perf_counter() > deadline:
                break
        samples: list[float] = []
        deadline = time.perf_counter() + budget
        while len(samples) < n and time.perf_counter() < deadline:
            t0 = time.perf_counter()
            await client.call(tool, args)
            samples.append(time.perf_counter() - t0)
        return samples


async def throughput(cluster, port: int, token: str, tool: str, args: dict[str, Any], clients: int, seconds: float,
                     server_pid: int) -> tuple[float, float, float]:
    """(calls per second, server CPU ms per call, PostgreSQL CPU ms per call) with `clients` concurrent clients."""
    done = warmed = 0
    stop = False

    async def worker() -> None:
        nonlocal done, warmed
        async with RawClient(port, token) as client:
            for _ in range(5):  # warm this connection (and the pool's connection it lands on)
                await client.call(tool, args)
            warmed += 1
            await ready.wait()
            while not stop:
                await client.call(tool, args)
                done += 1

    ready = asyncio.Event()
    tasks = [asyncio.create_task(worker()) for _ in range(clients)]
    while warmed < clients:
        await asyncio.sleep(0.01)
    pg_pids = cluster_pids(cluster)  # every backend the server's pool opened is there by now
    ready.set()
    cpu0, pg0, t0, done0 = process_cpu_seconds(server_pid), postgres_cpu_snapshot(pg_pids), time.perf_counter(), done
    await asyncio.sleep(seconds)
    calls, elapsed = done - done0, time.perf_counter() - t0
    cpu = process_cpu_seconds(server_pid) - cpu0
    pg = postgres_cpu_between(pg0, postgres_cpu_snapshot(pg_pids))
    stop = True
    await asyncio.gather(*tasks)
    return calls / elapsed, cpu / max(calls, 1) * 1000, pg / max(calls, 1) * 1000


async def httpx2_client(port: int, token: str, tool: str, args: dict[str, Any], n: int) -> list[float]:
    import httpx2

    headers = {"authorization": f"Bearer {token}", "accept": "application/json, text/event-stream",
               "mcp-protocol-version": "2025-11-25"}
    body = {"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {"name": tool, "arguments": args}}
    async with httpx2.AsyncClient(base_url=f"http://127.0.0.1:{port}", headers=headers) as http:
        async def call() -> None:
            r = await http.post("/mcp", json=body)
            assert r.status_code == 200 and not r.json()["result"].get("isError"), r.text[:300]
        return await timed(call, n, warmup=max(20, n // 20))


async def sdk_client(port: int, token: str, tool: str, args: dict[str, Any], n: int) -> list[float]:
    import httpx2
    from mcp import Client
    from mcp.client.streamable_http import streamable_http_client

    async with httpx2.AsyncClient(headers={"Authorization": f"Bearer {token}"}, timeout=30) as http:
        async with Client(streamable_http_client(f"http://127.0.0.1:{port}/mcp", http_client=http)) as client:
            async def call() -> None:
                result = await client.call_tool(tool, args)
                assert not result.is_error
            return await timed(call, n, warmup=max(20, n // 20))


async def run_scale(cluster, scale: str, app_dsn: str, user: BenchUser, quick: bool, *,
                    tools: tuple[str, ...] | None = None, env: dict[str, str] | None = None) -> dict[str, Any]:
    """One server on one database: the ladder's rows (only `tools`, if given) and, for the floor and get_customer,
    one-client latency with other HTTP clients."""
    n = 300 if quick else 2000
    seconds = 1.5 if quick else 5.0
    token = token_for(user)
    results: dict[str, Any] = {"rows": [], "clients": []}
    with http_server(app_dsn, extra_env=env) as server:
        for label, tool, args in ladder_calls(scale):
            if tools is not None and tool not in tools:
                continue
            one = await one_client(server.port, token, tool, args, n)
            if p50(one) > 0.1:  # far off any target: concurrency runs would only take minutes
                nan = float("nan")
                results["rows"].append((label, p50(one), pct(one, 99), nan, nan, nan, nan, len(one)))
                continue
            rate8, cpu8, pg8 = await throughput(cluster, server.port, token, tool, args, 8, seconds, server.pid)
            rate32, _, _ = await throughput(cluster, server.port, token, tool, args, 32, seconds, server.pid)
            results["rows"].append((label, p50(one), pct(one, 99), rate8, rate32, cpu8, pg8, len(one)))
        if tools is None:
            for label, tool, args in ladder_calls(scale)[:2]:
                for client_name, fn in (("httpx2", httpx2_client), ("mcp SDK Client", sdk_client)):
                    samples = await fn(server.port, token, tool, args, n // 2)
                    results["clients"].append((label, client_name, p50(samples), pct(samples, 99)))
    return results


def report(title: str, res: dict[str, Any]) -> None:
    rows = res["rows"]
    floor = rows[0]
    out = []
    for label, q50, q99, r8, r32, cpu, pg, count in rows:
        out.append((label, count, ms(q50), ms(q99), f"{(q50 - floor[1]) * 1000:+.3f}", f"{q50 / floor[1]:.2f}",
                    f"{r8:.0f}", f"{r8 / floor[3]:.0%}", f"{r32:.0f}", f"{r32 / floor[4]:.0%}", f"{cpu:.2f}",
                    f"{pg:.2f}"))
    print(f"\n#### {title}\n")
    print(table(["tool", "calls", "p50 ms", "p99 ms", "p50 - floor ms", "p50 / floor", "calls/s 8 clients",
                 "vs floor", "calls/s 32 clients", "vs floor", "server CPU ms/call", "PostgreSQL CPU ms/call"], out))
    if res["clients"]:
        print("\none client, other HTTP clients (same server):\n")
        print(table(["tool", "client", "p50 ms", "p99 ms"],
                    [(a, b, ms(c), ms(d)) for a, b, c, d in res["clients"]]))


def targets(scale: str, res: dict[str, Any]) -> str:
    floor, gc = res["rows"][0], res["rows"][1]
    met = (gc[1] - floor[1]) * 1000 <= 0.6 and gc[3] / floor[3] >= 0.8 and gc[4] / floor[4] >= 0.8
    return (f"targets ({scale}): get_customer p50 - floor = {(gc[1] - floor[1]) * 1000:+.3f} ms (target <= +0.600); "
            f"calls/s vs floor {gc[3] / floor[3]:.0%} (8 clients) / {gc[4] / floor[4]:.0%} (32 clients) "
            f"(target >= 80 %): {'met' if met else 'NOT met'}")


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="a fast smoke run (fewer calls, shorter windows)")
    parser.add_argument("--no-baseline", action="store_true", help="skip the before-issue-6 db.py comparison")
    args = parser.parse_args()
    print(f"# tool-call ladder ({'quick' if args.quick else 'full'}) - {machine_line()}")
    with bench_cluster() as cluster:
        demo = await prepare_demo(cluster)
        large = await prepare_large(cluster)
        demo_res = await run_scale(cluster, "demo", cluster.app_dsn(demo), DEMO_USER, args.quick)
        report("demo scale (as alice: 24 customers; 20 docs)", demo_res)
        large_res = await run_scale(cluster, "large", cluster.app_dsn(large), LARGE_USER, args.quick)
        report("large scale (as u1: 100 of 1M customers; 100k docs)", large_res)
        gc_default = await run_scale(cluster, "demo", cluster.app_dsn(demo), DEMO_USER, args.quick,
                                     tools=("echo", "get_customer", "search_customers", "search_docs"),
                                     env={"BENCH_GC": "default"})
        report("demo scale, the interpreter's default garbage collector settings (the server tunes them: "
               "renubu_mcp/cli.py tune_garbage_collector)", gc_default)
        pool = await run_scale(cluster, "demo", cluster.app_dsn(demo), DEMO_USER, args.quick,
                               tools=("echo", "get_customer", "search_docs"), env={"BENCH_DB": "asyncpg_pool"})
        report("demo scale, asyncpg's Pool instead of renubu_mcp/pool.py (everything else as now; "
               "bench/db_baseline.py install_asyncpg_pool)", pool)
        if not args.no_baseline:
            base = await run_scale(cluster, "demo", cluster.app_dsn(demo), DEMO_USER, args.quick,
                                   tools=("echo", "before_get_customer"), env={"BENCH_DB": "baseline"})
            report("demo scale, everything before issue 6: get_customer's six statements and db.py's per-request "
                   "transaction with asyncpg's reset on release (bench/db_baseline.py)", base)
        print()
        print(targets("demo scale", demo_res))
        print(targets("large scale", large_res))
        print(targets("demo scale, default garbage collector", gc_default))


if __name__ == "__main__":
    asyncio.run(main())
