"""A `renubu-mcp` stdio server as a real child process, driven by hand: newline-delimited JSON-RPC on its stdin and
stdout, as a host does. Unlike the SDK's client it keeps the process in reach: its pid, a SIGKILL, a clean exit
(stdin closed), and what it wrote to stderr.

    with StdioProcess([RENUBU_MCP], env) as server:
        server.call_tool("search_customers", {"query": "acme"})   # the result's structuredContent, or fail
    server.stderr                                                 # everything it logged
"""

from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import tempfile
import threading
from pathlib import Path
from typing import Any

PROTOCOL_VERSION = "2025-11-25"
# The first start of an embedded data dir creates the cluster, migrates and seeds it: slow on a busy machine.
FIRST_ANSWER_SECONDS = 180.0


class StdioProcess:
    def __init__(self, command: list[str], env: dict[str, str]) -> None:
        self._command = command
        self._env = env
        self._stderr_file = tempfile.TemporaryFile()
        self._lines: queue.Queue[bytes | None] = queue.Queue()
        self._next_id = 1
        self.proc: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> StdioProcess:
        self.start_process()
        self.finish_handshake()
        return self

    def start_process(self) -> None:
        """Start the process and send `initialize` without waiting for the answer (several may start together)."""
        self.proc = subprocess.Popen(
            self._command,
            env=self._env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._stderr_file,
            start_new_session=True,
        )
        threading.Thread(target=self._read_stdout, daemon=True).start()
        self._initialize_id = self._send_request(
            "initialize",
            {
                "protocolVersion": PROTOCOL_VERSION,
                "capabilities": {},
                "clientInfo": {"name": "renubu-tests", "version": "1"},
            },
        )

    def finish_handshake(self) -> None:
        self._answer(self._initialize_id, "initialize", FIRST_ANSWER_SECONDS)
        self._send({"jsonrpc": "2.0", "method": "notifications/initialized"})

    def __exit__(self, *exc: object) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.exit()

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    @property
    def stderr(self) -> str:
        self._stderr_file.seek(0)
        return self._stderr_file.read().decode(errors="replace")

    def request(self, method: str, params: dict[str, Any], timeout: float = FIRST_ANSWER_SECONDS) -> dict[str, Any]:
        return self._answer(self._send_request(method, params), method, timeout)

    def _send_request(self, method: str, params: dict[str, Any]) -> int:
        request_id = self._next_id
        self._next_id += 1
        self._send({"jsonrpc": "2.0", "id": request_id, "method": method, "params": params})
        return request_id

    def _answer(self, request_id: int, method: str, timeout: float) -> dict[str, Any]:
        while True:
            try:
                line = self._lines.get(timeout=timeout)
            except queue.Empty:
                raise AssertionError(f"no answer to {method} within {timeout:.0f} s; stderr:\n{self.stderr}") from None
            if line is None:
                raise AssertionError(f"the server closed stdout before answering {method}; stderr:\n{self.stderr}")
            message = json.loads(line)
            if message.get("id") == request_id and "method" not in message:
                if "error" in message:
                    raise AssertionError(f"{method} failed: {message['error']}")
                return message["result"]

    def call_tool(self, name: str, arguments: dict[str, Any]) -> dict[str, Any]:
        """The tool's structured result; fails the test on a tool error."""
        result = self.request("tools/call", {"name": name, "arguments": arguments})
        assert not result.get("isError"), f"{name} failed: {result['content'][0]['text']}"
        return result["structuredContent"]

    def exit(self, timeout: float = 60.0) -> int:
        """Close stdin, as a host does to end a server, and wait for the process to exit."""
        assert self.proc is not None
        self.proc.stdin.close()  # type: ignore[union-attr]
        return self.proc.wait(timeout=timeout)

    def kill(self) -> None:
        """SIGKILL the server alone (not its process group): nothing of its own shutdown runs."""
        assert self.proc is not None
        os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=30)

    def _send(self, message: dict[str, Any]) -> None:
        assert self.proc is not None and self.proc.stdin is not None
        self.proc.stdin.write(json.dumps(message).encode() + b"\n")
        self.proc.stdin.flush()

    def _read_stdout(self) -> None:
        assert self.proc is not None and self.proc.stdout is not None
        for line in self.proc.stdout:
            self._lines.put(line)
        self._lines.put(None)


def postmaster_pid(data_dir: Path) -> int | None:
    """The pid in the embedded cluster's postmaster.pid, if there is one."""
    try:
        return int((data_dir / "pgdata" / "postmaster.pid").read_text().split()[0])
    except (FileNotFoundError, IndexError, ValueError):
        return None


def process_alive(pid: int) -> bool:
    """Whether pid is a live process (a zombie counts as gone)."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        return True
    return "\nState:\tZ" not in status
