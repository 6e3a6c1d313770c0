"""The benchmark's HTTP server process: exactly the production HTTP app (build_server(transport="http") +
build_http_app: stateless, JSON responses, bearer tokens), plus, in this process only:

    echo                 a plain async tool with no database (the SDK floor), on the same server instance
    echo_sync            the same as a plain `def`: the SDK runs sync tools on a worker thread, which costs more
                         per call than echo (shown for reference; every Renubu tool is async)

BENCH_GC=default keeps the interpreter's garbage collector settings (the server tunes them, renubu_mcp/cli.py).
Started by bench/common.py:http_server(); prints "ready" once uvicorn listens.
"""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import uvicorn  # noqa: E402

from bench.common import settings_for  # noqa: E402


async def echo(message: str) -> str:
    """Return the message (the floor: the SDK's own cost per call, no database)."""
    return message


def echo_sync(message: str) -> str:
    """Return the message, from a plain function (the SDK calls it on a worker thread)."""
    return message


async def main() -> None:
    from renubu_mcp.cli import tune_garbage_collector
    from renubu_mcp.http_app import build_http_app
    from renubu_mcp.server import build_server

    port = int(os.environ["BENCH_PORT"])
    settings = settings_for(
        os.environ["BENCH_APP_DSN"], port=port, pool_max_size=int(os.environ.get("BENCH_POOL_MAX", "10"))
    )
    server = build_server(settings, transport="http")
    server.add_tool(echo, name="echo", title="Echo")
    server.add_tool(echo_sync, name="echo_sync", title="Echo (sync)")
    app = build_http_app(server, settings)
    if os.environ.get("BENCH_GC") != "default":  # BENCH_GC=default: the interpreter's collector settings
        tune_garbage_collector()  # as `renubu-mcp serve` does
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning")
    uv = uvicorn.Server(config)
    task = asyncio.create_task(uv.serve())
    while not uv.started:
        if task.done():
            task.result()
        await asyncio.sleep(0.02)
    print("ready", flush=True)
    await task


if __name__ == "__main__":
    import uvloop

    uvloop.run(main())  # as in production: `renubu-mcp serve --transport http` runs uvicorn on uvloop
