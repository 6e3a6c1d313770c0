"""The embedded default: the demo users sign in with the password it prints, also on a cluster seeded before
the seed set passwords."""

from __future__ import annotations

import shutil

import asyncpg

from renubu_mcp.config import Settings
from renubu_mcp.demo import DEMO_USERS
from renubu_mcp.embedded import EmbeddedCluster
from renubu_mcp.runtime import open_backend
from tests.conftest import private_tmp_dir


async def passwords_match(dsn: str, password: str) -> list[bool]:
    conn = await asyncpg.connect(dsn)
    try:
        rows = await conn.fetch(
            "SELECT coalesce(encrypted_password = extensions.crypt($1, encrypted_password), false)"
            " AS ok FROM auth.users WHERE id = ANY($2::uuid[]) ORDER BY id",
            password,
            [u.id for u in DEMO_USERS],
        )
    finally:
        await conn.close()
    return [r["ok"] for r in rows]


async def test_the_embedded_demo_users_sign_in_with_the_password_it_keeps():
    data_dir = private_tmp_dir("renubu-test-embedded-signin-")
    try:
        settings = Settings(data_dir=data_dir)
        cluster = EmbeddedCluster(data_dir)
        async with open_backend(settings):
            password = cluster.demo_password()
            owner = cluster.owner_dsn()
            assert await passwords_match(owner, password) == [True] * 4
            conn = await asyncpg.connect(owner)
            await conn.execute("UPDATE auth.users SET encrypted_password = NULL")  # as seeded before passwords
            await conn.close()
        async with open_backend(settings):
            assert await passwords_match(owner, password) == [True] * 4
    finally:
        shutil.rmtree(data_dir, ignore_errors=True)
