"""Alice's installs, states and tokens are hers: bob reaches none of them, through any tool or as `authenticated`."""

from __future__ import annotations

import asyncpg
import pytest

from renubu_mcp.db import Principal
from renubu_mcp.errors import NotFound
from renubu_mcp.oauth import get_access_token, revoke_install

from .conftest import KEY, PRINCIPALS, connected

pytestmark = pytest.mark.usefixtures("mocked")
ALICE, BOB, ADMIN = PRINCIPALS["alice@example.com"], PRINCIPALS["bob@example.com"], PRINCIPALS["admin@example.com"]


async def as_user(app, principal: Principal, sql: str, *args):
    """One statement as `principal`, rolled back; its rows or the error."""
    try:
        async with app.db.as_user(principal) as conn:
            async with conn.transaction():  # a savepoint we roll back
                rows = await conn.fetch(sql, *args)
                raise _Undo(rows)
    except _Undo as undo:
        return undo.rows
    except asyncpg.PostgresError as exc:
        return exc


class _Undo(Exception):
    def __init__(self, rows):
        self.rows = rows


async def test_bob_reaches_none_of_alices_installs_through_the_tools(connect, hubspot, browser, app, owner):
    async with connect("alice@example.com") as alice, connect("bob@example.com") as bob:
        started = await connected(alice, hubspot, browser)
        pending = await alice.ok("install_integration", {"slug": "salesforce"})  # an open state too
        assert (await bob.ok("list_my_integrations"))["installs"] == []
        assert "not installed" in await bob.error(
            "integration_request", {"slug": "hubspot", "method": "GET", "path": "x"}
        )
        assert "not installed" in await bob.error("uninstall_integration", {"slug": "hubspot"})
        with pytest.raises(NotFound):
            await get_access_token(app, BOB, started["install_id"])
        with pytest.raises(NotFound):
            await revoke_install(app, BOB, started["install_id"])
        with pytest.raises(NotFound):  # not even an admin uses someone else's connection
            await get_access_token(app, ADMIN, started["install_id"])
        # Bob installing the same integration makes his own install and leaves alice's alone.
        bobs = await bob.ok("install_integration", {"slug": "hubspot"})
        assert bobs["install_id"] != started["install_id"] and bobs["status"] == "pending"
        assert [(i["slug"], i["status"]) for i in (await alice.ok("list_my_integrations"))["installs"]] == [
            ("hubspot", "active"),
            ("salesforce", "pending"),
        ]
    assert pending["install_id"]
    assert await owner.fetchval("SELECT count(*) FROM public.oauth_tokens") == 1
    assert hubspot.calls["revoke"] == 0


async def test_bob_reaches_none_of_alices_tokens_or_states_through_sql(connect, hubspot, browser, app, owner):
    async with connect("alice@example.com") as alice:
        started = await connected(alice, hubspot, browser)
        await alice.ok("install_integration", {"slug": "salesforce"})
    install_id = started["install_id"]
    state_hash = await owner.fetchval("SELECT state_hash FROM public.oauth_states")
    assert state_hash

    for thief in (BOB, ADMIN):
        assert await as_user(app, thief, "SELECT * FROM public.oauth_tokens") == []
        assert await as_user(app, thief, "SELECT * FROM public.oauth_states") == []
        assert (
            await as_user(
                app,
                thief,
                "SELECT public.decrypt_oauth_token(access_token_encrypted, $1) FROM public.oauth_tokens",
                KEY,
            )
            == []
        )
        assert (
            await as_user(app, thief, "UPDATE public.oauth_tokens SET user_id = $1 RETURNING id", thief.user_id) == []
        )
        assert await as_user(app, thief, "DELETE FROM public.oauth_tokens RETURNING id") == []
        assert await as_user(app, thief, "DELETE FROM public.oauth_states RETURNING id") == []
        denied = await as_user(app, thief, "SELECT * FROM public.consume_oauth_state($1)", state_hash)
        assert isinstance(denied, asyncpg.InsufficientPrivilegeError)
        forged = await as_user(
            app,
            thief,
            "INSERT INTO public.oauth_states (state_hash, user_id, user_integration_id,"
            " code_verifier_encrypted, encryption_key_id, redirect_uri) VALUES ($1, $2, $3, '\\x00', 'k',"
            " 'https://x.test/cb') RETURNING id",
            "0" * 64,
            thief.user_id,
            install_id,
        )
        assert isinstance(forged, asyncpg.InsufficientPrivilegeError)
        hijack = await as_user(
            app,
            thief,
            "UPDATE public.user_integrations SET user_id = $1 WHERE id = $2 RETURNING id",
            thief.user_id,
            install_id,
        )
        assert isinstance(hijack, asyncpg.InsufficientPrivilegeError) or hijack == []
    # Bob does not even see that alice installed anything; admins see the install row (not its secrets).
    assert await as_user(app, BOB, "SELECT id FROM public.user_integrations") == []
    assert len(await as_user(app, ADMIN, "SELECT id, status, last_error FROM public.user_integrations")) == 2
    # Anonymous requests hold no privilege on the states at all.
    anon = await as_user(app, Principal.anonymous(), "SELECT * FROM public.oauth_states")
    assert isinstance(anon, asyncpg.InsufficientPrivilegeError)
    assert await owner.fetchval("SELECT count(*) FROM public.oauth_tokens WHERE user_id = $1", ALICE.user_id) == 1


async def test_the_client_secret_column_is_not_readable_by_request_roles(app):
    for who in (ALICE, ADMIN):
        denied = await as_user(app, who, "SELECT client_secret_encrypted FROM public.mcp_integrations")
        assert isinstance(denied, asyncpg.InsufficientPrivilegeError)


async def test_only_the_login_role_outside_a_request_can_consume_a_state(connect, hubspot, app, owner):
    async with connect("alice@example.com") as alice:
        await alice.ok("install_integration", {"slug": "hubspot"})
    state_hash = await owner.fetchval("SELECT state_hash FROM public.oauth_states")
    denied = await as_user(app, ALICE, "SELECT * FROM public.consume_oauth_state($1)", state_hash)
    assert isinstance(denied, asyncpg.InsufficientPrivilegeError)  # not even the state's own user, in a request
    async with app.db.pool.acquire() as conn:
        first = await conn.fetch("SELECT * FROM public.consume_oauth_state($1)", state_hash)
        second = await conn.fetch("SELECT * FROM public.consume_oauth_state($1)", state_hash)
    assert len(first) == 1 and first[0]["user_id"] == ALICE.user_id and not first[0]["expired"]
    assert second == []
