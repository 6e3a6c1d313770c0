"""Several `renubu-mcp` stdio servers on one embedded data directory, as real processes (two clients open at once,
or a host that starts one server per conversation): the last one out stops PostgreSQL, a killed server no longer
counts, a cluster it left running is adopted and stopped in turn, and a cluster stopped under a live server is
started again on its next call."""

from __future__ import annotations

import os
import shutil
import signal
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from renubu_mcp.embedded import EmbeddedCluster
from tests.conftest import private_tmp_dir
from tests.stdio_process import StdioProcess, postmaster_pid, process_alive

RENUBU_MCP = str(Path(sys.executable).with_name("renubu-mcp"))
ACME = "10000000-0000-4000-8000-000000000001"


@pytest.fixture(scope="module")
def data_dir() -> Iterator[Path]:
    """One embedded data dir for the module, created (migrated, seeded) by a first server; whatever a failed test
    left running in it is stopped before the next test and at the end."""
    path = private_tmp_dir("renubu-sharing-")
    with StdioProcess([RENUBU_MCP], _server_env(path)) as first:
        assert_found_acme(first)
    yield path
    _stop_leftover(path)
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def servers(data_dir: Path) -> Iterator[Callable[[], StdioProcess]]:
    started: list[StdioProcess] = []

    def start() -> StdioProcess:
        server = StdioProcess([RENUBU_MCP], _server_env(data_dir)).__enter__()
        started.append(server)
        return server

    _stop_leftover(data_dir)
    yield start
    for server in started:
        if server.proc is not None and server.proc.poll() is None:
            server.proc.kill()
            server.proc.wait()
    _stop_leftover(data_dir)


def _server_env(data_dir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RENUBU_")}
    env.update(RENUBU_DATA_DIR=str(data_dir), RENUBU_USER_EMAIL="alice@example.com", RENUBU_LOG_LEVEL="INFO")
    return env


def _stop_leftover(data_dir: Path) -> None:
    cluster = EmbeddedCluster(data_dir)
    if (cluster.pgdata / "postmaster.pid").exists():
        cluster._run_server_tool(
            [str(cluster.bindir / "pg_ctl"), "-D", str(cluster.pgdata), "-m", "immediate", "stop"], check=False
        )


def _pg_ctl(data_dir: Path, *args: str) -> None:
    cluster = EmbeddedCluster(data_dir)
    cluster._run_server_tool([str(cluster.bindir / "pg_ctl"), "-D", str(cluster.pgdata), "-w", *args])


def assert_found_acme(server: StdioProcess) -> None:
    found = server.call_tool("search_customers", {"query": "acme"})
    assert [c["name"] for c in found["customers"]] == ["Acme Corp"]


def assert_no_postgresql_left(data_dir: Path, postmaster: int) -> None:
    assert postmaster_pid(data_dir) is None, "postmaster.pid is still there"
    assert not process_alive(postmaster), f"PostgreSQL (pid {postmaster}) is still running"


def test_two_servers_share_the_cluster_and_the_last_one_out_stops_it(servers, data_dir):
    first = servers()
    assert_found_acme(first)
    second = servers()
    assert_found_acme(second)
    postmaster = postmaster_pid(data_dir)
    assert postmaster is not None

    assert first.exit() == 0
    assert postmaster_pid(data_dir) == postmaster, "the first server out stopped the cluster under the second"
    assert_found_acme(second)
    customer = second.call_tool("get_customer", {"customer_id": ACME})
    assert customer["customer"]["name"] == "Acme Corp"

    assert second.exit() == 0
    assert_no_postgresql_left(data_dir, postmaster)
    assert "Traceback" not in first.stderr + second.stderr


def test_a_killed_server_no_longer_counts_and_the_next_one_stops_what_it_left_running(servers, data_dir):
    killed = servers()
    assert_found_acme(killed)
    postmaster = postmaster_pid(data_dir)
    killed.kill()
    assert process_alive(postmaster), "the killed server's PostgreSQL should still run until someone adopts it"

    adopter = servers()
    assert_found_acme(adopter)
    assert postmaster_pid(data_dir) == postmaster  # adopted, not restarted
    assert adopter.exit() == 0
    assert_no_postgresql_left(data_dir, postmaster)


def test_a_cluster_stopped_under_a_live_server_is_started_again_on_its_next_call(servers, data_dir):
    server = servers()
    assert_found_acme(server)

    _pg_ctl(data_dir, "-m", "fast", "stop")  # another process stops it
    assert postmaster_pid(data_dir) is None
    assert_found_acme(server)  # a transaction (as_user)

    _pg_ctl(data_dir, "-m", "immediate", "stop")  # a crash: no shutdown checkpoint
    customer = server.call_tool("get_customer", {"customer_id": ACME})  # one statement (call_as)
    assert customer["customer"]["name"] == "Acme Corp"
    postmaster = postmaster_pid(data_dir)
    assert postmaster is not None and process_alive(postmaster)
    assert "had stopped; started it again" in server.stderr

    assert server.exit() == 0
    assert_no_postgresql_left(data_dir, postmaster)
    assert "Traceback" not in server.stderr


def test_a_cluster_started_by_hand_is_left_running(servers, data_dir):
    cluster = EmbeddedCluster(data_dir)
    cluster.ensure()
    cluster._write_config(cluster.socket_dir)
    _pg_ctl(data_dir, "-l", str(cluster.log_file), "start")
    postmaster = postmaster_pid(data_dir)
    try:
        server = servers()
        assert_found_acme(server)
        assert server.exit() == 0
        assert process_alive(postmaster), "a PostgreSQL someone started by hand must survive the server's exit"
    finally:
        _pg_ctl(data_dir, "-m", "fast", "stop")


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_ctrl_c_or_a_hosts_sigterm_ends_the_server_at_once_and_the_last_one_stops_the_cluster(
    servers, data_dir, signum
):
    first, second = servers(), servers()
    assert_found_acme(first)
    assert_found_acme(second)
    postmaster = postmaster_pid(data_dir)

    os.kill(first.pid, signum)  # stdin stays open: shutdown must not wait for the next line
    assert first.proc.wait(timeout=30) == 128 + signum
    assert_found_acme(second)

    os.kill(second.pid, signum)
    second.proc.wait(timeout=30)
    assert_no_postgresql_left(data_dir, postmaster)


def test_servers_started_together_on_a_new_data_dir_all_find_the_demo_data():
    """Two clients opening at login on a first run: one creates, migrates and seeds, the others wait for it."""
    fresh = private_tmp_dir("renubu-sharing-fresh-")
    try:
        starting = [StdioProcess([RENUBU_MCP], _server_env(fresh)) for _ in range(3)]
        for server in starting:  # all three are starting before any has answered
            server.start_process()
        for server in starting:
            server.finish_handshake()
            assert_found_acme(server)
        postmaster = postmaster_pid(fresh)
        for server in starting:
            assert server.exit() == 0
        assert_no_postgresql_left(fresh, postmaster)
    finally:
        _stop_leftover(fresh)
        shutil.rmtree(fresh, ignore_errors=True)
