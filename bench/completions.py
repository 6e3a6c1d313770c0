"""Completion, the resource list and the subscriber check at 1M customers, as the server runs them.

    .venv/bin/python bench/completions.py            # about 2 minutes (after bench/scale_data.py built the data)
    .venv/bin/python bench/completions.py --quick

Each call is the read the server makes (renubu_read.complete_* / list_resources / readable, migration 20251212000000)
through the request function public.read_as, one round trip, exactly as renubu_mcp/db.py call_as runs it, as u1 (a
CSM with 100 of the 1M customers) or as the admin (all of them), cycling through the cases on one connection so the
plan cache behaves as in the server. The floor is get_customer's read for the same user in the same run (one round
trip for one record, the cheapest read a client makes): the ratio says what a completion costs next to it. A case
stops after n calls or 8 seconds. Target: p99 under 20 ms for every case.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import uuid
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import bench_cluster, machine_line, ms, p50, pct, prepare_large, table  # noqa: E402
from bench.scale_data import CUSTOMERS, USERS, bench_customer_id, bench_user_email, bench_user_id  # noqa: E402
from renubu_mcp.completions import MAX_VALUES  # noqa: E402
from renubu_mcp.db import Database, Principal  # noqa: E402
from renubu_mcp.demo import ADMIN  # noqa: E402
from renubu_mcp.resource_kinds import KINDS  # noqa: E402
from renubu_mcp.resource_list import PAGE_SIZE  # noqa: E402

BUDGET_S = 8.0
TARGET_P99_S = 0.020
CUSTOMER_FRAGMENTS = [
    ("", "empty (the first 100 by name)"),
    ("a", "1 letter (~5 % start with it)"),
    ("zy", "2 letters, rare"),
    ("qz", "2 letters, no match"),
    ("zyxwave", "rare (11 of 1M)"),
    ("tech", "common (~20 % hold it)"),
    ("qzx", "3 letters, no match"),
    ("acme q", "two words"),
    (str(bench_customer_id(1))[:9], "a pasted id prefix"),
]
Case = tuple[str, str, dict[str, Any]]  # label, read, arguments


def bench_workflow_id(e: int) -> uuid.UUID:
    return uuid.UUID(hashlib.md5(f"bench-wf-{e}".encode()).hexdigest())


def cases_for(who: str) -> list[Case]:
    cases: list[Case] = [
        (f"customer_id {f!r}: {desc}", "complete_customers", {"fragment": f, "limit": MAX_VALUES})
        for f, desc in CUSTOMER_FRAGMENTS
    ]
    cases += [
        ("workflow_id 'renewal 1'", "complete_workflows", {"fragment": "renewal 1", "limit": MAX_VALUES}),
        ("workflow_id ''", "complete_workflows", {"fragment": "", "limit": MAX_VALUES}),
        ("doc slug 'ren' (100k docs)", "complete_docs", {"fragment": "ren", "limit": MAX_VALUES}),
        ("doc slug 'zeppelin'", "complete_docs", {"fragment": "zeppelin", "limit": MAX_VALUES}),
        ("resources/list, first page", "list_resources", {"kinds": [k.name for k in KINDS], "limit": PAGE_SIZE}),
        (
            "resources/list, a page at the 500,000th customer",
            "list_resources",
            {
                "kinds": [k.name for k in KINDS],
                "limit": PAGE_SIZE,
                "after": {"kind": "customers", "key": "80000000-0000-0000-0000-000000000000"},
            },
        ),
        (
            "subscriber check, u1's 100 customers and 5 workflows",
            "readable",
            {
                "customers": [str(bench_customer_id(i)) for i in range(1, CUSTOMERS + 1, USERS)],
                "workflows": [str(bench_workflow_id(e)) for e in range(1, USERS * 5 + 1, USERS)],
            },
        ),
    ]
    return cases


async def cycle(db: Database, principal: Principal, cases: list[Case], n: int) -> list[list[float]]:
    """Run each case in turn, n rounds or until each case spent BUDGET_S."""
    samples: list[list[float]] = [[] for _ in cases]
    spent = [0.0] * len(cases)
    for _ in range(n):
        active = [i for i in range(len(cases)) if spent[i] < BUDGET_S]
        if not active:
            break
        for i in active:
            _, read, args = cases[i]
            t0 = time.perf_counter()
            await db.call_as(principal, "public.read_as", read, json.dumps(args))
            dt = time.perf_counter() - t0
            samples[i].append(dt)
            spent[i] += dt
    return samples


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    n = 30 if args.quick else 200
    run = "quick" if args.quick else "full"
    print(f"# completion and the resource list at 1M customers ({run}) - {machine_line()}")
    with bench_cluster() as cluster:
        large = await prepare_large(cluster)
        db = await Database.connect(cluster.app_dsn(large), min_size=1, max_size=1)
        try:
            for who, principal in (
                ("u1 (CSM, 100 customers)", Principal(bench_user_id(1), bench_user_email(1))),
                ("admin (all 1M)", Principal(ADMIN.id, ADMIN.email)),
            ):
                floor: Case = ("get_customer (the floor)", "get_customer", {"customer_id": str(bench_customer_id(1))})
                cases = [floor, *cases_for(who)]
                await cycle(db, principal, cases, 2)  # warm the cache and the plans
                got = await cycle(db, principal, cases, n)
                base = p50(got[0])
                print(f"\n### as {who}\n")
                print(
                    table(
                        ["case", "calls", "p50 ms", "p99 ms", "p50 / floor", "p99 < 20 ms"],
                        [
                            (
                                label,
                                len(s),
                                ms(p50(s)),
                                ms(pct(s, 99)),
                                f"{p50(s) / base:.1f}x",
                                "yes" if pct(s, 99) < TARGET_P99_S else "NO",
                            )
                            for (label, _, _), s in zip(cases, got)
                        ],
                    )
                )
        finally:
            await db.close()


if __name__ == "__main__":
    asyncio.run(main())
