"""The caller's own day and patterns (workflows toolset): my_day, one read of what needs them now, and
get_my_patterns, figures from their own history (migrations 20251214000200 and 20251214000300)."""

from __future__ import annotations

from mcp.server.mcpserver import Context
from mcp.types import CallToolResult

from ..context import app_state, read_as_caller, read_in, user_transaction
from ..results import render
from .common import Timezone
from .workflow_queries import wake_due_workflows
from .workflows import toolset


@toolset.read("My day")
async def my_day(ctx: Context, timezone: Timezone = None) -> CallToolResult:
    """Start here: what needs you today (tasks due, woken workflows, renewals in 30 days, parked items due,
    workflows needing a check-in). Each section's act names the tool for its items."""
    args = {"timezone": timezone}
    document = await read_as_caller(ctx, "my_day", args)
    if document.pop("_wake", None) and not app_state(ctx).settings.read_only:
        # One of the caller's snoozed workflows is due: wake it as if a timer had fired, then read again (the
        # woken_workflows section says why it woke).
        async with user_transaction(ctx) as conn:
            if await wake_due_workflows(conn):
                document = await read_in(conn, "my_day", args)
                document.pop("_wake", None)
    return render(document)


@toolset.read("My patterns")
async def get_my_patterns(ctx: Context, timezone: Timezone = None) -> CallToolResult:
    """Figures from your last 12 months (snoozes, workflow and task durations, check-in gaps, active hours), each
    with its sample size n; below min_sample, only n."""
    # Workflow types are names users chose: inside the boundary like any people-written text.
    return render(await read_as_caller(ctx, "get_my_patterns", {"timezone": timezone}))
