"""Fixtures for the reliability tests (small in-suite versions; scripts/soak runs the full-size ones).

restartable_cluster   module   a private EmbeddedCluster (fsync on), migrated and seeded, that a test may stop
                               and start: the shared `pg` cluster is never restarted
server                function server(database_url, **env) -> a started ServerProcess, stopped after the test
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator

import pytest

from renubu_mcp import migrate
from renubu_mcp.embedded import EmbeddedCluster, run_async
from tests.conftest import private_tmp_dir

from .harness import ServerProcess


@pytest.fixture(scope="module")
def restartable_cluster() -> Iterator[EmbeddedCluster]:
    data_dir = private_tmp_dir("renubu-reliability-")
    cluster = EmbeddedCluster(data_dir)  # fsync and synchronous_commit on: acknowledged means durable
    with cluster:
        run_async(lambda: migrate.migrate(cluster.owner_dsn()))
        run_async(lambda: migrate.seed_demo(cluster.owner_dsn()))
        yield cluster
        if not cluster.is_running():  # a failed test may leave it down; stop() only stops what runs
            cluster.started_by_us = False
    shutil.rmtree(data_dir, ignore_errors=True)


@pytest.fixture
def server() -> Iterator[Callable[..., ServerProcess]]:
    started: list[ServerProcess] = []

    def start(database_url: str, **kwargs) -> ServerProcess:
        process = ServerProcess(database_url, **kwargs)
        started.append(process)
        return process.start()

    yield start
    for process in started:
        process.__exit__(None, None, None)
