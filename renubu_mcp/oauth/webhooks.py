"""Receiving webhook deliveries: verify the signature, refuse stale and replayed ones, store them as events.

A sender signs each delivery with the install's secret:

    X-Renubu-Timestamp: <unix seconds>
    X-Renubu-Signature: v1=<hex HMAC-SHA256(secret, "<timestamp>." + raw body)>

The timestamp must be within 5 minutes of this server's clock, and a signature is accepted once per install
(its SHA-256 is unique among the install's events), so a captured delivery cannot be sent again. While a
sender moves to a new secret it may send several `v1=` values separated by commas; one must verify.

The delivery carries no user identity: webhook_install_owner() (the login role, outside any request) names
the active install's user, and the secret is read, the signature checked and the event stored as that user,
under RLS. Cheap checks (size, headers, clock) come before any database work.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any
from uuid import UUID

import asyncpg
from mcp.server.mcpserver.exceptions import ToolError

from ..context import transaction_as
from ..db import DatabaseUnavailable, Principal
from ..errors import Unavailable
from .vault import fetchrow_decrypting, key_for, keyring

log = logging.getLogger(__name__)

TIMESTAMP_HEADER = "X-Renubu-Timestamp"
SIGNATURE_HEADER = "X-Renubu-Signature"
TOLERANCE_S = 300
MAX_BODY_BYTES = 256 * 1024
MAX_SIGNATURES = 5
MAX_EVENT_TYPE_CHARS = 200
_TIMESTAMP = re.compile(r"^[0-9]{1,12}$")
_SIGNATURE = re.compile(r"^v1=([0-9a-f]{64})$")


def sign(secret: str, timestamp: int | str, body: bytes) -> str:
    """The X-Renubu-Signature value for a delivery (what a sender computes)."""
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return "v1=" + mac.hexdigest()


@dataclass(frozen=True)
class Received:
    """What the sender is told. The text is ours and names no secret."""

    status_code: int
    message: str
    event_id: UUID | None = None


def _signatures(header: str) -> list[str]:
    found = []
    for part in header.split(","):
        m = _SIGNATURE.match(part.strip())
        if m:
            found.append(m.group(1))
    return found[:MAX_SIGNATURES]


_SECRET = f"""
SELECT w.encryption_key_id,
       CASE WHEN w.encryption_key_id = ANY($3::text[])
            THEN public.decrypt_oauth_token(w.signing_secret_encrypted, {key_for("w.encryption_key_id", "$2", "$3")})
       END AS secret
FROM public.webhook_endpoints w
JOIN public.user_integrations ui ON ui.id = w.user_integration_id
WHERE w.user_integration_id = $1 AND ui.status = 'active'
"""
_RECORD = """
INSERT INTO public.integration_events (user_integration_id, user_id, sent_at, event_type, payload, signature_hash)
VALUES ($1, (SELECT auth.uid()), $2, $3, $4, $5)
ON CONFLICT (user_integration_id, signature_hash) DO NOTHING
RETURNING id
"""
_TOUCH = """
UPDATE public.user_integrations SET last_used_at = now()
WHERE id = $1 AND (last_used_at IS NULL OR last_used_at < now() - interval '1 minute')
"""


async def receive(
    app, install_ref: str, headers: Mapping[str, str], body: bytes, *, now: float | None = None
) -> Received:
    """Verify and store one delivery for the install named in the URL."""
    try:
        install_id = UUID(install_ref)
    except ValueError:
        return Received(404, "no such webhook endpoint")
    if len(body) > MAX_BODY_BYTES:
        return Received(413, f"deliveries are limited to {MAX_BODY_BYTES} bytes")
    stamp = headers.get(TIMESTAMP_HEADER) or ""
    given = _signatures(headers.get(SIGNATURE_HEADER) or "")
    if not _TIMESTAMP.match(stamp) or not given:
        return Received(401, f"sign deliveries with {TIMESTAMP_HEADER} and {SIGNATURE_HEADER}: v1=<hex hmac-sha256>")
    now = time.time() if now is None else now
    if abs(now - int(stamp)) > TOLERANCE_S:
        return Received(401, f"{TIMESTAMP_HEADER} is more than {TOLERANCE_S // 60} minutes from this server's clock")

    try:
        keys = keyring(app)
        user_id = await _owner(app, install_id)
        if user_id is None:
            return Received(404, "no such webhook endpoint")
        async with transaction_as(app, Principal(user_id=user_id)) as conn:
            row = await fetchrow_decrypting(conn, _SECRET, install_id, keys.keys, keys.ids)
            if row is None:
                return Received(404, "no such webhook endpoint")
            if row["secret"] is None:
                log.error("webhook secret of install %s is under a key this server does not have", install_id)
                return Received(503, "this endpoint cannot verify deliveries right now")
            expected = sign(row["secret"], stamp, body)[3:]
            # Compare against every offered value in full: no early exit that times which one matched.
            matched = [hmac.compare_digest(expected.encode(), g.encode()) for g in given]
            if not any(matched):
                return Received(401, "the signature does not verify")
            payload, event_type = _payload(body)
            sent_at = datetime.fromtimestamp(int(stamp), tz=timezone.utc)
            digest = hashlib.sha256(expected.encode()).hexdigest()
            try:
                async with conn.transaction():
                    event_id = await conn.fetchval(_RECORD, install_id, sent_at, event_type, payload, digest)
            except (asyncpg.UntranslatableCharacterError, asyncpg.DataError):
                return Received(422, "the body cannot be stored (NUL characters are not accepted)")
            if event_id is None:
                return Received(409, "this delivery was already received")
            if not app.db.read_only:
                await conn.execute(_TOUCH, install_id)
    except Unavailable:
        return Received(503, "the database is unavailable; retry later")
    except ToolError as exc:  # e.g. a read-only server: nothing stored, so the sender should retry elsewhere
        log.warning("webhook delivery for %s not stored: %s", install_id, exc)
        return Received(503, "this endpoint cannot store deliveries right now; retry later")
    return Received(202, "accepted", event_id)


async def _owner(app, install_id: UUID) -> UUID | None:
    try:
        async with app.db.pool.acquire() as conn:
            return await conn.fetchval("SELECT public.webhook_install_owner($1)", install_id)
    except asyncpg.InsufficientPrivilegeError:
        log.error(
            "the login role may not execute public.webhook_install_owner(uuid): grant it EXECUTE "
            "(the migrations grant it to authenticator), or webhooks cannot be received"
        )
        raise Unavailable("database misconfigured") from None
    except (DatabaseUnavailable, OSError, asyncpg.PostgresError, asyncpg.InterfaceError):
        log.warning("could not look a webhook endpoint up: database error")
        raise Unavailable("database unavailable") from None


def _no_constant(name: str) -> Any:
    raise ValueError(name)


def _payload(body: bytes) -> tuple[Any, str | None]:
    """The body as JSON when it is JSON, else as a string; and its event type if it names one."""
    text = body.decode("utf-8", errors="replace")
    try:
        payload = json.loads(text, parse_constant=_no_constant)  # NaN and Infinity are not JSON for PostgreSQL
    except ValueError:
        return text, None
    event_type = None
    if isinstance(payload, dict):
        for name in ("type", "event", "event_type"):
            value = payload.get(name)
            if isinstance(value, str) and value.strip():
                event_type = value.strip()[:MAX_EVENT_TYPE_CHARS]
                break
    return payload, event_type
