"""scripts/serve and scripts/test share one .venv: set up once (with the test tools), redone only when pyproject.toml
changes, and never while a renubu-mcp process runs from it.

The scripts run for real, in a copy of the checkout whose .venv/bin/python only records what it was asked to do
(a real install takes minutes and the network; .ci/run does that one from a clean clone). The last test checks the
other half on this checkout's real .venv: a running server holds the lock that bootstrap checks.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.stdio_process import StdioProcess

ROOT = Path(__file__).resolve().parent.parent

FAKE_PYTHON = """#!/bin/sh
echo "$*" >> "$(dirname "$0")/../calls.log"
"""
# Stands in for .venv/bin/renubu-mcp: says on stdout whether .venv is marked in use (by the lock it inherited).
FAKE_SERVER = """#!/usr/bin/env python3
import fcntl, os, sys
fd = os.open(os.path.join(os.path.dirname(__file__), "..", ".renubu-in-use"), os.O_RDONLY)
try:
    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    state = "not in use"
except BlockingIOError:
    state = "in use"
print(state + ": " + " ".join(sys.argv[1:]))
"""


def _executable(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    path.chmod(path.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)


@pytest.fixture
def checkout(tmp_path: Path) -> Path:
    """The scripts, pyproject.toml and the Inspector pin, with a .venv whose python and server are stand-ins."""
    shutil.copytree(ROOT / "scripts", tmp_path / "scripts")
    shutil.copy(ROOT / "pyproject.toml", tmp_path)
    shutil.copytree(ROOT / "tests" / "inspector", tmp_path / "tests" / "inspector")
    _executable(tmp_path / ".venv" / "bin" / "python", FAKE_PYTHON)
    _executable(tmp_path / ".venv" / "bin" / "renubu-mcp", FAKE_SERVER)
    # The Inspector as if already installed from npm: this test is about the Python environment.
    npm = tmp_path / ".venv" / "npm"
    _executable(npm / "node_modules" / ".bin" / "mcp-inspector", "#!/bin/sh\n")
    shutil.copy(ROOT / "tests" / "inspector" / "package-lock.json", npm)
    return tmp_path


def run(checkout: Path, *command: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(checkout / command[0]), *command[1:]], cwd=checkout, capture_output=True, text=True, timeout=300
    )


def installs(checkout: Path) -> list[str]:
    log = checkout / ".venv" / "calls.log"
    return [line for line in log.read_text().splitlines() if " install " in f" {line} "] if log.exists() else []


@pytest.fixture
def in_use(checkout: Path) -> Iterator[None]:
    """A process running from the checkout's .venv (what renubu_mcp/environment.py does in every server)."""
    marker = checkout / ".venv" / ".renubu-in-use"
    marker.touch()
    fd = os.open(marker, os.O_RDONLY)
    fcntl.flock(fd, fcntl.LOCK_SH)
    yield
    os.close(fd)


def test_serve_then_test_then_serve_installs_once_and_again_only_when_pyproject_changes(checkout):
    assert run(checkout, "scripts/bootstrap").returncode == 0
    assert installs(checkout) == ["-m pip install -q --upgrade pip", "-m pip install -q -e .[test]"]
    for mode in (["scripts/bootstrap", "test"], ["scripts/bootstrap"], ["scripts/bootstrap", "test"]):
        done = run(checkout, *mode)
        assert done.returncode == 0, done.stderr
    assert len(installs(checkout)) == 2, "serve and test reinstalled over each other"

    with (checkout / "pyproject.toml").open("a") as pyproject:
        pyproject.write("\n# a dependency changed\n")
    assert run(checkout, "scripts/bootstrap").returncode == 0
    assert len(installs(checkout)) == 4


def test_a_setup_never_changes_an_environment_a_running_process_uses(checkout, in_use):
    with (checkout / "pyproject.toml").open("a") as pyproject:
        pyproject.write("\n# a dependency changed\n")
    refused = run(checkout, "scripts/test", "-q")
    assert refused.returncode == 1
    assert "a renubu-mcp process is running from it" in refused.stderr and "stop it" in refused.stderr
    assert installs(checkout) == [] and refused.stdout == ""


def test_an_environment_already_set_up_starts_more_servers_and_tests_while_one_runs(checkout):
    assert run(checkout, "scripts/bootstrap").returncode == 0
    marker = checkout / ".venv" / ".renubu-in-use"
    fd = os.open(marker, os.O_RDONLY)
    fcntl.flock(fd, fcntl.LOCK_SH)  # a server is running from it
    try:
        assert run(checkout, "scripts/serve").stdout == "in use: serve\n"
        assert run(checkout, "scripts/bootstrap", "test").returncode == 0
    finally:
        os.close(fd)
    assert len(installs(checkout)) == 2


def test_scripts_serve_runs_the_server_on_the_real_stdout_with_the_environment_marked_in_use(checkout):
    served = run(checkout, "scripts/serve", "--read-only")
    assert served.returncode == 0, served.stderr
    assert served.stdout == "in use: serve --read-only\n"  # nothing of the setup's own output on the wire
    assert "bootstrap: installing" in served.stderr


def test_a_server_running_from_the_checkouts_venv_holds_the_lock_bootstrap_checks(demo_db):
    """On this checkout's real .venv (scripts/test set it up): a live `renubu-mcp` holds a shared flock on
    .venv/.renubu-in-use, so bootstrap's exclusive probe would fail for as long as it runs."""
    marker = Path(sys.prefix) / ".renubu-in-use"
    if not marker.is_file() or not Path("/proc/locks").exists():
        pytest.skip("needs the .venv scripts/bootstrap sets up, and Linux's /proc/locks")
    env = {k: v for k, v in os.environ.items() if not k.startswith("RENUBU_")}
    env.update(RENUBU_DATABASE_URL=demo_db.app_dsn, RENUBU_USER_EMAIL="alice@example.com")
    with StdioProcess([str(Path(sys.executable).with_name("renubu-mcp"))], env) as server:
        server.call_tool("search_customers", {"query": "acme"})
        st = os.stat(marker)
        device = f"{os.major(st.st_dev):02x}:{os.minor(st.st_dev):02x}:{st.st_ino}"
        held = [line.split() for line in Path("/proc/locks").read_text().splitlines()]
        assert any(f[1] == "FLOCK" and f[3] == "READ" and f[4] == str(server.pid) and f[5] == device for f in held), (
            f"renubu-mcp (pid {server.pid}) holds no shared flock on {marker}"
        )
