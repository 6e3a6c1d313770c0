"""What the reliability tests and scripts/soak share: real `renubu-mcp serve --transport http` processes, raw
JSON-RPC clients with bearer tokens, a mixed read/write load whose every write carries a unique marker, and the
bookkeeping that proves no acknowledged write was lost and none was stored twice.

Everything listens on 127.0.0.1 only, and every loop here is bounded in count and in time.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import random
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import asyncpg
import httpx

from renubu_mcp.auth import TokenRules, mint_token
from renubu_mcp.demo import ADMIN, ALICE, BOB, DemoUser

RENUBU_MCP = Path(sys.executable).with_name("renubu-mcp")
JWT_SECRET = "reliability-jwt-secret-not-a-secret-0123456789abcdef"
TOKEN_KEY = "reliability-token-key-not-a-secret-0123456789abcdef"
USERS = {u.email: u for u in (ADMIN, ALICE, BOB)}
MCP_HEADERS = {"content-type": "application/json", "accept": "application/json, text/event-stream"}
BARE_INTERNAL_ERROR = "Error executing tool {tool}"  # the SDK's form when an unexpected exception hid the message


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def token_for(user: DemoUser, ttl_seconds: int = 4 * 3600) -> str:
    return mint_token(TokenRules(JWT_SECRET), user.id, user.email, ttl_seconds=ttl_seconds)


# --- a server process --------------------------------------------------------------------------------------


@dataclass
class ServerProcess:
    """`renubu-mcp serve --transport http` on a loopback port, as its own process (stopped by its pid only)."""

    database_url: str
    port: int = field(default_factory=free_port)
    public_url: str | None = None
    env: dict[str, str] = field(default_factory=dict)
    proc: subprocess.Popen | None = None
    log_path: Path | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 60.0) -> "ServerProcess":
        env = {k: v for k, v in os.environ.items() if not k.startswith("RENUBU_")}
        env.update(
            RENUBU_DATABASE_URL=self.database_url,
            RENUBU_JWT_SECRET=JWT_SECRET,
            RENUBU_TOKEN_ENCRYPTION_KEY=TOKEN_KEY,
            RENUBU_LOG_LEVEL="WARNING",
            RENUBU_PUBLIC_URL=self.public_url or self.url,
            **self.env,
        )
        fd, log_name = tempfile.mkstemp(prefix=f"renubu-http-{self.port}-", suffix=".log")
        self.log_path = Path(log_name)
        with os.fdopen(fd, "w") as log:
            self.proc = subprocess.Popen(
                [str(RENUBU_MCP), "serve", "--transport", "http", "--host", "127.0.0.1", "--port", str(self.port)],
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd="/",
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"the server exited with {self.proc.returncode}:\n{self.log()}")
            try:
                if httpx.get(f"{self.url}/healthz", timeout=2).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        self.kill()
        raise RuntimeError(f"the server did not become healthy in {timeout:.0f}s:\n{self.log()}")

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")[-6000:] if self.log_path and self.log_path.exists() else ""

    def terminate(self, timeout: float = 30.0) -> int:
        """SIGTERM, then wait for the exit code (killing it, and failing, if it takes longer than `timeout`)."""
        assert self.proc is not None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)

    def __enter__(self) -> "ServerProcess":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        if self.proc is not None and self.proc.poll() is None:
            try:
                self.terminate(timeout=20)
            except subprocess.TimeoutExpired:
                pass
        if self.log_path is not None:
            self.log_path.unlink(missing_ok=True)


# --- raw JSON-RPC calls -------------------------------------------------------------------------------------

Kind = Literal["ok", "tool_error", "rpc_error", "http_error", "transport_error"]


@dataclass
class Outcome:
    kind: Kind
    text: str = ""
    data: Any = None
    status: int | None = None

    @property
    def ok(self) -> bool:
        return self.kind == "ok"

    def is_bare_internal_error(self, tool: str) -> bool:
        """The SDK's answer to an unexpected exception: the message is hidden, the outcome unknown."""
        return self.kind == "tool_error" and self.text.strip() == BARE_INTERNAL_ERROR.format(tool=tool)

    @property
    def is_outage_error(self) -> bool:
        """A tool error telling the caller the database cannot be reached and to try again."""
        text = self.text.lower()
        return self.kind == "tool_error" and "database" in text and ("unavailable" in text or "try again" in text)


_ids = itertools.count(1)


async def call_tool(http: httpx.AsyncClient, url: str, token: str, tool: str, arguments: dict[str, Any]) -> Outcome:
    """One tools/call POST to a stateless JSON server (no session, no initialize: any replica can answer)."""
    body = {
        "jsonrpc": "2.0",
        "id": next(_ids),
        "method": "tools/call",
        "params": {"name": tool, "arguments": arguments},
    }
    try:
        response = await http.post(f"{url}/mcp", json=body, headers={**MCP_HEADERS, "authorization": f"Bearer {token}"})
    except httpx.HTTPError as exc:
        return Outcome("transport_error", f"{type(exc).__name__}: {exc}")
    if response.status_code != 200:
        return Outcome("http_error", response.text[:500], status=response.status_code)
    try:
        message = response.json()
    except ValueError:
        return Outcome("http_error", response.text[:500], status=response.status_code)
    if "error" in message:
        return Outcome("rpc_error", json.dumps(message["error"])[:500], status=200)
    result = message["result"]
    text = " ".join(c.get("text", "") for c in result.get("content", []) if c.get("type") == "text")
    if result.get("isError"):
        return Outcome("tool_error", text, status=200)
    return Outcome("ok", text, data=result.get("structuredContent"), status=200)


def new_http_client(connections: int = 4, timeout: float = 60.0) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        timeout=timeout, limits=httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
    )


# --- the load: a mix of reads and marked writes -------------------------------------------------------------

ALICE_CUSTOMERS = [f"10000000-0000-4000-8000-0000000000{n:02d}" for n in [*range(1, 21), 41, 42, 43, 44]]
BOB_CUSTOMERS = [f"10000000-0000-4000-8000-0000000000{n:02d}" for n in range(21, 45)]
# Workflows that take tasks and actions (in progress or not started), and that reading never wakes.
ALICE_WORKFLOWS = [f"30000000-0000-4000-8000-0000000000{n:02d}" for n in (1, 2, 6, 7)]
BOB_WORKFLOWS = [f"30000000-0000-4000-8000-0000000000{n:02d}" for n in (11, 13, 14, 16, 18)]
BOOKS = {ALICE.email: (ALICE_CUSTOMERS, ALICE_WORKFLOWS), BOB.email: (BOB_CUSTOMERS, BOB_WORKFLOWS)}
WRITE_TOOLS = ("add_contact", "create_task", "record_action", "start_workflow")


@dataclass(frozen=True)
class Call:
    n: int
    user: str
    tool: str
    arguments: dict[str, Any]
    marker: str | None = None  # writes only: unique per call, stored in the row it creates


def plan_call(n: int, user: str, run_id: str, rng: random.Random, write_share: float = 0.4) -> Call:
    customers, workflows = BOOKS[user]
    customer, workflow = rng.choice(customers), rng.choice(workflows)
    if rng.random() < write_share:
        marker = f"{run_id}-{n}"
        tool = rng.choice(WRITE_TOOLS)
        arguments = {
            "add_contact": {"customer_id": customer, "name": marker, "role": "load test"},
            "create_task": {"workflow_id": workflow, "title": marker, "priority": "low"},
            "record_action": {"workflow_id": workflow, "action_type": "note", "action_data": {"marker": marker}},
            "start_workflow": {"workflow_type": "renewal", "customer_id": customer, "workflow_name": marker},
        }[tool]
        return Call(n, user, tool, arguments, marker)
    tool, arguments = rng.choice(
        [
            ("search_customers", {"query": rng.choice(["a", "corp", "in", "tech"]), "limit": 10}),
            ("get_customer", {"customer_id": customer}),
            ("list_contacts", {"customer_id": customer}),
            ("list_workflows", {"limit": 10}),
            ("get_workflow", {"workflow_id": workflow}),
            ("upcoming_renewals", {"days_ahead": 90}),
            ("search_docs", {"query": "renewal"}),
        ]
    )
    return Call(n, user, tool, arguments)


@dataclass
class Record:
    call: Call
    outcome: Outcome
    started: float
    ended: float

    @property
    def latency(self) -> float:
        return self.ended - self.started


async def run_load(
    url: str | list[str],
    *,
    calls: int,
    concurrency: int,
    run_id: str,
    time_limit: float,
    users: tuple[str, ...] = (ALICE.email, BOB.email),
    seed: int = 0,
    write_share: float = 0.4,
    stop: asyncio.Event | None = None,
    failure_pause: float = 0.05,
) -> list[Record]:
    """`calls` calls from `concurrency` clients (each its own HTTP connection and user, alternating), until all
    are done, `time_limit` seconds pass, or `stop` is set. A client pauses `failure_pause` s after a failed call
    (as a real one backs off). Returns one Record per call made."""
    urls = [url] if isinstance(url, str) else list(url)
    tokens = {email: token_for(USERS[email]) for email in users}
    counter = itertools.count()
    records: list[Record] = []
    deadline = time.monotonic() + time_limit

    async def client(index: int) -> None:
        user = users[index % len(users)]
        rng = random.Random(f"{seed}-{index}")
        async with new_http_client(connections=1) as http:
            while time.monotonic() < deadline and not (stop and stop.is_set()):
                n = next(counter)
                if n >= calls:
                    return
                call = plan_call(n, user, run_id, rng, write_share)
                started = time.monotonic()
                outcome = await call_tool(http, urls[n % len(urls)], tokens[user], call.tool, call.arguments)
                records.append(Record(call, outcome, started, time.monotonic()))
                if not outcome.ok and failure_pause:
                    await asyncio.sleep(failure_pause)

    await asyncio.gather(*(client(i) for i in range(concurrency)))
    return records


# --- counting what was stored --------------------------------------------------------------------------------


@dataclass
class Stored:
    rows: Counter  # marker -> rows holding it (contacts, tasks, recorded actions, workflow executions)
    started_actions: Counter  # start_workflow marker -> its workflow_started actions


async def count_stored(owner_dsn: str, run_id: str) -> Stored:
    """Every row this run's writes created, by marker, read as the owner (no RLS)."""
    prefix = run_id.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "-%"
    conn = await asyncpg.connect(owner_dsn)
    try:
        rows: Counter = Counter()
        for sql in (
            "SELECT name AS m FROM public.contacts WHERE name LIKE $1",
            "SELECT title AS m FROM public.workflow_tasks WHERE title LIKE $1",
            "SELECT action_data->>'marker' AS m FROM public.workflow_actions WHERE action_data->>'marker' LIKE $1",
            "SELECT workflow_name AS m FROM public.workflow_executions WHERE workflow_name LIKE $1",
        ):
            rows.update(r["m"] for r in await conn.fetch(sql, prefix))
        started = Counter(
            r["m"]
            for r in await conn.fetch(
                "SELECT e.workflow_name AS m FROM public.workflow_executions e JOIN public.workflow_actions a"
                " ON a.workflow_execution_id = e.id AND a.action_type = 'workflow_started' WHERE e.workflow_name LIKE $1",
                prefix,
            )
        )
    finally:
        await conn.close()
    return Stored(rows, started)


@dataclass
class WriteCheck:
    attempted: int
    acknowledged: int
    stored: int
    lost: list[str]  # acknowledged, not stored
    duplicated: dict[str, int]  # stored more than once
    phantom: list[str]  # stored, never attempted
    refused_but_stored: list[str]  # a definite refusal (not an outage error), yet stored
    half_written: list[str]  # start_workflow without exactly one workflow_started action
    unacknowledged_stored: int  # no success response, stored anyway (allowed: the answer was lost)

    @property
    def problems(self) -> dict[str, Any]:
        found = {
            "lost": self.lost,
            "duplicated": self.duplicated,
            "phantom": self.phantom,
            "refused_but_stored": self.refused_but_stored,
            "half_written": self.half_written,
        }
        return {k: v for k, v in found.items() if v}


def check_writes(records: list[Record], stored: Stored) -> WriteCheck:
    """acknowledged ⊆ stored ⊆ attempted, each stored at most once; a start_workflow wrote both of its rows."""
    writes = [r for r in records if r.call.marker]
    attempted = {r.call.marker for r in writes}
    acknowledged = {r.call.marker for r in writes if r.outcome.ok}
    refused = {
        r.call.marker
        for r in writes
        if r.outcome.kind == "tool_error"
        and not r.outcome.is_outage_error
        and not r.outcome.is_bare_internal_error(r.call.tool)
    }
    starts = {r.call.marker for r in writes if r.call.tool == "start_workflow"}
    present = set(stored.rows)
    return WriteCheck(
        attempted=len(attempted),
        acknowledged=len(acknowledged),
        stored=len(present),
        lost=sorted(acknowledged - present),
        duplicated={m: c for m, c in stored.rows.items() if c > 1},
        phantom=sorted(present - attempted),
        refused_but_stored=sorted(refused & present),
        half_written=sorted(m for m in starts & present if stored.started_actions[m] != 1)
        + sorted(m for m in starts - present if stored.started_actions[m]),
        unacknowledged_stored=len(present - acknowledged),
    )


# --- a database outage in the middle of the load ---------------------------------------------------------------


@dataclass
class Outage:
    stopping: float  # time.monotonic() when the stop began
    down: float  # the cluster had stopped
    starting: float
    up: float  # the cluster accepts connections again


async def outage(cluster: Any, down_for: float, *, crash: bool = False) -> Outage:
    """Stop the cluster (pg_ctl -m fast, or -m immediate: a crash), keep it down `down_for` s, start it again."""
    stopping = time.monotonic()
    if crash:
        await asyncio.to_thread(
            cluster._run_server_tool,
            [str(cluster.bindir / "pg_ctl"), "-D", str(cluster.pgdata), "-m", "immediate", "-w", "stop"],
        )
    else:
        await asyncio.to_thread(cluster.stop)
    down = time.monotonic()
    await asyncio.sleep(down_for)
    starting = time.monotonic()
    await asyncio.to_thread(cluster.start)
    cluster.started_by_us = True  # ours to stop, whichever way it was stopped
    return Outage(stopping, down, starting, time.monotonic())


@dataclass
class OutageCheck:
    before: Counter
    during: Counter
    after: Counter
    unclear: list[str]  # failures that are not a clear "database unavailable" tool error (nor bare internal)
    bare_internal: list[str]  # the SDK's "Error executing tool X": an unexpected exception, message hidden
    failing_after_grace: list[str]
    recovery_s: float | None  # from the database being up to the first successful call started after that

    @property
    def problems(self) -> dict[str, Any]:
        found = {
            "unclear": self.unclear,
            "failing_after_grace": self.failing_after_grace,
            "not_recovered": self.recovery_s is None,
        }
        return {k: v for k, v in found.items() if v}


def check_outage(records: list[Record], o: Outage, grace: float = 5.0) -> OutageCheck:
    """Before the stop every call succeeds; while down (and for `grace` s after), a call either succeeds or is a
    clear database-unavailable tool error; afterwards every call succeeds again."""
    before = [r for r in records if r.ended < o.stopping]
    after = [r for r in records if r.started >= o.up + grace]
    during = [r for r in records if r.ended >= o.stopping and r.started < o.up + grace]

    def describe(r: Record) -> str:
        return (
            f"{r.call.tool} @{r.started - o.stopping:+.2f}s: {r.outcome.kind} {r.outcome.status} {r.outcome.text[:160]}"
        )

    bare = [r for r in during if r.outcome.is_bare_internal_error(r.call.tool)]
    unclear = [r for r in before if not r.outcome.ok] + [
        r for r in during if not r.outcome.ok and not r.outcome.is_outage_error and r not in bare
    ]
    first_ok = min((r.ended for r in records if r.started >= o.up and r.outcome.ok), default=None)
    return OutageCheck(
        before=Counter(r.outcome.kind for r in before),
        during=Counter(r.outcome.kind for r in during),
        after=Counter(r.outcome.kind for r in after),
        unclear=[describe(r) for r in unclear],
        bare_internal=[describe(r) for r in bare],
        failing_after_grace=[describe(r) for r in after if not r.outcome.ok],
        recovery_s=None if first_ok is None else round(first_ok - o.up, 3),
    )


# --- figures ---------------------------------------------------------------------------------------------------


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[min(98, max(0, int(q) - 1))]


def summary(records: list[Record], elapsed: float) -> dict[str, Any]:
    latencies = [r.latency * 1000 for r in records]
    kinds = Counter(r.outcome.kind for r in records)
    return {
        "calls": len(records),
        "ok": kinds["ok"],
        "failed": len(records) - kinds["ok"],
        "by_kind": dict(kinds),
        "writes": sum(1 for r in records if r.call.marker),
        "elapsed_s": round(elapsed, 2),
        "calls_per_s": round(len(records) / elapsed, 1) if elapsed else None,
        "p50_ms": round(percentile(latencies, 50), 1),
        "p99_ms": round(percentile(latencies, 99), 1),
        "max_ms": round(max(latencies), 1) if latencies else None,
    }


def failure_samples(records: list[Record], limit: int = 5) -> list[str]:
    return [
        f"{r.call.tool}: {r.outcome.kind} {r.outcome.status} {r.outcome.text[:200]}"
        for r in records
        if not r.outcome.ok
    ][:limit]
