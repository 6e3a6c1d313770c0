"""The newest bearer token each 2025-11-25 HTTP session with subscriptions has shown, so that its notifications
follow the token the client uses now rather than the one it subscribed with.

A session is bound to its user (and client), not to one token: clients refresh tokens and keep the session. The
standalone GET stream that carries notifications was authenticated once, when it opened, so delivery asks here
which token the session last presented (on any request, a GET reconnection included: sessions.py reports each)
and checks that one. Only sessions being tracked (those with subscriptions) are remembered, and only until their
connection ends.
"""

from __future__ import annotations

from mcp.server.auth.provider import AccessToken, principal_components

# session id -> the newest token it presented; process-wide, as sessions are (session ids are random and unique)
_newest: dict[str, AccessToken] = {}


def track(session_id: str, token: AccessToken) -> None:
    _newest[session_id] = token


def untrack(session_id: str) -> None:
    _newest.pop(session_id, None)


def seen(session_id: str, token: AccessToken) -> None:
    """A request on `session_id` passed the bearer check with `token`. Only a token of the principal that holds
    the session counts (the SDK refuses any other with 404, but this runs before it does)."""
    held = _newest.get(session_id)
    if held is not None and principal_components(held) == principal_components(token):
        _newest[session_id] = token


def newest(session_id: str) -> AccessToken | None:
    return _newest.get(session_id)


def tracked() -> int:
    """How many sessions are tracked (for tests: none may outlive its connection)."""
    return len(_newest)
