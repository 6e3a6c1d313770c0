"""The parking lot, check-ins and user patterns (issue 14): each user's own, admins all.

alice owns PARKED_ALICE (on CUST_ALICE and EXEC_ALICE) and CHECK_IN_ALICE (on EXEC_ALICE); bob the same on his.
"""

from __future__ import annotations

import json

import asyncpg
import pytest

from . import world as w
from .access import DENIED, NONE, OK, RLS, TableCase, assert_outcome, attempt, cells, check_cell, ops
from .world import PRINCIPALS

OWNER = ops(OK, OK, OK, NONE, soft_delete=OK)  # hard delete is for admins only
STRANGER = ops(NONE, RLS, NONE, NONE, soft_delete=NONE)
ADMIN = ops(OK, OK, OK, OK, soft_delete=OK)
ANON = ops(DENIED, DENIED, DENIED, DENIED, soft_delete=DENIED)
MATRIX = {"alice": OWNER, "bob": STRANGER, "admin": ADMIN, "anon": ANON}

CASES = [
    TableCase(
        # An item for alice: bob may not park one in her name; an admin may. (What it may name: below.)
        "parking_lot_items",
        w.PARKED_ALICE,
        "INSERT INTO public.parking_lot_items (id, user_id, title) VALUES ($1, $2, 'New') RETURNING id",
        (w.ALICE,),
        expect=MATRIX,
    ),
    TableCase(
        "workflow_check_ins",
        w.CHECK_IN_ALICE,
        "INSERT INTO public.workflow_check_ins (id, workflow_execution_id, status, confidence)"
        " VALUES ($1, $2, 'at_risk', 3) RETURNING id",
        (w.EXEC_ALICE,),
        expect=MATRIX,
    ),
]


@pytest.mark.parametrize(("case", "actor", "op", "expect"), cells(CASES))
async def test_each_actor_gets_exactly_the_access_the_planning_policies_grant(app, case, actor, op, expect):
    await check_cell(app, case, actor, op, expect)


def assert_refused(outcome, error: type[asyncpg.PostgresError], column: str | None = None) -> None:
    assert isinstance(outcome.error, error), outcome.describe()
    if column is not None:
        assert outcome.error.column_name == column, outcome.describe()


# --- what an item may name ---------------------------------------------------------------------------------------

PARK = (
    "INSERT INTO public.parking_lot_items (title, customer_id, workflow_execution_id) VALUES ('x', $1, $2) RETURNING id"
)


@pytest.mark.parametrize(
    ("customer", "workflow", "column"),
    [
        (w.CUST_BOB, None, "customer_id"),  # a customer she is not assigned
        (w.CUST_SPARE, None, "customer_id"),  # an unassigned one
        (None, w.EXEC_BOB, "workflow_execution_id"),  # someone else's workflow
        (w.rid("customer:none"), None, "customer_id"),  # no such customer: the same answer
    ],
)
async def test_an_item_names_only_a_customer_and_workflow_the_user_can_see(app, customer, workflow, column):
    assert_refused(
        await attempt(app, PRINCIPALS["alice"], PARK, customer, workflow), asyncpg.ForeignKeyViolationError, column
    )


async def test_an_admin_may_name_any_customer_and_workflow(app):
    outcome = await attempt(app, PRINCIPALS["admin"], PARK, w.CUST_BOB, w.EXEC_BOB)
    assert outcome.error is None and len(outcome.rows) == 1, outcome.describe()


async def test_an_items_workflow_is_on_its_customer(app):
    outcome = await attempt(app, PRINCIPALS["admin"], PARK, w.CUST_ALICE, w.EXEC_BOB)
    assert_refused(outcome, asyncpg.CheckViolationError)
    assert outcome.error.constraint_name == "parking_lot_items_workflow_customer"


@pytest.mark.parametrize(
    ("sql", "value", "column"),
    [
        ("UPDATE public.parking_lot_items SET customer_id = $2 WHERE id = $1 RETURNING id", w.CUST_BOB, "customer_id"),
        (
            "UPDATE public.parking_lot_items SET workflow_execution_id = $2 WHERE id = $1 RETURNING id",
            w.EXEC_BOB,
            "workflow_execution_id",
        ),
        (
            "UPDATE public.parking_lot_items SET status = 'promoted', resolved_at = now(), promoted_workflow_id = $2"
            " WHERE id = $1 RETURNING id",
            w.EXEC_BOB,
            "promoted_workflow_id",
        ),
        (
            "UPDATE public.parking_lot_items SET status = 'promoted', resolved_at = now(), promoted_task_id = $2"
            " WHERE id = $1 RETURNING id",
            w.TASK_BOB,
            "promoted_task_id",
        ),
    ],
)
async def test_an_item_cannot_be_pointed_at_someone_elses_records_later(app, sql, value, column):
    assert_refused(
        await attempt(app, PRINCIPALS["alice"], sql, w.PARKED_ALICE, value), asyncpg.ForeignKeyViolationError, column
    )


async def test_an_owner_cannot_hand_an_item_to_another_user(app):
    outcome = await attempt(
        app,
        PRINCIPALS["alice"],
        "UPDATE public.parking_lot_items SET user_id = $2 WHERE id = $1 RETURNING id",
        w.PARKED_ALICE,
        w.BOB,
    )
    assert_outcome(outcome, RLS, w.PARKED_ALICE, "alice hands her item to bob")


async def test_an_item_stays_its_owners_to_dismiss_after_the_account_moves_on(app, owner):
    """The reference is checked when it is named, not on every later change."""
    await owner.execute("DELETE FROM public.customer_assignments WHERE id = $1", w.ASSIGN_ALICE)
    try:
        outcome = await attempt(
            app,
            PRINCIPALS["alice"],
            "UPDATE public.parking_lot_items SET status = 'dismissed', resolved_at = now() WHERE id = $1 RETURNING id",
            w.PARKED_ALICE,
        )
        assert_outcome(outcome, OK, w.PARKED_ALICE, "alice dismisses her item about a customer she lost")
    finally:
        await owner.execute(
            "INSERT INTO public.customer_assignments (id, customer_id, user_id) VALUES ($1, $2, $3)",
            w.ASSIGN_ALICE,
            w.CUST_ALICE,
            w.ALICE,
        )


@pytest.mark.parametrize(
    "sql",
    [
        "UPDATE public.parking_lot_items SET status = 'promoted' WHERE id = $1 RETURNING id",  # no time, no target
        "UPDATE public.parking_lot_items SET resolved_at = now() WHERE id = $1 RETURNING id",  # parked yet resolved
        "UPDATE public.parking_lot_items SET status = 'dismissed', resolved_at = now(), promoted_task_id = $2"
        " WHERE id = $1 RETURNING id",
    ],
)
async def test_an_items_outcome_is_consistent(app, sql):
    args = (w.PARKED_ALICE, w.TASK_ALICE) if "$2" in sql else (w.PARKED_ALICE,)
    outcome = await attempt(app, PRINCIPALS["alice"], sql, *args)
    assert_refused(outcome, asyncpg.CheckViolationError)
    assert outcome.error.constraint_name == "parking_lot_items_outcome"


# --- check-ins ---------------------------------------------------------------------------------------------------


async def test_only_the_author_edits_a_check_in_even_on_their_own_workflow(app, owner):
    admins = await owner.fetchval(
        "INSERT INTO public.workflow_check_ins (workflow_execution_id, status, confidence, created_by)"
        " VALUES ($1, 'blocked', 1, $2) RETURNING id",
        w.EXEC_ALICE,
        w.ADMIN,
    )
    try:
        sql = "UPDATE public.workflow_check_ins SET confidence = 5 WHERE id = $1 RETURNING id"
        assert_outcome(await attempt(app, PRINCIPALS["alice"], sql, admins), NONE, admins, "alice edits admin's")
        seen = await attempt(app, PRINCIPALS["alice"], "SELECT id FROM public.workflow_check_ins WHERE id = $1", admins)
        assert_outcome(seen, OK, admins, "alice reads the admin's check-in on her workflow")
    finally:
        await owner.execute("DELETE FROM public.workflow_check_ins WHERE id = $1", admins)


async def test_a_check_in_cannot_move_to_someone_elses_workflow(app):
    outcome = await attempt(
        app,
        PRINCIPALS["alice"],
        "UPDATE public.workflow_check_ins SET workflow_execution_id = $2 WHERE id = $1 RETURNING id",
        w.CHECK_IN_ALICE,
        w.EXEC_BOB,
    )
    assert_outcome(outcome, RLS, w.CHECK_IN_ALICE, "alice moves her check-in onto bob's workflow")


@pytest.mark.parametrize(("column", "value"), [("status", "'fine'"), ("confidence", "0"), ("confidence", "6")])
async def test_a_check_in_says_one_of_three_states_and_a_confidence_of_1_to_5(app, column, value):
    outcome = await attempt(
        app,
        PRINCIPALS["alice"],
        f"UPDATE public.workflow_check_ins SET {column} = {value} WHERE id = $1 RETURNING id",
        w.CHECK_IN_ALICE,
    )
    assert_refused(outcome, asyncpg.CheckViolationError)


# --- user patterns: a view, each user's own row, admins all, nobody writes -----------------------------------------

PATTERN_STATEMENTS = {
    "select": "SELECT user_id FROM public.user_patterns WHERE user_id = $1",
    "insert": "INSERT INTO public.user_patterns (user_id) VALUES ($1) RETURNING user_id",
    "update": "UPDATE public.user_patterns SET user_id = user_id WHERE user_id = $1 RETURNING user_id",
    "delete": "DELETE FROM public.user_patterns WHERE user_id = $1 RETURNING user_id",
}
PATTERN_MATRIX = {
    "alice": {"select": OK, "insert": DENIED, "update": DENIED, "delete": DENIED},
    "bob": {"select": NONE, "insert": DENIED, "update": DENIED, "delete": DENIED},
    "admin": {"select": OK, "insert": DENIED, "update": DENIED, "delete": DENIED},
    "anon": {"select": DENIED, "insert": DENIED, "update": DENIED, "delete": DENIED},
}


@pytest.mark.parametrize(
    ("actor", "op", "expect"),
    [
        pytest.param(actor, op, expect, id=f"user_patterns: {actor} {op} -> {expect.value}")
        for actor, row in PATTERN_MATRIX.items()
        for op, expect in row.items()
    ],
)
async def test_each_actor_gets_exactly_the_access_to_alices_patterns_the_view_grants(app, actor, op, expect):
    outcome = await attempt(app, PRINCIPALS[actor], PATTERN_STATEMENTS[op], w.ALICE)
    assert_outcome(outcome, expect, w.ALICE, f"{actor} {op} on user_patterns")


async def test_patterns_are_the_same_for_their_owner_and_an_admin_and_empty_for_anyone_else(app):
    sql = "SELECT public.user_patterns_of($1)"
    mine = (await attempt(app, PRINCIPALS["alice"], sql, w.ALICE)).rows[0][0]
    admins = (await attempt(app, PRINCIPALS["admin"], sql, w.ALICE)).rows[0][0]
    bobs = (await attempt(app, PRINCIPALS["bob"], sql, w.ALICE)).rows[0][0]
    assert mine == admins and mine["active_hours"]["n"] == 2  # her action and her check-in
    assert json.dumps(bobs).count('"n": 0') == 5 and bobs["workflow_days"] == {}
