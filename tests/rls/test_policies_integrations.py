"""The MCP integration marketplace and users' installs.

Marketplace rows are the admin's to manage (alice, a CSM, and pat, a PM, only read); alice has installed INTEG_ENABLED and INTEG_DEPRECATED,
bob only INTEG_ENABLED. For installs alice is the owner and bob the stranger.
"""

from __future__ import annotations

import asyncpg
import pytest

from . import world as w
from .access import DENIED, NONE, OK, RLS, TableCase, attempt, cells, check_cell, ops, rolled_back
from .world import PRINCIPALS

CASES = [
    TableCase(
        "mcp_integrations",
        w.INTEG_ENABLED,
        "INSERT INTO public.mcp_integrations (id, slug, name, connection_type) VALUES ($1, 'new-one', 'New', 'webhook')"
        " RETURNING id",
        expect={
            "alice": ops(OK, RLS, NONE, NONE, soft_delete=NONE),
            "pat": ops(OK, RLS, NONE, NONE, soft_delete=NONE),
            "admin": ops(OK, OK, OK, OK, soft_delete=OK),
            "anon": ops(DENIED, DENIED, DENIED, DENIED, soft_delete=DENIED),
        },
    ),
    TableCase(
        "user_integrations",
        w.UI_ALICE,
        "INSERT INTO public.user_integrations (id, user_id, integration_id) VALUES ($1, $2, $3) RETURNING id",
        (w.ALICE, w.INTEG_SPARE),
        expect={
            "alice": ops(OK, OK, OK, OK, soft_delete=OK),
            "bob": ops(NONE, RLS, NONE, NONE, soft_delete=NONE),
            "admin": ops(OK, RLS, OK, OK, soft_delete=OK),  # admins manage installs but never install for others
            "anon": ops(DENIED, DENIED, DENIED, DENIED, soft_delete=DENIED),
        },
    ),
]


@pytest.mark.parametrize(("case", "actor", "op", "expect"), cells(CASES))
async def test_each_actor_gets_exactly_the_access_the_integration_policies_grant(app, case, actor, op, expect):
    await check_cell(app, case, actor, op, expect)


MARKETPLACE = [w.INTEG_ENABLED, w.INTEG_SPARE, w.INTEG_DISABLED, w.INTEG_DEPRECATED]


@pytest.mark.parametrize(
    ("actor", "visible"),
    [
        ("alice", {w.INTEG_ENABLED, w.INTEG_SPARE, w.INTEG_DEPRECATED}),  # enabled ones plus what she installed
        ("bob", {w.INTEG_ENABLED, w.INTEG_SPARE}),
        ("pat", {w.INTEG_ENABLED, w.INTEG_SPARE}),
        ("admin", set(MARKETPLACE)),
    ],
)
async def test_users_see_enabled_and_installed_marketplace_entries_admins_see_all(app, actor, visible):
    outcome = await attempt(
        app, PRINCIPALS[actor], "SELECT id FROM public.mcp_integrations WHERE id = ANY($1::uuid[])", MARKETPLACE
    )
    assert {r["id"] for r in outcome.rows} == visible, outcome.describe()


@pytest.mark.parametrize("actor", ["alice", "pat"])
async def test_a_non_admin_cannot_register_an_integration(app, actor):
    outcome = await attempt(
        app,
        PRINCIPALS[actor],
        "INSERT INTO public.mcp_integrations (slug, name, connection_type, status) VALUES ('evil', 'Evil', 'webhook',"
        " 'enabled') RETURNING id",
    )
    assert isinstance(outcome.error, asyncpg.InsufficientPrivilegeError), outcome.describe()
    assert "row-level security" in str(outcome.error)


@pytest.mark.parametrize(("actor", "enabled"), [("alice", False), ("pat", False), ("admin", True)])
async def test_only_an_admin_can_enable_an_integration(app, actor, enabled):
    outcome = await attempt(
        app,
        PRINCIPALS[actor],
        "UPDATE public.mcp_integrations SET status = 'enabled' WHERE id = $1 RETURNING id",
        w.INTEG_DISABLED,
    )
    assert outcome.error is None and (outcome.rows != []) is enabled, outcome.describe()


@pytest.mark.parametrize("actor", ["alice", "admin"])
@pytest.mark.parametrize("columns", ["client_secret_encrypted", "*"])
async def test_no_request_role_can_select_the_client_secret_column(app, actor, columns):
    outcome = await attempt(
        app, PRINCIPALS[actor], f"SELECT {columns} FROM public.mcp_integrations WHERE id = $1", w.INTEG_ENABLED
    )
    assert isinstance(outcome.error, asyncpg.InsufficientPrivilegeError), outcome.describe()
    assert "permission denied for table mcp_integrations" in str(outcome.error)


@pytest.mark.parametrize(
    ("actor", "integration", "secret"),
    [
        ("alice", w.INTEG_ENABLED, w.CLIENT_SECRET),  # installed
        ("pat", w.INTEG_ENABLED, None),  # not installed: nothing
        ("admin", w.INTEG_DISABLED, w.CLIENT_SECRET),
    ],
)
async def test_the_client_secret_is_decrypted_only_for_installers_and_admins(app, actor, integration, secret):
    outcome = await attempt(
        app, PRINCIPALS[actor], "SELECT public.integration_client_secret($1, $2)", integration, w.WORLD_KEY
    )
    assert outcome.error is None and outcome.rows[0][0] == secret, outcome.describe()


async def test_a_user_cannot_install_a_disabled_integration(app):
    outcome = await attempt(
        app,
        PRINCIPALS["alice"],
        "INSERT INTO public.user_integrations (user_id, integration_id) VALUES ($1, $2) RETURNING id",
        w.ALICE,
        w.INTEG_DISABLED,
    )
    assert isinstance(outcome.error, asyncpg.InsufficientPrivilegeError), outcome.describe()
    assert "row-level security" in str(outcome.error)


async def test_a_user_cannot_repoint_an_install_at_a_disabled_integration(app):
    """Installing needs an enabled entry; re-pointing an existing install must not be a way around that
    (it would make the disabled entry, and its client secret, available to the user)."""

    async def repoint(conn):
        try:
            async with conn.transaction():
                moved = await conn.fetch(
                    "UPDATE public.user_integrations SET integration_id = $2 WHERE id = $1 RETURNING id",
                    w.UI_ALICE,
                    w.INTEG_DISABLED,
                )
        except asyncpg.InsufficientPrivilegeError:
            moved = []
        secret = await conn.fetchval("SELECT public.integration_client_secret($1, $2)", w.INTEG_DISABLED, w.WORLD_KEY)
        return moved, secret

    moved, secret = await rolled_back(app, PRINCIPALS["alice"], repoint)
    assert moved == [] and secret is None, (
        f"alice re-pointed her install at a disabled integration (rows {moved}) and got its client secret "
        f"back: {'yes' if secret else 'no'} (mcp_registry: policy 'Users update own installs, admins update all')"
    )
