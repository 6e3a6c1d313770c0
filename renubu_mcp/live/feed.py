"""The change feed: one connection per server process that LISTENs for the database's change notifications.

The tables' triggers (migration 20251212000000) NOTIFY renubu_resource_changes with [[uri, witness], ...] when a
write commits, whichever process made it, so every replica hears every change. The feed opens its connection on
first use (the first subscription), keeps it, and reconnects when it drops (a restart, a network cut) with backoff.
A notification sent while nobody listened is lost, so after a reconnect the feed reports a gap: everything watched
may have changed.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Awaitable, Callable

import asyncpg

from ..errors import Unavailable

log = logging.getLogger(__name__)

CHANNEL = "renubu_resource_changes"
Change = tuple[str, str | None]  # (uri, witness)
Connect = Callable[[], Awaitable[asyncpg.Connection]]

FIRST_CONNECT_SECONDS = 15.0
RETRY_SECONDS = (0.2, 0.5, 1.0, 2.0, 5.0, 10.0)
HEALTH_CHECK_SECONDS = 30.0  # a connection cut without a FIN is only noticed by using it


class ChangeFeed:
    def __init__(self, connect: Connect, on_changes: Callable[[list[Change]], None], on_gap: Callable[[], None]):
        self._connect = connect
        self._on_changes = on_changes
        self._on_gap = on_gap
        self._task: asyncio.Task[None] | None = None
        self._listening = asyncio.Event()
        self._first_failure: BaseException | None = None
        self._first_attempt_done = asyncio.Event()
        self._closed = False

    async def start(self) -> None:
        """Return once the feed listens; a database that cannot be reached at first is an Unavailable error (the
        feed keeps trying in the background, so a later call may succeed)."""
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="renubu-change-feed")
        if self._listening.is_set():
            return
        try:
            await asyncio.wait_for(self._first_attempt_done.wait(), FIRST_CONNECT_SECONDS)
        except asyncio.TimeoutError:
            pass
        if not self._listening.is_set():
            raise Unavailable(
                "live notifications are unavailable right now: the Renubu database cannot be reached; try again shortly"
            )

    async def close(self) -> None:
        self._closed = True
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _run(self) -> None:
        attempt = 0
        heard_before = False
        while not self._closed:
            conn: asyncpg.Connection | None = None
            lost = asyncio.Event()
            try:
                conn = await self._connect()
                conn.add_termination_listener(lambda _conn, lost=lost: lost.set())
                await conn.add_listener(CHANNEL, self._notified)
                attempt = 0
                self._listening.set()
                self._first_attempt_done.set()
                if heard_before:
                    log.info("change feed listening again; everything watched may have changed meanwhile")
                    self._on_gap()
                heard_before = True
                while not lost.is_set():
                    with contextlib.suppress(asyncio.TimeoutError):
                        await asyncio.wait_for(lost.wait(), HEALTH_CHECK_SECONDS)
                    if not lost.is_set():
                        await conn.fetchval("SELECT 1", timeout=10)
                log.warning("change feed lost its database connection; reconnecting")
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # any failure: note it, wait, reconnect
                log.warning("change feed lost its database connection (%s); reconnecting", type(exc).__name__)
            finally:
                self._listening.clear()
                if conn is not None:
                    conn.terminate()
            self._first_attempt_done.set()
            if self._closed:
                return
            await asyncio.sleep(RETRY_SECONDS[min(attempt, len(RETRY_SECONDS) - 1)])
            attempt += 1

    def _notified(self, _conn: object, _pid: int, _channel: str, payload: str) -> None:
        try:
            changes = [(str(uri), str(witness) if witness else None) for uri, witness in json.loads(payload)]
        except (ValueError, TypeError):
            log.warning("ignored a malformed change notification")
            return
        self._on_changes(changes)
