"""Load on a real HTTP server process, with and without a database restart in the middle.

In-suite sizes are small (2,000 calls at 32 clients; a 2 s outage); `scripts/soak` runs 20,000 calls and longer
or repeated outages with the same code (tests/reliability/harness.py).

What a write may do is defined precisely (harness.check_writes): every write carries a unique marker, and after
the run the owner counts rows per marker. acknowledged ⊆ stored ⊆ attempted, no marker is stored twice, a
start_workflow stored its execution together with its workflow_started action, and a definite refusal stored
nothing. A write whose answer was lost in an outage may or may not be stored: both are allowed.
"""

from __future__ import annotations

import asyncio
import time
import uuid

import pytest

from . import harness
from .harness import (
    ADMIN,
    ALICE,
    call_tool,
    check_outage,
    check_writes,
    count_stored,
    new_http_client,
    run_load,
    summary,
    token_for,
)

ACME = "10000000-0000-4000-8000-000000000001"
GRACE = 5.0  # after the database is back, every call that starts later than this must succeed


def run_id(name: str) -> str:
    return f"{name}-{uuid.uuid4().hex[:8]}"


async def test_2000_calls_from_32_clients_all_succeed_and_every_write_is_stored_exactly_once(demo_db, server):
    srv = server(demo_db.app_dsn)
    run = run_id("load")
    started = time.monotonic()
    records = await run_load(srv.url, calls=2000, concurrency=32, run_id=run, time_limit=240)
    figures = summary(records, time.monotonic() - started)
    print("\nload:", figures)
    assert figures["calls"] == 2000, figures
    assert figures["failed"] == 0, harness.failure_samples(records)
    writes = check_writes(records, await count_stored(demo_db.owner_dsn, run))
    print("writes:", writes.attempted, "attempted,", writes.acknowledged, "acknowledged,", writes.stored, "stored")
    assert writes.problems == {}
    assert writes.acknowledged == writes.attempted == writes.stored > 500
    assert "Traceback" not in srv.log(), srv.log()


async def test_a_database_restart_mid_load_gives_clear_errors_then_recovers_by_itself(restartable_cluster, server):
    srv = server(restartable_cluster.app_dsn())
    run = run_id("restart")
    stop = asyncio.Event()
    load = asyncio.create_task(run_load(srv.url, calls=100_000, concurrency=32, run_id=run, time_limit=90, stop=stop))
    await asyncio.sleep(2.5)
    outage = await harness.outage(restartable_cluster, down_for=2.0)
    await asyncio.sleep(GRACE + 3.0)  # then calls that started well after the database came back
    stop.set()
    records = await load
    figures = summary(records, time.monotonic() - outage.stopping)
    checked = check_outage(records, outage, grace=GRACE)
    writes = check_writes(records, await count_stored(restartable_cluster.owner_dsn(), run))
    print(
        f"\nrestart: {figures}\n  before {dict(checked.before)} during {dict(checked.during)} after "
        f"{dict(checked.after)}; recovered {checked.recovery_s}s after the database was up\n  writes: "
        f"{writes.attempted} attempted, {writes.acknowledged} acknowledged, {writes.stored} stored "
        f"({writes.unacknowledged_stored} stored without an answer)"
    )

    assert checked.during["tool_error"] > 0, "the outage was not noticed: no call failed"
    assert checked.after["ok"] > 100 and checked.problems == {}, checked.problems
    assert checked.recovery_s < GRACE
    assert writes.problems == {}, writes.problems
    assert not checked.bare_internal, checked.bare_internal  # every failure during the outage says what it is
    assert "Traceback" not in srv.log().replace("UnexpectedToolError", "")


async def test_a_token_first_seen_while_the_database_is_down_gets_a_clear_answer(restartable_cluster, server):
    srv = server(restartable_cluster.app_dsn())
    async with new_http_client() as http:
        assert (await call_tool(http, srv.url, token_for(ALICE), "get_customer", {"customer_id": ACME})).ok
        await asyncio.to_thread(restartable_cluster.stop)
        try:
            known = await call_tool(http, srv.url, token_for(ALICE), "get_customer", {"customer_id": ACME})
            # The bearer check has never seen admin: it needs the database to know the user is active.
            first_seen = await call_tool(http, srv.url, token_for(ADMIN), "get_customer", {"customer_id": ACME})
            async with new_http_client() as fresh:  # uvicorn closes a connection after a 500
                health = await fresh.get(f"{srv.url}/healthz")
        finally:
            await asyncio.to_thread(restartable_cluster.start)
        assert known.is_outage_error, known
        assert health.status_code == 503 and health.json()["database"] == "unreachable"
        for _ in range(50):  # back within seconds, without restarting the server
            if (await call_tool(http, srv.url, token_for(ADMIN), "get_customer", {"customer_id": ACME})).ok:
                break
            await asyncio.sleep(0.1)
        else:
            pytest.fail("the server did not recover after the database came back")
    assert first_seen.is_outage_error, first_seen  # a clear tool error, never an HTTP 500
