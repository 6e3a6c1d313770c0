"""What a new user meets first: `renubu-mcp` started by hand in a terminal says what it is waiting for and how to
connect a client; started by a client (stdin piped) it stays quiet; the demo-user default is an info line, not a
warning, for the server and for `renubu-mcp call`."""

from __future__ import annotations

import os
import pty
import select
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import private_tmp_dir
from tests.stdio_process import StdioProcess, postmaster_pid, process_alive

RENUBU_MCP = str(Path(sys.executable).with_name("renubu-mcp"))


def demo_default_env(data_dir: Path, **extra: str) -> dict[str, str]:
    """The embedded default with no user named: what a new user starts with (in a test data dir, not ~)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("RENUBU_")}
    env.update(RENUBU_DATA_DIR=str(data_dir), **extra)
    return env


@pytest.fixture(scope="module")
def data_dir() -> Iterator[Path]:
    path = private_tmp_dir("renubu-first-start-")
    with StdioProcess([RENUBU_MCP], demo_default_env(path)) as first:  # creates, migrates and seeds it
        first.call_tool("search_customers", {"query": "acme"})
    yield path
    shutil.rmtree(path, ignore_errors=True)


def test_a_piped_start_on_the_demo_default_is_quiet(data_dir):
    with StdioProcess([RENUBU_MCP], demo_default_env(data_dir)) as server:
        found = server.call_tool("search_customers", {"query": "acme"})
        assert [c["name"] for c in found["customers"]] == ["Acme Corp"]  # as alice, the demo user
    assert server.proc.returncode == 0
    assert server.stderr == ""


def test_the_demo_user_default_is_one_info_line(data_dir):
    with StdioProcess([RENUBU_MCP], demo_default_env(data_dir, RENUBU_LOG_LEVEL="INFO")) as server:
        server.call_tool("search_customers", {"query": "acme"})
    notices = [line for line in server.stderr.splitlines() if "demo user" in line]
    assert len(notices) == 1 and " INFO " in notices[0] and "alice@example.com" in notices[0], server.stderr
    assert " WARNING " not in server.stderr


def test_renubu_mcp_call_on_the_demo_default_prints_only_the_result(data_dir):
    called = subprocess.run(
        [RENUBU_MCP, "call", "search_customers", '{"query": "acme"}'],
        env=demo_default_env(data_dir),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert called.returncode == 0 and '"Acme Corp"' in called.stdout
    assert called.stderr == ""


def test_a_terminal_start_says_what_it_waits_for_and_how_to_connect_then_ctrl_c_stops_it(data_dir):
    terminal, tty = pty.openpty()
    server = subprocess.Popen(
        [RENUBU_MCP],
        stdin=tty,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=demo_default_env(data_dir),
        start_new_session=True,
    )
    os.close(tty)
    try:
        said = _read_until(server.stderr, b"Ctrl-C stops it.", timeout=60)
        deadline = time.monotonic() + 120
        while postmaster_pid(data_dir) is None and time.monotonic() < deadline:  # started up
            time.sleep(0.1)
        postmaster = postmaster_pid(data_dir)
        server.send_signal(signal.SIGINT)  # what Ctrl-C sends
        assert server.wait(timeout=30) == 130
    finally:
        if server.poll() is None:
            server.kill()
        os.close(terminal)
    assert (
        f"as alice@example.com (the demo user; RENUBU_USER_EMAIL picks another), on the embedded PostgreSQL "
        f"in {data_dir}." in said
    )
    assert "waiting for an MCP client on stdin" in said
    assert f"claude mcp add renubu -- {RENUBU_MCP}" in said
    assert f"{RENUBU_MCP} call search_customers" in said and "Connecting a client" in said
    assert server.stdout.read() == b""  # stdout is the wire: the notice never goes there
    assert postmaster is not None and not process_alive(postmaster), "Ctrl-C left PostgreSQL running"


def _read_until(stream, marker: bytes, timeout: float) -> str:
    seen = b""
    deadline = time.monotonic() + timeout
    while marker not in seen:
        remaining = deadline - time.monotonic()
        assert remaining > 0, f"no {marker!r} on stderr within {timeout} s; got {seen!r}"
        ready, _, _ = select.select([stream], [], [], remaining)
        if ready:
            chunk = os.read(stream.fileno(), 4096)
            assert chunk, f"stderr closed before {marker!r}; got {seen!r}"
            seen += chunk
    return seen.decode()
