"""Workflow executions and what hangs off them (tasks, actions, wake conditions): the owner's alone.

alice owns EXEC_ALICE (on CUST_ALICE, assigned to her); bob owns EXEC_BOB.
"""

from __future__ import annotations

import asyncpg
import pytest

from . import world as w
from .access import DENIED, NONE, OK, RLS, TableCase, attempt, cells, check_cell, ops
from .world import PRINCIPALS

OWNER = ops(OK, OK, OK, NONE, soft_delete=OK)  # hard delete is for admins only
STRANGER = ops(NONE, RLS, NONE, NONE, soft_delete=NONE)
ADMIN = ops(OK, OK, OK, OK, soft_delete=OK)
ANON = ops(DENIED, DENIED, DENIED, DENIED, soft_delete=DENIED)
MATRIX = {"alice": OWNER, "bob": STRANGER, "admin": ADMIN, "anon": ANON}

CASES = [
    TableCase(
        "workflow_executions",
        w.EXEC_ALICE,
        "INSERT INTO public.workflow_executions (id, user_id, customer_id, workflow_type)"
        " VALUES ($1, $2, $3, 'renewal') RETURNING id",
        (w.ALICE, w.CUST_ALICE),
        expect=MATRIX,
    ),
    TableCase(
        "workflow_tasks",
        w.TASK_ALICE,
        "INSERT INTO public.workflow_tasks (id, workflow_execution_id, title) VALUES ($1, $2, 'Send deck') RETURNING id",
        (w.EXEC_ALICE,),
        expect=MATRIX,
    ),
    TableCase(
        # user_id defaults to auth.uid(): each actor records the action as themselves.
        "workflow_actions",
        w.ACTION_ALICE,
        "INSERT INTO public.workflow_actions (id, workflow_execution_id, action_type) VALUES ($1, $2, 'email_sent')"
        " RETURNING id",
        (w.EXEC_ALICE,),
        expect=MATRIX,
    ),
    TableCase(
        "workflow_conditions",
        w.COND_ALICE,
        "INSERT INTO public.workflow_conditions (id, workflow_execution_id, condition_type, condition_config)"
        " VALUES ($1, $2, 'renewal_within_days', '{\"days\": 30}') RETURNING id",
        (w.EXEC_ALICE,),
        expect=MATRIX,
    ),
]


@pytest.mark.parametrize(("case", "actor", "op", "expect"), cells(CASES))
async def test_each_actor_gets_exactly_the_access_the_workflow_policies_grant(app, case, actor, op, expect):
    await check_cell(app, case, actor, op, expect)


def assert_rls_error(outcome) -> None:
    assert isinstance(outcome.error, asyncpg.InsufficientPrivilegeError), outcome.describe()
    assert "row-level security" in str(outcome.error), outcome.describe()


async def test_a_csm_cannot_start_an_execution_on_a_customer_they_are_not_assigned(app):
    assert_rls_error(
        await attempt(
            app,
            PRINCIPALS["alice"],
            "INSERT INTO public.workflow_executions (user_id, customer_id, workflow_type) VALUES ($1, $2, 'renewal')"
            " RETURNING id",
            w.ALICE,
            w.CUST_BOB,
        )
    )


async def test_a_csm_cannot_start_an_execution_in_someone_elses_name(app):
    assert_rls_error(
        await attempt(
            app,
            PRINCIPALS["alice"],
            "INSERT INTO public.workflow_executions (user_id, workflow_type) VALUES ($1, 'renewal') RETURNING id",
            w.BOB,
        )
    )


async def test_an_owner_cannot_hand_their_execution_to_another_user(app):
    assert_rls_error(
        await attempt(
            app,
            PRINCIPALS["alice"],
            "UPDATE public.workflow_executions SET user_id = $2 WHERE id = $1 RETURNING id",
            w.EXEC_ALICE,
            w.BOB,
        )
    )


async def test_a_user_cannot_record_an_action_in_someone_elses_name(app):
    assert_rls_error(
        await attempt(
            app,
            PRINCIPALS["alice"],
            "INSERT INTO public.workflow_actions (workflow_execution_id, user_id, action_type) VALUES ($1, $2, 'x')"
            " RETURNING id",
            w.EXEC_ALICE,
            w.BOB,
        )
    )


async def test_a_user_cannot_move_a_task_onto_someone_elses_execution(app):
    assert_rls_error(
        await attempt(
            app,
            PRINCIPALS["alice"],
            "UPDATE public.workflow_tasks SET workflow_execution_id = $2 WHERE id = $1 RETURNING id",
            w.TASK_ALICE,
            w.EXEC_BOB,
        )
    )


async def test_each_user_lists_only_their_own_executions_and_their_children(app):
    sql = """
        SELECT (SELECT array_agg(id ORDER BY id) FROM public.workflow_executions WHERE id = ANY($1::uuid[])) AS e,
               (SELECT array_agg(id ORDER BY id) FROM public.workflow_tasks WHERE id = ANY($2::uuid[])) AS t,
               (SELECT array_agg(id ORDER BY id) FROM public.workflow_actions WHERE id = ANY($3::uuid[])) AS a,
               (SELECT array_agg(id ORDER BY id) FROM public.workflow_conditions WHERE id = ANY($4::uuid[])) AS c
    """
    args = (
        [w.EXEC_ALICE, w.EXEC_BOB],
        [w.TASK_ALICE, w.TASK_BOB],
        [w.ACTION_ALICE, w.ACTION_BOB],
        [w.COND_ALICE, w.COND_BOB],
    )
    bob = (await attempt(app, PRINCIPALS["bob"], sql, *args)).rows[0]
    assert tuple(bob) == ([w.EXEC_BOB], [w.TASK_BOB], [w.ACTION_BOB], [w.COND_BOB])
    admin = (await attempt(app, PRINCIPALS["admin"], sql, *args)).rows[0]
    assert [len(v) for v in admin] == [2, 2, 2, 2]


async def test_waking_due_workflows_touches_only_the_callers_own_executions(app, owner):
    await owner.execute(
        "UPDATE public.workflow_executions SET status = 'snoozed', snoozed_until = now() - interval '1 hour'"
        " WHERE id = $1",
        w.EXEC_ALICE,
    )
    try:
        sql = "SELECT execution_id FROM public.wake_due_workflows(NULL, $1)"
        assert (await attempt(app, PRINCIPALS["bob"], sql, w.EXEC_ALICE)).rows == []
        woken = await attempt(app, PRINCIPALS["alice"], sql, w.EXEC_ALICE)
        assert [r[0] for r in woken.rows] == [w.EXEC_ALICE], woken.describe()
    finally:
        await owner.execute(
            "UPDATE public.workflow_executions SET status = 'not_started', snoozed_until = NULL WHERE id = $1",
            w.EXEC_ALICE,
        )
