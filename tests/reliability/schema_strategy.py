"""Hypothesis strategies for the JSON Schemas pydantic writes for tool inputs.

hypothesis-jsonschema would be the obvious choice, but its latest release (0.23.1) no longer runs on current
Hypothesis (6.170: `AttributeError: 'many' object has no attribute 'more'` for every object schema). This covers
what pydantic emits for our tools: $ref/$defs, anyOf/oneOf/allOf (discriminated unions included), enum, const,
type lists, string length/pattern/format (uuid, date, date-time, password), integer and number bounds, arrays,
objects with required/optional properties, additionalProperties and maxProperties. Every value drawn is checked
against the schema with jsonschema, so a gap here shows up as a filtered example, never as a false "valid".
"""

from __future__ import annotations

from datetime import timezone
from typing import Any

import jsonschema
from hypothesis import strategies as st

MAX_TEXT = 40
MAX_ITEMS = 4
JSON_SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**31), 2**31),
    st.floats(allow_nan=False, allow_infinity=False, width=32),
    st.text(max_size=20),
)
ANY_JSON = st.recursive(
    JSON_SCALARS,
    lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=8), inner, max_size=3)),
    max_leaves=8,
)


def from_schema(schema: dict[str, Any], formats: dict[str, st.SearchStrategy[str]] | None = None) -> st.SearchStrategy:
    """Values valid for `schema` (checked with jsonschema)."""
    validator = jsonschema.Draft202012Validator(schema)
    return _Builder(schema, formats or {}).build(schema).filter(validator.is_valid)


class _Builder:
    def __init__(self, root: dict[str, Any], formats: dict[str, st.SearchStrategy[str]]):
        self.root = root
        self.formats = {
            "uuid": st.uuids().map(str),
            "date": st.dates().map(lambda d: d.isoformat()),
            "date-time": st.datetimes(timezones=st.just(timezone.utc)).map(lambda d: d.isoformat()),
            "password": st.text(min_size=1, max_size=MAX_TEXT),
            **formats,
        }

    def resolve(self, ref: str) -> dict[str, Any]:
        assert ref.startswith("#/"), ref
        node: Any = self.root
        for part in ref[2:].split("/"):
            node = node[part]
        return node

    def build(self, schema: Any) -> st.SearchStrategy:
        if schema is True or schema == {}:
            return ANY_JSON
        if "$ref" in schema:
            return self.build({**self.resolve(schema["$ref"]), **{k: v for k, v in schema.items() if k != "$ref"}})
        if "const" in schema:
            return st.just(schema["const"])
        if "enum" in schema:
            return st.sampled_from(schema["enum"])
        for key in ("anyOf", "oneOf"):
            if key in schema:
                return st.one_of(*(self.build(s) for s in schema[key]))
        if "allOf" in schema:
            merged: dict[str, Any] = {}
            for part in schema["allOf"]:
                merged.update(self.resolve(part["$ref"]) if "$ref" in part else part)
            return self.build({**merged, **{k: v for k, v in schema.items() if k != "allOf"}})
        kind = schema.get("type")
        if isinstance(kind, list):
            return st.one_of(*(self.build({**schema, "type": k}) for k in kind))
        if kind is None:
            return ANY_JSON
        return getattr(self, f"_{kind}")(schema)

    def _null(self, schema: dict[str, Any]) -> st.SearchStrategy:
        return st.none()

    def _boolean(self, schema: dict[str, Any]) -> st.SearchStrategy:
        return st.booleans()

    def _integer(self, schema: dict[str, Any]) -> st.SearchStrategy:
        low = schema.get(
            "minimum", schema.get("exclusiveMinimum", -(2**31) - 1) + 1 if "exclusiveMinimum" in schema else -(2**31)
        )
        high = schema.get(
            "maximum", schema.get("exclusiveMaximum", 2**31 + 1) - 1 if "exclusiveMaximum" in schema else 2**31
        )
        return st.integers(min_value=int(low), max_value=int(high))

    def _number(self, schema: dict[str, Any]) -> st.SearchStrategy:
        return st.floats(
            min_value=schema.get("minimum", schema.get("exclusiveMinimum")),
            max_value=schema.get("maximum", schema.get("exclusiveMaximum")),
            exclude_min="exclusiveMinimum" in schema,
            exclude_max="exclusiveMaximum" in schema,
            allow_nan=False,
            allow_infinity=False,
        )

    def _string(self, schema: dict[str, Any]) -> st.SearchStrategy:
        low, high = schema.get("minLength", 0), schema.get("maxLength")
        fits = lambda s: len(s) >= low and (high is None or len(s) <= high)  # noqa: E731
        if schema.get("format") in self.formats:
            return self.formats[schema["format"]].filter(fits)
        if "pattern" in schema:
            return st.from_regex(schema["pattern"], fullmatch=True).filter(fits)
        return st.text(min_size=low, max_size=max(low, min(high if high is not None else MAX_TEXT, MAX_TEXT)))

    def _array(self, schema: dict[str, Any]) -> st.SearchStrategy:
        low = schema.get("minItems", 0)
        high = max(low, min(schema.get("maxItems", MAX_ITEMS), MAX_ITEMS))
        items = self.build(schema.get("items", {}))
        return st.lists(
            items, min_size=low, max_size=high, unique_by=(lambda v: repr(v)) if schema.get("uniqueItems") else None
        )

    def _object(self, schema: dict[str, Any]) -> st.SearchStrategy:
        properties: dict[str, Any] = schema.get("properties", {})
        required = set(schema.get("required", []))
        extra = schema.get("additionalProperties", not properties)
        cap = min(schema.get("maxProperties", MAX_ITEMS), MAX_ITEMS)

        @st.composite
        def draw_object(draw: st.DrawFn) -> dict[str, Any]:
            out = {}
            for name, sub in properties.items():
                if name in required or draw(st.booleans()):
                    out[name] = draw(self.build(sub))
            if extra is not False and len(out) < cap:
                values = ANY_JSON if extra is True else self.build(extra)
                keys = st.text(min_size=1, max_size=12).filter(lambda k: k not in properties)
                out.update(draw(st.dictionaries(keys, values, max_size=cap - len(out))))
            return out

        return draw_object()
