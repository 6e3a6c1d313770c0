"""The tool-call ladder over streamable HTTP (stateless, JSON responses, bearer tokens): every read tool and
tools/list against the SDK's own echo tool on the same server.

    .venv/bin/python bench/ladder.py            # demo scale, every read tool (about 6 minutes)
    .venv/bin/python bench/ladder.py --quick    # smoke run (about 1 minute)
    .venv/bin/python bench/ladder.py --large    # also at 1M customers / 100k docs (bench/scale_data.py builds it)

One server process (bench/serve_http.py: the production HTTP app on uvicorn + uvloop + httptools, plus an async
`echo` tool, the floor, and `echo_sync`, a plain `def` the SDK runs on a worker thread, shown for reference),
driven from this process by minimal keep-alive HTTP/1.1 clients that POST JSON-RPC requests with a valid bearer
token ("raw": cheap on the client side, so the server's cost dominates). For each call: p50/p99 over sequential
calls with one client; calls per second with 8 concurrent clients (each on its own connection) over a fixed time;
and the CPU each call costs in the server process and in PostgreSQL, from /proc over the 8-client window. Ratios
are against the echo floor of the same run.

Targets (issue 12): every read tool within echo + 1.0 ms p50 with one client and at least 0.6x echo's calls/s at 8
clients; tools/list served in under 2 ms.
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
    DEMO_USER,
    BenchUser,
    RawClient,
    bench_cluster,
    cluster_pids,
    http_server,
    machine_line,
    ms,
    p50,
    pct,
    postgres_cpu_between,
    postgres_cpu_snapshot,
    prepare_demo,
    prepare_large,
    process_cpu_seconds,
    table,
    token_for,
)
from bench.scale_data import bench_customer_id, bench_user_email, bench_user_id  # noqa: E402

ACME = "10000000-0000-4000-8000-000000000001"
ACME_RENEWAL = "30000000-0000-4000-8000-000000000001"
LARGE_USER = BenchUser(bench_user_id(1), bench_user_email(1))
FLOOR, P50_OVER_FLOOR_MS, RATE_VS_FLOOR, LIST_TOOLS_MS = "echo (floor)", 1.0, 0.6, 2.0

Call = tuple[str, str, dict[str, Any]]  # label, JSON-RPC method, params


def tool(name: str, arguments: dict[str, Any] | None = None, label: str | None = None) -> Call:
    return label or name, "tools/call", {"name": name, "arguments": arguments or {}}


def ladder_calls(scale: str) -> list[Call]:
    """The floor first, then every read tool with the arguments a user would pass, then tools/list."""
    customer = ACME if scale == "demo" else str(bench_customer_id(1))
    return [
        tool("echo", {"message": "hello"}, FLOOR),
        tool("echo_sync", {"message": "hello"}, "echo, sync def (reference)"),
        tool("search_customers", {}),
        tool("search_customers", {"query": "tech"}, "search_customers (name)"),
        tool("get_customer", {"customer_id": customer}),
        tool("list_contacts", {"customer_id": customer}),
        tool("upcoming_renewals", {}),
        tool("list_workflows", {}),
        tool("get_workflow", {"workflow_id": ACME_RENEWAL if scale == "demo" else None}),
        tool("list_check_ins", {"workflow_id": ACME_RENEWAL if scale == "demo" else None}),
        tool("list_parked_items", {}),
        tool("my_day", {}),
        tool("get_my_patterns", {}),
        tool("search_docs", {"query": "renewal playbook"}),
        tool("get_doc", {"slug": "renewals-playbook"}),
        tool("list_doc_versions", {"slug": "renewals-playbook"}),
        tool("list_releases", {}),
        tool("get_release", {}),
        tool("list_help_articles", {}),
        tool("list_features", {}),
        tool("get_feature", {"slug": "salesforce-sync"}),
        tool("list_integrations", {}),
        tool("get_integration", {"slug": "hubspot"}),
        tool("list_my_integrations", {}),
        tool("list_integration_events", {}),
        ("tools/list", "tools/list", {}),
    ]


async def one_client(
    port: int, token: str, method: str, params: dict[str, Any], n: int, budget: float = 20.0
) -> list[float]:
    """Up to n sequential calls (after a warm-up), stopping early after `budget` seconds (slow tools)."""
    async with RawClient(port, token) as client:
        deadline = time.perf_counter() + budget
        for _ in range(max(20, n // 20)):
            await client.request(method, params)
            if time.perf_counter() > deadline:
                break
        samples: list[float] = []
        deadline = time.perf_counter() + budget
        while len(samples) < n and time.perf_counter() < deadline:
            t0 = time.perf_counter()
            await client.request(method, params)
            samples.append(time.perf_counter() - t0)
        return samples


async def throughput(
    cluster, port: int, token: str, method: str, params: dict[str, Any], clients: int, seconds: float, server_pid: int
) -> tuple[float, float, float]:
    """(calls per second, server CPU ms per call, PostgreSQL CPU ms per call) with `clients` concurrent clients."""
    done = warmed = 0
    stop = False

    async def worker() -> None:
        nonlocal done, warmed
        async with RawClient(port, token) as client:
            for _ in range(5):  # warm this connection (and the pool's connection it lands on)
                await client.request(method, params)
            warmed += 1
            await ready.wait()
            while not stop:
                await client.request(method, params)
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


async def run_scale(cluster, scale: str, app_dsn: str, user: BenchUser, quick: bool) -> list[tuple]:
    """One server on one database: a row per call."""
    n = 300 if quick else 2000
    seconds = 1.5 if quick else 5.0
    token = token_for(user)
    rows = []
    with http_server(app_dsn) as server:
        for label, method, params in ladder_calls(scale):
            if params.get("arguments", {}).get("workflow_id", "") is None:
                continue  # no fixed workflow at this scale
            one = await one_client(server.port, token, method, params, n)
            rate, cpu, pg = await throughput(cluster, server.port, token, method, params, 8, seconds, server.pid)
            rows.append((label, p50(one), pct(one, 99), rate, cpu, pg, len(one)))
    return rows


def report(title: str, rows: list[tuple]) -> None:
    floor = rows[0]
    out = [
        (
            label,
            count,
            ms(q50),
            ms(q99),
            f"{(q50 - floor[1]) * 1000:+.3f}",
            f"{rate:.0f}",
            f"{rate / floor[3]:.2f}",
            f"{cpu:.2f}",
            f"{pg:.2f}",
        )
        for label, q50, q99, rate, cpu, pg, count in rows
    ]
    print(f"\n#### {title}\n")
    print(
        table(
            [
                "call",
                "calls",
                "p50 ms",
                "p99 ms",
                "p50 - floor ms",
                "calls/s 8 clients",
                "x floor",
                "server CPU ms/call",
                "PostgreSQL CPU ms/call",
            ],
            out,
        )
    )


def targets(scale: str, rows: list[tuple]) -> list[str]:
    floor = rows[0]
    misses = []
    for label, q50, _, rate, *_ in rows[2:]:
        if label == "tools/list":
            if q50 * 1000 >= LIST_TOOLS_MS:
                misses.append(f"tools/list p50 {q50 * 1000:.2f} ms (target < {LIST_TOOLS_MS})")
            continue
        over = (q50 - floor[1]) * 1000
        if over > P50_OVER_FLOOR_MS or rate / floor[3] < RATE_VS_FLOOR:
            misses.append(
                f"{label}: p50 {over:+.3f} ms over echo (target <= +{P50_OVER_FLOOR_MS}), "
                f"{rate / floor[3]:.2f}x echo's calls/s (target >= {RATE_VS_FLOOR}x)"
            )
    verdict = "every target met" if not misses else f"{len(misses)} target(s) missed"
    return [f"targets ({scale}): {verdict}", *(f"  - {m}" for m in misses)]


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="a fast smoke run (fewer calls, shorter windows)")
    parser.add_argument("--large", action="store_true", help="also run at 1M customers (bench/scale_data.py)")
    args = parser.parse_args()
    print(f"# tool-call ladder ({'quick' if args.quick else 'full'}) - {machine_line()}")
    with bench_cluster() as cluster:
        demo = await prepare_demo(cluster)
        results = {"demo scale": await run_scale(cluster, "demo", cluster.app_dsn(demo), DEMO_USER, args.quick)}
        report("demo scale (as alice: 24 customers; 20 docs)", results["demo scale"])
        if args.large:
            large = await prepare_large(cluster)
            results["large scale"] = await run_scale(cluster, "large", cluster.app_dsn(large), LARGE_USER, args.quick)
            report("large scale (as u1: 100 of 1M customers; 100k docs)", results["large scale"])
        print()
        for scale, rows in results.items():
            print("\n".join(targets(scale, rows)))


if __name__ == "__main__":
    asyncio.run(main())
