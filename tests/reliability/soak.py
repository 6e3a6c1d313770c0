"""The full-size reliability runs (scripts/soak): the in-suite tests' code (tests/reliability/harness.py) at size.

    scripts/soak                                  # 20,000 calls at 32 clients, then 3 restarts under load
    scripts/soak --calls 5000 --restarts 1 --down 3 --crash --fuzz-examples 300

Phases, each on a private PostgreSQL cluster (fsync on) and a real `renubu-mcp serve --transport http`:
  load      CALLS calls from CONCURRENCY clients (alice and bob, 40% writes): zero failures, and every write
            stored exactly once (acknowledged ⊆ stored ⊆ attempted, no duplicates, nothing half-written)
  restart   load for as long as RESTARTS outages of DOWN seconds take (pg_ctl -m fast, or -m immediate with
            --crash), each followed by 10 s of calls: failures only while down, each a clear "database
            unavailable" tool error; recovery within GRACE s; no acknowledged write lost
  fuzz      tests/reliability/test_fuzz.py with FUZZ_EXAMPLES random examples per tool (0: skip)
Prints the figures; exits 1 if any check fails. Listens on 127.0.0.1 only; every loop is bounded in time.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import subprocess
import sys
import time
import uuid
from pathlib import Path

from renubu_mcp import migrate
from renubu_mcp.embedded import EmbeddedCluster
from tests.conftest import private_tmp_dir

from . import harness

REPO = Path(__file__).resolve().parents[2]


def show(title: str, figures: object) -> None:
    print(f"{title}: {json.dumps(figures, default=str)}", flush=True)


async def load_phase(cluster: EmbeddedCluster, args: argparse.Namespace) -> list[str]:
    run = f"soak-load-{uuid.uuid4().hex[:8]}"
    with harness.ServerProcess(cluster.app_dsn(), env={"RENUBU_POOL_MAX_SIZE": str(args.pool)}) as srv:
        started = time.monotonic()
        records = await harness.run_load(
            srv.url, calls=args.calls, concurrency=args.concurrency, run_id=run, time_limit=args.time_limit
        )
        figures = harness.summary(records, time.monotonic() - started)
        log = srv.log()
    writes = harness.check_writes(records, await harness.count_stored(cluster.owner_dsn(), run))
    show("load", figures)
    show(
        "load writes",
        {
            "attempted": writes.attempted,
            "acknowledged": writes.acknowledged,
            "rows counted": writes.stored,
            "stored without an answer": writes.unacknowledged_stored,
            "problems": writes.problems,
        },
    )
    problems = []
    if figures["calls"] != args.calls:
        problems.append(f"load: only {figures['calls']} of {args.calls} calls in {args.time_limit}s")
    if figures["failed"]:
        problems.append(f"load: {figures['failed']} failed calls, e.g. {harness.failure_samples(records)}")
    if writes.problems or writes.stored != writes.acknowledged:
        problems.append(f"load writes: {writes.problems}")
    if "Traceback" in log:
        problems.append("load: the server logged a traceback")
    return problems


async def restart_phase(cluster: EmbeddedCluster, args: argparse.Namespace) -> list[str]:
    run = f"soak-restart-{uuid.uuid4().hex[:8]}"
    problems = []
    with harness.ServerProcess(cluster.app_dsn(), env={"RENUBU_POOL_MAX_SIZE": str(args.pool)}) as srv:
        stop = asyncio.Event()
        started = time.monotonic()
        budget = args.restarts * (args.down + 15) + 30
        load = asyncio.create_task(
            harness.run_load(
                srv.url, calls=10**7, concurrency=args.concurrency, run_id=run, time_limit=budget, stop=stop
            )
        )
        outages = []
        await asyncio.sleep(5)
        for _ in range(args.restarts):
            outages.append(await harness.outage(cluster, args.down, crash=args.crash))
            await asyncio.sleep(args.grace + 5)
        stop.set()
        records = await load
        figures = harness.summary(records, time.monotonic() - started)
    show("restart load", figures)
    ends = [o.stopping for o in outages[1:]] + [float("inf")]
    for i, (o, next_stop) in enumerate(zip(outages, ends), 1):
        # Each outage is judged on the calls that ended before the next one began.
        window = [r for r in records if r.ended < next_stop and (i == 1 or r.started >= outages[i - 2].up)]
        checked = harness.check_outage(window, o, grace=args.grace)
        show(
            f"outage {i}",
            {
                "down_s": round(o.starting - o.down, 2),
                "stop_s": round(o.down - o.stopping, 2),
                "start_s": round(o.up - o.starting, 2),
                "before": checked.before,
                "during": checked.during,
                "after": checked.after,
                "recovery_s": checked.recovery_s,
                "bare_internal_errors": len(checked.bare_internal),
                "problems": checked.problems,
            },
        )
        if checked.problems:
            problems.append(f"outage {i}: {checked.problems}")
        if checked.bare_internal:
            problems.append(
                f"outage {i}: {len(checked.bare_internal)} bare internal error(s), e.g. {checked.bare_internal[:2]}"
            )
    writes = harness.check_writes(records, await harness.count_stored(cluster.owner_dsn(), run))
    show(
        "restart writes",
        {
            "attempted": writes.attempted,
            "acknowledged": writes.acknowledged,
            "rows counted": writes.stored,
            "stored without an answer": writes.unacknowledged_stored,
            "problems": writes.problems,
        },
    )
    if writes.problems:
        problems.append(f"restart writes: {writes.problems}")
    return problems


def fuzz_phase(args: argparse.Namespace) -> list[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RENUBU_")}
    env.update(RENUBU_FUZZ_EXAMPLES=str(args.fuzz_examples), RENUBU_FUZZ_RANDOM="1")
    started = time.monotonic()
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "tests/reliability/test_fuzz.py", "-q", "-s", "-p", "no:cacheprovider"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=args.time_limit * 4,
    )
    lines = [line for line in run.stdout.splitlines() if "{'ok'" in line or " passed" in line or "failed" in line]
    calls = sum(
        int(x.split("'ok': ")[1].split(",")[0]) + int(x.split("'rejected': ")[1].split("}")[0])
        for x in lines
        if "{'ok'" in x
    )
    show(
        "fuzz",
        {
            "examples_per_tool": args.fuzz_examples,
            "calls": calls,
            "elapsed_s": round(time.monotonic() - started, 1),
            "result": lines[-1] if lines else run.stdout[-300:],
        },
    )
    return [] if run.returncode == 0 else [f"fuzz: pytest exited {run.returncode}:\n{run.stdout[-3000:]}"]


async def main(args: argparse.Namespace) -> int:
    problems: list[str] = []
    data_dir = private_tmp_dir("renubu-soak-")
    try:
        with EmbeddedCluster(data_dir) as cluster:
            await migrate.migrate(cluster.owner_dsn())
            await migrate.seed_demo(cluster.owner_dsn())
            if "load" in args.phases:
                problems += await load_phase(cluster, args)
            if "restart" in args.phases and args.restarts:
                problems += await restart_phase(cluster, args)
    finally:
        shutil.rmtree(data_dir, ignore_errors=True)
    if "fuzz" in args.phases and args.fuzz_examples:
        problems += await asyncio.to_thread(fuzz_phase, args)
    print("\nRESULT: " + ("PASS" if not problems else "FAIL\n  " + "\n  ".join(problems)), flush=True)
    return 1 if problems else 0


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="scripts/soak", description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=20_000)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--pool", type=int, default=10, help="the server's RENUBU_POOL_MAX_SIZE")
    parser.add_argument("--restarts", type=int, default=3)
    parser.add_argument("--down", type=float, default=5.0, help="seconds the database stays down each time")
    parser.add_argument("--grace", type=float, default=5.0, help="seconds after restart by which all calls succeed")
    parser.add_argument("--crash", action="store_true", help="stop with pg_ctl -m immediate (a crash)")
    parser.add_argument("--fuzz-examples", type=int, default=200, help="per tool; 0 skips the fuzz phase")
    parser.add_argument("--phases", default="load,restart,fuzz")
    parser.add_argument("--time-limit", type=float, default=900.0, help="seconds for the load phase at most")
    return parser.parse_args(argv)


if __name__ == "__main__":
    sys.exit(asyncio.run(main(parse())))
