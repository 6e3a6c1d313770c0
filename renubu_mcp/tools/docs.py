"""Docs toolset: search and read the product documentation, its releases and help articles."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Literal

import asyncpg
from mcp.server.mcpserver import Context
from mcp.types import CallToolResult
from pydantic import Field

from ..context import AppState, read_as_caller, read_in, user_transaction
from ..errors import Conflict, Forbidden, NotFound
from ..results import render
from .common import Cursor, Limit, not_blank
from .paging import decode_cursor, finish_page
from .registry import Toolset

toolset = Toolset("docs")

SLUG_PATTERN = r"^[a-z0-9]+(-[a-z0-9]+)*$"
Slug = Annotated[str, Field(min_length=1, max_length=120, pattern=SLUG_PATTERN)]
ReleaseVersion = Annotated[
    str, Field(min_length=1, max_length=50, pattern=r"^[0-9A-Za-z][0-9A-Za-z.+-]{0,49}$", description="e.g. 0.3.0")
]


@toolset.read("Search docs")
async def search_docs(
    ctx: Context,
    query: Annotated[str, Field(min_length=1, max_length=500, description=('words, "a phrase", a OR b, -word'))],
    limit: Limit = 10,
    cursor: Cursor = None,
) -> CallToolResult:
    """Full-text search of the product docs, best first, snippets «marked»; over 300 matches are ranked from a
    sample."""
    filters = {"tool": "search_docs", "query": query}
    offset = decode_cursor(cursor, filters)
    document = await read_as_caller(ctx, "search_docs", {"query": query, "limit": limit, "offset": offset})
    return render(finish_page(document, offset, limit, filters))


@toolset.read("Get doc")
async def get_doc(
    ctx: Context,
    slug: Slug,
    version: Annotated[
        int | None, Field(ge=1, le=1_000_000, description=("from list_doc_versions; omit for current"))
    ] = None,
) -> CallToolResult:
    """One doc page in full (markdown), current or as snapshotted in a release."""
    return render(await read_as_caller(ctx, "get_doc", {"slug": slug, "version": version}))


@toolset.read("List doc versions")
async def list_doc_versions(ctx: Context, slug: Slug) -> CallToolResult:
    """A doc's release snapshots, newest first."""
    return render(await read_as_caller(ctx, "list_doc_versions", {"slug": slug}))


@toolset.read("List releases")
async def list_releases(ctx: Context, limit: Limit = 20, cursor: Cursor = None) -> CallToolResult:
    """Product releases, newest first."""
    filters = {"tool": "list_releases"}
    offset = decode_cursor(cursor, filters)
    document = await read_as_caller(ctx, "list_releases", {"limit": limit, "offset": offset})
    return render(finish_page(document, offset, limit, filters))


@toolset.read("Get release")
async def get_release(
    ctx: Context,
    version: Annotated[ReleaseVersion | None, Field(description="omit for the current release")] = None,
) -> CallToolResult:
    """One release with its notes and the doc versions it froze."""
    return render(await read_as_caller(ctx, "get_release", {"version": version}))


async def current_release(app: AppState) -> dict[str, Any]:
    """The current release (the renubu://releases/current resource; static resources get no Context)."""
    return await read_as_caller(app, "get_release", {"version": None})


@toolset.write("Create release snapshot", destructive=False, idempotent=False, audience="admins")
async def create_release_snapshot(
    ctx: Context,
    version: ReleaseVersion,
    release_date: Annotated[date | None, Field(description="default today")] = None,
    doc_slugs: Annotated[
        list[Annotated[str, Field(max_length=120, pattern=SLUG_PATTERN)]] | None,
        Field(min_length=1, max_length=1000, description="default every doc"),
    ] = None,
    name: Annotated[str | None, Field(min_length=1, max_length=200)] = None,
    notes: Annotated[str | None, Field(min_length=1, max_length=100_000, description="release notes, markdown")] = None,
) -> CallToolResult:
    """Admins: freeze the docs' current text as a new release (each gets a new version number) and make it
    current."""
    name, notes = not_blank("name", name, optional=True), not_blank("notes", notes, optional=True)
    slugs = sorted(set(doc_slugs)) if doc_slugs is not None else None
    async with user_transaction(ctx) as conn:
        try:
            release_id = await conn.fetchval(
                "SELECT public.create_release_snapshot($1, $2, $3)", version, release_date, slugs
            )
        except asyncpg.InsufficientPrivilegeError:
            raise Forbidden("only admins can create release snapshots; nothing was changed") from None
        except asyncpg.UniqueViolationError as exc:
            if exc.constraint_name == "idx_releases_one_current":
                raise Conflict("another release snapshot is being created right now; try again") from None
            raise Conflict(f"release {version!r} already exists; choose a new version (see list_releases)") from None
        except asyncpg.exceptions.NoDataFoundError as exc:  # P0002: the function names the unknown slugs
            raise NotFound(f"{exc.message}; nothing was changed. Find slugs with search_docs") from None
        if name is not None or notes is not None:  # same transaction: the release never exists without them
            await conn.execute(
                "UPDATE public.releases SET name = $2, notes = $3 WHERE id = $1", release_id, name, notes
            )
        return render(await read_in(conn, "get_release", {"version": version}))


@toolset.read("List help articles")
async def list_help_articles(
    ctx: Context,
    category: Annotated[str | None, Field(min_length=1, max_length=100, description=("e.g. Renewals"))] = None,
    difficulty: Literal["beginner", "intermediate", "advanced"] | None = None,
    limit: Limit = 20,
    cursor: Cursor = None,
) -> CallToolResult:
    """Customer-facing help articles (admins also see drafts)."""
    filters = {"tool": "list_help_articles", "category": category, "difficulty": difficulty}
    offset = decode_cursor(cursor, filters)
    document = await read_as_caller(
        ctx, "list_help_articles", {"category": category, "difficulty": difficulty, "limit": limit, "offset": offset}
    )
    return render(finish_page(document, offset, limit, filters))
