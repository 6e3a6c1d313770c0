"""Invalid tool or prompt arguments, told in one line the model can act on: which argument, what is wrong, what
is valid. Never the rejected value (it may be the caller's secret), never a validator's class names or links."""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping
from typing import Any

from pydantic import ValidationError
from pydantic_core import ErrorDetails

_DATE = "a date, YYYY-MM-DD"
_DATETIME = "an ISO 8601 date-time with a timezone, e.g. 2026-01-15T09:00:00Z"
_KIND = {
    "uuid_parsing": "a UUID",
    "uuid_type": "a UUID",
    "uuid_version": "a UUID",
    "int_parsing": "a whole number",
    "int_type": "a whole number",
    "int_from_float": "a whole number",
    "float_parsing": "a number",
    "float_type": "a number",
    "decimal_parsing": "a number",
    "decimal_type": "a number",
    "bool_parsing": "true or false",
    "bool_type": "true or false",
    "string_type": "a string",
    "list_type": "a list",
    "dict_type": "an object",
    "model_type": "an object",
    "model_attributes_type": "an object",
    "date_parsing": _DATE,
    "date_type": _DATE,
    "date_from_datetime_parsing": _DATE,
    "date_from_datetime_inexact": _DATE,
    "datetime_parsing": _DATETIME,
    "datetime_type": _DATETIME,
    "datetime_from_date_parsing": _DATETIME,
    "datetime_object_invalid": _DATETIME,
    "timezone_aware": _DATETIME,
}


def unknown_arguments(given: Iterable[str], schema: Mapping[str, Any]) -> str | None:
    """The message for arguments the tool does not take, or None when there are none."""
    valid = list(schema.get("properties", {}))
    unknown = [name for name in given if name not in valid]
    if not unknown:
        return None
    parts = []
    for name in unknown:
        close = [v for v in valid if name in v or v in name] or difflib.get_close_matches(name, valid, n=1)
        parts.append(f"{name!r} (did you mean {close[0]!r}?)" if close else repr(name))
    listed = ", ".join(valid) if valid else "none"
    return f"unknown argument{'s' if len(unknown) > 1 else ''} {', '.join(parts)}; valid arguments: {listed}"


def describe(exc: ValidationError, schema: Mapping[str, Any]) -> str:
    """One line for every problem in `exc` (arguments validated against `schema`, the tool's input schema)."""
    tags = _union_tags(schema)
    lines: list[str] = []
    for error in exc.errors(include_url=False, include_input=False):
        path = _path(error["loc"], tags)
        line = f"{path} {_problem(error, _property(schema, error['loc']))}"
        if line not in lines:
            lines.append(line)
    return "; ".join(lines)


def _problem(error: ErrorDetails, prop: Mapping[str, Any]) -> str:
    kind, ctx = error["type"], error.get("ctx") or {}
    if kind == "missing":
        return "is required"
    if kind in _KIND:
        return f"must be {_KIND[kind]}"
    if kind == "string_too_short":
        least = ctx.get("min_length")
        return "must not be empty" if least == 1 else f"needs at least {least} characters"
    if kind == "string_too_long":
        return f"must be at most {ctx.get('max_length')} characters"
    if kind == "too_short":
        return f"needs at least {ctx.get('min_length')} item(s)"
    if kind == "too_long":
        return f"takes at most {ctx.get('max_length')} items"
    if kind == "literal_error" or kind == "enum":
        return f"must be one of {ctx.get('expected')}"
    if kind in ("greater_than_equal", "less_than_equal", "greater_than", "less_than"):
        low, high = prop.get("minimum"), prop.get("maximum")
        if low is not None and high is not None:
            return f"must be {_number(low)}-{_number(high)}"
        bound = ctx.get("ge", ctx.get("le", ctx.get("gt", ctx.get("lt"))))
        words = {
            "greater_than_equal": "at least",
            "less_than_equal": "at most",
            "greater_than": "more than",
            "less_than": "less than",
        }[kind]
        return f"must be {words} {bound}"
    if kind == "decimal_max_places":
        return f"allows at most {ctx.get('decimal_places')} decimal places"
    if kind == "union_tag_invalid":
        return f"has an unknown type; valid types: {ctx.get('expected_tags')}"
    if kind == "union_tag_not_found":
        return f"needs a {ctx.get('discriminator', 'type')!s}".replace("'", "")
    if kind == "extra_forbidden":
        return "is not allowed here"
    if kind == "string_pattern_mismatch":
        hint = prop.get("description")
        return f"has the wrong format ({hint.rstrip('.')})" if hint else "has the wrong format"
    if kind.startswith("value_error") or kind == "assertion_error":
        return "is not valid"
    return "is not valid"


def _number(value: Any) -> str:
    return str(int(value)) if isinstance(value, float) and value.is_integer() else str(value)


def _path(loc: tuple[int | str, ...], tags: set[str]) -> str:
    text = ""
    previous: int | str | None = None
    for part in loc:
        if isinstance(part, int):
            text += f"[{part}]"
        elif (isinstance(previous, int) and part in tags) or not part.isidentifier():
            pass  # a list item's union tag, or a validator's name: not where the caller put the value
        else:
            text += f".{part}" if text else part
        previous = part
    return text or "arguments"


def _property(schema: Mapping[str, Any], loc: tuple[int | str, ...]) -> Mapping[str, Any]:
    """The top-level property's schema (for its bounds and format hint), without null alternatives."""
    if not loc or not isinstance(loc[0], str):
        return {}
    prop = schema.get("properties", {}).get(loc[0], {})
    if len(loc) > 1:
        return {}
    return prop


def _union_tags(schema: Any) -> set[str]:
    """Every string a schema allows by enum or const: a tagged union's tags are among them."""
    tags: set[str] = set()
    if isinstance(schema, Mapping):
        for key, value in schema.items():
            if key == "const" and isinstance(value, str):
                tags.add(value)
            elif key == "enum" and isinstance(value, list):
                tags.update(v for v in value if isinstance(v, str))
            else:
                tags |= _union_tags(value)
    elif isinstance(schema, list):
        for item in schema:
            tags |= _union_tags(item)
    return tags
