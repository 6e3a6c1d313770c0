"""Waking watched workflows on time.

A snoozed workflow wakes when someone reads it after its time (or once a wake condition holds): nothing changes
in the database before then, so nothing would notify its subscribers. While someone watches a workflow or its
customer, the waker does that read for them every SWEEP_SECONDS: as the subscriber, it asks which of their watched
customers and workflows have one due (one round trip), wakes those in a transaction of theirs (what get_workflow
would do), and the write notifies everyone who may read it. A read-only server wakes nothing, as its reads do not.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING
from uuid import UUID

from ..db import Database, Principal
from ..tools.workflow_queries import wake_due_workflows

if TYPE_CHECKING:
    from .hub import Watch

log = logging.getLogger(__name__)

SWEEP_SECONDS = 15.0
WAKING_KINDS = ("customers", "workflows")


class Waker:
    def __init__(self, db: Database, watches: Callable[[], Iterable[Watch]]):
        self._db = db
        self._watches = watches

    async def run(self) -> None:
        while True:
            await asyncio.sleep(SWEEP_SECONDS)
            try:
                await self.sweep()
            except Exception as exc:  # the database is down, say: the next sweep tries again
                log.warning(
                    "could not wake watched workflows (%s); trying again in %g s", type(exc).__name__, SWEEP_SECONDS
                )

    async def sweep(self) -> None:
        watched: dict[tuple[str, str], tuple[Principal, dict[str, set[str]]]] = {}
        for watch in self._watches():
            for ref in watch.uris:
                if ref.kind in WAKING_KINDS:
                    who = (watch.principal.role, watch.principal.claims_json())
                    _, kinds = watched.setdefault(who, (watch.principal, {}))
                    kinds.setdefault(ref.kind, set()).add(str(ref.key))
        for principal, kinds in watched.values():
            await self._wake(principal, kinds)

    async def _wake(self, principal: Principal, kinds: dict[str, set[str]]) -> None:
        rows = await self._db.call_as(
            principal, "public.read_as", "due_to_wake", json.dumps({kind: sorted(keys) for kind, keys in kinds.items()})
        )
        due = json.loads(rows[0][0])
        if not due:
            return
        async with self._db.as_user(principal) as conn:
            for customer in due.get("customers", ()):
                await wake_due_workflows(conn, customer_id=UUID(customer))
            for workflow in due.get("workflows", ()):
                await wake_due_workflows(conn, execution_id=UUID(workflow))
