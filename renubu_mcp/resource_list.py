"""resources/list: pages through the concrete resources the caller can read (customers, workflows, docs and their
versions, features, the current release, integrations, installs), kind by kind, 100 to a page.

One round trip per page: renubu_read.list_resources (migration 20251212000000), run as the caller, keyset-paged so
a page costs the same at the millionth customer as at the first. The cursor is the last resource shown.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterable
from typing import Any

from mcp import MCPError
from mcp.server.context import ServerRequestContext
from mcp.server.mcpserver.exceptions import ToolError
from mcp.types import INTERNAL_ERROR, INVALID_PARAMS, ListResourcesResult, PaginatedRequestParams, Resource

from .context import AppState, read_as_caller
from .errors import InvalidArgument
from .resource_kinds import ResourceKind

PAGE_SIZE = 100
JSON = "application/json"
_NOT_VALID = "cursor is not valid; pass the nextCursor of a previous resources/list page unchanged"


class ResourceList:
    def __init__(self, kinds: Iterable[ResourceKind]):
        self._kinds = [kind.name for kind in kinds]

    async def __call__(
        self, ctx: ServerRequestContext[AppState, Any], params: PaginatedRequestParams
    ) -> ListResourcesResult:
        args: dict[str, Any] = {"kinds": self._kinds, "limit": PAGE_SIZE}
        if params.cursor:
            args["after"] = self._decode(params.cursor)
        try:
            page = await read_as_caller(ctx.lifespan_context, "list_resources", args)
        except InvalidArgument:  # a key of the wrong type for its kind
            raise MCPError(code=INVALID_PARAMS, message=_NOT_VALID) from None
        except ToolError as exc:
            raise MCPError(code=INTERNAL_ERROR, message=str(exc)) from None
        following = page.get("_next")
        return ListResourcesResult(
            resources=[Resource(uri=r["uri"], name=r["name"], mime_type=JSON) for r in page["resources"]],
            next_cursor=_encode(following) if following else None,
        )

    def _decode(self, cursor: str) -> dict[str, Any]:
        try:
            after = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        except ValueError:
            raise MCPError(code=INVALID_PARAMS, message=_NOT_VALID) from None
        if not (isinstance(after, dict) and after.get("kind") in self._kinds and _valid_key(after.get("key"))):
            raise MCPError(code=INVALID_PARAMS, message=_NOT_VALID)
        return {"kind": after["kind"], "key": after["key"]}


def _valid_key(key: Any) -> bool:
    if isinstance(key, str):
        return len(key) <= 200
    return (
        isinstance(key, list)
        and len(key) == 2
        and isinstance(key[0], str)
        and len(key[0]) <= 200
        and type(key[1]) is int
        and 0 < key[1] < 2**31
    )


def _encode(position: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(position, separators=(",", ":")).encode()).decode().rstrip("=")
