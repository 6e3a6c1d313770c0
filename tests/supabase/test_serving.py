"""Serving a database built the Supabase way: the seeded demo users and a user who signed up through Supabase's
Auth server sign in on this server's own page with the passwords the Auth server would check, and see their own."""

from __future__ import annotations

from dataclasses import replace

import asyncpg
import pytest

from tests.authserver.conftest import (
    JWT_SECRET,
    Live,
    ScriptedBrowser,
    UserAgent,
    customer_names,
    mcp_as,
    oauth_client,
    serve,
)
from tests.tools.conftest import settings_for

from .cluster import auth_server_signs_up, superuser_dsn
from .conftest import PASSWORD


@pytest.fixture
async def live(demo_db, free_tcp_port):
    settings = replace(settings_for(demo_db.app_dsn, None), port=free_tcp_port, jwt_secret=JWT_SECRET)
    owner = await asyncpg.connect(demo_db.owner_dsn)
    try:
        async with serve(settings, free_tcp_port) as url:
            yield Live(url, owner, settings)
    finally:
        await owner.close()


@pytest.mark.parametrize(
    ("email", "sees", "hidden"),
    [("alice@example.com", "Acme Corp", "Globex"), ("bob@example.com", "Globex", "Acme Corp")],
)
async def test_the_seeded_demo_users_sign_in_with_the_seed_password(live, email, sees, hidden):
    agent = UserAgent()
    try:
        browser = ScriptedBrowser(agent, email=email, password=PASSWORD)
        provider, _ = oauth_client(live, browser.redirect, browser.callback)
        async with mcp_as(live, auth=provider) as client:
            names = await customer_names(client)
    finally:
        await agent.aclose()
    assert sees in names and hidden not in names


async def test_a_user_who_signed_up_through_supabase_auth_signs_in_here_too(live, demo_db):
    await auth_server_signs_up(
        superuser_dsn(demo_db._cluster, demo_db.name),
        "5b1e0000-0000-4000-8000-0000000000e0",
        "erin@signed-up.example",
        "erin's own password",
        "Erin Signup",
    )
    agent = UserAgent()
    try:
        browser = ScriptedBrowser(agent, email="erin@signed-up.example", password="erin's own password")
        provider, _ = oauth_client(live, browser.redirect, browser.callback)
        async with mcp_as(live, auth=provider) as erin:
            assert await customer_names(erin) == set()  # a new user has no customers assigned
            assert {tool.name for tool in (await erin.list_tools()).tools}
    finally:
        await agent.aclose()


async def test_set_password_works_on_supabase_and_the_new_password_signs_in(live, demo_db):
    from tests.test_users_and_demo_seed import cli

    done = cli(
        "users",
        "set-password",
        "--email",
        "bob@example.com",
        database_url=demo_db.owner_dsn,
        stdin="bob's brand new password\n",
    )
    assert done.returncode == 0, done.stderr
    agent = UserAgent()
    try:
        browser = ScriptedBrowser(agent, email="bob@example.com", password="bob's brand new password")
        provider, _ = oauth_client(live, browser.redirect, browser.callback)
        async with mcp_as(live, auth=provider) as bob:
            assert "Globex" in await customer_names(bob)
    finally:
        await agent.aclose()
