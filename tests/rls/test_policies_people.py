"""Profiles, customers, their assignments and contacts: who may read and write what.

alice is the owner (her profile; the CSM assigned to CUST_ALICE), bob a CSM assigned elsewhere.
"""

from __future__ import annotations

import asyncpg
import pytest

from . import world as w
from .access import DENIED, NONE, OK, RLS, TableCase, attempt, cells, check_cell, ops, rolled_back
from .world import PRINCIPALS

ANON_DENIED = ops(DENIED, DENIED, DENIED, DENIED, soft_delete=DENIED)

CASES = [
    TableCase(
        "profiles",
        w.ALICE,
        "INSERT INTO public.profiles (id, email) VALUES ($1, 'newcomer@example.com') RETURNING id",
        expect={
            #               select insert update delete  soft delete
            "alice": ops(OK, RLS, OK, NONE, soft_delete=OK),
            "bob": ops(NONE, RLS, NONE, NONE, soft_delete=NONE),
            "admin": ops(OK, OK, OK, OK, soft_delete=OK),
            "anon": ANON_DENIED,
        },
        insert_id=w.NEWCOMER,
    ),
    TableCase(
        "customers",
        w.CUST_ALICE,
        "INSERT INTO public.customers (id, name) VALUES ($1, 'New Account') RETURNING id",
        expect={
            "alice": ops(OK, RLS, OK, NONE, soft_delete=OK),
            "bob": ops(NONE, RLS, NONE, NONE, soft_delete=NONE),
            "admin": ops(OK, OK, OK, OK, soft_delete=OK),
            "anon": ANON_DENIED,
        },
    ),
    TableCase(
        "customer_assignments",
        w.ASSIGN_ALICE,
        "INSERT INTO public.customer_assignments (id, customer_id, user_id) VALUES ($1, $2, $3) RETURNING id",
        (w.CUST_SPARE, w.ALICE),
        expect={
            "alice": ops(OK, RLS, NONE, NONE),
            "bob": ops(NONE, RLS, NONE, NONE),
            "admin": ops(OK, OK, OK, OK),
            "anon": ops(DENIED, DENIED, DENIED, DENIED),
        },
    ),
    TableCase(
        "contacts",
        w.CONTACT_ALICE,
        "INSERT INTO public.contacts (id, customer_id, name) VALUES ($1, $2, 'New Contact') RETURNING id",
        (w.CUST_ALICE,),
        expect={
            "alice": ops(OK, OK, OK, NONE, soft_delete=OK),
            "bob": ops(NONE, RLS, NONE, NONE, soft_delete=NONE),
            "admin": ops(OK, OK, OK, OK, soft_delete=OK),
            "anon": ANON_DENIED,
        },
    ),
]


@pytest.mark.parametrize(("case", "actor", "op", "expect"), cells(CASES))
async def test_each_actor_gets_exactly_the_access_the_people_policies_grant(app, case, actor, op, expect):
    await check_cell(app, case, actor, op, expect)


async def test_a_user_cannot_raise_their_own_role(app):
    outcome = await attempt(
        app, PRINCIPALS["alice"], "UPDATE public.profiles SET role = 'admin' WHERE id = $1 RETURNING id", w.ALICE
    )
    assert isinstance(outcome.error, asyncpg.InsufficientPrivilegeError), outcome.describe()
    assert "only an admin can change a role" in str(outcome.error)


async def test_a_user_can_still_edit_the_rest_of_their_own_profile(app):
    outcome = await attempt(
        app,
        PRINCIPALS["alice"],
        "UPDATE public.profiles SET full_name = 'Alice C.' WHERE id = $1 RETURNING full_name, role",
        w.ALICE,
    )
    assert [tuple(r) for r in outcome.rows] == [("Alice C.", "csm")], outcome.describe()


async def test_an_admin_can_change_a_users_role(app):
    outcome = await attempt(
        app, PRINCIPALS["admin"], "UPDATE public.profiles SET role = 'pm' WHERE id = $1 RETURNING role", w.ALICE
    )
    assert [r["role"] for r in outcome.rows] == ["pm"], outcome.describe()


async def test_a_deactivated_admin_cannot_reactivate_themselves(app, owner):
    """Soft-deleting an admin's profile removes their admin rights (current_user_role() skips deleted
    profiles); the profile UPDATE policy must not let them undo that themselves."""
    await owner.execute("UPDATE public.profiles SET deleted_at = now() WHERE id = $1", w.ADMIN2)
    try:

        async def restore_and_check(conn):
            try:
                async with conn.transaction():  # a savepoint: a refusal must not abort the check below
                    restored = await conn.fetch(
                        "UPDATE public.profiles SET deleted_at = NULL WHERE id = $1 RETURNING id", w.ADMIN2
                    )
            except asyncpg.InsufficientPrivilegeError:
                restored = []
            return restored, await conn.fetchval("SELECT public.is_admin()")

        restored, admin_again = await rolled_back(app, PRINCIPALS["admin2"], restore_and_check)
        assert restored == [] and admin_again is False, (
            "a soft-deleted admin restored their own profile and is admin again "
            "(core_schema: policy 'Users update own profile, admins update all' lets deleted users undelete)"
        )
    finally:
        await owner.execute("UPDATE public.profiles SET deleted_at = NULL WHERE id = $1", w.ADMIN2)


async def test_a_csm_cannot_move_a_contact_to_a_customer_they_are_not_assigned(app):
    outcome = await attempt(
        app,
        PRINCIPALS["alice"],
        "UPDATE public.contacts SET customer_id = $2 WHERE id = $1 RETURNING id",
        w.CONTACT_ALICE,
        w.CUST_BOB,
    )
    assert isinstance(outcome.error, asyncpg.InsufficientPrivilegeError), outcome.describe()
    assert "row-level security" in str(outcome.error)


async def test_a_csm_sees_only_the_customers_assigned_to_them(app):
    ids = {w.CUST_ALICE, w.CUST_BOB, w.CUST_SPARE}
    sql = "SELECT id FROM public.customers WHERE id = ANY($1::uuid[])"
    seen = {
        name: {r["id"] for r in (await attempt(app, PRINCIPALS[name], sql, list(ids))).rows}
        for name in ("alice", "bob", "admin")
    }
    assert seen == {"alice": {w.CUST_ALICE}, "bob": {w.CUST_BOB}, "admin": ids}


# --- colleagues' names (renubu_read.people, migration 20251204) -------------------------------------------------


async def test_a_signed_in_user_reads_colleagues_display_names_and_nothing_else(app):
    async with app.as_user(PRINCIPALS["alice"]) as conn:
        names = {r["id"]: r["full_name"] for r in await conn.fetch("SELECT * FROM renubu_read.people")}
        columns = [a.name for a in (await conn.prepare("SELECT * FROM renubu_read.people")).get_attributes()]
        # Her own profile row is still the only one she reads directly: the view is the door, and only to names.
        assert [r["id"] for r in await conn.fetch("SELECT id FROM public.profiles")] == [w.ALICE]
    assert columns == ["id", "full_name"] and w.BOB in names and w.ADMIN in names


async def test_nobody_signed_in_reads_no_names_and_the_view_cannot_be_written(app):
    async with app.as_user(w.Principal.anonymous()) as conn:
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await conn.fetch("SELECT * FROM renubu_read.people")
    for who in ("alice", "admin"):
        async with app.as_user(PRINCIPALS[who]) as conn:
            with pytest.raises(asyncpg.PostgresError):
                await conn.execute("UPDATE renubu_read.people SET full_name = 'Mallory' WHERE id = $1", w.BOB)
    # An authenticated role without a user (no sub claim) is not signed in either.
    async with app.pool.acquire() as conn, conn.transaction():
        await conn.execute(
            "SELECT set_config('role', 'authenticated', true), set_config('request.jwt.claims', "
            '\'{"role": "authenticated"}\', true)'
        )
        assert await conn.fetch("SELECT * FROM renubu_read.people") == []
