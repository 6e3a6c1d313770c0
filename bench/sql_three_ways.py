"""Issue 6, benchmark 2: the same SQL three ways - raw asyncpg, asyncpg inside the per-user transaction, the MCP tool.

    .venv/bin/python bench/sql_three_ways.py            # full run, about 3 minutes
    .venv/bin/python bench/sql_three_ways.py --quick

SQL: `SELECT 1`; the customer row (one statement under RLS); get_customer as six statements (before issue 6,
bench/before.py) and as one (customer_detail(), migration 20251128).
Ways:
  raw asyncpg              asyncpg pool; for the RLS statements the pooled session is put once, at session level,
                           into role authenticated with alice's claims (benchmark only: it shows the SQL's own cost;
                           the server never does this)
  transaction, before      bench/db_baseline.py: BEGIN, set_config, SQL, COMMIT, then asyncpg's reset query
  transaction, now         renubu_mcp/db.py as_user: BEGIN, set_config, SQL, COMMIT; no reset after a clean request
  ... schema before        "now" on a copy of the database rolled back to before issue 6's migrations (RLS helpers
                           as SQL functions, wake_due_workflows without its early exit)
  request function         renubu_mcp/db.py call_as: customer_detail_as() sets role and claims itself, one statement
  MCP tool over HTTP       the bench server (raw keep-alive client): echo, get_customer, before_get_customer
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

from bench import before, db_baseline  # noqa: E402
from bench.common import (  # noqa: E402
    DEMO_USER, RawClient, bench_cluster, clone_database, http_server, machine_line, ms, no_reset, p50, pct,
    prepare_demo, table, timed, token_for,
)
from renubu_mcp import migrate as migrations  # noqa: E402
from renubu_mcp.db import Database, Principal, _init_connection  # noqa: E402
from renubu_mcp.tools.customers import fetch_customer  # noqa: E402

ACME = UUID("10000000-0000-4000-8000-000000000001")
SCHEMA_BEFORE_DB = "bench_demo_schema_before"
BEFORE_ISSUE_6 = "20251126000000"  # the last migration before issue 6's


async def sql_select1(conn: asyncpg.Connection) -> None:
    await conn.fetchval("SELECT 1")


async def sql_customer(conn: asyncpg.Connection) -> None:
    await fetch_customer(conn, ACME)


async def sql_six_statements(conn: asyncpg.Connection) -> None:
    row = await conn.fetchrow(before._CUSTOMER_SQL, ACME)
    assert row is not None
    await conn.fetch("SELECT execution_id, wake_reason FROM wake_due_workflows($1, NULL)", ACME)
    await conn.fetch(before._CONTACTS_SQL, ACME)
    await conn.fetch(before._WORKFLOWS_SQL, ACME)
    await conn.fetch(before._TASKS_SQL, ACME, ["pending", "in_progress", "snoozed"])
    await conn.fetch(before._ACTIONS_SQL, ACME)


async def sql_one_statement(conn: asyncpg.Connection) -> None:
    assert await conn.fetchrow("SELECT * FROM public.customer_detail($1)", ACME) is not None


async def raw_pool(dsn: str, rls: bool) -> asyncpg.Pool:
    async def init(conn: asyncpg.Connection) -> None:
        await _init_connection(conn)
        if rls:  # benchmark only: the session itself becomes alice (never done by the server)
            await conn.execute("SELECT set_config('role', 'authenticated', false), "
                               "set_config('request.jwt.claims', $1, false)",
                               json.dumps({"sub": str(DEMO_USER.id), "role": "authenticated",
                                           "email": DEMO_USER.email}))

    # With the session itself acting as alice, asyncpg's reset (RESET ALL) would undo it: no reset for that pool.
    return await asyncpg.create_pool(dsn, min_size=1, max_size=1, init=init, **({"reset": no_reset} if rls else {}))


async def measure_ways(app_dsn: str, schema_before_dsn: str, n: int) -> list[tuple]:
    principal = Principal(DEMO_USER.id, DEMO_USER.email)
    rows = []
    plain = await raw_pool(app_dsn, rls=False)
    rls = await raw_pool(app_dsn, rls=True)
    base_tx = await db_baseline.connect_baseline(app_dsn, min_size=1, max_size=1)
    now = await Database.connect(app_dsn, min_size=1, max_size=1)
    old_schema = await Database.connect(schema_before_dsn, min_size=1, max_size=1)

    def raw(fn):
        async def call() -> None:
            async with (plain if fn is sql_select1 else rls).acquire() as conn:
                await fn(conn)
        return call

    def tx(db: Database, fn):
        async def call() -> None:
            async with db.as_user(principal) as conn:
                await fn(conn)
        return call

    def tx_before(fn):
        async def call() -> None:
            async with db_baseline.as_user_baseline(base_tx, principal) as conn:
                await fn(conn)
        return call

    async def request_function() -> None:
        assert await now.call_as(principal, "public.customer_detail_as", ACME)

    # (SQL, [(way, call, round trips)]); round trips count BEGIN, set_config, COMMIT and a reset query.
    plan = [
        ("SELECT 1", [("raw asyncpg", raw(sql_select1), 2), ("transaction, before", tx_before(sql_select1), 5),
                      ("transaction, now", tx(now, sql_select1), 4)]),
        ("customer row (RLS)", [("raw asyncpg", raw(sql_customer), 1),
                                ("transaction, before", tx_before(sql_customer), 5),
                                ("transaction, now", tx(now, sql_customer), 4),
                                ("transaction, now, schema before", tx(old_schema, sql_customer), 4)]),
        ("get_customer, 6 statements (before)", [
            ("raw asyncpg", raw(sql_six_statements), 6), ("transaction, before", tx_before(sql_six_statements), 10),
            ("transaction, now", tx(now, sql_six_statements), 9),
            ("transaction, now, schema before", tx(old_schema, sql_six_statements), 9)]),
        ("get_customer, 1 statement (now)", [
            ("raw asyncpg", raw(sql_one_statement), 1), ("transaction, now", tx(now, sql_one_statement), 4),
            ("request function", request_function, 1)]),
    ]
    try:
        for label, ways in plan:
            base = None
            for way, call, trips in ways:
                samples = await timed(call, n, warmup=100)
                base = base or p50(samples)
                rows.append((label, way, trips, ms(p50(samples)), ms(pct(samples, 99)),
                             f"{p50(samples) / base:.2f}"))
    finally:
        for p in (plain, rls):
            await p.close()
        for d in (base_tx, now, old_schema):
            await d.close()
    return rows


async def measure_mcp(app_dsn: str, n: int) -> list[tuple]:
    rows = []
    with http_server(app_dsn) as server:
        async with RawClient(server.port, token_for(DEMO_USER)) as client:
            floor = None
            for label, tool, args in (("echo (floor)", "echo", {"message": "hi"}),
                                      ("get_customer", "get_customer", {"customer_id": str(ACME)}),
                                      ("get_customer before issue 6", "before_get_customer",
                                       {"customer_id": str(ACME)})):
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
        clone_database(cluster, demo, SCHEMA_BEFORE_DB)
        await migrations.rollback(cluster.owner_dsn(SCHEMA_BEFORE_DB), to=BEFORE_ISSUE_6)
        ways = await measure_ways(cluster.app_dsn(demo), cluster.app_dsn(SCHEMA_BEFORE_DB), n)
        print("\n### asyncpg, one connection (demo scale, as alice)\n")
        print(table(["SQL", "way", "round trips", "p50 ms", "p99 ms", "p50 / raw"], ways))
        mcp = await measure_mcp(cluster.app_dsn(demo), n // 2)
        print("\n### the MCP tool (HTTP, stateless JSON, one keep-alive client)\n")
        print(table(["tool", "way", "p50 ms", "p99 ms", "p50 - echo ms"], mcp))
        cluster.drop_database(SCHEMA_BEFORE_DB)


if __name__ == "__main__":
    asyncio.run(main())
