"""Issue 6, benchmark 1: the tool-call ladder over streamable HTTP (stateless, JSON responses, bearer tokens).

    .venv/bin/python bench/ladder.py            # full run (demo scale, then large scale), about 4 minutes
    .venv/bin/python bench/ladder.py --quick    # smoke run, under a minute

One server process (bench/serve_http.py: the production HTTP app plus an `echo` tool on the same server
instance), driven from this process by minimal keep-alive HTTP/1.1 clients that POST JSON-RPC tools/call
requests with a valid bearer token ("raw": cheap on the client side, so the server's cost dominates; the
ratios use it). For one client it also measures httpx2 POSTs and the MCP SDK's own HTTP client.

For each tool: p50/p99 over sequential calls with one client, and calls per second with 8 and 32 concurrent
clients (each with its own connection) over a fixed time. Ratios against the echo floor of the same run.
Targets: get_customer p50 <= echo p50 + 0.6 ms; calls/s >= 80 % of echo's.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import (  # noqa: E402
    clone_database,
    DEMO_USER, BenchUser, RawClient, bench_cluster, http_server, machine_line, ms, p50, pct, prepare_demo,
    prepare_large, table, timed, token_for,
)
from bench import proposals  # noqa: E402
from bench.scale_data import bench_customer_id, bench_user_email, bench_user_id  # noqa: E402

ACME = "10000000-0000-4000-8000-000000000001"
PROPOSALS_DB = "bench_demo_proposals"
LARGE_USER = BenchUser(bench_user_id(1), bench_user_email(1))


def ladder_calls(scale: str) -> list[tuple[str, str, dict[str, Any]]]:
    """(label, tool, arguments) for one scale."""
    customer = ACME if scale == "demo" else str(bench_customer_id(1))
    return [
        ("echo (floor)", "echo", {"message": "hello"}),
        ("get_customer", "get_customer", {"customer_id": customer}),
        ("search_customers", "search_customers", {"query": "tech"}),
        ("search_docs", "search_docs", {"query": "renewal playbook"}),
        ("proposed get_customer", "bench_get_customer", {"customer_id": customer}),
        ("proposed search_customers", "bench_search_customers", {"query": "tech"}),
        ("proposed search_docs", "bench_search_docs", {"query": "renewal playbook"}),
    ]


def server_cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


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


async def throughput(port: int, token: str, tool: str, args: dict[str, Any], clients: int, seconds: float,
                     pid: int) -> tuple[float, float]:
    """(calls per second, server CPU ms per call) with `clients` concurrent keep-alive clients."""
    done = 0
    stop = False

    async def worker() -> None:
        nonlocal done
        async with RawClient(port, token) as client:
            for _ in range(5):  # warm this connection
                await client.call(tool, args)
            await ready.wait()
            while not stop:
                await client.call(tool, args)
                done += 1

    ready = asyncio.Event()
    tasks = [asyncio.create_task(worker()) for _ in range(clients)]
    await asyncio.sleep(0.3)
    ready.set()
    cpu0, t0, done0 = server_cpu_seconds(pid), time.perf_counter(), done
    await asyncio.sleep(seconds)
    calls, elapsed, cpu = done - done0, time.perf_counter() - t0, server_cpu_seconds(pid) - cpu0
    stop = True
    await asyncio.gather(*tasks)
    return calls / elapsed, cpu / max(calls, 1) * 1000


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


async def run_scale(scale: str, app_dsn: str, user: BenchUser, quick: bool, *, baseline: bool = False,
                    env: dict[str, str] | None = None) -> dict[str, Any]:
    """baseline: only echo and the get_customer rows (env None: with the before-issue-6 db.py)."""
    n = 300 if quick else 2000
    seconds = 1.5 if quick else 5.0
    token = token_for(user)
    results: dict[str, Any] = {"rows": [], "clients": []}
    env = env if env is not None else ({"BENCH_DB": "baseline"} if baseline else {})
    with http_server(app_dsn, extra_env=env) as server:
        for label, tool, args in ladder_calls(scale):
            if baseline and tool not in ("echo", "get_customer", "bench_get_customer"):
                continue
            one = await one_client(server.port, token, tool, args, n)
            if p50(one) > 0.1:  # far off any target: concurrency runs would only take minutes
                results["rows"].append((label, p50(one), pct(one, 99), float("nan"), float("nan"), float("nan"),
                                        len(one)))
                continue
            rate8, cpu8 = await throughput(server.port, token, tool, args, 8, seconds, server.pid)
            rate32, cpu32 = await throughput(server.port, token, tool, args, 32, seconds, server.pid)
            results["rows"].append((label, p50(one), pct(one, 99), rate8, rate32, cpu8, len(one)))
        if not baseline:
            for label, tool, args in ladder_calls(scale)[:2]:
                for client_name, fn in (("httpx2", httpx2_client), ("mcp SDK Client", sdk_client)):
                    samples = await fn(server.port, token, tool, args, n // 2)
                    results["clients"].append((label, client_name, p50(samples), pct(samples, 99)))
    return results


def report(title: str, res: dict[str, Any]) -> None:
    rows = res["rows"]
    floor = rows[0]
    out = []
    for label, q50, q99, r8, r32, cpu, count in rows:
        out.append((label, count, ms(q50), ms(q99), f"{(q50 - floor[1]) * 1000:+.3f}", f"{q50 / floor[1]:.2f}",
                    f"{r8:.0f}", f"{r8 / floor[3]:.0%}", f"{r32:.0f}", f"{r32 / floor[4]:.0%}", f"{cpu:.2f}"))
    print(f"\n### {title}\n")
    print(table(["tool", "calls", "p50 ms", "p99 ms", "p50 - floor ms", "p50 / floor", "calls/s 8 clients",
                 "vs floor", "calls/s 32 clients", "vs floor", "server CPU ms/call"], out))
    if res["clients"]:
        print("\none client, other HTTP clients (same server):\n")
        print(table(["tool", "client", "p50 ms", "p99 ms"],
                    [(a, b, ms(c), ms(d)) for a, b, c, d in res["clients"]]))


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="a fast smoke run (fewer calls, shorter windows)")
    parser.add_argument("--no-baseline", action="store_true", help="skip the before-issue-6 db.py comparison")
    parser.add_argument("--no-proposals", action="store_true", help="skip the run on the schema proposals")
    args = parser.parse_args()
    print(f"# tool-call ladder ({'quick' if args.quick else 'full'}) - {machine_line()}")
    with bench_cluster() as cluster:
        demo = await prepare_demo(cluster)
        large = await prepare_large(cluster)
        demo_res = await run_scale("demo", cluster.app_dsn(demo), DEMO_USER, args.quick)
        report("demo scale (as alice: 24 customers; 20 docs)", demo_res)
        large_res = await run_scale("large", cluster.app_dsn(large), LARGE_USER, args.quick)
        report("large scale (as u1: 100 of 1M customers; 100k docs)", large_res)
        if not args.no_baseline:
            base = await run_scale("demo", cluster.app_dsn(demo), DEMO_USER, args.quick, baseline=True)
            report("demo scale, db.py before issue 6 (bench/db_baseline.py: default pool reset)", base)
        if not args.no_proposals:
            clone_database(cluster, demo, PROPOSALS_DB)
            await proposals.apply_all(cluster.owner_dsn(PROPOSALS_DB))
            prop = await run_scale("demo", cluster.app_dsn(PROPOSALS_DB), DEMO_USER, args.quick, baseline=True,
                                   env={})
            report("demo scale, schema proposals applied to a copy (bench/proposals.py: plpgsql RLS helpers, "
                   "wake early exit)", prop)
            cluster.drop_database(PROPOSALS_DB)
        floor, gc = demo_res["rows"][0], demo_res["rows"][1]
        print("\ntargets (demo scale): get_customer p50 - floor = "
              f"{(gc[1] - floor[1]) * 1000:+.3f} ms (target <= +0.600); calls/s vs floor "
              f"{gc[3] / floor[3]:.0%} / {gc[4] / floor[4]:.0%} (target >= 80 %)")
        floor, gc = large_res["rows"][0], large_res["rows"][1]
        print("targets (large scale): get_customer p50 - floor = "
              f"{(gc[1] - floor[1]) * 1000:+.3f} ms (target <= +0.600); calls/s vs floor "
              f"{gc[3] / floor[3]:.0%} / {gc[4] / floor[4]:.0%} (target >= 80 %)")


if __name__ == "__main__":
    asyncio.run(main())
