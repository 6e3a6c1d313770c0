"""The queries the workflow tools share: locking and changing a workflow or task, recording actions, waking.

Every record goes out as the database writes it (renubu_read's row functions, migration 20251204), so a workflow,
task or action looks the same in every tool.
"""

from __future__ import annotations

import json
from typing import Any
from uuid import UUID

import asyncpg

from ..errors import NotFound

TASK_STATUSES = ("pending", "in_progress", "snoozed", "completed", "skipped")

# A workflow, task or action as every tool shows it, from `e`, `t` or `a` (a table row, or a CTE of its columns)
# with the names its row function needs joined in.
WORKFLOW_JSON = """renubu_read.workflow_row(e, c.name, o.full_name, true, e.user_id IS DISTINCT FROM auth.uid())::text
FROM e LEFT JOIN customers c ON c.id = e.customer_id LEFT JOIN renubu_read.people o ON o.id = e.user_id"""
TASK_JSON = (
    "renubu_read.task_row(t, true, n.full_name)::text FROM t LEFT JOIN renubu_read.people n ON n.id = t.assigned_to"
)
ACTION_JSON = (
    "renubu_read.action_row(a, true, n.full_name)::text FROM a LEFT JOIN renubu_read.people n ON n.id = a.user_id"
)
NO_WORKFLOW = "no workflow {} (it does not exist or is not yours); find workflows with list_workflows"
NO_TASK = "no task {} (it does not exist or is not yours); find tasks with get_workflow"


async def wake_due_workflows(
    conn: asyncpg.Connection, *, customer_id: UUID | None = None, execution_id: UUID | None = None
) -> list[dict[str, str]]:
    """Wake the caller's snoozed workflows that are due (all, one customer's, or one): [{id, reason}].

    The SQL function does the work in one statement: it locks the candidates, skips those on customers the caller
    no longer sees, and wakes nothing in a read-only transaction.
    """
    rows = await conn.fetch(
        "SELECT execution_id, wake_reason FROM wake_due_workflows($1, $2)", customer_id, execution_id
    )
    return [{"id": str(r["execution_id"]), "reason": r["wake_reason"]} for r in rows]


async def lock_workflow(conn: asyncpg.Connection, workflow_id: UUID) -> asyncpg.Record:
    """The fields the lifecycle checks need, with the row locked until the transaction ends."""
    row = await conn.fetchrow(
        "SELECT e.id, e.status, e.customer_id, e.current_slide_index, e.total_slides FROM workflow_executions e "
        "WHERE e.id = $1 AND e.deleted_at IS NULL FOR UPDATE",
        workflow_id,
    )
    if row is None:
        raise NotFound(NO_WORKFLOW.format(workflow_id))
    return row


async def update_workflow(conn: asyncpg.Connection, workflow_id: UUID, assignments: str, *args: Any) -> dict[str, Any]:
    """UPDATE one workflow and return it as the tools show it. `assignments` is fixed SQL written by the calling
    tool, never input; values travel as $2, $3, ...; 0 rows (missing or invisible) is NotFound."""
    row = await conn.fetchval(
        f"""
        WITH e AS (
          UPDATE workflow_executions e SET {assignments}
          WHERE e.id = $1 AND e.deleted_at IS NULL
          RETURNING e.*
        )
        SELECT {WORKFLOW_JSON}
        """,
        workflow_id,
        *args,
    )
    if row is None:
        raise NotFound(NO_WORKFLOW.format(workflow_id))
    return json.loads(row)


async def workflow_document(conn: asyncpg.Connection, workflow_id: UUID) -> dict[str, Any]:
    row = await conn.fetchval(
        "WITH e AS (SELECT * FROM workflow_executions e WHERE e.id = $1 AND e.deleted_at IS NULL)"
        f" SELECT {WORKFLOW_JSON}",
        workflow_id,
    )
    if row is None:
        raise NotFound(NO_WORKFLOW.format(workflow_id))
    return json.loads(row)


async def touch_workflow(conn: asyncpg.Connection, workflow_id: UUID) -> str:
    """Mark activity on a workflow (list_workflows sorts by it) and lock it; return its status."""
    status = await conn.fetchval(
        "UPDATE workflow_executions e SET updated_at = now() WHERE e.id = $1 AND e.deleted_at IS NULL"
        " RETURNING e.status",
        workflow_id,
    )
    if status is None:
        raise NotFound(NO_WORKFLOW.format(workflow_id))
    return status


async def insert_action(
    conn: asyncpg.Connection,
    workflow_id: UUID,
    action_type: str,
    action_data: dict[str, Any],
    task_id: UUID | None = None,
) -> dict[str, Any]:
    """Record an action as the calling user (user_id defaults to auth.uid(); RLS insists on it)."""
    row = await conn.fetchval(
        f"""
        WITH a AS (
          INSERT INTO workflow_actions (workflow_execution_id, task_id, action_type, action_data)
          VALUES ($1, $2, $3, $4)
          RETURNING *
        )
        SELECT {ACTION_JSON}
        """,
        workflow_id,
        task_id,
        action_type,
        action_data,
    )
    return json.loads(row)


async def lock_task(conn: asyncpg.Connection, task_id: UUID) -> asyncpg.Record:
    """A task's status and workflow, locked. A task of a deleted workflow is as gone as the workflow."""
    row = await conn.fetchrow(
        """
        SELECT t.status, t.workflow_execution_id FROM workflow_tasks t
        JOIN workflow_executions e ON e.id = t.workflow_execution_id AND e.deleted_at IS NULL
        WHERE t.id = $1 AND t.deleted_at IS NULL FOR UPDATE OF t
        """,
        task_id,
    )
    if row is None:
        raise NotFound(NO_TASK.format(task_id))
    return row


async def task_document(conn: asyncpg.Connection, task_id: UUID) -> dict[str, Any]:
    row = await conn.fetchval(f"WITH t AS (SELECT * FROM workflow_tasks t WHERE t.id = $1) SELECT {TASK_JSON}", task_id)
    if row is None:
        raise NotFound(NO_TASK.format(task_id))
    return json.loads(row)


async def require_task_of(conn: asyncpg.Connection, task_id: UUID, workflow_id: UUID) -> str:
    status = await conn.fetchval(
        "SELECT t.status FROM workflow_tasks t"
        " WHERE t.id = $1 AND t.workflow_execution_id = $2 AND t.deleted_at IS NULL",
        task_id,
        workflow_id,
    )
    if status is None:
        raise NotFound(f"no task {task_id} in workflow {workflow_id}; its tasks are listed by get_workflow")
    return status
