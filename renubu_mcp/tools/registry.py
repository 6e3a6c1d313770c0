"""Tool declarations: each domain module fills a Toolset; server.py registers them all in one place."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from mcp.types import ToolAnnotations

# Who can ever use a tool. The database decides every call (RLS); the audience only keeps a tool out of the
# catalog of callers whose role could never use it, so the model does not pay for it.
Audience = Literal["everyone", "admins_and_pms", "admins"]
AUDIENCES_OF_ROLE: dict[str, frozenset[Audience]] = {
    "admin": frozenset({"everyone", "admins_and_pms", "admins"}),
    "pm": frozenset({"everyone", "admins_and_pms"}),
}
EVERYONE: frozenset[Audience] = frozenset({"everyone"})


def audiences_of(role: str | None) -> frozenset[Audience]:
    """The audiences a profile role belongs to (csm, user, unknown or none: everyone only)."""
    return AUDIENCES_OF_ROLE.get(role or "", EVERYONE)


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
    audience: Audience = "everyone"

    @property
    def description(self) -> str:
        """The docstring as one paragraph: what the model reads, without source indentation or line breaks."""
        return " ".join(inspect.cleandoc(self.fn.__doc__ or "").split())

    @property
    def annotations(self) -> ToolAnnotations:
        # The title lives on the tool itself; repeating it in the annotations only costs the model bytes.
        return ToolAnnotations(
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

    def read(
        self, title: str, *, open_world: bool = False, audience: Audience = "everyone"
    ) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        """Declare a tool that changes nothing."""
        return self._declare(title, audience, read_only=True, destructive=False, idempotent=True, open_world=open_world)

    def write(
        self,
        title: str,
        *,
        destructive: bool,
        idempotent: bool,
        open_world: bool = False,
        audience: Audience = "everyone",
    ) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        """Declare a tool that changes data; read-only mode leaves it out."""
        return self._declare(
            title, audience, read_only=False, destructive=destructive, idempotent=idempotent, open_world=open_world
        )

    def _declare(
        self, title: str, audience: Audience, **hints: bool
    ) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        def register(fn: Callable[..., Any]) -> Callable[..., Any]:
            self.specs.append(
                ToolSpec(fn=fn, name=fn.__name__, title=title, toolset=self.name, audience=audience, **hints)
            )
            return fn

        return register
