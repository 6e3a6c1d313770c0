"""Every test under tests/supabase runs on a database built the Supabase way (cluster.py), not the plain one.

The fixtures the rest of the suite uses keep their names and meaning: `pg` is the Supabase-like cluster, databases
come from its project template, and `template_db` is that template migrated and seeded (the demo users with
PASSWORD), so tests written for plain PostgreSQL run here unchanged.
"""

from __future__ import annotations

import itertools
import shutil
from collections.abc import Callable, Iterator

import pytest

from renubu_mcp import migrate as migrations
from renubu_mcp.embedded import EmbeddedCluster
from tests.conftest import ScratchDatabase, private_tmp_dir
from tests.tools.conftest import connect, connect_shared, demo  # noqa: F401  (the tool tests' fixtures, here)

from .cluster import TEMPLATE, start_supabase_cluster

PASSWORD = "correct horse battery staple"


@pytest.fixture(scope="session")
def pg() -> Iterator[EmbeddedCluster]:
    data_dir = private_tmp_dir("renubu-test-supabase-")
    cluster = start_supabase_cluster(data_dir)
    yield cluster
    cluster.stop()
    shutil.rmtree(data_dir, ignore_errors=True)


@pytest.fixture(scope="session")
def database_factory(pg: EmbeddedCluster) -> Iterator[Callable[..., ScratchDatabase]]:
    """As tests/conftest.py's, on the Supabase-like cluster, each database a copy of its project template."""
    counter = itertools.count(1)
    made: list[ScratchDatabase] = []

    def make(template: str | None = None, prefix: str = "supabase") -> ScratchDatabase:
        name = f"{prefix}_{next(counter)}"
        pg.create_database(name, template=template or TEMPLATE)
        db = ScratchDatabase(name, pg.owner_dsn(name), pg.app_dsn(name), pg)
        made.append(db)
        return db

    yield make
    for db in made:
        db.drop()


@pytest.fixture(scope="session")
async def template_db(database_factory: Callable[..., ScratchDatabase]) -> ScratchDatabase:
    db = database_factory(prefix="supabase_template_migrated")
    await migrations.migrate(db.owner_dsn)
    await migrations.seed_demo(db.owner_dsn, demo_password=PASSWORD)
    return db
