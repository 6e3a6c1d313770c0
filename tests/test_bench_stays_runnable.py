"""The benchmarks swap parts of the server for what they compare against (bench/db_baseline.py); when the server
changes how it opens its database, the swapped-in parts must still start. Correctness only: nothing is timed."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from renubu_mcp import db as current
from renubu_mcp.config import Settings
from renubu_mcp.db import Principal
from renubu_mcp.demo import ALICE
from renubu_mcp.runtime import open_backend

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import db_baseline  # noqa: E402


@pytest.mark.parametrize("swap", ["install", "install_asyncpg_pool"])
async def test_each_swapped_in_database_starts_the_server_backend_and_serves_a_request(demo_db, monkeypatch, swap):
    monkeypatch.setattr(current.Database, "connect", current.Database.connect)  # restored after the test
    monkeypatch.setattr(current.Database, "as_user", current.Database.as_user)
    getattr(db_baseline, swap)()
    async with open_backend(Settings(database_url=demo_db.app_dsn)) as backend:
        async with backend.db.as_user(Principal(ALICE.id, ALICE.email)) as conn:
            assert await conn.fetchval("SELECT auth.uid()") == ALICE.id
