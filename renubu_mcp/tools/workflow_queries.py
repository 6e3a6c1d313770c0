"""Workflow models and the queries shared by the workflows and customers toolsets."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

import asyncpg
from pydantic import BaseModel, Field

from ..errors import NotFound
from .common import UNTRUSTED

WORKFLOW_STATUSES = ("not_started", "in_progress", "completed", "snoozed")
TASK_STATUSES = ("pending", "in_progress", "snoozed", "completed", "skipped")
OPEN_TASK_STATUSES = ("pending", "in_progress", "snoozed")


class WorkflowSummary(BaseModel):
    id: UUID
    customer_id: UUID | None
    customer_name: str | None = None
    workflow_type: str
    workflow_name: str | None = None
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
  e.id, e.customer_id, c.name AS customer_name, e.workflow_type, e.workflow_name, e.status,
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
    """Wake the caller's snoozed workflows that are due (all, one customer's, or one); return id -> reason."""
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


async def open_workflows_for_customer(conn: asyncpg.Connection, customer_id: UUID) -> list[WorkflowSummary]:
    rows = await conn.fetch(
        f"SELECT {WORKFLOW_COLUMNS} FROM {WORKFLOW_FROM} "
        "WHERE e.customer_id = $1 AND e.deleted_at IS NULL AND e.status <> 'completed' "
        "ORDER BY e.updated_at DESC LIMIT 50",
        customer_id,
    )
    return [workflow_from_row(r) for r in rows]


async def open_tasks_for_customer(conn: asyncpg.Connection, customer_id: UUID) -> list[Task]:
    rows = await conn.fetch(
        f"""
        SELECT {TASK_COLUMNS} FROM workflow_tasks t
        JOIN workflow_executions e ON e.id = t.workflow_execution_id
        WHERE e.customer_id = $1 AND e.deleted_at IS NULL AND t.deleted_at IS NULL
          AND t.status = ANY($2::text[])
        ORDER BY t.due_date NULLS LAST, t.id LIMIT 100
        """,
        customer_id, list(OPEN_TASK_STATUSES),
    )
    return [Task(**dict(r)) for r in rows]


async def recent_actions_for_customer(conn: asyncpg.Connection, customer_id: UUID, limit: int = 20) -> list[Action]:
    rows = await conn.fetch(
        f"""
        SELECT {ACTION_COLUMNS} FROM workflow_actions a
        JOIN workflow_executions e ON e.id = a.workflow_execution_id
        WHERE e.customer_id = $1 AND e.deleted_at IS NULL AND a.deleted_at IS NULL
        ORDER BY a.created_at DESC, a.id LIMIT $2
        """,
        customer_id, limit,
    )
    return [Action(**dict(r)) for r in rows]
