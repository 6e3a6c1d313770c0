"""One migrated database holding the fixture world per session; each module gets its own clone of it.

Policy tests roll every request back (see access.rolled_back), so a module shares one clone safely.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator

import asyncpg
import pytest

from renubu_mcp import migrate as migrations
from renubu_mcp.db import Database

from .world import world_sql


@pytest.fixture(scope="session")
async def rls_template(database_factory: Callable[..., object]):
    """Migrated (no demo seed: these tests create every row they use) plus the fixture world."""
    db = database_factory(prefix="rls_template")
    await migrations.migrate(db.owner_dsn)
    conn = await asyncpg.connect(db.owner_dsn)
    try:
        await conn.execute(world_sql())
    finally:
        await conn.close()
    return db


@pytest.fixture(scope="module")
def rls_db(database_factory: Callable[..., object], rls_template) -> Iterator[object]:
    db = database_factory(template=rls_template.name, prefix="rls")
    yield db
    db.drop()


@pytest.fixture(scope="module")
async def app(rls_db) -> AsyncIterator[Database]:
    """The serving side: a pool logged in as `authenticator`, requests made through as_user."""
    database = await Database.connect(rls_db.app_dsn, min_size=1, max_size=4)
    yield database
    await database.close()


@pytest.fixture(scope="module")
async def owner(rls_db) -> AsyncIterator[asyncpg.Connection]:
    """The schema owner (superuser): for arranging and checking rows behind RLS's back."""
    conn = await asyncpg.connect(rls_db.owner_dsn)
    yield conn
    await conn.close()
