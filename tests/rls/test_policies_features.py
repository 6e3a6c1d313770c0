"""Features and their change log: everyone signed in reads; PMs and admins write; the log writes itself.

pat is the PM (the writer), alice a CSM (a reader only).
"""

from __future__ import annotations

import asyncpg
import pytest

from . import world as w
from .access import DENIED, NONE, OK, RLS, TableCase, attempt, cells, check_cell, ops, rolled_back
from .world import PRINCIPALS

CASES = [
    TableCase(
        "features",
        w.FEATURE_ONE,
        "INSERT INTO public.features (id, slug, title) VALUES ($1, 'new-feature', 'New feature') RETURNING id",
        expect={
            # PMs write features but may not hard-delete one: that would erase its change log.
            "pat": ops(OK, OK, OK, NONE, soft_delete=OK),
            "alice": ops(OK, RLS, NONE, NONE, soft_delete=NONE),
            "admin": ops(OK, OK, OK, OK, soft_delete=OK),
            "anon": ops(DENIED, DENIED, DENIED, DENIED, soft_delete=DENIED),
        },
    ),
    TableCase(
        # changed_by defaults to auth.uid(): each actor writes the note as themselves.
        "feature_updates",
        w.FEATURE_NOTE,
        "INSERT INTO public.feature_updates (id, feature_id, update_type, note) VALUES ($1, $2, 'note', 'Hi')"
        " RETURNING id",
        (w.FEATURE_ONE,),
        expect={
            "pat": ops(OK, OK, NONE, NONE),  # PMs add notes; only admins correct or delete the log
            "alice": ops(OK, RLS, NONE, NONE),
            "admin": ops(OK, OK, OK, OK),
            "anon": ops(DENIED, DENIED, DENIED, DENIED),
        },
    ),
]


@pytest.mark.parametrize(("case", "actor", "op", "expect"), cells(CASES))
async def test_each_actor_gets_exactly_the_access_the_feature_policies_grant(app, case, actor, op, expect):
    await check_cell(app, case, actor, op, expect)


LOG = (
    "SELECT update_type, old_value, new_value, changed_by FROM public.feature_updates WHERE feature_id = $1"
    " ORDER BY created_at, update_type"
)


@pytest.mark.parametrize("actor", ["pat", "admin"])
async def test_a_status_phase_or_priority_change_lands_in_feature_updates(app, actor):
    who = PRINCIPALS[actor].user_id

    async def change(conn):
        await conn.execute(
            "UPDATE public.features SET status = 'active', phase = '1.2', priority = 1, title = 'Renamed'"
            " WHERE id = $1",
            w.FEATURE_ONE,
        )
        return await conn.fetch(
            "SELECT update_type, old_value, new_value, changed_by FROM public.feature_updates"
            " WHERE feature_id = $1 AND update_type LIKE '%\\_change' ORDER BY update_type",
            w.FEATURE_ONE,
        )

    logged = [tuple(r) for r in await rolled_back(app, PRINCIPALS[actor], change)]
    assert logged == [
        ("phase_change", None, "1.2", who),
        ("priority_change", "3", "1", who),
        ("status_change", "planned", "active", who),
    ]


async def test_a_new_feature_logs_its_creation(app):
    async def create(conn):
        fid = await conn.fetchval("INSERT INTO public.features (slug, title) VALUES ('logged', 'Logged') RETURNING id")
        return await conn.fetch(LOG, fid)

    assert [tuple(r) for r in await rolled_back(app, PRINCIPALS["pat"], create)] == [
        ("created", None, "backlog", w.PAT)
    ]


async def test_an_unchanged_status_logs_nothing(app):
    async def touch(conn):
        before = len(await conn.fetch(LOG, w.FEATURE_ONE))
        await conn.execute("UPDATE public.features SET description = 'More words' WHERE id = $1", w.FEATURE_ONE)
        return before, len(await conn.fetch(LOG, w.FEATURE_ONE))

    before, after = await rolled_back(app, PRINCIPALS["pat"], touch)
    assert before == after


async def test_a_pm_cannot_forge_a_status_change_entry(app):
    outcome = await attempt(
        app,
        PRINCIPALS["pat"],
        "INSERT INTO public.feature_updates (feature_id, update_type, old_value, new_value)"
        " VALUES ($1, 'status_change', 'planned', 'shipped') RETURNING id",
        w.FEATURE_ONE,
    )
    assert isinstance(outcome.error, asyncpg.InsufficientPrivilegeError), outcome.describe()
    assert "row-level security" in str(outcome.error)


async def test_a_pm_cannot_write_a_note_in_someone_elses_name(app):
    outcome = await attempt(
        app,
        PRINCIPALS["pat"],
        "INSERT INTO public.feature_updates (feature_id, update_type, note, changed_by) VALUES ($1, 'note', 'x', $2)"
        " RETURNING id",
        w.FEATURE_ONE,
        w.ALICE,
    )
    assert isinstance(outcome.error, asyncpg.InsufficientPrivilegeError), outcome.describe()
    assert "row-level security" in str(outcome.error)


async def test_a_csm_change_to_a_feature_changes_nothing_and_logs_nothing(app):
    async def try_change(conn):
        changed = await conn.fetch(
            "UPDATE public.features SET status = 'shipped' WHERE id = $1 RETURNING id", w.FEATURE_ONE
        )
        return changed, len(await conn.fetch(LOG, w.FEATURE_ONE))

    changed, entries = await rolled_back(app, PRINCIPALS["alice"], try_change)
    assert changed == []
    assert entries == 2  # the world's 'created' entry and note only
