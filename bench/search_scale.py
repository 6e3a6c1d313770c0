"""Search at scale: search_docs at 100k docs and search_customers at 1M customers, as the server runs them.

    .venv/bin/python bench/search_scale.py            # about 2 minutes (after bench/scale_data.py built the data)
    .venv/bin/python bench/search_scale.py --quick

Each query is the tool's own read (renubu_read.search_docs / search_customers, migration 20251204) through the
request function public.read_as, one round trip, exactly as the server calls it (renubu_mcp/db.py call_as), as u1
(a CSM with 100 of the 1M customers) or as the admin, cycling through the terms on one connection so the plan
cache behaves as in the server. A case stops after n calls or 8 seconds. Target: p99 under 20 ms for every term.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import bench_cluster, machine_line, ms, p50, pct, prepare_large, table  # noqa: E402
from bench.scale_data import DOC_TERMS, bench_user_email, bench_user_id  # noqa: E402
from renubu_mcp.db import Database, Principal  # noqa: E402
from renubu_mcp.demo import ADMIN  # noqa: E402
from renubu_mcp.tools.common import like_pattern  # noqa: E402

DOC_QUERIES = [*DOC_TERMS, "renewal playbook"]
FRAGMENTS = [
    ("zyxwave", "rare (11 of 1M)"),
    ("tech", "common (~20 %)"),
    ("co", "2 letters, no trigram (~45 %)"),
    ("qz", "2 letters, no trigram, no match"),
    (None, "no fragment (list by name)"),
]
BUDGET_S = 8.0


async def cycle(
    db: Database, principal: Principal, read: str, arg_sets: list[dict[str, Any]], n: int
) -> list[list[float]]:
    """Run the read with each argument set in turn, n rounds or until each set spent BUDGET_S."""
    samples: list[list[float]] = [[] for _ in arg_sets]
    spent = [0.0] * len(arg_sets)
    for _ in range(n):
        active = [i for i in range(len(arg_sets)) if spent[i] < BUDGET_S]
        if not active:
            break
        for i in active:
            t0 = time.perf_counter()
            await db.call_as(principal, "public.read_as", read, json.dumps(arg_sets[i]))
            dt = time.perf_counter() - t0
            samples[i].append(dt)
            spent[i] += dt
    return samples


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    n = 30 if args.quick else 200
    print(f"# search at scale ({'quick' if args.quick else 'full'}) - {machine_line()}")
    with bench_cluster() as cluster:
        large = await prepare_large(cluster)
        db = await Database.connect(cluster.app_dsn(large), min_size=1, max_size=1)
        csm = Principal(bench_user_id(1), bench_user_email(1))
        admin = Principal(ADMIN.id, ADMIN.email)
        try:
            docs = [{"query": q, "limit": 10, "offset": 0} for q in DOC_QUERIES]
            await cycle(db, csm, "search_docs", docs, 2)  # warm the cache and the plans
            got = await cycle(db, csm, "search_docs", docs, n)
            print("\n### search_docs at 100k docs (page of 10)\n")
            print(
                table(
                    ["query", "calls", "p50 ms", "p99 ms", "p99 < 20 ms"],
                    [
                        (q, len(s), ms(p50(s)), ms(pct(s, 99)), "yes" if pct(s, 99) < 0.020 else "NO")
                        for q, s in zip(DOC_QUERIES, got)
                    ],
                )
            )

            rows = []
            for who, principal in (("u1 (CSM, 100 customers)", csm), ("admin (all 1M)", admin)):
                cases = [{"pattern": like_pattern(f), "sort": "name", "limit": 20, "offset": 0} for f, _ in FRAGMENTS]
                await cycle(db, principal, "search_customers", cases, 2)
                for (f, desc), s in zip(FRAGMENTS, await cycle(db, principal, "search_customers", cases, n)):
                    rows.append(
                        (
                            who,
                            f"{f or '(none)'}: {desc}",
                            len(s),
                            ms(p50(s)),
                            ms(pct(s, 99)),
                            "yes" if pct(s, 99) < 0.020 else "NO",
                        )
                    )
            print("\n### search_customers at 1M customers (name fragment, sort by name, page of 20)\n")
            print(table(["as", "fragment", "calls", "p50 ms", "p99 ms", "p99 < 20 ms"], rows))
        finally:
            await db.close()


if __name__ == "__main__":
    asyncio.run(main())
