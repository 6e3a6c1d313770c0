"""The keys that seal the state of a tool call that asks the user something (2026-07-28 `requestState`).

The client holds that state between a question and its answer, and may send the retry to any replica, so every
replica seals and opens it with the same keys: RENUBU_REQUEST_STATE_KEY (seals and opens) and
RENUBU_REQUEST_STATE_PREVIOUS_KEYS (open only). Unset, they are derived from the token encryption key(s), which
every replica shares already (the embedded default keeps its key in the data dir, so it is known once the server
starts: hence a codec whose keys arrive then). The SDK's AES-256-GCM codec does the sealing; its envelope binds
the state to the caller, the tool and its arguments, and expires it after TTL_S.

Rotation: add the new key as RENUBU_REQUEST_STATE_KEY and the old one to the previous keys on every replica;
after one TTL_S the old one can go.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets

from mcp.server.request_state import AESGCMRequestStateCodec, InvalidRequestState, RequestStateSecurity

from .config import Settings

log = logging.getLogger(__name__)

# A round may wait for the user to connect an integration (links last 10 minutes) or to read a confirmation.
TTL_S = 900.0
AUDIENCE = "renubu-mcp"  # state sealed by another service that shares a key is still refused


def derived(token_key: str) -> str:
    """A sealing key of its own, derived from a token encryption key (never the key itself)."""
    return hmac.new(token_key.encode(), b"renubu-mcp/request-state/v1", hashlib.sha256).hexdigest()


def configured_keys(settings: Settings, token_key: str | None) -> list[str] | None:
    """The keys, current first: the configured ones, or those derived from the token keys; None without either."""
    if settings.request_state_key:
        return [settings.request_state_key, *settings.request_state_previous_keys]
    if token_key:
        return [derived(k) for k in dict.fromkeys((token_key, *settings.token_encryption_previous_keys))]
    return None


class SharedKeys:
    """A RequestStateCodec whose keys are set when the server starts; until then it seals and opens nothing."""

    def __init__(self) -> None:
        self._codec: AESGCMRequestStateCodec | None = None

    def start(self, settings: Settings, token_key: str | None, *, replicas_possible: bool) -> None:
        keys = configured_keys(settings, token_key)
        if keys is None:
            keys = [secrets.token_hex(32)]
            if replicas_possible:
                log.warning(
                    "no RENUBU_REQUEST_STATE_KEY or RENUBU_TOKEN_ENCRYPTION_KEY: a tool call that asks the "
                    "user something can only be answered on this process (not on another replica, nor "
                    "after a restart)"
                )
        self._codec = AESGCMRequestStateCodec(keys)

    def seal(self, payload: bytes) -> str:
        if self._codec is None:
            raise InvalidRequestState("not started")
        return self._codec.seal(payload)

    def unseal(self, token: str) -> bytes:
        if self._codec is None:
            raise InvalidRequestState("not started")
        return self._codec.unseal(token)


def security(codec: SharedKeys) -> RequestStateSecurity:
    return RequestStateSecurity(codec=codec, ttl=TTL_S, audience=AUDIENCE)
