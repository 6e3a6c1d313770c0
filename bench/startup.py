"""Start-up cost of the README's first command: a new embedded cluster (initdb, migrate, seed), then a reuse.

Run: .venv/bin/python bench/startup.py   (uses a throwaway RENUBU_DATA_DIR under /tmp)
Each run launches `scripts/serve` through the MCP SDK's stdio client, lists the tools and makes one call.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import statistics
import tempfile
import time
from pathlib import Path

from mcp import Client, StdioServerParameters

ROOT = Path(__file__).resolve().parent.parent


async def one_session(data_dir: str) -> float:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RENUBU_")}
    env.update(RENUBU_DATA_DIR=data_dir, RENUBU_USER_EMAIL="alice@example.com")
    started = time.perf_counter()
    async with Client(StdioServerParameters(command=str(ROOT / "scripts" / "serve"), env=env)) as client:
        await client.list_tools()
        result = await client.call_tool("upcoming_renewals", {"days_ahead": 30})
        assert not result.is_error
    return time.perf_counter() - started


async def main() -> None:
    data_dir = tempfile.mkdtemp(prefix="renubu-startup-", dir="/tmp")
    os.chmod(data_dir, 0o755)  # as root, the postgres user must be able to enter it
    try:
        first = await one_session(data_dir)
        reuses = [await one_session(data_dir) for _ in range(5)]
    finally:
        shutil.rmtree(data_dir, ignore_errors=True)
    print(f"first start (initdb + migrate + seed + call): {first:.2f} s")
    print(f"later starts, median of 5 (reuse + call):      {statistics.median(reuses):.2f} s")


if __name__ == "__main__":
    asyncio.run(main())
