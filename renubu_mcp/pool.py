"""The connection pool: hands out an idle connection and takes it back without a trip through the event loop.

Why not asyncpg's Pool: it returns every connection through asyncio.shield (a new task and an extra pass of the
event loop per call) and its acquire and release are several coroutines deep. Measured in the running server,
that cost about 70 us of CPU per tool call, more than the rest of a one-statement database call
(docs/performance.md, "The connection pool"). Here a request's connection comes from a list and goes back to it
synchronously; only a connection that needs cleaning (a use outside a request, or a request that did not end
cleanly) pays an await on release.

What it keeps from asyncpg's pool: a size limit with first-come waiters, connections opened on demand, a
connection that did not end its work cleanly is reset (rollback, then asyncpg's reset query) or thrown away,
closed connections (a restart, a crash) are dropped and replaced, idle connections are closed after a while,
each lease is invalidated on release, and close() lets connections in use finish before closing them.
"""

from __future__ import annotations

import asyncio
import collections
import logging
import time
from collections.abc import Awaitable, Callable, Generator
from typing import Any

import asyncpg

log = logging.getLogger(__name__)

Connect = Callable[[], Awaitable[asyncpg.Connection]]

# A rollback and RESET ALL take milliseconds; a connection that cannot do them in this long is thrown away.
_RESET_TIMEOUT_SECONDS = 10.0


class Lease:
    """A connection lent to one user of the pool; every use after release raises instead of reaching it."""

    __slots__ = ("_con", "_pool", "_request_ended")

    def __init__(self, pool: ConnectionPool, con: asyncpg.Connection) -> None:
        self._pool = pool
        self._con: asyncpg.Connection | None = con
        # Set by db.py when a request's own transaction has ended: every request setting is transaction-local,
        # so nothing of the request is left and release needs no reset query.
        self._request_ended = False

    def note_request_ended(self) -> None:
        con = self._con
        self._request_ended = con is not None and not con.is_closed() and not con.is_in_transaction()

    def __getattr__(self, name: str) -> Any:
        con = self._con
        if con is None:
            raise asyncpg.InterfaceError(f"cannot use {name!r}: the connection has been released back to the pool")
        return getattr(con, name)

    def __repr__(self) -> str:
        return f"<Lease {'released' if self._con is None else 'in use'}>"


class _Acquire:
    """`await pool.acquire()` gives a Lease to release yourself; `async with pool.acquire()` releases it for you."""

    __slots__ = ("_pool", "_lease")

    def __init__(self, pool: ConnectionPool) -> None:
        self._pool = pool
        self._lease: Lease | None = None

    def __await__(self) -> Generator[Any, None, Lease]:
        return self._pool.lease().__await__()

    async def __aenter__(self) -> Lease:
        self._lease = await self._pool.lease()
        return self._lease

    async def __aexit__(self, *exc: object) -> None:
        lease, self._lease = self._lease, None
        if lease is not None:
            await self._pool.release(lease)


class ConnectionPool:
    """At most `max_size` connections from `connect`; idle ones are reused newest first."""

    def __init__(self, connect: Connect, *, max_size: int, max_idle_seconds: float = 300.0) -> None:
        if max_size < 1:
            raise ValueError("max_size must be at least 1")
        self._connect = connect
        self._max_size = max_size
        self._max_idle_seconds = max_idle_seconds
        self._idle: collections.deque[tuple[asyncpg.Connection, float]] = collections.deque()
        self._size = 0  # open connections, in use or idle, plus those being opened
        self._in_use = 0
        # A waiter's future gets a connection handed over directly, or None: a slot is free, open one.
        self._waiters: collections.deque[asyncio.Future[asyncpg.Connection | None]] = collections.deque()
        self._closing = False
        self._all_returned = asyncio.Event()
        self._all_returned.set()
        self._closers: set[asyncio.Task[None]] = set()

    @classmethod
    async def create(
        cls, connect: Connect, *, min_size: int = 0, max_size: int = 10, max_idle_seconds: float = 300.0
    ) -> ConnectionPool:
        """A pool with `min_size` connections already open (errors from opening them propagate)."""
        pool = cls(connect, max_size=max_size, max_idle_seconds=max_idle_seconds)
        leases = []
        try:
            for _ in range(min(min_size, max_size)):
                leases.append(await pool.lease())
        except BaseException:
            pool._terminate(leases)
            raise
        for lease in leases:
            lease._request_ended = True  # fresh: nothing to reset
            await pool.release(lease)
        return pool

    def acquire(self) -> _Acquire:
        return _Acquire(self)

    async def lease(self) -> Lease:
        """An open connection: an idle one without suspending, else a new one, else the next one released."""
        while True:
            if self._closing:
                raise asyncpg.InterfaceError("the connection pool is closed")
            con = self._take_idle()
            if con is not None:
                return self._lend(con)
            if self._size < self._max_size:
                return self._lend(await self._open())
            waiter: asyncio.Future[asyncpg.Connection | None] = asyncio.get_running_loop().create_future()
            self._waiters.append(waiter)
            try:
                con = await waiter
            except BaseException:
                if waiter.done() and not waiter.cancelled() and waiter.exception() is None:
                    handed = waiter.result()  # handed over (or a slot freed) just as this task was cancelled
                    if handed is not None:
                        self._returned()
                        self._hand_back(handed)
                    else:
                        self._pass_on_free_slot()
                else:
                    self._remove_waiter(waiter)
                raise
            if con is not None:
                return Lease(self, con)  # counted as in use when it was handed over
            # A slot was freed: loop to open a connection (or take one released meanwhile).

    async def release(self, lease: Lease) -> None:
        """Return a lease; a second release of the same lease does nothing."""
        if lease._pool is not self:
            raise ValueError("this lease belongs to another pool")
        con, lease._con = lease._con, None
        if con is None:
            return
        if con.is_closed():
            self._returned()
            self._drop()
        elif lease._request_ended and not con.is_in_transaction():
            self._returned()
            self._hand_back(con)  # the hot path: no await, so no suspension and nothing to cancel
        else:
            try:
                await self._reset_then_hand_back(con)
            finally:
                self._returned()  # only now: close() must not close the pool under a reset in flight

    async def close(self) -> None:
        """Refuse new leases, wait until every lease is returned, then close every connection."""
        self._closing = True
        for waiter in self._waiters:
            if not waiter.done():
                waiter.set_exception(asyncpg.InterfaceError("the connection pool is closed"))
        self._waiters.clear()
        await self._all_returned.wait()
        idle = [con for con, _ in self._idle]
        self._idle.clear()
        self._size -= len(idle)
        await asyncio.gather(*(self._close_quietly(con) for con in idle))
        if self._closers:
            await asyncio.gather(*self._closers, return_exceptions=True)

    def get_size(self) -> int:
        return self._size

    def get_idle_size(self) -> int:
        return len(self._idle)

    # --- internals ---------------------------------------------------------------------------------------------

    def _terminate(self, leases: list[Lease]) -> None:
        """Close these leases' connections at once (create() failing half way)."""
        for lease in leases:
            con, lease._con = lease._con, None
            if con is not None:
                self._returned()
                con.terminate()
                self._drop()

    def _lend(self, con: asyncpg.Connection) -> Lease:
        self._in_use += 1
        self._all_returned.clear()
        return Lease(self, con)

    def _returned(self) -> None:
        self._in_use -= 1
        if self._in_use == 0:
            self._all_returned.set()

    def _take_idle(self) -> asyncpg.Connection | None:
        self._close_stale_idle()
        while self._idle:
            con, _ = self._idle.pop()
            if not con.is_closed():
                return con
            self._drop()  # died while idle (a restart): open a fresh one instead
        return None

    async def _open(self) -> asyncpg.Connection:
        self._size += 1
        try:
            return await self._connect()
        except BaseException:
            self._drop()
            raise

    def _hand_back(self, con: asyncpg.Connection) -> None:
        if self._closing:
            self._size -= 1
            self._spawn_close(con)
            return
        waiter = self._next_waiter()
        if waiter is None:
            self._idle.append((con, time.monotonic()))
            return
        self._in_use += 1  # in use from the hand-over on, so close() waits for it
        self._all_returned.clear()
        waiter.set_result(con)

    def _drop(self) -> None:
        """One connection fewer: a waiter may open the one it frees."""
        self._size -= 1
        self._pass_on_free_slot()

    def _pass_on_free_slot(self) -> None:
        waiter = self._next_waiter()
        if waiter is not None:
            waiter.set_result(None)

    def _next_waiter(self) -> asyncio.Future[asyncpg.Connection | None] | None:
        """The longest-waiting caller still waiting (cancelled ones are skipped and forgotten), or None."""
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                return waiter
        return None

    def _remove_waiter(self, waiter: asyncio.Future[asyncpg.Connection | None]) -> None:
        try:
            self._waiters.remove(waiter)
        except ValueError:
            pass

    async def _reset_then_hand_back(self, con: asyncpg.Connection) -> None:
        """Roll back whatever was left open and run asyncpg's reset query; a connection that fails that is lost."""
        try:
            await con.reset(timeout=_RESET_TIMEOUT_SECONDS)
        except BaseException:
            con.terminate()
            self._drop()
            raise
        self._hand_back(con)

    def _close_stale_idle(self) -> None:
        if not self._idle:
            return
        cutoff = time.monotonic() - self._max_idle_seconds
        while self._idle and self._idle[0][1] < cutoff:  # oldest first: the left end
            con, _ = self._idle.popleft()
            self._size -= 1
            self._spawn_close(con)

    def _spawn_close(self, con: asyncpg.Connection) -> None:
        task = asyncio.get_running_loop().create_task(self._close_quietly(con))
        self._closers.add(task)
        task.add_done_callback(self._closers.discard)

    @staticmethod
    async def _close_quietly(con: asyncpg.Connection) -> None:
        try:
            await con.close(timeout=5)
        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError, asyncio.TimeoutError):
            con.terminate()
