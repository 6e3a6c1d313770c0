"""Graceful shutdown: SIGTERM while 48 clients are writing. Calls already in flight finish, nothing is half-written,
and the process exits promptly.

start_workflow is the write: it inserts the execution and its workflow_started action in one transaction, so
after the run both counts per marker must be equal (harness.check_writes: half_written).
"""

from __future__ import annotations

import asyncio
import signal
import time
import uuid

import pytest

from renubu_mcp.demo import ALICE

from .harness import call_tool, check_writes, count_stored, new_http_client, run_load, summary, token_for

EXIT_BOUND_S = 15.0


async def test_sigterm_mid_load_drains_in_flight_calls_and_leaves_nothing_half_written(demo_db, server):
    srv = server(demo_db.app_dsn)
    run = f"shutdown-{uuid.uuid4().hex[:8]}"
    stop = asyncio.Event()
    load = asyncio.create_task(
        run_load(
            srv.url,
            calls=100_000,
            concurrency=48,
            run_id=run,
            time_limit=60,
            write_share=1.0,
            failure_pause=0.05,
            stop=stop,
        )
    )
    await asyncio.sleep(3.0)
    assert not load.done()
    signalled = time.monotonic()
    srv.proc.send_signal(signal.SIGTERM)
    code = await asyncio.to_thread(srv.proc.wait, EXIT_BOUND_S)  # raises TimeoutExpired past the bound
    exited = time.monotonic()
    await asyncio.sleep(0.3)  # a few calls against the closed port, then stop
    stop.set()
    records = await load
    in_flight = [r for r in records if r.started < signalled <= r.ended]
    later = [r for r in records if r.started >= signalled]
    writes = check_writes(records, await count_stored(demo_db.owner_dsn, run))
    print(
        f"\nshutdown: {summary(records, exited - signalled)}; exited {exited - signalled:.2f}s after SIGTERM "
        f"with {code}; {len(in_flight)} in flight; writes {writes.attempted} attempted, {writes.acknowledged} "
        f"acknowledged, {writes.stored} stored"
    )

    assert len(in_flight) >= 10, "nothing was in flight at SIGTERM"
    before = [r for r in records if r.ended < signalled]
    assert before and all(r.outcome.ok for r in before)
    # Every call in flight at SIGTERM got its answer, and each answer is a full success.
    assert [r.outcome.kind for r in in_flight if not r.outcome.ok] == []
    # After SIGTERM new calls are refused at the connection, or answered; never half-done.
    assert {r.outcome.kind for r in later} <= {"ok", "transport_error"}
    assert writes.problems == {}, writes.problems
    assert "Traceback" not in srv.log(), srv.log()
    assert code == 0


async def test_a_request_sent_on_an_open_connection_just_after_sigterm_is_still_answered(demo_db, server):
    """uvicorn alone closes every idle keep-alive connection as soon as it starts shutting down, so a request a
    client has just sent on one is dropped unanswered; the server serves open connections for a short grace."""
    srv = server(demo_db.app_dsn)
    async with new_http_client(connections=1) as http:
        token = token_for(ALICE)
        assert (await call_tool(http, srv.url, token, "search_customers", {"query": "acme"})).ok
        srv.proc.send_signal(signal.SIGTERM)
        await asyncio.sleep(0.25)  # uvicorn notices the signal within 0.1 s and starts shutting down
        again = await call_tool(http, srv.url, token, "search_customers", {"query": "acme"})  # same connection
    assert again.ok, again.text
    with pytest.raises(OSError):  # a new connection is refused from the start of the shutdown
        _, writer = await asyncio.open_connection("127.0.0.1", srv.port)
        writer.close()
    assert await asyncio.to_thread(srv.proc.wait, EXIT_BOUND_S) == 0
