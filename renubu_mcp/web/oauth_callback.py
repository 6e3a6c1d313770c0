"""GET /oauth/callback: where the browser lands after a provider's consent screen, and a loopback server for it
(which serves the connect pages and webhook deliveries too).

The page is ours alone: inline CSS, no script, nothing loaded from anywhere (a strict CSP says so), no
referrer sent onwards (the address bar holds the code and state), never cached. On the HTTP app the route
sits beside /mcp; a stdio server listens for it on a loopback port instead (serve_callback_on_loopback).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import socket
from collections.abc import AsyncIterator, Callable, Generator
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

from ..oauth.connect import CONNECT_PATH
from ..oauth.flow import CallbackOutcome, complete_authorization
from ..oauth.settings import CALLBACK_PATH
from .connect import connect_routes
from .pages import paragraph, render_page, security_headers
from .webhooks import webhook_routes

log = logging.getLogger(__name__)

def render(outcome: CallbackOutcome) -> HTMLResponse:
    """The page for an outcome: our own words, escaped, with the headers that keep the URL's secrets in."""
    return render_page(outcome.title, paragraph(outcome.message), tone="ok" if outcome.ok else "error",
                       status_code=outcome.status_code)


def callback_endpoint(get_app: Callable[[], Any]) -> Callable[[Request], Any]:
    """The route handler; `get_app` returns the running AppState (the lifespan's)."""

    async def oauth_callback(request: Request) -> Response:
        if request.method != "GET":  # a HEAD (link previews, prefetchers) must not spend the single-use state
            return Response(status_code=405, headers={**security_headers(forms=False), "Allow": "GET"})
        items = request.query_params.multi_items()
        params = dict(items)
        if len(params) != len(items):  # RFC 6749 3.1: no parameter may appear twice
            return render(CallbackOutcome(False, "Not connected", "This sign-in response is malformed.", 400))
        app = get_app()
        principal = getattr(app, "stdio_principal", None)
        outcome = await complete_authorization(app, params, expected_user=principal.user_id if principal else None)
        return render(outcome)

    return oauth_callback


def callback_routes(get_app: Callable[[], Any]) -> list[Route]:
    return [Route(CALLBACK_PATH, callback_endpoint(get_app), methods=["GET", "HEAD"])]


# --- keeping code, state and connect tokens out of access logs ------------------------------------------------

_CALLBACK_QUERY = re.compile(re.escape(CALLBACK_PATH) + r"\?\S*")
_CONNECT_TOKEN = re.compile(re.escape(CONNECT_PATH) + r"/[^\s?\"]+")


def _redact(text: str) -> str:
    text = _CALLBACK_QUERY.sub(CALLBACK_PATH + "?[redacted]", text)
    return _CONNECT_TOKEN.sub(CONNECT_PATH + "/[redacted]", text)


class RedactCallbackQuery(logging.Filter):
    """uvicorn's access log prints the request line, query and all: drop the callback's (code, state) and the
    token in a connect page's path."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple) and record.args:
            record.args = tuple(_redact(a) if isinstance(a, str) else a for a in record.args)
        elif isinstance(record.msg, str):
            record.msg = _redact(record.msg)
        return True


def install_access_log_redaction(logger_name: str = "uvicorn.access") -> None:
    logger = logging.getLogger(logger_name)
    if not any(isinstance(f, RedactCallbackQuery) for f in logger.filters):
        logger.addFilter(RedactCallbackQuery())


# --- the loopback listener for stdio mode -------------------------------------------------------------------


class _EmbeddedServer(uvicorn.Server):
    """uvicorn without its signal handlers: the MCP server owns the process's signals."""

    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        yield


@contextlib.asynccontextmanager
async def serve_callback_on_loopback(
    app_state: Any, host: str = "127.0.0.1", port: int = 8765
) -> AsyncIterator[str | None]:
    """Listen for GET /oauth/callback on host:port while the block runs; yields the base URL, or None if the
    port is taken (logged; the server goes on without it)."""
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(64)
        sock.setblocking(False)
    except OSError as exc:
        sock.close()
        log.warning("cannot listen for OAuth callbacks on %s:%s (%s); connecting integrations will not complete here",
                    host, port, exc.strerror or type(exc).__name__)
        yield None
        return
    bound_port = sock.getsockname()[1]
    get_app = lambda: app_state  # noqa: E731
    config = uvicorn.Config(
        Starlette(routes=callback_routes(get_app) + connect_routes(get_app) + webhook_routes(get_app)),
        lifespan="off", access_log=False, log_config=None, log_level="warning", server_header=False,
        date_header=False,
    )
    server = _EmbeddedServer(config)
    task = asyncio.create_task(server.serve(sockets=[sock]), name="oauth-callback-listener")
    try:
        while not server.started and not task.done():
            await asyncio.sleep(0.01)
        if task.done():
            task.result()  # surface a startup failure
        yield f"http://{host}:{bound_port}" if ":" not in host else f"http://[{host}]:{bound_port}"
    finally:
        server.should_exit = True
        with contextlib.suppress(asyncio.TimeoutError, Exception):
            await asyncio.wait_for(task, timeout=5)
        sock.close()
