"""Shared benchmark plumbing: a private embedded cluster, the demo and large-scale databases, an HTTP server
subprocess with an `echo` floor tool, a minimal keep-alive HTTP client, and the statistics and tables.

Benchmarks are never tests: nothing here is collected by pytest.

The cluster lives in /tmp/renubu-bench (mode 0755, so that as root the `postgres` user can reach it) and is
kept between runs: the large database (bench_large: 1M customers, 100k docs, 10k installs) is generated once
by bench/scale_data.py and reused while its generator version matches; the demo database (bench_demo) is
re-created from the migrations and the demo seed on every run. fsync stays on (fast_unsafe=False).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import asyncpg

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from renubu_mcp import migrate as migrations  # noqa: E402
from renubu_mcp.auth import TokenRules, mint_token  # noqa: E402
from renubu_mcp.config import Settings  # noqa: E402
from renubu_mcp.demo import ALICE  # noqa: E402
from renubu_mcp.embedded import EmbeddedCluster  # noqa: E402

BENCH_DIR = Path(os.environ.get("RENUBU_BENCH_DIR", "/tmp/renubu-bench"))
DEMO_DB = "bench_demo"
LARGE_DB = "bench_large"
JWT_SECRET = "bench-jwt-secret-not-a-secret-0123456789abcdef"
TOKEN_KEY = "bench-token-key-not-a-secret-0123456789abcdef0"
AUDIENCE = "renubu-mcp"


# --- the cluster and its databases ------------------------------------------------------------------------------


@contextlib.contextmanager
def bench_cluster() -> Iterator[EmbeddedCluster]:
    """The benchmark's own embedded cluster (fsync on), started for this run and stopped after it."""
    BENCH_DIR.mkdir(parents=True, exist_ok=True)
    os.chmod(BENCH_DIR, 0o755)
    cluster = EmbeddedCluster(BENCH_DIR / "cluster", fast_unsafe=False)
    with cluster:
        yield cluster


async def prepare_demo(cluster: EmbeddedCluster) -> str:
    """A fresh demo-scale database (migrations + demo seed); its name."""
    cluster.drop_database(DEMO_DB)
    cluster.create_database(DEMO_DB)
    await migrations.migrate(cluster.owner_dsn(DEMO_DB))
    await migrations.seed_demo(cluster.owner_dsn(DEMO_DB))
    await analyze(cluster.owner_dsn(DEMO_DB))
    return DEMO_DB


async def prepare_large(cluster: EmbeddedCluster, *, quiet: bool = False) -> str:
    """The large-scale database, generated once (minutes) and reused while bench/scale_data.py's version holds."""
    from bench import scale_data

    dsn = cluster.owner_dsn(LARGE_DB)
    if cluster.database_exists(LARGE_DB):
        conn = await asyncpg.connect(dsn)
        try:
            version = None
            if await conn.fetchval("SELECT to_regclass('bench_meta.generated') IS NOT NULL"):
                version = await conn.fetchval("SELECT version FROM bench_meta.generated")
        finally:
            await conn.close()
        if version == scale_data.VERSION:
            applied = await migrations.migrate(dsn)  # a migration added since generation: apply it, keep the data
            if applied:
                await analyze(dsn)
            return LARGE_DB
        cluster.drop_database(LARGE_DB)
    if not quiet:
        print(f"generating the large-scale database in {BENCH_DIR} (once; takes minutes)...", flush=True)
    started = time.perf_counter()
    cluster.create_database(LARGE_DB)
    await migrations.migrate(dsn)
    await migrations.seed_demo(dsn)
    await scale_data.generate(dsn, log=None if quiet else print)
    if not quiet:
        print(f"generated in {time.perf_counter() - started:.0f} s", flush=True)
    return LARGE_DB


async def analyze(dsn: str) -> None:
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute("VACUUM ANALYZE")
    finally:
        await conn.close()


# --- identities -------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class BenchUser:
    id: uuid.UUID
    email: str


DEMO_USER = BenchUser(ALICE.id, ALICE.email)


def token_for(user: BenchUser, ttl: int = 7200) -> str:
    return mint_token(TokenRules(JWT_SECRET, audience=AUDIENCE), user.id, user.email, ttl_seconds=ttl)


def settings_for(app_dsn: str, port: int = 8000, **changes: Any) -> Settings:
    base = Settings(
        database_url=app_dsn,
        token_encryption_key=TOKEN_KEY,
        jwt_secret=JWT_SECRET,
        jwt_audience=AUDIENCE,
        host="127.0.0.1",
        port=port,
    )
    return replace(base, **changes)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# --- the HTTP server under test (a subprocess: its own core, its own resident memory) ---------------------------


@dataclass
class ServerProcess:
    proc: subprocess.Popen
    port: int

    @property
    def pid(self) -> int:
        return self.proc.pid

    def rss_kib(self) -> int:
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
        raise RuntimeError("no VmRSS")


@contextlib.contextmanager
def http_server(
    app_dsn: str, *, extra_env: dict[str, str] | None = None, pool_max: int = 10
) -> Iterator[ServerProcess]:
    """bench/serve_http.py in a subprocess: build_server(transport="http") + an `echo` tool, under uvicorn."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("RENUBU_")}
    env.update(BENCH_APP_DSN=app_dsn, BENCH_PORT=str(port), BENCH_POOL_MAX=str(pool_max), PYTHONPATH=str(ROOT))
    env.update(extra_env or {})
    proc = subprocess.Popen(
        [sys.executable, str(ROOT / "bench" / "serve_http.py")], env=env, stdout=subprocess.PIPE, stderr=None, text=True
    )
    try:
        line = proc.stdout.readline() if proc.stdout else ""
        if not line.startswith("ready"):
            raise RuntimeError(f"the benchmark server did not start: {line!r}")
        yield ServerProcess(proc, port)
    finally:
        proc.send_signal(signal.SIGTERM)  # only the process we started, by its pid
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


# --- CPU accounting: who spends the CPU of a call (client, server, PostgreSQL share the machine's cores) ----------


def process_cpu_seconds(pid: int) -> float:
    """utime + stime of one process, from /proc (0 if it has exited)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except FileNotFoundError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def cluster_pids(cluster: EmbeddedCluster) -> list[int]:
    """The postmaster of the benchmark cluster and all its children (backends, walwriter, ...)."""
    postmaster = int((cluster.pgdata / "postmaster.pid").read_text().split()[0])
    pids = [postmaster]
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            if int(stat.read_text().rsplit(")", 1)[1].split()[1]) == postmaster:
                pids.append(int(stat.parent.name))
        except (FileNotFoundError, ProcessLookupError, ValueError):
            continue
    return pids


def postgres_cpu_snapshot(pids: Sequence[int]) -> dict[int, float]:
    return {pid: process_cpu_seconds(pid) for pid in pids}


def postgres_cpu_between(start: dict[int, float], end: dict[int, float]) -> float:
    """CPU the backends spent between two snapshots; a process that exited (an autovacuum worker) counts nothing."""
    return sum(end[pid] - start[pid] for pid in start if end.get(pid, 0.0) >= start[pid])


# --- a minimal keep-alive HTTP/1.1 JSON-RPC client (cheap, so the server's cost dominates) ----------------------


class RawClient:
    """One keep-alive connection posting MCP JSON-RPC requests (stateless server, JSON responses)."""

    def __init__(self, port: int, token: str):
        self.port, self.token = port, token
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None
        self._id = 0

    async def __aenter__(self) -> "RawClient":
        self.reader, self.writer = await asyncio.open_connection("127.0.0.1", self.port)
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self.writer is not None:
            self.writer.close()
            with contextlib.suppress(Exception):
                await self.writer.wait_closed()

    def request_bytes(self, method: str, params: dict[str, Any]) -> bytes:
        self._id += 1
        body = json.dumps({"jsonrpc": "2.0", "id": self._id, "method": method, "params": params}).encode()
        head = (
            f"POST /mcp HTTP/1.1\r\nHost: 127.0.0.1:{self.port}\r\nAuthorization: Bearer {self.token}\r\n"
            "Content-Type: application/json\r\nAccept: application/json, text/event-stream\r\n"
            "MCP-Protocol-Version: 2025-11-25\r\n"
            f"Content-Length: {len(body)}\r\n\r\n"
        ).encode()
        return head + body

    async def call(self, tool: str, arguments: dict[str, Any]) -> dict[str, Any]:
        """tools/call: the result, or RuntimeError when the tool answered with an error."""
        return await self.request("tools/call", {"name": tool, "arguments": arguments})

    async def request(self, method: str, params: dict[str, Any]) -> dict[str, Any]:
        assert self.reader is not None and self.writer is not None
        tool = params.get("name", method)
        self.writer.write(self.request_bytes(method, params))
        status_line = await self.reader.readline()
        length = 0
        while True:
            line = await self.reader.readline()
            if line in (b"\r\n", b""):
                break
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value.strip())
        body = await self.reader.readexactly(length)
        if b" 200 " not in status_line:
            raise RuntimeError(f"{tool}: HTTP {status_line!r} {body[:300]!r}")
        reply = json.loads(body)
        result = reply.get("result")
        if result is None or result.get("isError"):
            raise RuntimeError(f"{tool} failed: {body[:500]!r}")
        return result


# --- statistics and tables -------------------------------------------------------------------------------------


def pct(samples: Sequence[float], q: float) -> float:
    ordered = sorted(samples)
    if not ordered:
        return float("nan")
    k = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[k]


def p50(samples: Sequence[float]) -> float:
    return statistics.median(samples)


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.3f}"


def us(seconds: float) -> str:
    return f"{seconds * 1e6:.1f}"


def table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """A markdown table (pasted as is into docs/performance.md)."""
    cells = [[str(h) for h in headers]] + [[str(c) for c in row] for row in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    fmt = lambda r: "| " + " | ".join(c.ljust(w) for c, w in zip(r, widths)) + " |"  # noqa: E731
    lines = [fmt(cells[0]), "|" + "|".join("-" * (w + 2) for w in widths) + "|"]
    lines += [fmt(r) for r in cells[1:]]
    return "\n".join(lines)


def machine_line() -> str:
    load = os.getloadavg()
    return (
        f"{os.cpu_count()} cores, load {load[0]:.2f}/{load[1]:.2f}, python {sys.version.split()[0]}, "
        f"asyncpg {asyncpg.__version__}, {time.strftime('%Y-%m-%d %H:%M:%S')}"
    )


async def timed(fn, n: int, warmup: int = 50) -> list[float]:
    """Call the coroutine function `fn` n times (after warmup calls); per-call seconds."""
    for _ in range(warmup):
        await fn()
    samples = []
    clock = time.perf_counter
    for _ in range(n):
        t0 = clock()
        await fn()
        samples.append(clock() - t0)
    return samples


@contextlib.asynccontextmanager
async def owner_conn(dsn: str) -> AsyncIterator[asyncpg.Connection]:
    conn = await asyncpg.connect(dsn)
    try:
        yield conn
    finally:
        await conn.close()


def clone_database(cluster: EmbeddedCluster, template: str, name: str) -> None:
    """CREATE DATABASE name TEMPLATE template, retrying while the template's last sessions finish exiting."""
    cluster.drop_database(name)
    for _attempt in range(50):
        try:
            cluster.create_database(name, template=template)
            return
        except asyncpg.ObjectInUseError:
            time.sleep(0.2)
    cluster.create_database(name, template=template)
