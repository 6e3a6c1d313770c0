"""Who watches which resources, and telling them when one changes: only what each may read.

A watch is one subscriber (a 2025-11-25 connection's resources/subscribe set, or one 2026-07-28
subscriptions/listen stream) with the user it acts for. Changes arrive from the change feed (any process's
writes). Before anyone hears of one, the hub asks the database, as that subscriber, which of the changed resources
(and their witnesses) they can read now (renubu_read.readable, one round trip per subscriber and batch): a user
never learns of a change to what they cannot see, not even its URI. Changes that arrive while a batch is being
delivered are coalesced into the next.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field

from ..db import Database, Principal
from ..errors import Unavailable
from ..resource_kinds import ResourceKind, ResourceRef, by_kind, from_kinds, parse
from . import waking
from .feed import Change, ChangeFeed, Connect

log = logging.getLogger(__name__)

# Subscribers checked at once: each check takes a pool connection for one round trip, and tools need them too.
CONCURRENT_CHECKS = 4
_GAP = object()  # the feed missed notifications: everything watched may have changed


@dataclass(eq=False)
class Watch:
    principal: Principal
    deliver: Callable[[str], Awaitable[None]]  # tells the subscriber that this URI (as they wrote it) changed
    uris: dict[ResourceRef, str] = field(default_factory=dict)
    on_close: Callable[[], None] | None = None


def principal_key(principal: Principal) -> tuple[str, str]:
    return principal.role, principal.claims_json()


class ChangeHub:
    def __init__(self, db: Database, kinds: Iterable[ResourceKind], connect: Connect | None, *, read_only: bool):
        self._db = db
        self._kinds = tuple(kinds)
        self._feed = ChangeFeed(connect, self._changes_arrived, self._gap) if connect is not None else None
        self._queue: asyncio.Queue[list[Change] | object] = asyncio.Queue()
        self._watches: set[Watch] = set()
        self._watching: dict[ResourceRef, set[Watch]] = {}
        self._tasks: list[asyncio.Task[None]] = []
        self._waker = None if read_only else waking.Waker(db, self.watches)

    def parse(self, uri: str) -> ResourceRef | None:
        """The resource a URI names among the kinds this server offers, or None."""
        return parse(uri, self._kinds)

    def watches(self) -> list[Watch]:
        return list(self._watches)

    async def watch(
        self,
        principal: Principal,
        deliver: Callable[[str], Awaitable[None]],
        uris: dict[ResourceRef, str] | None = None,
        on_close: Callable[[], None] | None = None,
    ) -> Watch:
        """A new watch, once the feed listens (so no change committed after this returns is missed)."""
        if self._feed is None:
            raise Unavailable(
                "live notifications are off on this server: it has no direct database connection to "
                "listen on (see RENUBU_LISTEN_DATABASE_URL)"
            )
        await self._feed.start()
        if not self._tasks:
            self._tasks.append(asyncio.create_task(self._work(), name="renubu-change-hub"))
            if self._waker is not None:
                self._tasks.append(asyncio.create_task(self._waker.run(), name="renubu-waker"))
        watch = Watch(principal, deliver, on_close=on_close)
        self._watches.add(watch)
        for ref, uri in (uris or {}).items():
            self.add(watch, ref, uri)
        return watch

    def add(self, watch: Watch, ref: ResourceRef, uri: str) -> None:
        watch.uris[ref] = uri
        self._watching.setdefault(ref, set()).add(watch)

    def remove(self, watch: Watch, ref: ResourceRef) -> None:
        watch.uris.pop(ref, None)
        watchers = self._watching.get(ref)
        if watchers is not None:
            watchers.discard(watch)
            if not watchers:
                del self._watching[ref]

    def unwatch(self, watch: Watch) -> None:
        for ref in list(watch.uris):
            self.remove(watch, ref)
        self._watches.discard(watch)

    async def close(self) -> None:
        for watch in list(self._watches):
            self.unwatch(watch)
            if watch.on_close is not None:
                watch.on_close()
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if self._feed is not None:
            await self._feed.close()

    # --- from the feed ---

    def _changes_arrived(self, changes: list[Change]) -> None:
        if self._watching:
            self._queue.put_nowait(changes)

    def _gap(self) -> None:
        self._queue.put_nowait(_GAP)

    async def _work(self) -> None:
        while True:
            batch = [await self._queue.get()]
            while not self._queue.empty():
                batch.append(self._queue.get_nowait())
            try:
                await self._dispatch(batch)
            except Exception:  # one bad batch must not stop delivery for good
                log.exception("could not deliver a batch of change notifications")

    async def _dispatch(self, batch: list[list[Change] | object]) -> None:
        wanted: dict[Watch, set[tuple[ResourceRef, ResourceRef | None]]] = {}
        if any(item is _GAP for item in batch):
            for watch in self._watches:
                wanted[watch] = {(ref, None) for ref in watch.uris}
        for item in batch:
            if item is _GAP:
                continue
            for uri, witness_uri in item:  # type: ignore[union-attr]
                ref = self.parse(uri)
                if ref is None or ref not in self._watching:
                    continue
                witness = self.parse(witness_uri) if witness_uri else None
                if witness_uri and witness is None:
                    continue  # a witness of a kind this server does not offer: nobody here may learn of it
                for watch in self._watching[ref]:
                    wanted.setdefault(watch, set()).add((ref, witness))
        groups: dict[tuple[str, str], dict[Watch, set[tuple[ResourceRef, ResourceRef | None]]]] = {}
        for watch, pairs in wanted.items():
            if pairs:
                groups.setdefault(principal_key(watch.principal), {})[watch] = pairs
        limit = asyncio.Semaphore(CONCURRENT_CHECKS)

        async def deliver(group: dict[Watch, set[tuple[ResourceRef, ResourceRef | None]]]) -> None:
            async with limit:
                await self._deliver(next(iter(group)).principal, group)

        await asyncio.gather(*(deliver(group) for group in groups.values()))

    async def _deliver(
        self, principal: Principal, wanted: dict[Watch, set[tuple[ResourceRef, ResourceRef | None]]]
    ) -> None:
        refs = {ref for pairs in wanted.values() for pair in pairs for ref in pair if ref is not None}
        visible = await self.readable(principal, refs)
        for watch, pairs in wanted.items():
            changed = {ref for ref, witness in pairs if ref in visible and (witness is None or witness in visible)}
            for ref in sorted(changed, key=lambda r: watch.uris.get(r, "")):
                uri = watch.uris.get(ref)
                if uri is None or watch not in self._watches:
                    continue
                try:
                    await watch.deliver(uri)
                except Exception as exc:  # the subscriber is gone (a closed connection): stop watching for it
                    log.info("dropped a subscriber that could not be notified: %s", type(exc).__name__)
                    self.unwatch(watch)
                    break

    async def readable(self, principal: Principal, refs: Iterable[ResourceRef]) -> set[ResourceRef]:
        """Which of `refs` `principal` can read now; on a database error, none (nobody is told anything)."""
        refs = list(refs)
        if not refs:
            return set()
        try:
            rows = await self._db.call_as(principal, "public.read_as", "readable", json.dumps(by_kind(refs)))
        except Exception as exc:  # the database is down, a timeout...: delivery must go on for the others
            log.warning("could not check what a subscriber may read (%s); told them nothing", type(exc).__name__)
            return set()
        return from_kinds(json.loads(rows[0][0]))
