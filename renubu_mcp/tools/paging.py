"""Opaque list cursors: an offset bound to the query that made it, so a cursor cannot be replayed elsewhere."""

from __future__ import annotations

import base64
import hashlib
import json
from typing import Any

from ..errors import InvalidArgument

DEFAULT_PAGE_SIZE = 20
MAX_PAGE_SIZE = 100
MAX_OFFSET = 10_000_000


def _fingerprint(query: dict[str, Any]) -> str:
    canonical = json.dumps(query, sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()[:16]


def encode_cursor(offset: int, query: dict[str, Any]) -> str:
    raw = json.dumps({"o": offset, "q": _fingerprint(query)}, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str | None, query: dict[str, Any]) -> int:
    """The offset a cursor stands for; a malformed cursor, or one from another query, is an error."""
    if not cursor:
        return 0
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        data = json.loads(base64.urlsafe_b64decode(padded.encode()))
        offset, fingerprint = data["o"], data["q"]
    except Exception:
        raise InvalidArgument("cursor is not valid; pass the next_cursor of a previous page unchanged") from None
    if type(offset) is not int or not 0 <= offset <= MAX_OFFSET or fingerprint != _fingerprint(query):
        raise InvalidArgument("cursor belongs to a different query; start again without a cursor")
    return offset


def page(rows: list[Any], offset: int, limit: int, query: dict[str, Any]) -> tuple[list[Any], str | None]:
    """Split rows fetched with LIMIT limit+1 into this page and the next page's cursor."""
    if len(rows) > limit:
        return rows[:limit], encode_cursor(offset + limit, query)
    return rows, None
