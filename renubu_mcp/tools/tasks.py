"""The work inside a workflow (workflows toolset): its tasks, and the actions recorded in its audit trail."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Annotated, Any, Literal
from uuid import UUID

from mcp.server.mcpserver import Context
from mcp.types import CallToolResult
from pydantic import Field, WithJsonSchema

from ..context import user_transaction
from ..errors import Conflict, InvalidArgument, NotFound
from ..results import render
from .common import not_blank
from .workflow_queries import (
    NO_TASK,
    TASK_JSON,
    TASK_STATUSES,
    insert_action,
    lock_task,
    require_task_of,
    task_document,
    touch_workflow,
)
from .workflows import IDENTIFIER, WORKFLOW_TRANSITIONS, WorkflowId, one_of, require_aware, require_future, toolset

# A task's status may move to these; completed and skipped are final.
TASK_TRANSITIONS: dict[str, tuple[str, ...]] = {
    "pending": TASK_STATUSES,
    "in_progress": TASK_STATUSES,
    "snoozed": TASK_STATUSES,
    "completed": (),
    "skipped": (),
}
# Written only by the lifecycle tools, so the audit trail's lifecycle entries can be trusted.
SERVER_ACTION_TYPES = frozenset({"workflow_started", "slide_advanced", "workflow_snoozed", "workflow_completed"})
MAX_ACTION_DATA_BYTES = 65_536

TaskId = UUID
AssigneeId = UUID | None


@toolset.write("Create task", destructive=False, idempotent=False)
async def create_task(
    ctx: Context,
    workflow_id: WorkflowId,
    title: Annotated[str, Field(min_length=1, max_length=300)],
    description: Annotated[str | None, Field(max_length=20000)] = None,
    priority: Literal["low", "medium", "high", "urgent"] = "medium",
    due_date: Annotated[datetime | None, Field(description="with timezone")] = None,
    assignee_id: AssigneeId = None,
) -> CallToolResult:
    """Add a task to one of your open workflows."""
    title = not_blank("title", title)
    if due_date is not None:
        require_aware("due_date", due_date)
    open_statuses = WORKFLOW_TRANSITIONS["create_task"][0]
    async with user_transaction(ctx) as conn:
        status = await touch_workflow(conn, workflow_id)
        if status not in open_statuses:
            raise Conflict(
                f"workflow {workflow_id} is {status}; tasks can be added only to workflows that are "
                f"{one_of(open_statuses)}"
            )
        task_id = await conn.fetchval(
            """
            INSERT INTO workflow_tasks (workflow_execution_id, title, description, priority, due_date, assigned_to)
            VALUES ($1, $2, $3, $4, $5, $6)
            RETURNING id
            """,
            workflow_id,
            title,
            description,
            priority,
            due_date,
            assignee_id,
        )
        return render(await task_document(conn, task_id))


# Destructive: completed and skipped are final. Idempotent: the same update again changes nothing further.
@toolset.write("Update task", destructive=True, idempotent=True)
async def update_task(
    ctx: Context,
    task_id: TaskId,
    status: Annotated[
        Literal["pending", "in_progress", "snoozed", "completed", "skipped"] | None,
        Field(description="completed, skipped: final"),
    ] = None,
    assignee_id: AssigneeId = None,
    snoozed_until: Annotated[datetime | None, Field(description="with status snoozed")] = None,
) -> CallToolResult:
    """Change an open task's status or assignee."""
    if status is None and assignee_id is None and snoozed_until is None:
        raise InvalidArgument("pass at least one of status, assignee_id, snoozed_until")
    if snoozed_until is not None:
        require_future("snoozed_until", snoozed_until)
    async with user_transaction(ctx) as conn:
        task = await lock_task(conn, task_id)
        current = task["status"]
        allowed = TASK_TRANSITIONS[current]
        if not allowed:
            raise Conflict(
                f"task {task_id} is {current}, which is final: it cannot change. "
                f"Only tasks that are pending, in_progress or snoozed can be updated."
            )
        new_status = status or current
        if new_status not in allowed:
            raise Conflict(f"task {task_id} cannot go from {current} to {new_status}; valid: {one_of(allowed)}")
        if new_status == "snoozed" and snoozed_until is None and current != "snoozed":
            raise InvalidArgument("status snoozed needs snoozed_until, a future time the task comes back")
        if snoozed_until is not None and new_status != "snoozed":
            raise InvalidArgument("snoozed_until goes only with status snoozed")
        await touch_workflow(conn, task["workflow_execution_id"])
        updated = await conn.fetchval(
            f"""
            WITH t AS (
              UPDATE workflow_tasks t SET
                status = $2,
                assigned_to = coalesce($3, t.assigned_to),
                snoozed_until = CASE WHEN $2 = 'snoozed' THEN coalesce($4, t.snoozed_until) END,
                completed_at = CASE WHEN $2 = 'completed' THEN now() END
              WHERE t.id = $1 AND t.deleted_at IS NULL
              RETURNING t.*
            )
            SELECT {TASK_JSON}
            """,
            task_id,
            new_status,
            assignee_id,
            snoozed_until,
        )
        if updated is None:
            raise NotFound(NO_TASK.format(task_id))
    return render(json.loads(updated))


@toolset.write("Record action", destructive=False, idempotent=False)
async def record_action(
    ctx: Context,
    workflow_id: WorkflowId,
    action_type: Annotated[
        str, Field(pattern=IDENTIFIER, description=("e.g. email_sent, call_logged, meeting_held, note"))
    ],
    action_data: Annotated[dict[str, Any], WithJsonSchema({"type": "object", "description": "details"})] = {},  # noqa: B006 (pydantic copies defaults)
    task_id: UUID | None = None,
) -> CallToolResult:
    """Log something done on a workflow (email, call, decision) in its audit trail."""
    if action_type in SERVER_ACTION_TYPES:
        raise InvalidArgument(
            f"action_type {action_type!r} is recorded by the server itself; "
            "choose another name, e.g. note, email_sent, call_logged"
        )
    try:
        size = len(json.dumps(action_data, ensure_ascii=False, allow_nan=False, separators=(",", ":")).encode())
    except ValueError:
        raise InvalidArgument("action_data must be plain JSON (no NaN or Infinity)") from None
    if size > MAX_ACTION_DATA_BYTES:
        raise InvalidArgument(f"action_data is {size} bytes serialized; the limit is {MAX_ACTION_DATA_BYTES}")
    async with user_transaction(ctx) as conn:
        await touch_workflow(conn, workflow_id)
        if task_id is not None:
            await require_task_of(conn, task_id, workflow_id)
        return render(await insert_action(conn, workflow_id, action_type, action_data, task_id))
