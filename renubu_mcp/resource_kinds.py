"""The kinds of renubu:// resource, in one place: each kind's URI template, its toolset, how a URI names the record
(its key, as the database checks it), and which completion read completes each of its parameters.

A resource kind lives in four places that must agree, all keyed by the kind's name ("customers"):
  here                         the template, the key, the completions
  resources.py                 its read (resources/read)
  renubu_read.resources_of     its rows in resources/list; renubu_read.readable: when a subscriber may read it
  a migration's CREATE TRIGGER which tables' changes notify it (renubu_live.resource_changed('renubu://...'))
tests/live/test_resource_kinds.py holds them together.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

SLUG = re.compile(r"^[a-z0-9]+(-[a-z0-9]+)*$")
_PARAMETER = re.compile(r"\{([a-z_]+)\}")

Key = str | tuple[str, int]


def _uuid(value: str) -> str:
    return str(UUID(value))


def _slug(value: str) -> str:
    if len(value) > 120 or not SLUG.match(value):
        raise ValueError("not a slug")
    return value


def _positive(value: str) -> int:
    if not value.isdigit() or not 0 < int(value) < 2**31:
        raise ValueError("not a positive whole number")
    return int(value)


@dataclass(frozen=True)
class ResourceKind:
    name: str
    template: str
    toolset: str
    # The URI's parameters -> the key (raises ValueError for a malformed one).
    key: Callable[[dict[str, str]], Key]
    # parameter -> the renubu_read function that completes it (migration 20251212000000).
    completions: dict[str, str] = field(default_factory=dict)

    @property
    def parameters(self) -> tuple[str, ...]:
        return tuple(_PARAMETER.findall(self.template))

    @property
    def pattern(self) -> re.Pattern[str]:
        return _compiled(self.template)


_patterns: dict[str, re.Pattern[str]] = {}


def _compiled(template: str) -> re.Pattern[str]:
    pattern = _patterns.get(template)
    if pattern is None:
        parts = re.split(r"(\{[a-z_]+\})", template)
        regex = "".join(f"(?P<{p[1:-1]}>[^/?#]+)" if p.startswith("{") else re.escape(p) for p in parts)
        pattern = _patterns[template] = re.compile(f"^{regex}$")
    return pattern


KINDS: tuple[ResourceKind, ...] = (
    ResourceKind(
        "customers",
        "renubu://customers/{customer_id}",
        "customers",
        lambda p: _uuid(p["customer_id"]),
        {"customer_id": "complete_customers"},
    ),
    ResourceKind(
        "workflows",
        "renubu://workflows/{workflow_id}",
        "workflows",
        lambda p: _uuid(p["workflow_id"]),
        {"workflow_id": "complete_workflows"},
    ),
    ResourceKind("docs", "renubu://docs/{slug}", "docs", lambda p: _slug(p["slug"]), {"slug": "complete_docs"}),
    ResourceKind(
        "doc_versions",
        "renubu://docs/{slug}/versions/{version_number}",
        "docs",
        lambda p: (_slug(p["slug"]), _positive(p["version_number"])),
        {"slug": "complete_docs", "version_number": "complete_doc_versions"},
    ),
    ResourceKind(
        "features", "renubu://features/{slug}", "features", lambda p: _slug(p["slug"]), {"slug": "complete_features"}
    ),
    ResourceKind("releases", "renubu://releases/current", "docs", lambda p: "current"),
    ResourceKind(
        "integrations",
        "renubu://integrations/{slug}",
        "integrations",
        lambda p: _slug(p["slug"]),
        {"slug": "complete_integrations"},
    ),
    ResourceKind(
        "installs",
        "renubu://installs/{install_id}/events",
        "integrations",
        lambda p: _uuid(p["install_id"]),
        {"install_id": "complete_installs"},
    ),
    ResourceKind(
        "parking_lot",
        "renubu://parking-lot/{item_id}",
        "workflows",
        lambda p: _uuid(p["item_id"]),
        {"item_id": "complete_parked_items"},
    ),
)
BY_NAME = {kind.name: kind for kind in KINDS}
BY_TEMPLATE = {kind.template: kind for kind in KINDS}


@dataclass(frozen=True)
class ResourceRef:
    """A resource by kind and canonical key: two spellings of one URI (an upper-case id) are one ref."""

    kind: str
    key: Key


def offered(toolsets: Iterable[str]) -> tuple[ResourceKind, ...]:
    chosen = set(toolsets)
    return tuple(kind for kind in KINDS if kind.toolset in chosen)


def parse(uri: str, kinds: Iterable[ResourceKind] = KINDS) -> ResourceRef | None:
    """The resource a URI names, or None when it names none of these kinds (or is malformed)."""
    for kind in kinds:
        match = kind.pattern.match(uri)
        if match is None:
            continue
        try:
            return ResourceRef(kind.name, kind.key(match.groupdict()))
        except ValueError:
            return None
    return None


def by_kind(refs: Iterable[ResourceRef]) -> dict[str, list[Any]]:
    """Refs grouped as renubu_read.readable takes them: {"customers": [ids], "doc_versions": [[slug, n]], ...}."""
    grouped: dict[str, list[Any]] = {}
    for ref in refs:
        grouped.setdefault(ref.kind, []).append(list(ref.key) if isinstance(ref.key, tuple) else ref.key)
    return grouped


def from_kinds(document: dict[str, list[Any]]) -> set[ResourceRef]:
    """The inverse of by_kind, for what the database answered."""
    return {
        ResourceRef(kind, tuple(key) if isinstance(key, list) else key)
        for kind, keys in document.items()
        for key in keys
    }
