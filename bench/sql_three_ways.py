"""Issue 6, benchmark 2: the same SQL three ways - raw asyncpg, asyncpg inside the per-user transaction, the MCP tool.

    .venv/bin/python bench/sql_three_ways.py            # full run, about 2 minutes
    .venv/bin/python bench/sql_three_ways.py --quick

SQL: `SELECT 1`; the customer row of get_customer (one statement under RLS); get_customer's six statements.
Ways:
  raw asyncpg              asyncpg pool (default reset on release); for the RLS statements the pooled session is
                           put once, at session level, into role authenticated with alice's claims (benchmark only:
                           it shows the SQL's own cost; the server never does this)
  transaction, before      bench/db_baseline.py: BEGIN, set_config, SQL, COMMIT, then asyncpg's reset query
  transaction, now         renubu_mcp/db.py: BEGIN, set_config, SQL, COMMIT; no reset round trip after a clean request
  ... + plpgsql helpers    "now" on a copy of the database whose RLS helpers (is_admin, current_user_role,
                           assigned_customer_ids) are plpgsql instead of SQL functions (a proposal; see the doc)
  MCP tool over HTTP       the bench server (raw keep-alive client): echo, bench_customer_row, get_customer
Demo-scale database, one connection, sequential calls; p50 and p99 of one run, ratios to the raw asyncpg row.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from pathlib import Path
from uuid import UUID

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import asyncpg  # noqa: E402

from bench import db_baseline  # noqa: E402
from bench.common import (  # noqa: E402
    clone_database,
    DEMO_USER, RawClient, bench_cluster, http_server, machine_line, ms, owner_conn, p50, pct, prepare_demo, table,
    timed, token_for,
)
from renubu_mcp.db import Database, Principal, _init_connection  # noqa: E402
from renubu_mcp.tools.customers import fetch_customer, fetch_customer_detail  # noqa: E402

ACME = UUID("10000000-0000-4000-8000-000000000001")
HELPERS_DB = "bench_demo_plpgsql"

from bench.proposals import PLPGSQL_HELPERS  # noqa: E402

CUSTOMER_ROW = ("SELECT c.id, c.name, c.domain, c.industry, c.arr, c.renewal_date, c.risk_score, c.notes, c.updated_at "
                "FROM customers c WHERE c.id = $1 AND c.deleted_at IS NULL")


async def sql_select1(conn: asyncpg.Connection) -> None:
    await conn.fetchval("SELECT 1")


async def sql_customer(conn: asyncpg.Connection) -> None:
    await fetch_customer(conn, ACME)


async def sql_detail(conn: asyncpg.Connection) -> None:
    await fetch_customer_detail(conn, ACME)


WORKLOADS = [("SELECT 1", sql_select1, 1), ("customer row (RLS)", sql_customer, 1),
             ("get_customer SQL (6 statements)", sql_detail, 6)]


async def raw_pool(dsn: str, rls: bool) -> asyncpg.Pool:
    async def init(conn: asyncpg.Connection) -> None:
        await _init_connection(conn)
        if rls:  # benchmark only: the session itself becomes alice (never done by the server)
            await conn.execute("SELECT set_config('role', 'authenticated', false), "
                               "set_config('request.jwt.claims', $1, false)",
                               json.dumps({"sub": str(DEMO_USER.id), "role": "authenticated",
                                           "email": DEMO_USER.email}))

    # With the session itself acting as alice, asyncpg's reset (RESET ALL) would undo it: no reset for that pool.
    return await asyncpg.create_pool(dsn, min_size=1, max_size=1, init=init, **({"reset": _no_reset} if rls else {}))


async def _no_reset(conn: asyncpg.Connection) -> None:
    pass


async def measure_ways(app_dsn: str, helpers_dsn: str, n: int) -> list[tuple]:
    principal = Principal(DEMO_USER.id, DEMO_USER.email)
    rows = []
    plain = await raw_pool(app_dsn, rls=False)
    rls = await raw_pool(app_dsn, rls=True)
    before = await db_baseline.connect_baseline(app_dsn, min_size=1, max_size=1)
    now = await Database.connect(app_dsn, min_size=1, max_size=1)
    now_helpers = await Database.connect(helpers_dsn, min_size=1, max_size=1)
    try:
        for label, fn, statements in WORKLOADS:
            pool = plain if fn is sql_select1 else rls

            async def raw() -> None:
                async with pool.acquire() as conn:
                    await fn(conn)

            async def tx_before() -> None:
                async with db_baseline.as_user_baseline(before, principal) as conn:
                    await fn(conn)

            async def tx_now() -> None:
                async with now.as_user(principal) as conn:
                    await fn(conn)

            async def tx_now_helpers() -> None:
                async with now_helpers.as_user(principal) as conn:
                    await fn(conn)

            trips_raw = statements + (1 if fn is sql_select1 else 0)  # the plain pool also resets on release
            ways = [("raw asyncpg", raw, trips_raw), ("transaction, before", tx_before, statements + 4),
                    ("transaction, now", tx_now, statements + 3),
                    ("transaction, now + plpgsql helpers", tx_now_helpers, statements + 3)]
            base = None
            for way, call, trips in ways:
                samples = await timed(call, n, warmup=100)
                base = base or p50(samples)
                rows.append((label, way, trips, ms(p50(samples)), ms(pct(samples, 99)),
                             f"{p50(samples) / base:.2f}"))
    finally:
        for p in (plain, rls):
            await p.close()
        for d in (before, now, now_helpers):
            await d.close()
    return rows


async def measure_mcp(app_dsn: str, n: int) -> list[tuple]:
    rows = []
    with http_server(app_dsn) as server:
        async with RawClient(server.port, token_for(DEMO_USER)) as client:
            floor = None
            for label, tool, args in (("echo (floor)", "echo", {"message": "hi"}),
                                      ("customer row (RLS)", "bench_customer_row", {"customer_id": str(ACME)}),
                                      ("get_customer", "get_customer", {"customer_id": str(ACME)})):
                samples = await timed(lambda: client.call(tool, args), n, warmup=100)
                floor = floor or p50(samples)
                rows.append((label, "MCP tool over HTTP", ms(p50(samples)), ms(pct(samples, 99)),
                             f"{(p50(samples) - floor) * 1000:+.3f}"))
    return rows


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    n = 500 if args.quick else 5000
    print(f"# same SQL three ways ({'quick' if args.quick else 'full'}) - {machine_line()}")
    with bench_cluster() as cluster:
        demo = await prepare_demo(cluster)
        clone_database(cluster, demo, HELPERS_DB)
        async with owner_conn(cluster.owner_dsn(HELPERS_DB)) as conn:
            await conn.execute(PLPGSQL_HELPERS)
        ways = await measure_ways(cluster.app_dsn(demo), cluster.app_dsn(HELPERS_DB), n)
        print("\n### asyncpg, one connection (demo scale, as alice)\n")
        print(table(["SQL", "way", "round trips", "p50 ms", "p99 ms", "p50 / raw"], ways))
        mcp = await measure_mcp(cluster.app_dsn(demo), n // 2)
        print("\n### the MCP tool (HTTP, stateless JSON, one keep-alive client)\n")
        print(table(["tool", "way", "p50 ms", "p99 ms", "p50 - echo ms"], mcp))
        cluster.drop_database(HELPERS_DB)


if __name__ == "__main__":
    asyncio.run(main())
