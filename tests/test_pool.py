"""The connection pool (renubu_mcp/pool.py), against a real PostgreSQL: limits, waiters, cleaning, failures."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import asyncpg
import pytest

from renubu_mcp.pool import ConnectionPool


@pytest.fixture
async def dsn(fresh_database) -> str:
    return fresh_database().owner_dsn


def opener(dsn: str, opened: list[asyncpg.Connection] | None = None):
    async def connect() -> asyncpg.Connection:
        conn = await asyncpg.connect(dsn)
        if opened is not None:
            opened.append(conn)
        return conn

    return connect


@pytest.fixture
async def pool(dsn) -> AsyncIterator[ConnectionPool]:
    pool = await ConnectionPool.create(opener(dsn), max_size=2)
    yield pool
    await asyncio.wait_for(pool.close(), 10)


async def app_name(lease) -> str:
    return await lease.fetchval("SELECT current_setting('application_name')")


async def test_after_a_clean_request_the_connection_is_reused_without_a_reset(pool):
    """The request path skips the reset query: which is why every request setting must be transaction-local."""
    lease = await pool.lease()
    pid = lease.get_server_pid()
    await lease.execute("SELECT set_config('application_name', 'left behind', false)")
    lease.note_request_ended()
    await pool.release(lease)
    lease = await pool.lease()
    try:
        assert lease.get_server_pid() == pid
        assert await app_name(lease) == "left behind"
    finally:
        await pool.release(lease)


async def test_any_other_use_is_reset_on_release(pool):
    async with pool.acquire() as lease:
        pid = lease.get_server_pid()
        await lease.execute("SELECT set_config('application_name', 'left behind', false)")
    async with pool.acquire() as lease:
        assert lease.get_server_pid() == pid
        assert await app_name(lease) == ""


async def test_a_transaction_left_open_is_rolled_back_even_if_the_request_claims_it_ended(pool):
    lease = await pool.lease()
    await lease.execute("BEGIN; SELECT set_config('application_name', 'in a transaction', true)")
    lease.note_request_ended()  # refuses: a transaction is still open
    await pool.release(lease)
    async with pool.acquire() as lease:
        assert not lease.is_in_transaction()
        assert await app_name(lease) == ""


async def test_a_released_lease_cannot_reach_the_connection(pool):
    lease = await pool.lease()
    await pool.release(lease)
    with pytest.raises(asyncpg.InterfaceError, match="released back to the pool"):
        await lease.fetchval("SELECT 1")
    await pool.release(lease)  # a second release does nothing
    assert (pool.get_size(), pool.get_idle_size()) == (1, 1)


async def test_a_lease_cannot_be_returned_to_another_pool(dsn, pool):
    other = ConnectionPool(opener(dsn), max_size=1)
    lease = await pool.lease()
    with pytest.raises(ValueError, match="another pool"):
        await other.release(lease)
    assert await lease.fetchval("SELECT 1") == 1  # still usable: nothing was taken from it
    await pool.release(lease)
    await other.close()


async def test_at_most_max_size_connections_and_waiters_are_served_first_come(pool):
    first, second = await pool.lease(), await pool.lease()
    order: list[str] = []

    async def wait(name: str) -> int:
        async with pool.acquire() as lease:
            order.append(name)
            return lease.get_server_pid()

    waiters = [asyncio.create_task(wait("a")), asyncio.create_task(wait("b"))]
    await asyncio.sleep(0.05)
    assert order == [] and pool.get_size() == 2
    pid = first.get_server_pid()
    await pool.release(first)
    assert await waiters[0] == pid
    await pool.release(second)
    await asyncio.gather(*waiters)
    assert order == ["a", "b"] and pool.get_size() == 2


async def test_a_waiter_cancelled_while_waiting_takes_nothing(pool):
    held = [await pool.lease(), await pool.lease()]
    waiter = asyncio.create_task(pool.lease())
    await asyncio.sleep(0.02)
    waiter.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiter
    for lease in held:
        await pool.release(lease)
    assert (pool.get_size(), pool.get_idle_size()) == (2, 2)


async def test_a_connection_handed_to_a_waiter_that_is_cancelled_goes_back_to_the_pool(pool):
    held = [await pool.lease(), await pool.lease()]
    waiter = asyncio.create_task(pool.lease())
    await asyncio.sleep(0.02)
    held[0].note_request_ended()
    await pool.release(held[0])  # handed over synchronously...
    waiter.cancel()  # ...and cancelled before the waiter runs again
    with pytest.raises(asyncio.CancelledError):
        await waiter
    await pool.release(held[1])
    assert (pool.get_size(), pool.get_idle_size()) == (2, 2)
    async with pool.acquire() as lease:
        assert await lease.fetchval("SELECT 1") == 1


async def test_a_connection_that_died_while_idle_is_replaced(dsn, pool):
    async with pool.acquire() as lease:
        pid = lease.get_server_pid()
    killer = await asyncpg.connect(dsn)
    try:
        assert await killer.fetchval("SELECT pg_terminate_backend($1)", pid)
    finally:
        await killer.close()
    for _ in range(50):  # the event loop notices the closed socket
        await asyncio.sleep(0.01)
        async with pool.acquire() as lease:
            if lease.get_server_pid() != pid:
                assert await lease.fetchval("SELECT 1") == 1
                break
    else:
        pytest.fail("the dead connection was handed out again")
    assert pool.get_size() == 1


async def test_a_connection_that_breaks_in_use_is_dropped_and_the_slot_freed(dsn, pool):
    lease = await pool.lease()
    killer = await asyncpg.connect(dsn)
    try:
        await killer.fetchval("SELECT pg_terminate_backend($1)", lease.get_server_pid())
    finally:
        await killer.close()
    # What asyncpg raises depends on when it reads the server's goodbye (the same set db.py treats as lost).
    with pytest.raises((asyncpg.PostgresError, asyncpg.InterfaceError, asyncpg.InternalClientError, OSError)):
        await lease.fetchval("SELECT pg_sleep(0.1)")
    try:
        await pool.release(lease)
    except (asyncpg.InterfaceError, asyncpg.InternalClientError, OSError):
        pass  # the reset found the connection broken: it is thrown away
    assert pool.get_size() == 0
    async with pool.acquire() as lease:
        assert await lease.fetchval("SELECT 1") == 1


async def test_a_failed_open_frees_its_slot_and_the_next_lease_opens_one(dsn):
    attempts = 0
    real = opener(dsn)

    async def flaky() -> asyncpg.Connection:
        nonlocal attempts
        attempts += 1
        if attempts == 1:
            raise ConnectionRefusedError("the database is restarting")
        return await real()

    pool = ConnectionPool(flaky, max_size=1)
    with pytest.raises(ConnectionRefusedError):
        await pool.lease()
    assert pool.get_size() == 0
    async with pool.acquire() as lease:
        assert await lease.fetchval("SELECT 1") == 1
    await pool.close()


async def test_close_lets_leases_in_use_finish_then_closes_everything(dsn):
    opened: list[asyncpg.Connection] = []
    pool = await ConnectionPool.create(opener(dsn, opened), min_size=2, max_size=2)
    lease = await pool.lease()
    closing = asyncio.create_task(pool.close())
    await asyncio.sleep(0.05)
    assert not closing.done()
    with pytest.raises(asyncpg.InterfaceError, match="pool is closed"):
        await pool.lease()
    assert await lease.fetchval("SELECT 1") == 1  # the call in flight still works
    await pool.release(lease)
    await asyncio.wait_for(closing, 5)
    assert len(opened) == 2 and all(conn.is_closed() for conn in opened)


async def test_idle_connections_are_closed_after_max_idle_seconds(dsn):
    opened: list[asyncpg.Connection] = []
    pool = await ConnectionPool.create(opener(dsn, opened), min_size=2, max_size=2, max_idle_seconds=0.05)
    await asyncio.sleep(0.1)
    async with pool.acquire() as lease:
        assert await lease.fetchval("SELECT 1") == 1
    await pool.close()
    assert len(opened) == 3 and opened[0].is_closed() and opened[1].is_closed()


async def test_under_contention_no_connection_is_ever_lent_twice(pool):
    holding: set[int] = set()
    calls = 0

    async def request(i: int) -> None:
        nonlocal calls
        async with pool.acquire() as lease:
            pid = lease.get_server_pid()
            assert pid not in holding, "one connection lent to two requests at once"
            holding.add(pid)
            await lease.fetchval("SELECT pg_sleep(0.001)")
            if i % 3:
                lease.note_request_ended()
            holding.discard(pid)
            calls += 1

    await asyncio.gather(*(request(i) for i in range(200)))
    assert calls == 200 and pool.get_size() <= 2


async def test_close_waits_for_a_reset_in_flight(dsn):
    opened: list[asyncpg.Connection] = []
    pool = await ConnectionPool.create(opener(dsn, opened), max_size=1)
    lease = await pool.lease()
    await lease.execute("BEGIN")  # released inside a transaction: release rolls back and resets (awaits)
    releasing = asyncio.create_task(pool.release(lease))
    await asyncio.sleep(0)  # the reset has started
    await asyncio.wait_for(pool.close(), 5)
    assert releasing.done() and opened[0].is_closed(), "close() returned with a connection still open"
    await releasing
    assert len(opened) == 1 and pool.get_size() == 0
