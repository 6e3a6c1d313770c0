"""Features toolset: the product's feature registry — what is shipping, planned or deferred — and its change log."""

from __future__ import annotations

from typing import Annotated, Literal

import asyncpg
from mcp.server.mcpserver import Context
from mcp.types import CallToolResult
from pydantic import Field

from ..context import read_as_caller, read_in, user_transaction
from ..errors import Forbidden, InvalidArgument, NotFound
from ..results import render
from .common import Cursor, Limit, not_blank
from .paging import decode_cursor, finish_page
from .registry import Toolset

toolset = Toolset("features")

Status = Literal["active", "planned", "backlog", "deferred", "shipped"]
FeatureSlug = Annotated[str, Field(min_length=1, max_length=120, pattern=r"^[a-z0-9]+(-[a-z0-9]+)*$")]
Phase = Annotated[str, Field(max_length=20, pattern=r"^[0-9]+(\.[0-9]+)?$", description="e.g. 1 or 0.2")]
Priority = Annotated[int, Field(ge=1, le=5, description="1 is highest")]

FORBIDDEN = "only admins and product managers can change features; nothing was changed"
NOT_FOUND = "no feature with slug {!r}; find slugs with list_features"


@toolset.read("List features")
async def list_features(
    ctx: Context,
    status: Status | None = None,
    phase: Phase | None = None,
    priority: Priority | None = None,
    limit: Limit = 20,
    cursor: Cursor = None,
) -> CallToolResult:
    """The product's feature registry (active means being built), highest priority first."""
    filters = {"tool": "list_features", "status": status, "phase": phase, "priority": priority}
    offset = decode_cursor(cursor, filters)
    document = await read_as_caller(
        ctx, "list_features", {"status": status, "phase": phase, "priority": priority, "limit": limit, "offset": offset}
    )
    return render(finish_page(document, offset, limit, filters))


@toolset.read("Get feature")
async def get_feature(ctx: Context, slug: FeatureSlug) -> CallToolResult:
    """One feature with its 20 latest changes and notes."""
    return render(await read_as_caller(ctx, "get_feature", {"slug": slug}))


@toolset.write("Update feature", destructive=False, idempotent=False, audience="admins_and_pms")
async def update_feature(
    ctx: Context,
    slug: FeatureSlug,
    status: Status | None = None,
    phase: Phase | None = None,
    priority: Priority | None = None,
    note: Annotated[str | None, Field(min_length=1, max_length=5000)] = None,
) -> CallToolResult:
    """Admins and PMs: change a feature's status, phase or priority, or add a note; all are logged."""
    note = not_blank("note", note, optional=True)
    if status is None and phase is None and priority is None and note is None:
        raise InvalidArgument("pass at least one of status, phase, priority, note")
    async with user_transaction(ctx) as conn:
        feature_id = await conn.fetchval(
            "SELECT f.id FROM public.features f WHERE f.slug = $1 AND f.deleted_at IS NULL", slug
        )
        if feature_id is None:
            raise NotFound(NOT_FOUND.format(slug))
        if status is not None or phase is not None or priority is not None:
            changed = await conn.fetchval(
                """
                UPDATE public.features f SET
                  status = coalesce($2, f.status),
                  phase = coalesce($3, f.phase),
                  priority = coalesce($4, f.priority),
                  shipped_at = CASE WHEN $2::text IS NULL THEN f.shipped_at
                                    WHEN $2 = 'shipped' THEN coalesce(f.shipped_at, now())
                                    ELSE NULL END
                WHERE f.id = $1
                RETURNING f.id
                """,
                feature_id,
                status,
                phase,
                priority,
            )
            if changed is None:
                raise Forbidden(FORBIDDEN)
        if note is not None:
            try:
                await conn.execute(
                    "INSERT INTO public.feature_updates (feature_id, update_type, note) VALUES ($1, 'note', $2)",
                    feature_id,
                    note,
                )
            except asyncpg.InsufficientPrivilegeError:
                raise Forbidden(FORBIDDEN) from None
        return render(await read_in(conn, "get_feature", {"slug": slug}))
