"""notifications/elicitation/complete (2025-11-25): telling a client that the page it opened for the user has
done its work (the callback stored the grant, the connect page stored the key or showed the secret).

A tool that sends a client to a page registers the client's session under the elicitation's id; the page, once
the credential is stored, completes that id. Sessions are held in this process only: the page is served by the
same process over stdio (the loopback listener), and by the HTTP app that holds the session on one replica.
Delivery is best effort, as the specification says clients must expect: a session that has gone is dropped.
"""

from __future__ import annotations

import logging
import time
from typing import Any

log = logging.getLogger(__name__)

KEEP_S = 900.0  # a page's link lasts 10 minutes; the user may finish a little after


class Elicitations:
    def __init__(self) -> None:
        self._waiting: dict[str, tuple[float, Any]] = {}

    def wait_for(self, elicitation_id: str, session: Any) -> None:
        """Tell `session` (a ServerSession) when `elicitation_id` completes."""
        now = time.monotonic()
        self._waiting = {k: v for k, v in self._waiting.items() if v[0] > now}
        self._waiting[elicitation_id] = (now + KEEP_S, session)

    def forget(self, elicitation_id: str) -> None:
        self._waiting.pop(elicitation_id, None)

    async def complete(self, elicitation_id: str | None) -> bool:
        """Notify the session waiting for this elicitation, if any; True when a notification was sent."""
        if not elicitation_id:
            return False
        waiting = self._waiting.pop(elicitation_id, None)
        if waiting is None or waiting[0] < time.monotonic():
            return False
        try:
            await waiting[1].send_elicit_complete(elicitation_id)
        except Exception as exc:  # the client went away: nothing to tell
            log.info("could not send notifications/elicitation/complete (%s)", type(exc).__name__)
            return False
        return True
