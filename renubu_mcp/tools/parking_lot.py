"""The parking lot (workflows toolset): things a CSM wants to come back to that are not (yet) work in a workflow —
parked, listed due-first, promoted into a workflow or a task, rescheduled or dismissed (migration 20251214000000).

What an item may name (a customer, the workflow it came from) is checked by the database as the caller; the errors
it raises are turned into messages that say which argument and which tool finds valid ids.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Annotated, Any, Literal
from uuid import UUID

import asyncpg
from mcp.server.mcpserver import Context
from mcp.types import CallToolResult
from pydantic import Field

from ..context import read_as_caller, read_in, user_transaction
from ..errors import Conflict, InvalidArgument, NotFound
from ..results import render
from .common import Cursor, CustomerId, Limit, not_blank
from .customers import NOT_FOUND as NO_CUSTOMER
from .paging import decode_cursor, finish_page
from .workflow_queries import NO_WORKFLOW, insert_action, task_document, workflow_document
from .workflows import IDENTIFIER, OPEN, WorkflowId, one_of, require_aware, toolset

ItemId = UUID
Title = Annotated[str, Field(min_length=1, max_length=200)]
Notes = Annotated[str | None, Field(max_length=2000)]
RevisitAt = Annotated[datetime | None, Field(description="with timezone")]

NO_ITEM = "no parked item {} (it does not exist or is not yours); see list_parked_items"


@contextmanager
def _references_checked(customer_id: UUID | None, workflow_id: UUID | None) -> Iterator[None]:
    """The database's refusal of a customer or workflow the caller cannot see, said for the argument given."""
    try:
        yield
    except asyncpg.ForeignKeyViolationError as exc:
        if exc.column_name == "customer_id":
            raise NotFound(NO_CUSTOMER.format(customer_id)) from None
        if exc.column_name == "workflow_execution_id":
            raise NotFound(NO_WORKFLOW.format(workflow_id)) from None
        raise
    except asyncpg.CheckViolationError as exc:
        if exc.constraint_name == "parking_lot_items_workflow_customer":
            raise InvalidArgument(
                f"workflow {workflow_id} is not on customer {customer_id}; pass only workflow_id "
                "(the item takes its customer)"
            ) from None
        raise


async def _lock_parked(conn: asyncpg.Connection, item_id: UUID, verb: str) -> asyncpg.Record:
    """The item, locked; only a parked one may change (promoted and dismissed are final)."""
    item = await conn.fetchrow(
        "SELECT i.id, i.user_id, i.status, i.title, i.notes, i.customer_id FROM parking_lot_items i "
        "WHERE i.id = $1 AND i.deleted_at IS NULL FOR UPDATE",
        item_id,
    )
    if item is None:
        raise NotFound(NO_ITEM.format(item_id))
    if item["status"] != "parked":
        raise Conflict(f"item {item_id} is {item['status']} already, which is final; only parked items can be {verb}")
    return item


async def _item(conn: asyncpg.Connection, item_id: UUID) -> dict[str, Any]:
    return await read_in(conn, "get_parked_item", {"item_id": item_id})


async def read_item(ctx: Context, item_id: UUID) -> dict[str, Any]:
    """One item in full, as the caller may see it (the renubu://parking-lot/{item_id} resource)."""
    return await read_as_caller(ctx, "get_parked_item", {"item_id": item_id})


@toolset.write("Park item", destructive=False, idempotent=False)
async def park_item(
    ctx: Context,
    title: Title,
    notes: Notes = None,
    customer_id: CustomerId | None = None,
    workflow_id: Annotated[WorkflowId | None, Field(description="it came from")] = None,
    revisit_at: RevisitAt = None,
) -> CallToolResult:
    """Park something to come back to (a risk signal, an idea, a follow-up); my_day shows it from revisit_at."""
    title = not_blank("title", title)
    notes = not_blank("notes", notes, optional=True)
    if revisit_at is not None:
        require_aware("revisit_at", revisit_at)
    async with user_transaction(ctx) as conn:
        with _references_checked(customer_id, workflow_id):
            # Named from a workflow, the item is about that workflow's customer unless told otherwise.
            item_id = await conn.fetchval(
                """
                INSERT INTO parking_lot_items (title, notes, customer_id, workflow_execution_id, revisit_at)
                VALUES ($1, $2, coalesce($3, (SELECT e.customer_id FROM workflow_executions e WHERE e.id = $4)), $4, $5)
                RETURNING id
                """,
                title,
                notes,
                customer_id,
                workflow_id,
                revisit_at,
            )
        return render(await _item(conn, item_id))


@toolset.read("List parked items")
async def list_parked_items(
    ctx: Context,
    status: Literal["parked", "promoted", "dismissed"] = "parked",
    customer_id: CustomerId | None = None,
    limit: Limit = 20,
    cursor: Cursor = None,
) -> CallToolResult:
    """Your parked items (admins: all), due for revisit first; or the promoted or dismissed ones."""
    filters = {"tool": "list_parked_items", "status": status, "customer": customer_id}
    offset = decode_cursor(cursor, filters)
    document = await read_as_caller(
        ctx, "list_parked_items", {"status": status, "customer_id": customer_id, "limit": limit, "offset": offset}
    )
    return render(finish_page(document, offset, limit, filters))


@toolset.write("Promote parked item", destructive=False, idempotent=False)
async def promote_parked_item(
    ctx: Context,
    item_id: ItemId,
    workflow_type: Annotated[
        str | None, Field(pattern=IDENTIFIER, description=("a new workflow on the item's customer, e.g. renewal"))
    ] = None,
    workflow_id: Annotated[WorkflowId | None, Field(description="or a new task in this open workflow")] = None,
    due_date: Annotated[datetime | None, Field(description="the task's")] = None,
) -> CallToolResult:
    """Turn a parked item into a workflow or a task (the item owner's); the item records what it became."""
    if (workflow_type is None) == (workflow_id is None):
        raise InvalidArgument(
            "pass workflow_type (a new workflow on the item's customer) or workflow_id (a new task "
            "in that workflow), one of the two"
        )
    if due_date is not None:
        if workflow_id is None:
            raise InvalidArgument("due_date goes only with workflow_id (it is the new task's)")
        require_aware("due_date", due_date)
    async with user_transaction(ctx) as conn:
        item = await _lock_parked(conn, item_id, "promoted")
        if workflow_type is not None:
            became = {"workflow": await _new_workflow(conn, item, workflow_type)}
            column, target = "promoted_workflow_id", UUID(became["workflow"]["id"])
        else:
            assert workflow_id is not None
            became = {"task": await _new_task(conn, item, workflow_id, due_date)}
            column, target = "promoted_task_id", UUID(became["task"]["id"])
        await conn.execute(
            f"UPDATE parking_lot_items SET status = 'promoted', resolved_at = now(), {column} = $2 WHERE id = $1",
            item_id,
            target,
        )
        return render({"item": await _item(conn, item_id), **became})


async def _new_workflow(conn: asyncpg.Connection, item: asyncpg.Record, workflow_type: str) -> dict[str, Any]:
    customer_id = item["customer_id"]
    if customer_id is None:
        raise InvalidArgument(
            f"item {item['id']} names no customer, and a workflow needs one: name it with "
            "update_parked_item, or pass workflow_id to make the item a task in one of your "
            "workflows"
        )
    if not await conn.fetchval(
        "SELECT EXISTS (SELECT 1 FROM customers c WHERE c.id = $1 AND c.deleted_at IS NULL)", customer_id
    ):
        raise NotFound(NO_CUSTOMER.format(customer_id))
    workflow_id = await conn.fetchval(
        """
        INSERT INTO workflow_executions
          (user_id, customer_id, workflow_type, workflow_name, status, started_at, metadata)
        VALUES ($1, $2, $3, $4, 'in_progress', now(), $5)
        RETURNING id
        """,
        item["user_id"],
        customer_id,
        workflow_type,
        item["title"],
        {"parked_item_id": str(item["id"])},
    )
    await insert_action(
        conn,
        workflow_id,
        "workflow_started",
        {"workflow_type": workflow_type, "customer_id": str(customer_id), "parked_item_id": str(item["id"])},
    )
    return await workflow_document(conn, workflow_id)


async def _new_task(
    conn: asyncpg.Connection, item: asyncpg.Record, workflow_id: UUID, due_date: datetime | None
) -> dict[str, Any]:
    workflow = await conn.fetchrow(
        "UPDATE workflow_executions e SET updated_at = now() WHERE e.id = $1 AND e.deleted_at IS NULL "
        "RETURNING e.status, e.customer_id",
        workflow_id,
    )
    if workflow is None:
        raise NotFound(NO_WORKFLOW.format(workflow_id))
    if workflow["status"] not in OPEN:
        raise Conflict(
            f"workflow {workflow_id} is {workflow['status']}; tasks can be added only to workflows that "
            f"are {one_of(OPEN)}"
        )
    if item["customer_id"] is not None and workflow["customer_id"] != item["customer_id"]:
        raise InvalidArgument(
            f"item {item['id']} is about customer {item['customer_id']} and workflow {workflow_id} "
            "is on another; choose a workflow on the item's customer (list_workflows with "
            "customer_id)"
        )
    task_id = await conn.fetchval(
        """
        INSERT INTO workflow_tasks (workflow_execution_id, title, description, due_date, assigned_to)
        VALUES ($1, $2, $3, $4, $5)
        RETURNING id
        """,
        workflow_id,
        item["title"],
        item["notes"],
        due_date,
        item["user_id"],
    )
    return await task_document(conn, task_id)


@toolset.write("Update parked item", destructive=False, idempotent=True)
async def update_parked_item(
    ctx: Context,
    item_id: ItemId,
    revisit_at: RevisitAt = None,
    title: Title | None = None,
    notes: Notes = None,
    customer_id: CustomerId | None = None,
) -> CallToolResult:
    """Come back to a parked item later (revisit_at), or change its title, notes or customer."""
    if revisit_at is None and title is None and notes is None and customer_id is None:
        raise InvalidArgument("pass at least one of revisit_at, title, notes, customer_id")
    title = not_blank("title", title, optional=True)
    notes = not_blank("notes", notes, optional=True)
    if revisit_at is not None:
        require_aware("revisit_at", revisit_at)
    async with user_transaction(ctx) as conn:
        await _lock_parked(conn, item_id, "changed")
        with _references_checked(customer_id, None):
            try:
                await conn.execute(
                    """
                    UPDATE parking_lot_items i SET
                      revisit_at = coalesce($2, i.revisit_at), title = coalesce($3, i.title),
                      notes = coalesce($4, i.notes), customer_id = coalesce($5, i.customer_id)
                    WHERE i.id = $1
                    """,
                    item_id,
                    revisit_at,
                    title,
                    notes,
                    customer_id,
                )
            except asyncpg.CheckViolationError as exc:
                if exc.constraint_name != "parking_lot_items_workflow_customer":
                    raise
                raise InvalidArgument(
                    f"item {item_id} came from a workflow on another customer than {customer_id}; "
                    "park a new item for that customer instead"
                ) from None
        return render(await _item(conn, item_id))


# Destructive: dismissal is final. Idempotent: dismissing a dismissed item changes nothing and returns it.
@toolset.write("Dismiss parked item", destructive=True, idempotent=True)
async def dismiss_parked_item(ctx: Context, item_id: ItemId) -> CallToolResult:
    """Drop a parked item you will not act on. Final."""
    async with user_transaction(ctx) as conn:
        status = await conn.fetchval(
            "SELECT i.status FROM parking_lot_items i WHERE i.id = $1 AND i.deleted_at IS NULL FOR UPDATE", item_id
        )
        if status is None:
            raise NotFound(NO_ITEM.format(item_id))
        if status == "promoted":
            raise Conflict(f"item {item_id} was promoted, which is final; it cannot be dismissed")
        if status == "parked":
            await conn.execute(
                "UPDATE parking_lot_items SET status = 'dismissed', resolved_at = now() WHERE id = $1", item_id
            )
        return render(await _item(conn, item_id))
