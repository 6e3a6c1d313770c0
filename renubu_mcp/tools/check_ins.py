"""Human check-ins (workflows toolset): the owner's periodic word on how a workflow is going, and its history
(migration 20251214000100)."""

from __future__ import annotations

import json
from typing import Annotated, Literal

from mcp.server.mcpserver import Context
from mcp.types import CallToolResult
from pydantic import Field

from ..context import read_as_caller, user_transaction
from ..errors import Conflict, InvalidArgument
from ..results import render
from .common import Cursor, Limit, not_blank
from .paging import decode_keyset_cursor, finish_page
from .workflow_queries import touch_workflow
from .workflows import OPEN, WorkflowId, one_of, toolset

Remark = Annotated[str | None, Field(max_length=2000)]


@toolset.write("Check in on workflow", destructive=False, idempotent=False)
async def check_in_workflow(
    ctx: Context,
    workflow_id: WorkflowId,
    status: Literal["on_track", "at_risk", "blocked"],
    confidence: Annotated[int, Field(ge=1, le=5)],
    blockers: Annotated[str | None, Field(max_length=2000, description="required when blocked")] = None,
    next_step: Remark = None,
) -> CallToolResult:
    """Record how one of your open workflows is going, in the user's words (ask them)."""
    blockers = not_blank("blockers", blockers, optional=True)
    next_step = not_blank("next_step", next_step, optional=True)
    if status == "blocked" and blockers is None:
        raise InvalidArgument("status blocked needs blockers: what is in the way")
    async with user_transaction(ctx) as conn:
        current = await touch_workflow(conn, workflow_id)  # activity on the workflow, and its row locked
        if current not in OPEN:
            raise Conflict(f"workflow {workflow_id} is {current}; check-ins are for workflows that are {one_of(OPEN)}")
        # The caller is the author, so no name is shown (a row names only someone else).
        row = await conn.fetchval(
            """
            INSERT INTO workflow_check_ins AS c (workflow_execution_id, status, confidence, blockers, next_step)
            VALUES ($1, $2, $3, $4, $5)
            RETURNING renubu_read.check_in_row(c, true, NULL)::text
            """,
            workflow_id,
            status,
            confidence,
            blockers,
            next_step,
        )
    return render(json.loads(row))


@toolset.read("List check-ins")
async def list_check_ins(
    ctx: Context, workflow_id: WorkflowId, limit: Limit = 20, cursor: Cursor = None
) -> CallToolResult:
    """A workflow's check-ins, newest first."""
    filters = {"tool": "list_check_ins", "workflow": workflow_id}
    after, after_id = decode_keyset_cursor(cursor, filters)
    document = await read_as_caller(
        ctx, "list_check_ins", {"workflow_id": workflow_id, "after": after, "after_id": after_id, "limit": limit}
    )
    return render(finish_page(document, 0, limit, filters))
