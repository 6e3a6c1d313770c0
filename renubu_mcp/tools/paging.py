"""Opaque list cursors, each bound to the query that made it so that it cannot be replayed elsewhere: an offset, or
for lists whose rows move while someone pages (workflows, events) the position of the last row shown."""

from __future__ import annotations

import base64
import hashlib
import json
from datetime import datetime
from typing import Any
from uuid import UUID

from ..errors import InvalidArgument

DEFAULT_PAGE_SIZE = 20
MAX_PAGE_SIZE = 100
MAX_OFFSET = 10_000_000
_NOT_VALID = "cursor is not valid; pass the next_cursor of a previous page unchanged"
_OTHER_QUERY = "cursor belongs to a different query; start again without a cursor"


def _fingerprint(query: dict[str, Any]) -> str:
    canonical = json.dumps(query, sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()[:16]


def _encode(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data, separators=(",", ":")).encode()).decode().rstrip("=")


def _decode(cursor: str) -> dict[str, Any]:
    try:
        data = json.loads(base64.urlsafe_b64decode((cursor + "=" * (-len(cursor) % 4)).encode()))
    except Exception:
        raise InvalidArgument(_NOT_VALID) from None
    if not isinstance(data, dict):
        raise InvalidArgument(_NOT_VALID)
    return data


def encode_cursor(offset: int, query: dict[str, Any]) -> str:
    return _encode({"o": offset, "q": _fingerprint(query)})


def decode_cursor(cursor: str | None, query: dict[str, Any]) -> int:
    """The offset a cursor stands for; a malformed cursor, or one from another query, is an error."""
    if not cursor:
        return 0
    data = _decode(cursor)
    offset = data.get("o")
    if type(offset) is not int or not 0 <= offset <= MAX_OFFSET:
        raise InvalidArgument(_NOT_VALID)
    if data.get("q") != _fingerprint(query):
        raise InvalidArgument(_OTHER_QUERY)
    return offset


def decode_keyset_cursor(cursor: str | None, query: dict[str, Any]) -> tuple[datetime | None, UUID | None]:
    """The (time, id) of the last row a previous page showed, or (None, None) for the first page."""
    if not cursor:
        return None, None
    data = _decode(cursor)
    try:
        position = datetime.fromisoformat(data["u"].replace("Z", "+00:00")), UUID(data["i"])
    except Exception:
        raise InvalidArgument(_NOT_VALID) from None
    if position[0].tzinfo is None:
        raise InvalidArgument(_NOT_VALID)
    if data.get("q") != _fingerprint(query):
        raise InvalidArgument(_OTHER_QUERY)
    return position


def finish_page(document: dict[str, Any], offset: int, limit: int, query: dict[str, Any]) -> dict[str, Any]:
    """A list document as the tool returns it: the database's "_more" becomes next_cursor (absent on the last
    page), and a keyset list's "_next" position likewise."""
    if document.pop("_more", None):
        document["next_cursor"] = encode_cursor(offset + limit, query)
    position = document.pop("_next", None)
    if position:
        document["next_cursor"] = _encode({"u": position["u"], "i": position["i"], "q": _fingerprint(query)})
    return document
