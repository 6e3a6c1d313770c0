"""Connect links, webhook signing secrets and delivered events: their user's, with admins reading events only.

alice owns LINK_ALICE (unspent), LINK_ALICE_SPENT, ENDPOINT_ALICE and EVENT_ALICE, all on her install UI_ALICE;
her install UI_ALICE_DEPRECATED has none of them yet.
"""

from __future__ import annotations

import asyncpg
import pytest

from . import world as w
from .access import DENIED, NONE, OK, RLS, TableCase, attempt, cells, check_cell, ops, rolled_back
from .world import PRINCIPALS

CASES = [
    TableCase(
        "connect_links",
        w.LINK_ALICE,
        "INSERT INTO public.connect_links (id, token_hash, user_id, user_integration_id, purpose)"
        " VALUES ($1, repeat('f', 64), $2, $3, 'webhook') RETURNING id",
        (w.ALICE, w.UI_ALICE_DEPRECATED),
        expect={
            "alice": ops(OK, OK, DENIED, OK),  # only consumed_at may change (see the spending tests)
            "bob": ops(NONE, RLS, DENIED, NONE),
            "admin": ops(NONE, RLS, DENIED, NONE),  # not even an admin
            "anon": ops(DENIED, DENIED, DENIED, DENIED),
        },
    ),
    TableCase(
        "webhook_endpoints",
        w.ENDPOINT_ALICE,
        "INSERT INTO public.webhook_endpoints (id, user_integration_id, user_id, signing_secret_encrypted,"
        " encryption_key_id, secret_hint) VALUES ($1, $2, $3, '\\x00'::bytea, 'k1', 'abcd') RETURNING id",
        (w.UI_ALICE_DEPRECATED, w.ALICE),
        expect={
            "alice": ops(OK, OK, OK, OK),
            "bob": ops(NONE, RLS, NONE, NONE),
            "admin": ops(NONE, RLS, NONE, NONE),  # a signing secret is its user's alone
            "anon": ops(DENIED, DENIED, DENIED, DENIED),
        },
    ),
    TableCase(
        "integration_events",
        w.EVENT_ALICE,
        "INSERT INTO public.integration_events (id, user_integration_id, user_id, sent_at, payload, signature_hash)"
        " VALUES ($1, $2, $3, now(), '{}', repeat('a', 64)) RETURNING id",
        (w.UI_ALICE, w.ALICE),
        expect={
            "alice": ops(OK, OK, DENIED, OK),  # events are never edited
            "bob": ops(NONE, RLS, DENIED, NONE),
            "admin": ops(OK, RLS, DENIED, OK),  # admins read and clear every install's events
            "anon": ops(DENIED, DENIED, DENIED, DENIED),
        },
    ),
]


@pytest.mark.parametrize(("case", "actor", "op", "expect"), cells(CASES))
async def test_each_actor_gets_exactly_the_access_the_connect_policies_grant(app, case, actor, op, expect):
    await check_cell(app, case, actor, op, expect)


SPEND = "UPDATE public.connect_links SET consumed_at = now() WHERE id = $1 RETURNING id"


async def test_a_user_spends_their_own_link_once(app):
    async def twice(conn):
        first = await conn.fetch(SPEND, w.LINK_ALICE)
        second = await conn.fetch(SPEND, w.LINK_ALICE)
        return first, second

    first, second = await rolled_back(app, PRINCIPALS["alice"], twice)
    assert [r["id"] for r in first] == [w.LINK_ALICE] and second == []


@pytest.mark.parametrize("actor", ["bob", "admin"])
async def test_nobody_else_can_spend_a_users_link(app, actor):
    outcome = await attempt(app, PRINCIPALS[actor], SPEND, w.LINK_ALICE)
    assert outcome.error is None and outcome.rows == [], outcome.describe()


async def test_a_spent_link_cannot_be_made_usable_again(app):
    outcome = await attempt(
        app,
        PRINCIPALS["alice"],
        "UPDATE public.connect_links SET consumed_at = NULL WHERE id = $1 RETURNING id",
        w.LINK_ALICE_SPENT,
    )
    assert outcome.error is None and outcome.rows == [], outcome.describe()
    outcome = await attempt(
        app,
        PRINCIPALS["alice"],
        "UPDATE public.connect_links SET consumed_at = NULL WHERE id = $1 RETURNING id",
        w.LINK_ALICE,
    )
    assert isinstance(outcome.error, asyncpg.InsufficientPrivilegeError), outcome.describe()
    assert "row-level security" in str(outcome.error)


async def test_an_expired_link_cannot_be_spent(app, owner):
    async def spend_expired(conn):
        return await conn.fetch(SPEND, w.LINK_ALICE)

    await owner.execute(
        "UPDATE public.connect_links SET created_at = now() - interval '20 minutes',"
        " expires_at = now() - interval '10 minutes' WHERE id = $1",
        w.LINK_ALICE,
    )
    try:
        assert await rolled_back(app, PRINCIPALS["alice"], spend_expired) == []
    finally:
        await owner.execute(
            "UPDATE public.connect_links SET created_at = now(), expires_at = now() + interval"
            " '10 minutes' WHERE id = $1",
            w.LINK_ALICE,
        )


async def test_a_user_cannot_record_events_on_someone_elses_install(app):
    outcome = await attempt(
        app,
        PRINCIPALS["bob"],
        "INSERT INTO public.integration_events (user_integration_id, user_id, sent_at, payload, signature_hash)"
        " VALUES ($1, $2, now(), '{}', repeat('b', 64)) RETURNING id",
        w.UI_ALICE,
        w.BOB,
    )
    assert isinstance(outcome.error, asyncpg.InsufficientPrivilegeError), outcome.describe()


async def test_a_replayed_signature_is_refused_by_the_database(app):
    outcome = await attempt(
        app,
        PRINCIPALS["alice"],
        "INSERT INTO public.integration_events (user_integration_id, user_id, sent_at, payload, signature_hash)"
        " VALUES ($1, $2, now(), '{}', repeat('e', 64)) RETURNING id",
        w.UI_ALICE,
        w.ALICE,
    )
    assert isinstance(outcome.error, asyncpg.UniqueViolationError), outcome.describe()


@pytest.mark.parametrize("function", ["public.connect_link_owner(text)", "public.webhook_install_owner(uuid)"])
async def test_only_the_login_role_can_ask_whose_link_or_endpoint_it_is(owner, function):
    rows = await owner.fetch(
        "SELECT r FROM unnest(ARRAY['anon', 'authenticated', 'service_role', 'authenticator']) AS r"
        " WHERE has_function_privilege(r, $1, 'EXECUTE')",
        function,
    )
    assert [r["r"] for r in rows] == ["authenticator"]


async def test_the_login_role_learns_a_links_owner_and_nothing_else(app):
    async with app.pool.acquire() as conn:
        row = await conn.fetchrow("SELECT * FROM public.connect_link_owner(repeat('c', 64))")
        spent = await conn.fetchrow("SELECT * FROM public.connect_link_owner(repeat('d', 64))")
        unknown = await conn.fetchrow("SELECT * FROM public.connect_link_owner(repeat('0', 64))")
    assert dict(row) == {"user_id": w.ALICE, "expired": False, "consumed": False}
    assert spent["consumed"] is True and unknown is None


async def test_only_active_webhook_installs_have_an_owner(app, owner):
    async with app.pool.acquire() as conn:
        # UI_ALICE is an install of an api_key entry: no webhook endpoint, whatever its rows say.
        assert await conn.fetchval("SELECT public.webhook_install_owner($1)", w.UI_ALICE) is None
    await owner.execute("UPDATE public.mcp_integrations SET connection_type = 'webhook' WHERE id = $1", w.INTEG_ENABLED)
    try:
        async with app.pool.acquire() as conn:
            assert await conn.fetchval("SELECT public.webhook_install_owner($1)", w.UI_ALICE) == w.ALICE
            await owner.execute("UPDATE public.user_integrations SET status = 'revoked' WHERE id = $1", w.UI_ALICE)
            assert await conn.fetchval("SELECT public.webhook_install_owner($1)", w.UI_ALICE) is None
    finally:
        await owner.execute("UPDATE public.user_integrations SET status = 'active' WHERE id = $1", w.UI_ALICE)
        await owner.execute(
            "UPDATE public.mcp_integrations SET connection_type = 'api_key' WHERE id = $1", w.INTEG_ENABLED
        )
