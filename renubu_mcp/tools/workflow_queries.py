"""Workflow models and the queries shared by the workflows and customers toolsets."""

from __future__ import annotations

import base64
import hashlib
import json
from datetime import datetime
from typing import Any
from uuid import UUID

import asyncpg
from pydantic import BaseModel, Field

from ..errors import InvalidArgument, NotFound
from .common import UNTRUSTED

WORKFLOW_STATUSES = ("not_started", "in_progress", "completed", "snoozed")
TASK_STATUSES = ("pending", "in_progress", "snoozed", "completed", "skipped")
OPEN_TASK_STATUSES = ("pending", "in_progress", "snoozed")


class WorkflowSummary(BaseModel):
    id: UUID
    owner_id: UUID = Field(description="The user who runs this workflow (admins see everyone's).")
    customer_id: UUID | None
    customer_name: str | None = None
    workflow_type: str
    workflow_name: str | None = Field(None, description=f"Name given by a person. {UNTRUSTED}")
    status: str = Field(description="not_started, in_progress, completed or snoozed.")
    current_slide_index: int
    total_slides: int | None = None
    snoozed_until: datetime | None = None
    wake_conditions: list[dict[str, Any]] = Field(default_factory=list)
    woken_at: datetime | None = None
    wake_reason: str | None = Field(None, description="Why a snoozed workflow was woken, when it was.")
    started_at: datetime | None = None
    completed_at: datetime | None = None
    updated_at: datetime


class Task(BaseModel):
    id: UUID
    workflow_execution_id: UUID
    title: str = Field(description=f"Task title. {UNTRUSTED}")
    description: str | None = Field(None, description=f"Task description. {UNTRUSTED}")
    status: str = Field(description="pending, in_progress, snoozed, completed or skipped.")
    priority: str
    assigned_to: UUID | None = None
    due_date: datetime | None = None
    snoozed_until: datetime | None = None
    completed_at: datetime | None = None
    updated_at: datetime


class Action(BaseModel):
    id: UUID
    workflow_execution_id: UUID
    task_id: UUID | None = None
    user_id: UUID
    action_type: str
    action_data: dict[str, Any] = Field(description=f"What was recorded. {UNTRUSTED}")
    created_at: datetime


WORKFLOW_COLUMNS = """
  e.id, e.user_id AS owner_id, e.customer_id, c.name AS customer_name, e.workflow_type, e.workflow_name, e.status,
  e.current_slide_index, e.total_slides, e.snoozed_until, e.wake_conditions, e.woken_at, e.wake_reason,
  e.started_at, e.completed_at, e.updated_at
"""
# customers is joined through the caller's RLS: a workflow on a customer they cannot
# see shows no customer name rather than leaking it.
WORKFLOW_FROM = "workflow_executions e LEFT JOIN customers c ON c.id = e.customer_id"
TASK_COLUMNS = """
  t.id, t.workflow_execution_id, t.title, t.description, t.status, t.priority, t.assigned_to,
  t.due_date, t.snoozed_until, t.completed_at, t.updated_at
"""
ACTION_COLUMNS = "a.id, a.workflow_execution_id, a.task_id, a.user_id, a.action_type, a.action_data, a.created_at"


def workflow_from_row(row: asyncpg.Record) -> WorkflowSummary:
    return WorkflowSummary(**dict(row))


async def wake_due_workflows(
    conn: asyncpg.Connection, *, customer_id: UUID | None = None, execution_id: UUID | None = None
) -> dict[UUID, str]:
    """Wake the caller's snoozed workflows that are due (all, one customer's, or one); return id -> reason.

    The SQL function does the work in one statement: it locks the candidates, skips those
    on customers the caller no longer sees, and wakes nothing in a read-only transaction.
    """
    rows = await conn.fetch("SELECT execution_id, wake_reason FROM wake_due_workflows($1, $2)", customer_id, execution_id)
    return {r["execution_id"]: r["wake_reason"] for r in rows}


async def fetch_workflow(conn: asyncpg.Connection, workflow_id: UUID, *, for_update: bool = False) -> WorkflowSummary:
    lock = " FOR UPDATE OF e" if for_update else ""
    row = await conn.fetchrow(
        f"SELECT {WORKFLOW_COLUMNS} FROM {WORKFLOW_FROM} WHERE e.id = $1 AND e.deleted_at IS NULL{lock}", workflow_id
    )
    if row is None:
        raise NotFound(f"no workflow {workflow_id} (it does not exist or is not yours)")
    return workflow_from_row(row)


class WakeConditionState(BaseModel):
    """A stored wake condition of a snoozed workflow, and whether it has held yet."""

    id: UUID
    condition_type: str = Field(description="risk_score_at_least, renewal_within_days, task_completed or all_tasks_completed.")
    condition_config: dict[str, Any] = Field(description="The condition's settings, e.g. {\"threshold\": 80}.")
    is_met: bool
    met_at: datetime | None = None


async def fetch_task(conn: asyncpg.Connection, task_id: UUID, *, for_update: bool = False) -> Task:
    # The execution is joined so a task of a deleted workflow is as gone as the workflow.
    lock = " FOR UPDATE OF t" if for_update else ""
    row = await conn.fetchrow(
        f"""
        SELECT {TASK_COLUMNS} FROM workflow_tasks t
        JOIN workflow_executions e ON e.id = t.workflow_execution_id AND e.deleted_at IS NULL
        WHERE t.id = $1 AND t.deleted_at IS NULL{lock}
        """,
        task_id,
    )
    if row is None:
        raise NotFound(f"no task {task_id} (it does not exist or is not yours)")
    return Task(**dict(row))


async def tasks_of_workflow(conn: asyncpg.Connection, workflow_id: UUID, limit: int = 200) -> list[Task]:
    """Open tasks first, then by due date."""
    rows = await conn.fetch(
        f"""
        SELECT {TASK_COLUMNS} FROM workflow_tasks t
        WHERE t.workflow_execution_id = $1 AND t.deleted_at IS NULL
        ORDER BY t.status IN ('completed', 'skipped'), t.due_date NULLS LAST, t.created_at, t.id
        LIMIT $2
        """,
        workflow_id, limit,
    )
    return [Task(**dict(r)) for r in rows]


async def actions_of_workflow(conn: asyncpg.Connection, workflow_id: UUID, limit: int) -> tuple[list[Action], int]:
    """The newest `limit` actions, and how many there are in all."""
    rows = await conn.fetch(
        f"""
        SELECT {ACTION_COLUMNS}, count(*) OVER () AS total FROM workflow_actions a
        WHERE a.workflow_execution_id = $1 AND a.deleted_at IS NULL
        ORDER BY a.created_at DESC, a.id DESC
        LIMIT $2
        """,
        workflow_id, limit,
    )
    total = rows[0]["total"] if rows else 0
    return [Action(**{k: v for k, v in r.items() if k != "total"}) for r in rows], total


async def conditions_of_workflow(conn: asyncpg.Connection, workflow_id: UUID) -> list[WakeConditionState]:
    rows = await conn.fetch(
        """
        SELECT wc.id, wc.condition_type, wc.condition_config, wc.is_met, wc.met_at FROM workflow_conditions wc
        WHERE wc.workflow_execution_id = $1 AND wc.deleted_at IS NULL
        ORDER BY wc.created_at, wc.id
        """,
        workflow_id,
    )
    return [WakeConditionState(**dict(r)) for r in rows]


async def insert_action(
    conn: asyncpg.Connection, workflow_id: UUID, action_type: str, action_data: dict[str, Any],
    task_id: UUID | None = None,
) -> Action:
    """Record an action as the calling user (user_id defaults to auth.uid(); RLS insists on it)."""
    row = await conn.fetchrow(
        f"""
        INSERT INTO workflow_actions AS a (workflow_execution_id, task_id, action_type, action_data)
        VALUES ($1, $2, $3, $4)
        RETURNING {ACTION_COLUMNS}
        """,
        workflow_id, task_id, action_type, action_data,
    )
    return Action(**dict(row))


async def update_workflow(conn: asyncpg.Connection, workflow_id: UUID, assignments: str, *args: Any) -> WorkflowSummary:
    """UPDATE one workflow and return its new state. `assignments` is fixed SQL written by the calling tool,
    never input; values travel as $2, $3, ...; 0 rows (missing or invisible) is NotFound."""
    row = await conn.fetchrow(
        f"""
        WITH e AS (
          UPDATE workflow_executions e SET {assignments}
          WHERE e.id = $1 AND e.deleted_at IS NULL
          RETURNING e.*
        )
        SELECT {WORKFLOW_COLUMNS} FROM e LEFT JOIN customers c ON c.id = e.customer_id
        """,
        workflow_id, *args,
    )
    if row is None:
        raise NotFound(f"no workflow {workflow_id} (it does not exist or is not yours)")
    return workflow_from_row(row)


async def touch_workflow(conn: asyncpg.Connection, workflow_id: UUID) -> str:
    """Mark activity on a workflow (list_workflows sorts by it) and lock it; return its status."""
    status = await conn.fetchval(
        "UPDATE workflow_executions e SET updated_at = now() WHERE e.id = $1 AND e.deleted_at IS NULL RETURNING e.status",
        workflow_id,
    )
    if status is None:
        raise NotFound(f"no workflow {workflow_id} (it does not exist or is not yours)")
    return status


async def require_task_of(conn: asyncpg.Connection, task_id: UUID, workflow_id: UUID) -> str:
    status = await conn.fetchval(
        "SELECT t.status FROM workflow_tasks t WHERE t.id = $1 AND t.workflow_execution_id = $2 AND t.deleted_at IS NULL",
        task_id, workflow_id,
    )
    if status is None:
        raise NotFound(f"no task {task_id} in workflow {workflow_id}")
    return status


# Keyset cursors for list_workflows: waking and every write move a workflow to the top of "newest activity
# first", which makes an offset cursor repeat one row and skip another; (updated_at, id) of the last row
# cannot repeat. They belong in paging.py once a second list needs them.
def _fingerprint(filters: dict[str, Any]) -> str:
    canonical = json.dumps(filters, sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()[:16]


def encode_keyset_cursor(last: WorkflowSummary, filters: dict[str, Any]) -> str:
    raw = json.dumps({"u": last.updated_at.isoformat(), "i": str(last.id), "q": _fingerprint(filters)},
                     separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_keyset_cursor(cursor: str | None, filters: dict[str, Any]) -> tuple[datetime | None, UUID | None]:
    if not cursor:
        return None, None
    try:
        data = json.loads(base64.urlsafe_b64decode((cursor + "=" * (-len(cursor) % 4)).encode()))
        after = datetime.fromisoformat(data["u"]), UUID(data["i"])
        fingerprint = data["q"]
    except Exception:
        raise InvalidArgument("cursor is not valid; pass the next_cursor of a previous page unchanged") from None
    if after[0].tzinfo is None or fingerprint != _fingerprint(filters):
        raise InvalidArgument("cursor belongs to a different query; start again without a cursor")
    return after
