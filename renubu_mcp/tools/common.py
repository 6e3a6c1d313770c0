"""Argument types and checks shared by every toolset."""

from __future__ import annotations

from typing import Annotated, overload
from uuid import UUID

from pydantic import Field, WithJsonSchema

from ..errors import InvalidArgument
from .paging import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE

Limit = Annotated[int, Field(ge=1, le=MAX_PAGE_SIZE), WithJsonSchema({"type": "integer", "maximum": MAX_PAGE_SIZE})]
Cursor = Annotated[str | None, Field(max_length=500)]  # a page's next_cursor: the pairing explains itself
CustomerId = UUID
# The caller's time zone, for what "today" and "when in the day" mean; the database knows which names are valid.
Timezone = Annotated[
    str | None,
    Field(max_length=64, pattern=r"^[A-Za-z][A-Za-z0-9_+-]*(/[A-Za-z0-9_+-]+)*$", description="IANA name; default UTC"),
]


@overload
def not_blank(field: str, value: str, *, optional: bool = False) -> str: ...
@overload
def not_blank(field: str, value: str | None, *, optional: bool = False) -> str | None: ...
def not_blank(field: str, value: str | None, *, optional: bool = False) -> str | None:
    """`value` without surrounding whitespace; None (an optional argument left out) stays None. Text that is only
    whitespace is refused before anything is written."""
    if value is None:
        return None
    stripped = value.strip()
    if not stripped:
        raise InvalidArgument(f"{field} must not be blank" + ("; omit it instead" if optional else ""))
    return stripped


def like_pattern(text: str | None) -> str | None:
    """`%text%` for ILIKE with the wildcards in `text` taken literally; None for no or blank text."""
    if not text or not text.strip():
        return None
    escaped = text.strip().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


__all__ = ["Limit", "Cursor", "CustomerId", "Timezone", "DEFAULT_PAGE_SIZE", "not_blank", "like_pattern"]
