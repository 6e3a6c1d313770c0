"""User patterns: computed when read, or refreshed on every write? Both measured (issue 14), with my_day beside them.

    .venv/bin/python bench/patterns.py            # about 2 minutes
    .venv/bin/python bench/patterns.py --quick

Reads: each tool's own read (renubu_read.<read>, one round trip through public.read_as, exactly as the server calls
it: renubu_mcp/db.py call_as) as alice, against the floor of the same run: get_customer's read (Acme Corp), the
read every other figure in docs/performance.md is held to. Calls are interleaved on one connection so the plan
cache behaves as in the server and noise hits every read alike.

Writes: what the alternative, a stored row refreshed on writes, would cost. A statement-level trigger on
workflow_tasks, workflow_actions and workflow_check_ins (SECURITY DEFINER: an admin's write changes the owner's row)
recomputes the owner's figures with the same public.user_patterns_of and upserts them; the write measured is
record_action's insert of one action as alice, in its own transaction (rolled back, so the data stays put), with the
trigger disabled and enabled in alternating rounds.

Two histories: the demo's (alice: 16 workflows, 20 actions, 11 check-ins), and a heavy one added to alice in a
database of its own (bench_patterns): 2,000 more completed workflows over ten years, with 10,000 tasks, 20,000
actions and 8,000 check-ins, on her customers other than Acme Corp (so the floor reads the same account at both
scales). The patterns read covers the last 365 days: about a tenth of that history.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from mcp import Client  # noqa: E402

from bench.common import (  # noqa: E402
    TOKEN_KEY,
    analyze,
    bench_cluster,
    machine_line,
    ms,
    p50,
    pct,
    prepare_demo,
    table,
)
from renubu_mcp import migrate as migrations  # noqa: E402
from renubu_mcp.config import Settings  # noqa: E402
from renubu_mcp.db import Database, Principal  # noqa: E402
from renubu_mcp.demo import ADMIN, ALICE, BOB, PAT  # noqa: E402
from renubu_mcp.server import build_server  # noqa: E402

ACME = "10000000-0000-4000-8000-000000000001"
ACME_RENEWAL = "30000000-0000-4000-8000-000000000001"
HEAVY_DB = "bench_patterns"
FLOOR = "get_customer (floor)"
READS = [
    (FLOOR, "get_customer", {"customer_id": ACME}),
    ("get_my_patterns", "get_my_patterns", {}),
    ("my_day", "my_day", {}),
]

HEAVY_HISTORY = """
INSERT INTO public.workflow_executions (id, user_id, customer_id, workflow_type, workflow_name, status,
  started_at, completed_at, snoozed_at, woken_at, wake_reason, created_at, updated_at)
SELECT ('3f000000-0000-4000-8000-' || lpad(n::text, 12, '0'))::uuid, '{alice}', c.id,
       (ARRAY['renewal', 'qbr', 'expansion', 'onboarding'])[n % 4 + 1], 'History ' || n, 'completed',
       now() - (n || ' days')::interval * 1.8, now() - (n || ' days')::interval * 1.8 + interval '20 days',
       CASE WHEN n % 2 = 0 THEN now() - (n || ' days')::interval * 1.8 + interval '3 days' END,
       CASE WHEN n % 2 = 0 THEN now() - (n || ' days')::interval * 1.8 + interval '8 days' END,
       CASE WHEN n % 2 = 0 THEN (ARRAY['snooze time reached (x)', 'wake condition met: x', 'advanced manually'])[n % 3 + 1] END,
       now() - (n || ' days')::interval * 1.8, now() - (n || ' days')::interval * 1.8 + interval '20 days'
FROM generate_series(1, 2000) n
JOIN LATERAL (SELECT a.customer_id AS id FROM public.customer_assignments a
              WHERE a.user_id = '{alice}' AND a.customer_id <> '{acme}'
              ORDER BY a.customer_id OFFSET n % 23 LIMIT 1) c ON true;
INSERT INTO public.workflow_tasks (workflow_execution_id, title, status, assigned_to, created_by, due_date,
  completed_at, created_at, updated_at)
SELECT e.id, 'Task ' || k, 'completed', e.user_id, e.user_id, e.started_at + (k * 4 || ' days')::interval,
       e.started_at + (k * 3 || ' days')::interval, e.started_at, e.completed_at
FROM public.workflow_executions e CROSS JOIN generate_series(1, 5) k WHERE e.workflow_name LIKE 'History %';
INSERT INTO public.workflow_actions (workflow_execution_id, user_id, action_type, action_data, created_at)
SELECT e.id, e.user_id, 'note_added', '{{}}', e.started_at + (k || ' days')::interval + (k % 9 || ' hours')::interval
FROM public.workflow_executions e CROSS JOIN generate_series(1, 10) k WHERE e.workflow_name LIKE 'History %';
INSERT INTO public.workflow_check_ins (workflow_execution_id, status, confidence, checked_in_at, created_by)
SELECT e.id, 'on_track', 4, e.started_at + (k * 5 || ' days')::interval, e.user_id
FROM public.workflow_executions e CROSS JOIN generate_series(1, 4) k WHERE e.workflow_name LIKE 'History %';
"""

# The alternative design, installed only in the benchmark's databases.
REFRESH_ON_WRITE = """
CREATE SCHEMA IF NOT EXISTS bench_meta;
CREATE TABLE IF NOT EXISTS bench_meta.user_patterns_stored (
  user_id uuid PRIMARY KEY, patterns jsonb NOT NULL, refreshed_at timestamptz NOT NULL);
CREATE OR REPLACE FUNCTION bench_meta.refresh_patterns() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = '' AS $$
BEGIN
  INSERT INTO bench_meta.user_patterns_stored AS s (user_id, patterns, refreshed_at)
  SELECT o.user_id, public.user_patterns_of(o.user_id), now()
  FROM (SELECT DISTINCT e.user_id FROM changed c
        JOIN public.workflow_executions e ON e.id = c.workflow_execution_id) o
  ON CONFLICT (user_id) DO UPDATE SET patterns = EXCLUDED.patterns, refreshed_at = EXCLUDED.refreshed_at;
  RETURN NULL;
END
$$;
DO $$
DECLARE t text;
BEGIN
  FOREACH t IN ARRAY ARRAY['workflow_tasks', 'workflow_actions', 'workflow_check_ins'] LOOP
    EXECUTE format('CREATE OR REPLACE TRIGGER bench_refresh_patterns_ins AFTER INSERT ON public.%I '
                   'REFERENCING NEW TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION bench_meta.refresh_patterns()', t);
    EXECUTE format('CREATE OR REPLACE TRIGGER bench_refresh_patterns_upd AFTER UPDATE ON public.%I '
                   'REFERENCING NEW TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION bench_meta.refresh_patterns()', t);
  END LOOP;
END
$$;
"""
TRIGGERS = (
    "ALTER TABLE public.{table} {state} TRIGGER bench_refresh_patterns_ins; "
    "ALTER TABLE public.{table} {state} TRIGGER bench_refresh_patterns_upd;"
)
WRITE = (
    "INSERT INTO workflow_actions (workflow_execution_id, action_type, action_data)"
    " VALUES ($1, 'note', '{\"bench\": true}')"
)


class _Undo(Exception):
    pass


async def owner_execute(dsn: str, sql: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


async def reads(db: Database, rounds: int) -> dict[str, list[float]]:
    alice = Principal(ALICE.id, ALICE.email)
    samples: dict[str, list[float]] = {label: [] for label, _, _ in READS}
    for i in range(rounds + 20):  # the first 20 rounds warm the cache and the plans
        for label, read, args in READS:
            t0 = time.perf_counter()
            await db.call_as(alice, "public.read_as", read, json.dumps(args))
            if i >= 20:
                samples[label].append(time.perf_counter() - t0)
    return samples


async def one_write(db: Database) -> float:
    alice = Principal(ALICE.id, ALICE.email)
    t0 = time.perf_counter()
    try:
        async with db.as_user(alice) as conn:
            await conn.execute(WRITE, ACME_RENEWAL)
            elapsed = time.perf_counter() - t0  # the write as the caller sees it, before the rollback
            raise _Undo
    except _Undo:
        return elapsed


async def writes(db: Database, owner_dsn: str, rounds: int, per_round: int) -> dict[str, list[float]]:
    samples: dict[str, list[float]] = {"off": [], "on": []}
    for _ in range(rounds):
        for state in ("off", "on"):
            sql = " ".join(
                TRIGGERS.format(table=t, state="ENABLE" if state == "on" else "DISABLE")
                for t in ("workflow_tasks", "workflow_actions", "workflow_check_ins")
            )
            await owner_execute(owner_dsn, sql)
            for _ in range(10):
                await one_write(db)
            for _ in range(per_round):
                samples[state].append(await one_write(db))
    return samples


async def measure(cluster, name: str, rounds: int, per_round: int) -> tuple[list[tuple], list[tuple], int]:
    owner_dsn = cluster.owner_dsn(name)
    await owner_execute(owner_dsn, REFRESH_ON_WRITE)
    db = await Database.connect(cluster.app_dsn(name), min_size=1, max_size=1)
    try:
        read = await reads(db, rounds * per_round // 2)
        write = await writes(db, owner_dsn, rounds, per_round)
        day = await db.call_as(Principal(ALICE.id, ALICE.email), "public.read_as", "my_day", "{}")
        size = len(day[0][0].encode())
    finally:
        await db.close()
    floor = p50(read[FLOOR])
    read_rows = [(label, len(s), ms(p50(s)), ms(pct(s, 99)), f"{p50(s) / floor:.2f}") for label, s in read.items()]
    off = p50(write["off"])
    write_rows = [
        (
            "record_action's insert, computed on read (as built)",
            len(write["off"]),
            ms(off),
            ms(pct(write["off"], 99)),
            "1.00",
        ),
        (
            "the same, refreshed on write (trigger)",
            len(write["on"]),
            ms(p50(write["on"])),
            ms(pct(write["on"], 99)),
            f"{p50(write['on']) / off:.2f}",
        ),
    ]
    return read_rows, write_rows, size


async def day_sizes(app_dsn: str) -> list[tuple]:
    """my_day as each demo user's assistant reads it: the tool's text (compact JSON inside the untrusted-data
    boundary), through the real server over the SDK's in-process client; the first call wakes what is due."""
    rows = []
    for user in (ALICE, BOB, ADMIN, PAT):
        settings = Settings(database_url=app_dsn, user_email=user.email, token_encryption_key=TOKEN_KEY)
        async with Client(build_server(settings)) as client:
            sizes = [len((await client.call_tool("my_day", {})).content[0].text.encode()) for _ in range(2)]
        rows.append((user.email, f"{sizes[0]:,}", f"{sizes[1]:,}", "yes" if max(sizes) < 4096 else "NO"))
    return rows


async def history_of(cluster, name: str) -> str:
    import asyncpg

    conn = await asyncpg.connect(cluster.owner_dsn(name))
    try:
        counts = await conn.fetchrow(
            "SELECT (SELECT count(*) FROM workflow_executions WHERE user_id = $1) AS w,"
            " (SELECT count(*) FROM workflow_tasks t JOIN workflow_executions e ON e.id = t.workflow_execution_id"
            "  WHERE e.user_id = $1) AS t, (SELECT count(*) FROM workflow_actions WHERE user_id = $1) AS a,"
            " (SELECT count(*) FROM workflow_check_ins WHERE created_by = $1) AS c",
            ALICE.id,
        )
    finally:
        await conn.close()
    return f"{counts['w']:,} workflows, {counts['t']:,} tasks, {counts['a']:,} actions, {counts['c']:,} check-ins"


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    rounds, per_round = (2, 50) if args.quick else (5, 300)
    print(
        f"# user patterns: computed on read or refreshed on write ({'quick' if args.quick else 'full'}) - "
        f"{machine_line()}"
    )
    with bench_cluster() as cluster:
        demo = await prepare_demo(cluster)
        cluster.drop_database(HEAVY_DB)
        cluster.create_database(HEAVY_DB)
        await migrations.migrate(cluster.owner_dsn(HEAVY_DB))
        await migrations.seed_demo(cluster.owner_dsn(HEAVY_DB))
        await owner_execute(cluster.owner_dsn(HEAVY_DB), HEAVY_HISTORY.format(alice=ALICE.id, acme=ACME))
        await analyze(cluster.owner_dsn(HEAVY_DB))
        for name, title in ((demo, "demo history"), (HEAVY_DB, "heavy history")):
            history = await history_of(cluster, name)
            read_rows, write_rows, size = await measure(cluster, name, rounds, per_round)
            print(f"\n### {title}: alice with {history}\n")
            print(table(["read (as alice, one round trip)", "calls", "p50 ms", "p99 ms", "p50 / floor"], read_rows))
            print()
            print(
                table(
                    ["write (as alice, one transaction)", "calls", "p50 ms", "p99 ms", "p50 / computed on read"],
                    write_rows,
                )
            )
            print(f"\nmy_day document as the database writes it: {size:,} bytes")
        cluster.drop_database(HEAVY_DB)
        print("\n### my_day as the model reads it (demo)\n")
        print(
            table(
                ["user", "first call, bytes", "second call, bytes", "under 4 KB"],
                await day_sizes(cluster.app_dsn(demo)),
            )
        )


if __name__ == "__main__":
    asyncio.run(main())
