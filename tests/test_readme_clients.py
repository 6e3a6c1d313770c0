"""Every client configuration in the README works as written: parsed from README.md ("Connecting a client"), each
command is started with its env the way its client starts it (the SDK's stdio client: a few inherited variables plus
the configuration's env) and answers a tool call, with the three clients' servers running at once.

What the test changes, and why:
  - `/path/to/renubu-mcp` becomes this checkout; the wheel is the one `uv build` makes, written to a temp dir
    rather than the checkout's dist/ (its file name must be the README's).
  - RENUBU_DATA_DIR points at a temp dir instead of ~/.local/share/renubu-mcp.
  - PATH starts with .venv/bin, where `uv` (uvx) is installed from PyPI with the test tools; UV_CACHE_DIR is a temp
    dir, so uvx installs like it would on a new machine; this machine's own TLS and proxy settings (SSL_CERT_FILE,
    HTTPS_PROXY, ...) and uv index settings pass through when set, as they would in a client on it.
  - renubu-mcp is not on PyPI yet: for the PyPI configurations UV_FIND_LINKS offers the built wheel as if it were
    published (its dependencies still come from PyPI).
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from collections.abc import Iterator
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from mcp import Client, StdioServerParameters

from tests.conftest import private_tmp_dir
from tests.stdio_process import postmaster_pid, process_alive

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text()
CHECKOUT = "/path/to/renubu-mcp"
WAYS = {"From this checkout": "checkout", "From a built wheel": "wheel", "From PyPI, once published": "pypi"}
CLIENTS = ("Claude Desktop", "Claude Code", "VS Code")
ACME = "10000000-0000-4000-8000-000000000001"
# How this machine reaches the package index (uvx downloads the dependencies): a client on it would carry these.
MACHINE_NETWORK_SETTINGS = {
    "SSL_CERT_FILE",
    "SSL_CERT_DIR",
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "ALL_PROXY",
    "NO_PROXY",
    "http_proxy",
    "https_proxy",
    "all_proxy",
    "no_proxy",
    "UV_INDEX_URL",
    "UV_DEFAULT_INDEX",
    "UV_INDEX",
    "UV_EXTRA_INDEX_URL",
    "UV_NATIVE_TLS",
}


@dataclass(frozen=True)
class ClientConfig:
    way: str
    client: str
    command: str
    args: tuple[str, ...]
    env: dict[str, str] = field(hash=False)

    def __str__(self) -> str:
        return f"{self.client}, {self.way}"


def readme_configurations(readme: str = README) -> list[ClientConfig]:
    """The stdio configurations under "## Connecting a client", by way (### heading) and client (block format)."""
    section = readme.split("\n## Connecting a client\n", 1)[1].split("\n## ", 1)[0]
    found = []
    for part in section.split("\n### ")[1:]:
        heading, body = part.split("\n", 1)
        way = WAYS[heading.strip()]
        for language, block in re.findall(r"```(json|sh)\n(.*?)```", body, re.S):
            if language == "sh":
                found += [_claude_code(way, line) for line in block.splitlines() if line.startswith("claude mcp add")]
                continue
            data = json.loads(block)
            if "mcpServers" in data:
                found += [
                    ClientConfig(way, "Claude Desktop", e["command"], tuple(e.get("args", [])), e.get("env", {}))
                    for e in data["mcpServers"].values()
                ]
            else:
                assert all(e["type"] == "stdio" for e in data["servers"].values()), block
                found += [
                    ClientConfig(way, "VS Code", e["command"], tuple(e.get("args", [])), e.get("env", {}))
                    for e in data["servers"].values()
                ]
    return found


def _claude_code(way: str, line: str) -> ClientConfig:
    words = shlex.split(line, comments=True)
    assert words[:3] == ["claude", "mcp", "add"] and "--" in words, line
    options, command = words[3 : words.index("--")], words[words.index("--") + 1 :]
    env = {}
    for flag, value in zip(options, options[1:], strict=False):
        if flag in ("--env", "-e"):
            name, _, text = value.partition("=")
            env[name] = text
    return ClientConfig(way, "Claude Code", command[0], tuple(command[1:]), env)


CONFIGS = readme_configurations()


def test_the_readme_configures_every_client_every_way_as_alice():
    assert sorted((c.way, c.client) for c in CONFIGS) == sorted((w, c) for w in WAYS.values() for c in CLIENTS)
    assert all(c.env == {"RENUBU_USER_EMAIL": "alice@example.com"} for c in CONFIGS)
    commands = {c.way: (c.command, c.args) for c in CONFIGS}
    assert commands["checkout"] == (f"{CHECKOUT}/.venv/bin/renubu-mcp", ())
    assert commands["pypi"] == ("uvx", ("renubu-mcp",))
    assert all((c.command, c.args) == commands[c.way] for c in CONFIGS), "clients of one way differ"


@pytest.fixture(scope="module")
def uv_home() -> Iterator[Path]:
    path = private_tmp_dir("renubu-readme-uv-")
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture(scope="module")
def wheel(uv_home: Path) -> Path:
    """The wheel `uv build` makes (from the sdist, as a release would), named as the README says."""
    uv = Path(sys.executable).with_name("uv")
    built = subprocess.run(
        [str(uv), "build", "--out-dir", str(uv_home / "dist"), str(ROOT)],
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, "UV_CACHE_DIR": str(uv_home / "cache")},
    )
    assert built.returncode == 0, built.stderr
    (wheel,) = (uv_home / "dist").glob("*.whl")
    named = {Path(a).name for c in CONFIGS if c.way == "wheel" for a in c.args if a.endswith(".whl")}
    assert named == {wheel.name}, f"the README names {named}, uv build made {wheel.name}"
    return wheel


@pytest.fixture(scope="module")
def data_dir() -> Iterator[Path]:
    path = private_tmp_dir("renubu-readme-")
    yield path
    shutil.rmtree(path, ignore_errors=True)


def as_started(config: ClientConfig, wheel: Path, data_dir: Path, uv_home: Path) -> StdioServerParameters:
    """The configuration with this test's locations put in (see the module docstring), nothing else changed."""

    def place(text: str) -> str:
        return text.replace(f"{CHECKOUT}/dist/{wheel.name}", str(wheel)).replace(CHECKOUT, str(ROOT))

    machine = {k: v for k, v in os.environ.items() if k in MACHINE_NETWORK_SETTINGS}
    env = {
        **machine,
        **config.env,
        "RENUBU_DATA_DIR": str(data_dir),
        "UV_CACHE_DIR": str(uv_home / "cache"),
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
    }
    if config.way == "pypi":
        env["UV_FIND_LINKS"] = str(wheel.parent)
    return StdioServerParameters(command=place(config.command), args=[place(a) for a in config.args], env=env)


@pytest.mark.parametrize("way", list(WAYS.values()))
async def test_each_clients_configuration_serves_a_tool_call_with_the_others_running(way, wheel, data_dir, uv_home):
    configs = [c for c in CONFIGS if c.way == way]
    async with AsyncExitStack() as running:
        clients = []
        for config in configs:  # all three running at once, like three clients open together
            client = await running.enter_async_context(Client(as_started(config, wheel, data_dir, uv_home)))
            clients.append((config, client))
        for config, client in clients:
            found = await client.call_tool("search_customers", {"query": "acme"})
            assert not found.is_error, f"{config}: {found.content[0].text}"
            assert [c["name"] for c in found.structured_content["customers"]] == ["Acme Corp"], config
        postmaster = postmaster_pid(data_dir)
        assert postmaster is not None
    assert not process_alive(postmaster), f"{way}: PostgreSQL still runs after every client closed"


class OpenClient:
    """A client session kept open in a task of its own, so sessions can close in any order (anyio's scopes must
    otherwise close in reverse order of opening)."""

    def __init__(self, params: StdioServerParameters) -> None:
        self._params = params
        self._opened = asyncio.Event()
        self._closing = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self.client: Client | None = None

    async def open(self) -> Client:
        self._task = asyncio.create_task(self._run())
        await asyncio.wait([self._task, asyncio.create_task(self._opened.wait())], return_when=asyncio.FIRST_COMPLETED)
        if self._task.done():
            self._task.result()  # the start failed: say why
        assert self.client is not None
        return self.client

    async def close(self) -> None:
        self._closing.set()
        if self._task is not None:
            await self._task

    async def _run(self) -> None:
        async with Client(self._params) as client:
            self.client = client
            self._opened.set()
            await self._closing.wait()


async def test_clients_closing_one_by_one_leave_the_others_working(wheel, data_dir, uv_home):
    """A client that closes (or a host that ends the server of a finished conversation) takes nothing from the
    servers of the others, whichever started PostgreSQL; the last one out stops it."""
    configs = [c for c in CONFIGS if c.way == "checkout"] + [
        c for c in CONFIGS if c.client == "Claude Code" and c.way != "checkout"
    ]
    open_clients: list[tuple[ClientConfig, OpenClient]] = []
    try:
        for config in configs:
            session = OpenClient(as_started(config, wheel, data_dir, uv_home))
            await session.open()
            open_clients.append((config, session))
        postmaster = postmaster_pid(data_dir)
        while open_clients:
            config, session = open_clients.pop(0)  # the first opened (it started PostgreSQL) leaves first
            await session.close()
            for other, still_open in open_clients:
                customer = await still_open.client.call_tool("get_customer", {"customer_id": ACME})
                assert not customer.is_error, f"{other} after {config} closed: {customer.content[0].text}"
    finally:
        for _, session in open_clients:
            await session.close()
    assert not process_alive(postmaster)
