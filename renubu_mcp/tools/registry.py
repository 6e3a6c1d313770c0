"""Tool declarations: each domain module fills a Toolset; server.py registers them all in one place."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from mcp.types import ToolAnnotations


@dataclass(frozen=True)
class ToolSpec:
    fn: Callable[..., Any]
    name: str
    title: str
    toolset: str
    read_only: bool
    destructive: bool
    idempotent: bool
    open_world: bool

    @property
    def annotations(self) -> ToolAnnotations:
        return ToolAnnotations(
            title=self.title,
            read_only_hint=self.read_only,
            destructive_hint=self.destructive,
            idempotent_hint=self.idempotent,
            open_world_hint=self.open_world,
        )


@dataclass
class Toolset:
    """A named group of tools that can be offered or withheld as a whole (RENUBU_TOOLSETS)."""

    name: str
    specs: list[ToolSpec] = field(default_factory=list)

    def read(self, title: str, *, open_world: bool = False) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        """Declare a tool that changes nothing."""
        return self._declare(title, read_only=True, destructive=False, idempotent=True, open_world=open_world)

    def write(
        self, title: str, *, destructive: bool, idempotent: bool, open_world: bool = False
    ) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        """Declare a tool that changes data; read-only mode leaves it out."""
        return self._declare(title, read_only=False, destructive=destructive, idempotent=idempotent,
                             open_world=open_world)

    def _declare(self, title: str, **hints: bool) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        def register(fn: Callable[..., Any]) -> Callable[..., Any]:
            self.specs.append(ToolSpec(fn=fn, name=fn.__name__, title=title, toolset=self.name, **hints))
            return fn

        return register
