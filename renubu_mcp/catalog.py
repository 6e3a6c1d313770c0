"""What the model is shown of the tools, and how their arguments are checked.

Every tool definition is read by the model in every conversation, so the catalog is built lean (no generated
titles, no null alternatives, no output schemas: results are documented where the model reads them, in
descriptions and in the compact JSON itself), each role sees only the tools it could ever use, and the listing is
built once per role and protocol version.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from mcp.server.context import CallNext, HandlerResult, ServerRequestContext
from mcp.server.mcpserver.exceptions import ToolError
from mcp.server.mcpserver.tools import Tool
from pydantic import ValidationError

from .arguments import describe, unknown_arguments
from .tools.registry import ToolSpec, audiences_of

# Schema keywords the model does not need: pydantic's generated titles, the discriminator mapping (oneOf and each
# member's const "type" already say it), and string lengths and patterns: the arguments are still validated against
# them (with an error saying what is valid), but a model never writes a 200-character name by accident, and the
# descriptions say the format in words.
_DROPPED = frozenset({"title", "discriminator", "maxLength", "minLength", "pattern"})
_SCHEMA_MAPS = frozenset({"properties", "$defs", "patternProperties"})


def lean_schema(schema: Mapping[str, Any]) -> dict[str, Any]:
    """The input schema as the model should read it; unknown arguments are refused (additionalProperties)."""
    lean = _lean(schema)
    lean["additionalProperties"] = False
    lean.setdefault("properties", {})
    return lean


def _lean(node: Any) -> Any:
    if isinstance(node, list):
        return [_lean(item) for item in node]
    if not isinstance(node, Mapping):
        return node
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key in _DROPPED:
            continue
        if key in _SCHEMA_MAPS and isinstance(value, Mapping):
            out[key] = {name: _lean(sub) for name, sub in value.items()}
        else:
            out[key] = _lean(value)
    # `X | None = None`: an optional argument is one the caller leaves out, so the null alternative and the null
    # default say nothing the `required` list does not.
    alternatives = out.get("anyOf")
    if isinstance(alternatives, list) and {"type": "null"} in alternatives:
        rest = [a for a in alternatives if a != {"type": "null"}]
        del out["anyOf"]
        if len(rest) == 1:
            out = {**rest[0], **out}
        else:
            out["anyOf"] = rest
    if "default" in out and out["default"] is None:
        del out["default"]
    return out


class RenubuTool(Tool):
    """An SDK tool whose argument errors are one actionable line, and which refuses arguments it does not take."""

    async def run(self, arguments: dict[str, Any], context: Any, convert_result: bool = False) -> Any:
        problem = unknown_arguments(arguments, self.parameters)
        if problem is not None:
            raise ToolError(problem)
        try:
            return await super().run(arguments, context, convert_result=convert_result)
        except ToolError as exc:
            cause = exc.__cause__
            if isinstance(cause, ValidationError):
                raise ToolError(describe(cause, self.parameters)) from cause
            if isinstance(cause, ToolError) and type(exc) is ToolError:
                # The SDK prefixes "Error executing tool <name>: "; the result is already marked as an error.
                raise ToolError(str(cause)) from cause
            raise


def build_tools(specs: Iterable[ToolSpec]) -> list[Tool]:
    tools: list[Tool] = []
    for spec in specs:
        tool = RenubuTool.from_function(
            spec.fn,
            name=spec.name,
            title=spec.title,
            description=spec.description,
            annotations=spec.annotations,
            structured_output=False,
        )
        tool.parameters = lean_schema(tool.parameters)
        tools.append(tool)
    return tools


class RoleAwareToolList:
    """Server middleware: `tools/list` shows each caller only the tools their role can use.

    The first listing for a role and protocol version goes through the SDK (which shapes the envelope for that
    version); later ones reuse it. `role_of` names the caller's profile role (None: no user).
    """

    def __init__(self, specs: Iterable[ToolSpec], role_of: Any):
        self._audience = {spec.name: spec.audience for spec in specs}
        self._role_of = role_of
        self._listings: dict[tuple[str | None, str], dict[str, Any]] = {}

    async def __call__(self, ctx: ServerRequestContext[Any, Any], call_next: CallNext) -> HandlerResult:
        if ctx.method != "tools/list" or (ctx.params or {}).get("cursor"):
            return await call_next(ctx)
        role = self._role_of(ctx)
        key = (role, ctx.protocol_version)
        listing = self._listings.get(key)
        if listing is None:
            result = await call_next(ctx)
            assert isinstance(result, dict)
            allowed = audiences_of(role)
            listing = {**result, "tools": [t for t in result["tools"] if self._audience.get(t["name"]) in allowed]}
            self._listings[key] = listing
        return listing
