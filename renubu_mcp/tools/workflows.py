"""Workflows toolset: running a renewal, QBR or risk play for a customer — starting, moving, snoozing and finishing
it (its tasks and actions: tasks.py)."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from typing import Annotated, Any, Literal, Union
from uuid import UUID

import asyncpg
from mcp.server.mcpserver import Context
from mcp.types import CallToolResult
from pydantic import BaseModel, ConfigDict, Field, WithJsonSchema

from ..context import app_state, read_as_caller, read_in, user_transaction
from ..errors import Conflict, InvalidArgument, NotFound
from ..results import render
from .common import Cursor, CustomerId, Limit, not_blank
from .paging import decode_keyset_cursor, finish_page
from .registry import Toolset
from .workflow_queries import (
    WORKFLOW_JSON,
    insert_action,
    lock_workflow,
    require_task_of,
    update_workflow,
    wake_due_workflows,
    workflow_document,
)

toolset = Toolset("workflows")

# Which statuses each workflow-changing tool accepts, and the status it leaves behind (None: unchanged).
# Every check runs on a row locked FOR UPDATE, in the same transaction as the write.
OPEN = ("not_started", "in_progress", "snoozed")
WORKFLOW_TRANSITIONS: dict[str, tuple[tuple[str, ...], str | None]] = {
    "advance_workflow": (OPEN, "in_progress"),
    "snooze_workflow": (OPEN, "snoozed"),
    "complete_workflow": (OPEN, "completed"),
    "create_task": (OPEN, None),
}
IDENTIFIER = r"^[a-z][a-z0-9_]{0,63}$"

WorkflowId = UUID


def one_of(values: tuple[str, ...]) -> str:
    return ", ".join(values[:-1]) + " or " + values[-1] if len(values) > 1 else values[0]


def _require_transition(workflow: asyncpg.Record, tool: str) -> None:
    allowed, _ = WORKFLOW_TRANSITIONS[tool]
    if workflow["status"] in allowed:
        return
    if tool == "complete_workflow" and workflow["status"] == "completed":
        raise Conflict(
            f"workflow {workflow['id']} is already completed; complete_workflow applies only to "
            f"workflows that are {one_of(allowed)}"
        )
    raise Conflict(
        f"workflow {workflow['id']} is {workflow['status']}; {tool} applies only to workflows that are "
        f"{one_of(allowed)}. A completed workflow is final: start a new one with start_workflow."
    )


def require_aware(name: str, value: datetime) -> None:
    if value.tzinfo is None or value.utcoffset() is None:
        raise InvalidArgument(f"{name} needs a timezone, e.g. 2026-01-15T09:00:00Z or 2026-01-15T09:00:00-05:00")


def require_future(name: str, value: datetime) -> None:
    require_aware(name, value)
    if value <= datetime.now(timezone.utc):
        raise InvalidArgument(f"{name} must be in the future; {value.isoformat()} has already passed")


async def _read_waking(ctx: Context, read: str, args: dict[str, Any], **scope: UUID | None) -> dict[str, Any]:
    """A workflow read that first wakes the snoozed workflows in `scope` that are due, as if a timer had fired on
    time (the read says whether any is; in read-only mode nothing wakes). Those woken are listed in "woken"."""
    document = await read_as_caller(ctx, read, args)
    if document.pop("_wake", None) and not app_state(ctx).settings.read_only:
        async with user_transaction(ctx) as conn:
            woken = await wake_due_workflows(conn, **scope)
            if woken:
                document = await read_in(conn, read, args)
                document.pop("_wake", None)
                document["woken"] = woken
    return document


# --- Wake conditions (snooze_workflow's input) ----------------------------------------------------------------


class RiskScoreAtLeast(BaseModel):
    model_config = ConfigDict(extra="forbid")
    type: Literal["risk_score_at_least"]
    threshold: int = Field(ge=0, le=100)


class RenewalWithinDays(BaseModel):
    model_config = ConfigDict(extra="forbid")
    type: Literal["renewal_within_days"]
    days: int = Field(ge=1, le=365)


class TaskCompleted(BaseModel):
    model_config = ConfigDict(extra="forbid")
    type: Literal["task_completed"]
    task_id: UUID = Field(description="a task of this workflow")


class AllTasksCompleted(BaseModel):
    model_config = ConfigDict(extra="forbid")
    type: Literal["all_tasks_completed"]


WakeCondition = Annotated[
    Union[RiskScoreAtLeast, RenewalWithinDays, TaskCompleted, AllTasksCompleted], Field(discriminator="type")
]
# What the model is shown: one flat object (the union's four members cost the catalog three times as much); the
# arguments are still validated against the exact union.
_WAKE_CONDITIONS_SCHEMA = {
    "type": "array",
    "maxItems": 10,
    "description": "wake when any holds",
    "items": {
        "type": "object",
        "required": ["type"],
        "properties": {
            "type": {"enum": ["risk_score_at_least", "renewal_within_days", "task_completed", "all_tasks_completed"]},
            "threshold": {"type": "integer", "description": "risk_score_at_least: 0-100"},
            "days": {"type": "integer", "description": "renewal_within_days: 1-365"},
            "task_id": {"type": "string", "format": "uuid", "description": "task_completed: a task of this workflow"},
        },
    },
}
_CUSTOMER_CONDITIONS = ("risk_score_at_least", "renewal_within_days")


# --- Tools -----------------------------------------------------------------------------------------------------


@toolset.read("List workflows")
async def list_workflows(
    ctx: Context,
    status: Literal["not_started", "in_progress", "completed", "snoozed"] | None = None,
    customer_id: UUID | None = None,
    owner_id: Annotated[UUID | None, Field(description="admins: one user's workflows")] = None,
    limit: Limit = 20,
    cursor: Cursor = None,
) -> CallToolResult:
    """Your workflows (admins: all), latest activity first. Due snoozed ones wake first: tell the user about
    `woken`."""
    filters = {"status": status, "customer": customer_id, "owner": owner_id}
    after, after_id = decode_keyset_cursor(cursor, filters)
    args = {
        "status": status,
        "customer_id": customer_id,
        "owner_id": owner_id,
        "after": after,
        "after_id": after_id,
        "limit": limit,
    }
    document = await _read_waking(ctx, "list_workflows", args, customer_id=customer_id)
    return render(finish_page(document, 0, limit, filters))


@toolset.read("Get workflow")
async def get_workflow(
    ctx: Context,
    workflow_id: WorkflowId,
    action_limit: Annotated[int, Field(ge=1, le=100)] = 20,
) -> CallToolResult:
    """One workflow with its tasks, latest actions and wake conditions."""
    args = {"workflow_id": workflow_id, "action_limit": action_limit}
    return render(await _read_waking(ctx, "get_workflow", args, execution_id=workflow_id))


@toolset.write("Start workflow", destructive=False, idempotent=False)
async def start_workflow(
    ctx: Context,
    workflow_type: Annotated[
        str, Field(pattern=IDENTIFIER, description=("e.g. renewal, qbr, risk_mitigation, expansion, onboarding"))
    ],
    customer_id: CustomerId,
    workflow_name: Annotated[str | None, Field(min_length=1, max_length=200)] = None,
    total_slides: Annotated[int | None, Field(ge=1, le=1000)] = None,
) -> CallToolResult:
    """Start a workflow on one of your customers; then add tasks with create_task."""
    workflow_name = not_blank("workflow_name", workflow_name, optional=True)
    async with user_transaction(ctx) as conn:
        if not await conn.fetchval(
            "SELECT EXISTS (SELECT 1 FROM customers c WHERE c.id = $1 AND c.deleted_at IS NULL)", customer_id
        ):
            raise NotFound(
                f"no customer {customer_id} (it does not exist or is not assigned to you); "
                "find customers with search_customers"
            )
        workflow = json.loads(
            await conn.fetchval(
                f"""
            WITH e AS (
              INSERT INTO workflow_executions
                (customer_id, workflow_type, workflow_name, status, current_slide_index, total_slides, started_at)
              VALUES ($1, $2, $3, 'in_progress', 0, $4, now())
              RETURNING *
            )
            SELECT {WORKFLOW_JSON}
            """,
                customer_id,
                workflow_type,
                workflow_name,
                total_slides,
            )
        )
        await insert_action(
            conn,
            UUID(workflow["id"]),
            "workflow_started",
            {"workflow_type": workflow_type, "customer_id": str(customer_id)},
        )
    return render(workflow)


# Idempotent: moving to the slide it is already on, while in_progress, changes and records nothing.
@toolset.write("Advance workflow", destructive=False, idempotent=True)
async def advance_workflow(
    ctx: Context,
    workflow_id: WorkflowId,
    slide_index: Annotated[int, Field(ge=0, le=999, description="from 0")],
) -> CallToolResult:
    """Move an open workflow to a slide (not_started or snoozed becomes in_progress)."""
    async with user_transaction(ctx) as conn:
        workflow = await lock_workflow(conn, workflow_id)
        _require_transition(workflow, "advance_workflow")
        total = workflow["total_slides"]
        if total is not None and slide_index >= total:
            raise InvalidArgument(f"slide_index must be 0-{total - 1}: workflow {workflow_id} has {total} slides")
        if workflow["status"] == "in_progress" and workflow["current_slide_index"] == slide_index:
            return render(await workflow_document(conn, workflow_id))
        updated = await update_workflow(
            conn,
            workflow_id,
            """status = 'in_progress', current_slide_index = $2, started_at = coalesce(e.started_at, now()),
               woken_at = CASE WHEN $3 THEN now() ELSE e.woken_at END,
               wake_reason = CASE WHEN $3 THEN 'advanced manually' ELSE e.wake_reason END,
               snoozed_until = CASE WHEN $3 THEN NULL ELSE e.snoozed_until END""",
            slide_index,
            workflow["status"] == "snoozed",
        )
        await insert_action(
            conn, workflow_id, "slide_advanced", {"from": workflow["current_slide_index"], "to": slide_index}
        )
    return render(updated)


@toolset.write("Snooze workflow", destructive=False, idempotent=False)
async def snooze_workflow(
    ctx: Context,
    workflow_id: WorkflowId,
    until: Annotated[datetime | None, Field(description="with timezone")] = None,
    wake_conditions: Annotated[
        list[WakeCondition] | None, Field(max_length=10), WithJsonSchema(_WAKE_CONDITIONS_SCHEMA)
    ] = None,
) -> CallToolResult:
    """Snooze a workflow until a time and/or a condition holds, whichever is first."""
    conditions = wake_conditions or []
    if until is None and not conditions:
        raise InvalidArgument("pass until (a future time), wake_conditions, or both")
    if until is not None:
        require_future("until", until)
    stored = [c.model_dump(mode="json") for c in conditions]
    async with user_transaction(ctx) as conn:
        workflow = await lock_workflow(conn, workflow_id)
        _require_transition(workflow, "snooze_workflow")
        for condition in conditions:
            if condition.type in _CUSTOMER_CONDITIONS and workflow["customer_id"] is None:
                raise InvalidArgument(f"{condition.type} needs a customer, and workflow {workflow_id} has none")
            if isinstance(condition, TaskCompleted):
                task_status = await require_task_of(conn, condition.task_id, workflow_id)
                if task_status == "skipped":
                    raise InvalidArgument(f"task {condition.task_id} was skipped, so it will never be completed")
        updated = await update_workflow(
            conn,
            workflow_id,
            """status = 'snoozed', snoozed_until = $2, snoozed_at = now(), wake_conditions = $3,
               woken_at = NULL, wake_reason = NULL""",
            until,
            stored,
        )
        await conn.execute(
            "UPDATE workflow_conditions SET deleted_at = now() WHERE workflow_execution_id = $1 AND deleted_at IS NULL",
            workflow_id,
        )
        if stored:
            await conn.execute(
                """
                INSERT INTO workflow_conditions (workflow_execution_id, condition_type, condition_config)
                SELECT $1, c ->> 'type', c - 'type' FROM jsonb_array_elements($2::jsonb) AS c
                """,
                workflow_id,
                stored,
            )
            # The database decides what "holds" means; asking it here keeps the two from drifting.
            # Raising rolls the whole snooze back.
            reason = await conn.fetchval("SELECT wake_reason FROM wake_due_workflows(NULL, $1)", workflow_id)
            if reason is not None:
                raise InvalidArgument(
                    f"the workflow would wake at once ({reason}); "
                    "choose conditions that do not hold yet, or only a time"
                )
        await insert_action(
            conn,
            workflow_id,
            "workflow_snoozed",
            {"until": until.isoformat() if until else None, "wake_conditions": stored},
        )
    return render(updated)


# Idempotent: a second call changes nothing (it reports that the workflow is already completed).
# Destructive: completion is final; no tool reopens a workflow.
@toolset.write("Complete workflow", destructive=True, idempotent=True)
async def complete_workflow(ctx: Context, workflow_id: WorkflowId) -> CallToolResult:
    """Mark a workflow completed. Final: no more slides, snoozes or tasks."""
    async with user_transaction(ctx) as conn:
        workflow = await lock_workflow(conn, workflow_id)
        _require_transition(workflow, "complete_workflow")
        updated = await update_workflow(
            conn, workflow_id, "status = 'completed', completed_at = now(), snoozed_until = NULL"
        )
        await insert_action(conn, workflow_id, "workflow_completed", {"from_status": workflow["status"]})
    return render(updated)
