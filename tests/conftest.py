"""Shared fixtures: one embedded PostgreSQL for the whole session, and cheap per-test databases on it.

    pg                 session   the EmbeddedCluster (fsync off); pg.owner_dsn(name) / pg.app_dsn(name)
    database_factory   session   make(template=None) -> ScratchDatabase, dropped at session end (or .drop())
    fresh_database     function  make() -> an empty ScratchDatabase, dropped after the test
    template_db        session   a database with every migration applied and the demo seed (if present)
    demo_db            function  a fresh clone of template_db, dropped after the test

A ScratchDatabase has .name, .owner_dsn (superuser `postgres`) and .app_dsn (login role `authenticator`,
which exists once any database has been migrated: roles are cluster-wide). Never connect to template_db
itself: CREATE DATABASE ... TEMPLATE fails while anyone is connected to the template. For a copy shared by a
module:

    @pytest.fixture(scope="module")
    def my_db(database_factory, template_db):
        db = database_factory(template=template_db.name)
        yield db
        db.drop()
"""

from __future__ import annotations

import itertools
import shutil
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from renubu_mcp import migrate as migrations
from renubu_mcp.embedded import EmbeddedCluster


@dataclass
class ScratchDatabase:
    name: str
    owner_dsn: str
    app_dsn: str
    _cluster: EmbeddedCluster = field(repr=False)

    def drop(self) -> None:
        self._cluster.drop_database(self.name)


def private_tmp_dir(prefix: str) -> Path:
    """A temp dir directly under /tmp: as root, the `postgres` user must be able to reach the cluster inside,
    which it cannot under pytest's 0700 /tmp/pytest-of-root."""
    return Path(tempfile.mkdtemp(prefix=prefix, dir="/tmp"))


@pytest.fixture(scope="session")
def pg() -> Iterator[EmbeddedCluster]:
    data_dir = private_tmp_dir("renubu-test-pg-")
    cluster = EmbeddedCluster(data_dir, fast_unsafe=True)
    with cluster:
        yield cluster
    shutil.rmtree(data_dir, ignore_errors=True)


@pytest.fixture(scope="session")
def database_factory(pg: EmbeddedCluster) -> Iterator[Callable[..., ScratchDatabase]]:
    counter = itertools.count(1)
    made: list[ScratchDatabase] = []

    def make(template: str | None = None, prefix: str = "test") -> ScratchDatabase:
        name = f"{prefix}_{next(counter)}"
        pg.create_database(name, template=template)
        db = ScratchDatabase(name, pg.owner_dsn(name), pg.app_dsn(name), pg)
        made.append(db)
        return db

    yield make
    for db in made:
        db.drop()


@pytest.fixture
def fresh_database(database_factory: Callable[..., ScratchDatabase]) -> Iterator[Callable[[], ScratchDatabase]]:
    made: list[ScratchDatabase] = []

    def make() -> ScratchDatabase:
        db = database_factory(prefix="fresh")
        made.append(db)
        return db

    yield make
    for db in made:
        db.drop()


@pytest.fixture(scope="session")
async def template_db(database_factory: Callable[..., ScratchDatabase]) -> ScratchDatabase:
    db = database_factory(prefix="template")
    await migrations.migrate(db.owner_dsn)
    if migrations.DEMO_SEED_FILE.is_file():
        await migrations.seed_demo(db.owner_dsn)
    return db


@pytest.fixture
def demo_db(
    database_factory: Callable[..., ScratchDatabase], template_db: ScratchDatabase
) -> Iterator[ScratchDatabase]:
    # CREATE DATABASE ... TEMPLATE copies files: much faster than migrating and seeding again.
    db = database_factory(template=template_db.name, prefix="demo")
    yield db
    db.drop()
