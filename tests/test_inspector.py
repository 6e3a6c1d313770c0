"""The MCP Inspector's CLI, run against the stdio server the way a developer would, finds every tool schema portable:
`--strict` reports no warning (array `type`s and empty schemas break clients whose dialect allows neither).

The Inspector comes from the npm registry: scripts/bootstrap test installs the version tests/inspector pins into
.venv/npm. The test skips only when npm or its registry cannot be reached.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from renubu_mcp.server import ALL_TOOLSETS
from tests.conftest import private_tmp_dir

ROOT = Path(__file__).resolve().parent.parent
INSPECTOR = ROOT / ".venv" / "npm" / "node_modules" / ".bin" / "mcp-inspector"
PINNED = json.loads((ROOT / "tests" / "inspector" / "package.json").read_text())["dependencies"]
RENUBU_MCP = Path(sys.executable).with_name("renubu-mcp")


def _npm_registry_reachable() -> bool:
    npm = shutil.which("npm")
    if npm is None:
        return False
    ((name, version),) = PINNED.items()
    try:
        found = subprocess.run(
            [npm, "view", f"{name}@{version}", "version"], capture_output=True, text=True, timeout=60
        )
    except subprocess.TimeoutExpired:
        return False
    return found.returncode == 0 and found.stdout.strip() == version


@pytest.fixture(scope="module")
def inspector() -> Path:
    if INSPECTOR.exists():
        return INSPECTOR
    if not _npm_registry_reachable():
        pytest.skip(
            "the MCP Inspector is not installed and npm or its registry cannot be reached here "
            "(scripts/bootstrap test installs it into .venv/npm when they can)"
        )
    pytest.fail(f"the MCP Inspector is missing from {INSPECTOR.parent}: run scripts/bootstrap test")


def test_the_inspectors_strict_schema_check_finds_nothing_to_report(inspector):
    data_dir = private_tmp_dir("renubu-inspector-")
    home = private_tmp_dir("renubu-inspector-home-")  # the Inspector keeps its settings under $HOME
    env = {k: v for k, v in os.environ.items() if not k.startswith("RENUBU_")}
    env["HOME"] = str(home)
    try:
        run = subprocess.run(
            [
                str(inspector),
                "--cli",
                "-e",
                f"RENUBU_DATA_DIR={data_dir}",
                "-e",
                "RENUBU_USER_EMAIL=admin@example.com",
                "--method",
                "tools/list",
                "--strict",
                str(RENUBU_MCP),
            ],
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )
    finally:
        shutil.rmtree(home, ignore_errors=True)
        shutil.rmtree(data_dir, ignore_errors=True)
    assert run.returncode == 0, run.stderr
    listed = {tool["name"] for tool in json.loads(run.stdout)["tools"]}
    assert listed == {spec.name for toolset in ALL_TOOLSETS for spec in toolset.specs}  # it did check them all
    reported = [
        line
        for line in run.stderr.splitlines()
        if line.startswith(("Warning:", "Error:")) or "Schema portability" in line or "Issue:" in line
    ]
    assert reported == [], run.stderr
