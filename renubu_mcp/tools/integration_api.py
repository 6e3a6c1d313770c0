"""Integrations toolset, using a connection: calling a connected product's API as the user, and reading what
webhook integrations delivered."""

from __future__ import annotations

from typing import Annotated, Any, Literal
from uuid import UUID

from mcp.server.mcpserver import Context
from mcp.types import CallToolResult, InputRequiredResult
from pydantic import Field, WithJsonSchema

from ..context import app_state, read_as_caller
from ..errors import InvalidArgument
from ..oauth import api
from ..oauth.tokens import ReauthorizationNeeded
from ..results import render
from . import request_gate
from .common import Cursor
from .marketplace import Slug, toolset
from .paging import decode_keyset_cursor, finish_page

# A JSON object or array: what an API takes as a request body (no array `type`, no empty schema: every client's
# dialect accepts it).
Body = Annotated[dict[str, Any] | list[Any] | None, WithJsonSchema({"anyOf": [{"type": "object"}, {"type": "array"}]})]


@toolset.write("Call integration API", destructive=True, idempotent=False, open_world=True)
async def integration_request(
    ctx: Context,
    slug: Slug,
    method: Literal["GET", "POST", "PUT", "PATCH", "DELETE"],
    path: Annotated[
        str,
        Field(
            min_length=1,
            max_length=api.MAX_PATH_CHARS,
            description=("under its api_base_url, e.g. crm/v3/objects/companies"),
        ),
    ],
    query: Annotated[
        dict[str, str | int | float | bool | list[str]] | None,
        Field(max_length=50),
        WithJsonSchema({"type": "object", "description": "query parameters"}),
    ] = None,
    body: Body = None,
) -> CallToolResult | InputRequiredResult:
    """Call a connected integration's API as you (the server adds your token); writes change the other product."""
    app = app_state(ctx)
    cleared = await request_gate.clear(ctx, slug, method, path, query, api.request_body(method, body))
    if isinstance(cleared, InputRequiredResult):
        return cleared  # the user is asked first (2026-07-28); the client calls again with the answers
    try:
        result = await api.integration_request(app, app.principal(), slug, method, path, query, body)
    except ReauthorizationNeeded:
        if not request_gate.can_reconnect(ctx):
            raise
        return await request_gate.reconnect(ctx, slug, cleared)
    return render(
        {
            "status_code": result.status_code,
            "url": result.url,
            "headers": result.headers,
            "body": result.body,
            **({"truncated": True} if result.truncated else {}),
        }
    )


@toolset.read("List integration events")
async def list_integration_events(
    ctx: Context,
    slug: Slug | None = None,
    install_id: UUID | None = None,
    event_type: Annotated[str | None, Field(max_length=200)] = None,
    limit: Annotated[int, Field(ge=1, le=50)] = 20,
    cursor: Cursor = None,
) -> CallToolResult:
    """Events your webhook integrations delivered, newest first."""
    if slug is not None and install_id is not None:
        raise InvalidArgument("pass slug or install_id, not both")
    filters = {"slug": slug, "install": str(install_id) if install_id else None, "type": event_type}
    after, after_id = decode_keyset_cursor(cursor, filters)
    document = await read_as_caller(
        ctx,
        "list_integration_events",
        {
            "slug": slug,
            "install_id": install_id,
            "event_type": event_type,
            "after": after,
            "after_id": after_id,
            "limit": limit,
        },
    )
    return render(finish_page(document, 0, limit, filters))
