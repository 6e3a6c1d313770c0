"""Workflows toolset guards: other users' workflows, forbidden transitions, bad input, paging and races."""

from __future__ import annotations

import asyncio
import base64
import json
from datetime import datetime, timedelta, timezone
from uuid import uuid4

from renubu_mcp.db import Database, Principal
from renubu_mcp.demo import ALICE, BOB

from .test_workflows import (
    ACME,
    ACME_RENEWAL,
    CONTOSO_COMPLETED,
    CUSTOMER,
    PINECREST_SNOOZED,
    TASK,
    in_an_hour,
    list_all,
    owner,
    row,
    snapshot,
)

DROP = "'; DROP TABLE workflow_executions; --"
NOBODY = str(uuid4())


async def test_bob_cannot_read_or_change_alices_workflows_and_is_told_they_are_not_found(connect):
    before = await snapshot(connect.database)
    attempts = [
        ("get_workflow", {"workflow_id": ACME_RENEWAL}),
        ("get_workflow", {"workflow_id": PINECREST_SNOOZED}),  # due: bob's read must not wake it
        ("advance_workflow", {"workflow_id": ACME_RENEWAL, "slide_index": 3}),
        ("snooze_workflow", {"workflow_id": ACME_RENEWAL, "until": in_an_hour()}),
        ("complete_workflow", {"workflow_id": ACME_RENEWAL}),
        ("create_task", {"workflow_id": ACME_RENEWAL, "title": "Bob was here"}),
        ("record_action", {"workflow_id": ACME_RENEWAL, "action_type": "note", "action_data": {"by": "bob"}}),
        ("update_task", {"task_id": TASK(102), "status": "completed"}),
        ("start_workflow", {"workflow_type": "renewal", "customer_id": ACME}),
    ]
    async with connect("bob@example.com") as bob:
        for tool, args in attempts:
            message = await bob.error(tool, args)
            assert "no workflow" in message or "no task" in message or "no customer" in message, (tool, message)
            assert "does not exist or is not" in message, (tool, message)
        listed, woken = await list_all(bob)
        assert ACME_RENEWAL not in {w["id"] for w in listed} and woken == []
    assert await snapshot(connect.database) == before


async def test_forbidden_transitions_name_the_valid_options_and_change_nothing(connect):
    async with connect("alice@example.com") as alice:
        await alice.ok("complete_workflow", {"workflow_id": ACME_RENEWAL})
        before = await snapshot(connect.database)

        message = await alice.error("complete_workflow", {"workflow_id": ACME_RENEWAL})
        assert "already completed" in message and "not_started, in_progress or snoozed" in message
        for tool, args in [
            ("advance_workflow", {"workflow_id": CONTOSO_COMPLETED, "slide_index": 1}),
            ("snooze_workflow", {"workflow_id": CONTOSO_COMPLETED, "until": in_an_hour()}),
        ]:
            message = await alice.error(tool, args)
            assert "is completed" in message and "not_started, in_progress or snoozed" in message, message
            assert "start_workflow" in message
        message = await alice.error("create_task", {"workflow_id": CONTOSO_COMPLETED, "title": "Late idea"})
        assert "is completed" in message and "not_started, in_progress or snoozed" in message
        for task, status in [(TASK(101), "completed"), (TASK(403), "skipped")]:
            message = await alice.error("update_task", {"task_id": task, "status": "in_progress"})
            assert f"is {status}, which is final" in message and "pending, in_progress or snoozed" in message
        assert await snapshot(connect.database) == before


async def test_concurrent_completions_let_exactly_one_through(connect):
    async with connect("alice@example.com") as first, connect("alice@example.com") as second:
        results = await asyncio.gather(
            *(s.call("complete_workflow", {"workflow_id": ACME_RENEWAL}) for s in (first, second, first, second))
        )
    assert sorted(r.is_error for r in results) == [False, True, True, True]
    assert all("already completed" in r.content[0].text for r in results if r.is_error)
    async with owner(connect.database) as conn:
        assert (
            await conn.fetchval(
                "SELECT count(*) FROM workflow_actions WHERE workflow_execution_id = $1 AND action_type = 'workflow_completed'",
                ACME_RENEWAL,
            )
            == 1
        )


async def test_a_listing_that_races_a_completion_does_not_wake_the_completed_workflow(connect):
    # The SQL function alone would: its final UPDATE does not re-check the status it read.
    db = await Database.connect(connect.database.app_dsn, min_size=1, max_size=1)
    committed = asyncio.Event()

    async def complete_slowly() -> None:
        async with db.as_user(Principal(ALICE.id, ALICE.email)) as conn:
            await conn.execute(
                "UPDATE workflow_executions SET status = 'completed', completed_at = now() WHERE id = $1",
                PINECREST_SNOOZED,
            )
            await asyncio.sleep(0.5)  # the listing below starts and waits on this row meanwhile
        committed.set()

    try:
        completing = asyncio.create_task(complete_slowly())
        await asyncio.sleep(0.1)
        async with connect("alice@example.com") as alice:
            page = await alice.ok("list_workflows", {"limit": 100})
        await completing
    finally:
        await db.close()
    assert committed.is_set()
    assert PINECREST_SNOOZED not in {w["id"] for w in page.get("woken", [])}
    assert next(w for w in page["workflows"] if w["id"] == PINECREST_SNOOZED)["status"] == "completed"
    assert (await row(connect.database, "workflow_executions", PINECREST_SNOOZED))["status"] == "completed"


async def test_bad_inputs_are_tool_errors_that_change_nothing(connect):
    past = (datetime.now(timezone.utc) - timedelta(minutes=5)).isoformat()
    naive = (datetime.now() + timedelta(days=2)).replace(tzinfo=None).isoformat()
    wf = {"workflow_id": ACME_RENEWAL}
    cases = [
        # wrong types and shapes
        ("advance_workflow", {**wf, "slide_index": "two"}, "slide_index"),
        ("advance_workflow", {**wf, "slide_index": -1}, "slide_index must be 0-999"),
        ("advance_workflow", {**wf, "slide_index": 6}, "slide_index must be 0-5"),
        ("get_workflow", {"workflow_id": 42}, "workflow_id"),
        (
            "record_action",
            {**wf, "action_type": "note", "action_data": ["not", "an", "object"]},
            "action_data must be an object",
        ),
        ("create_task", {**wf, "title": "x", "priority": "critical"}, "priority"),
        # unknown ids
        ("get_workflow", {"workflow_id": NOBODY}, "no workflow"),
        ("complete_workflow", {"workflow_id": NOBODY}, "no workflow"),
        ("update_task", {"task_id": NOBODY, "status": "completed"}, "no task"),
        ("start_workflow", {"workflow_type": "renewal", "customer_id": NOBODY}, "no customer"),
        ("start_workflow", {"workflow_type": "renewal", "customer_id": CUSTOMER(21)}, "no customer"),  # bob's
        ("record_action", {**wf, "action_type": "note", "task_id": TASK(1101)}, "no task"),  # bob's task
        ("record_action", {**wf, "action_type": "note", "task_id": TASK(301)}, "no task"),  # another workflow's
        ("create_task", {**wf, "title": "x", "assignee_id": NOBODY}, "does not exist"),
        # huge strings
        ("create_task", {**wf, "title": "x" * 301}, "at most 300"),
        ("create_task", {**wf, "title": "ok", "description": "y" * 20_001}, "at most 20000"),
        ("create_task", {**wf, "title": "   "}, "must not be blank"),
        (
            "start_workflow",
            {"workflow_type": "renewal", "customer_id": ACME, "workflow_name": "n" * 201},
            "at most 200",
        ),
        ("record_action", {**wf, "action_type": "note", "action_data": {"blob": "z" * 70_000}}, "the limit is 65536"),
        ("create_task", {**wf, "title": "nul\x00byte"}, "wrong format"),
        ("record_action", {**wf, "action_type": "note", "action_data": {"nul": "\x00"}}, "wrong format"),
        # SQL-looking text where an id, identifier or choice belongs
        ("get_workflow", {"workflow_id": DROP}, "workflow_id"),
        ("start_workflow", {"workflow_type": DROP, "customer_id": ACME}, "workflow_type has the wrong format"),
        ("record_action", {**wf, "action_type": DROP}, "action_type has the wrong format"),
        ("update_task", {"task_id": TASK(102), "status": DROP}, "status"),
        ("list_workflows", {"status": DROP}, "status"),
        # identifiers
        ("start_workflow", {"workflow_type": "Renewal", "customer_id": ACME}, "wrong format"),
        ("start_workflow", {"workflow_type": "renewal\n", "customer_id": ACME}, "wrong format"),
        ("record_action", {**wf, "action_type": "email-sent"}, "wrong format"),
        ("record_action", {**wf, "action_type": "workflow_completed"}, "recorded by the server itself"),
        # times
        ("snooze_workflow", {**wf, "until": past}, "must be in the future"),
        ("snooze_workflow", {**wf, "until": naive}, "needs a timezone"),
        ("snooze_workflow", {**wf, "until": "next tuesday"}, "until"),
        ("create_task", {**wf, "title": "x", "due_date": naive}, "needs a timezone"),
        ("update_task", {"task_id": TASK(102), "status": "snoozed", "snoozed_until": past}, "must be in the future"),
        ("update_task", {"task_id": TASK(102), "status": "snoozed"}, "needs snoozed_until"),
        (
            "update_task",
            {"task_id": TASK(102), "status": "pending", "snoozed_until": in_an_hour()},
            "only with status snoozed",
        ),
        ("update_task", {"task_id": TASK(102)}, "at least one of"),
        # wake conditions
        ("snooze_workflow", wf, "pass until"),
        ("snooze_workflow", {**wf, "wake_conditions": []}, "pass until"),
        ("snooze_workflow", {**wf, "wake_conditions": [{"type": "all_tasks_completed"}] * 11}, "at most 10"),
        (
            "snooze_workflow",
            {**wf, "wake_conditions": [{"type": "customer_replied"}]},
            "wake_conditions[0] has an unknown type; valid types:",
        ),
        (
            "snooze_workflow",
            {**wf, "wake_conditions": [{"type": "risk_score_at_least", "threshold": 101}]},
            "wake_conditions[0].threshold must be at most 100",
        ),
        (
            "snooze_workflow",
            {**wf, "wake_conditions": [{"type": "renewal_within_days", "days": 0}]},
            "wake_conditions[0].days must be at least 1",
        ),
        (
            "snooze_workflow",
            {**wf, "wake_conditions": [{"type": "all_tasks_completed", "sql": DROP}]},
            "wake_conditions[0].sql is not allowed",
        ),
        ("snooze_workflow", {**wf, "wake_conditions": [{"type": "task_completed", "task_id": TASK(301)}]}, "no task"),
        (
            "snooze_workflow",
            {**wf, "wake_conditions": [{"type": "risk_score_at_least", "threshold": 42}]},
            "would wake at once",
        ),
        (
            "snooze_workflow",
            {**wf, "wake_conditions": [{"type": "task_completed", "task_id": TASK(101)}]},
            "would wake at once",
        ),
        # paging
        ("list_workflows", {"limit": 0}, "limit must be at least 1"),
        ("list_workflows", {"limit": 101}, "limit must be at most 100"),
        ("list_workflows", {"cursor": "x" * 501}, "cursor must be at most 500 characters"),
    ]
    before = await snapshot(connect.database)
    async with connect("alice@example.com") as alice:
        for tool, args, expected in cases:
            message = await alice.error(tool, args)
            assert expected in message, (tool, args, message)
            assert "Traceback" not in message and "asyncpg" not in message and "\n" not in message
    assert await snapshot(connect.database) == before


async def test_sql_looking_text_in_free_text_fields_is_stored_verbatim(connect):
    async with connect("alice@example.com") as alice:
        task = await alice.ok("create_task", {"workflow_id": ACME_RENEWAL, "title": DROP, "description": DROP})
        action = await alice.ok(
            "record_action", {"workflow_id": ACME_RENEWAL, "action_type": "note", "action_data": {DROP: DROP}}
        )
        assert (task["title"], task.get("description"), action["action_data"]) == (DROP, DROP, {DROP: DROP})
        assert len((await alice.ok("list_workflows", {"limit": 100}))["workflows"]) == 16  # 9 open or recent, 7 history
    assert (await row(connect.database, "workflow_tasks", task["id"]))["title"] == DROP


async def test_paging_returns_every_visible_workflow_exactly_once_and_rejects_tampered_cursors(connect):
    async with connect("admin@example.com") as admin:
        await admin.ok("list_workflows")  # wake what is due, so paging below runs over a still list
        ids = []
        cursor = None
        while True:
            page = await admin.ok("list_workflows", {"limit": 4, **({"cursor": cursor} if cursor else {})})
            assert len(page["workflows"]) <= 4
            ids += [w["id"] for w in page["workflows"]]
            cursor = page.get("next_cursor")
            if cursor is None:
                break
        async with owner(connect.database) as conn:
            everyone = [
                str(r["id"])
                for r in await conn.fetch(
                    "SELECT id FROM workflow_executions WHERE deleted_at IS NULL ORDER BY updated_at DESC, id DESC"
                )
            ]
        assert ids == everyone and len(ids) == 30

        first = await admin.ok("list_workflows", {"limit": 4})
        cursor = first.get("next_cursor")
        data = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        forged = base64.urlsafe_b64encode(json.dumps({**data, "q": "0" * 16}).encode()).decode()
        assert "different query" in await admin.error("list_workflows", {"limit": 4, "cursor": forged})
        assert "different query" in await admin.error("list_workflows", {"status": "in_progress", "cursor": cursor})
        for bad in (cursor[:-3] + "!!!", "bm90LWpzb24", DROP):
            assert "cursor is not valid" in await admin.error("list_workflows", {"limit": 4, "cursor": bad})


async def test_a_workflow_started_by_bob_is_his_and_invisible_to_alice(connect):
    async with connect("bob@example.com") as bob:
        started = await bob.ok("start_workflow", {"workflow_type": "risk_mitigation", "customer_id": CUSTOMER(23)})
        await bob.ok("create_task", {"workflow_id": started["id"], "title": "Call the champion"})
    async with connect("alice@example.com") as alice:
        assert "no workflow" in await alice.error("get_workflow", {"workflow_id": started["id"]})
    async with connect("admin@example.com") as admin:
        assert (await admin.ok("get_workflow", {"workflow_id": started["id"]}))["tasks"][0][
            "title"
        ] == "Call the champion"
    stored = await row(connect.database, "workflow_executions", started["id"])
    assert (str(stored["customer_id"]), stored["user_id"]) == (CUSTOMER(23), BOB.id)


async def test_a_snoozed_workflow_on_a_customer_no_longer_assigned_stays_asleep_without_breaking_the_list(connect):
    async with owner(connect.database) as conn:
        await conn.execute(
            "DELETE FROM customer_assignments WHERE customer_id = $1",
            (await row(connect.database, "workflow_executions", PINECREST_SNOOZED))["customer_id"],
        )
    async with connect("alice@example.com") as alice:
        page = await alice.ok("list_workflows", {"limit": 100})
        assert PINECREST_SNOOZED not in {w["id"] for w in page.get("woken", [])}
        assert "customer_name" not in next(w for w in page["workflows"] if w["id"] == PINECREST_SNOOZED)
    assert (await row(connect.database, "workflow_executions", PINECREST_SNOOZED))["status"] == "snoozed"
