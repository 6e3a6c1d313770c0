"""completion/complete: values for every resource-template parameter and prompt argument.

Each completion is a renubu_read function (migration 20251212000000) run as the caller through public.read_as, one
round trip like a read tool, so RLS decides what is offered: a CSM is offered their own customers, never someone
else's. At most 100 values (the protocol's limit), best matches first; hasMore when there are more.
"""

from __future__ import annotations

import zoneinfo
from collections.abc import Callable
from functools import cache
from typing import Any

from mcp import MCPError
from mcp.server import MCPServer
from mcp.server.context import ServerRequestContext
from mcp.server.mcpserver.exceptions import ToolError
from mcp.types import INTERNAL_ERROR, INVALID_PARAMS, CompleteRequestParams, CompleteResult, Completion

from .context import AppState, read_as_caller
from .resource_kinds import BY_TEMPLATE, SLUG

MAX_VALUES = 100
MAX_FRAGMENT_CHARS = 200  # longer text matches nothing worth offering
DAYS = ("30", "60", "90", "180", "365")


@cache
def _zone_names() -> tuple[str, ...]:
    # The system's zone data (empty on a machine without any: then UTC alone, which needs none).
    return ("UTC", *sorted(zoneinfo.available_timezones() - {"UTC"}))


def time_zones(value: str) -> tuple[list[str], bool]:
    """IANA names for a fragment: a name or its city that starts with it first ("new" -> America/New_York), then
    names containing it; case does not matter."""
    typed = value.strip().lower().replace(" ", "_")
    starts, contains = [], []
    for name in _zone_names():
        lowered = name.lower()
        if lowered.startswith(typed) or lowered.rsplit("/", 1)[-1].startswith(typed):
            starts.append(name)
        elif typed in lowered:
            contains.append(name)
    found = starts + contains
    return found[:MAX_VALUES], len(found) > MAX_VALUES


Source = str | tuple[str, ...] | Callable[[str], tuple[list[str], bool]]

# (prompt, argument) -> the renubu_read function that completes it, fixed suggestions, or a function of the text.
PROMPT_COMPLETIONS: dict[tuple[str, str], Source] = {
    ("renewal_brief", "customer_id"): "complete_customers",
    ("at_risk_review", "days"): DAYS,
    ("daily_check_in", "timezone"): time_zones,
}


def _invalid(message: str) -> MCPError:
    return MCPError(code=INVALID_PARAMS, message=message)


class Completions:
    """The completion/complete handler for one server: it completes what that server offers."""

    def __init__(self, server: MCPServer):
        self._server = server
        self._templates: set[str] | None = None
        self._prompts: dict[str, set[str]] | None = None

    async def __call__(self, ctx: ServerRequestContext[AppState, Any], params: CompleteRequestParams) -> CompleteResult:
        source = await self._source(params)
        context = (params.context.arguments or {}) if params.context else {}
        values, more = await complete(ctx.lifespan_context, source, params.argument.value, context)
        return CompleteResult(completion=Completion(values=values, has_more=True if more else None))

    async def _source(self, params: CompleteRequestParams) -> Source:
        ref, name = params.ref, params.argument.name
        if ref.type == "ref/resource":
            if self._templates is None:
                self._templates = {t.uri_template for t in await self._server.list_resource_templates()}
            kind = BY_TEMPLATE.get(ref.uri) if ref.uri in self._templates else None
            if kind is None:
                raise _invalid(f"no resource template {ref.uri!r}; see resources/templates/list")
            source = kind.completions.get(name)
            if source is None:
                raise _invalid(f"{ref.uri} has no parameter {name!r}; its parameters: {', '.join(kind.parameters)}")
            return source
        if self._prompts is None:
            self._prompts = {p.name: {a.name for a in p.arguments or ()} for p in await self._server.list_prompts()}
        arguments = self._prompts.get(ref.name)
        if arguments is None:
            raise _invalid(f"no prompt {ref.name!r}; see prompts/list")
        found = PROMPT_COMPLETIONS.get((ref.name, name))
        if name not in arguments or found is None:
            raise _invalid(f"prompt {ref.name} has no argument {name!r}; its arguments: {', '.join(sorted(arguments))}")
        return found


async def complete(app: AppState, source: Source, value: str, context: dict[str, str]) -> tuple[list[str], bool]:
    """Up to MAX_VALUES values for `value` from `source`, and whether there are more."""
    if callable(source):
        return source(value[:MAX_FRAGMENT_CHARS])
    if isinstance(source, tuple):
        typed = value.strip()
        return [v for v in source if v.startswith(typed)], False
    if len(value) > MAX_FRAGMENT_CHARS:
        return [], False
    args: dict[str, Any] = {"fragment": value, "limit": MAX_VALUES}
    if source == "complete_doc_versions":
        # The versions of the doc chosen already (the request's context); without one there is nothing to offer.
        slug = context.get("slug", "")
        if not SLUG.match(slug):
            return [], False
        args["slug"] = slug
    try:
        document = await read_as_caller(app, source, args)
    except ToolError as exc:
        raise MCPError(code=INTERNAL_ERROR, message=str(exc)) from None
    return document["values"], bool(document.get("has_more"))
