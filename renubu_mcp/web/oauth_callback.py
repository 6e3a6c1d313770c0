"""GET /oauth/callback: where the browser lands after a provider's consent screen, and a loopback server for it
(which serves the connect pages and webhook deliveries too).

The page is ours alone: inline CSS, no script, nothing loaded from anywhere (a strict CSP says so), no
referrer sent onwards (the address bar holds the code and state), never cached. On the HTTP app the route
sits beside /mcp; a stdio server listens for it on a loopback port instead (OnDemandListener).
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
from starlette.background import BackgroundTask
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

from ..errors import Unavailable
from ..oauth.connect import CONNECT_PATH
from ..oauth.flow import CallbackOutcome, complete_authorization
from ..oauth.settings import CALLBACK_PATH
from .connect import connect_routes
from .pages import paragraph, render_page, security_headers
from .webhooks import webhook_routes

log = logging.getLogger(__name__)


def render(outcome: CallbackOutcome) -> HTMLResponse:
    """The page for an outcome: our own words, escaped, with the headers that keep the URL's secrets in."""
    return render_page(
        outcome.title, paragraph(outcome.message), tone="ok" if outcome.ok else "error", status_code=outcome.status_code
    )


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
        page = render(outcome)
        if outcome.afterwards is not None:  # after the page is sent: a slow provider does not keep the user waiting
            page.background = BackgroundTask(outcome.afterwards)
        return page

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


class LoopbackListener:
    """GET /oauth/callback (with the connect pages and webhook deliveries) on host:port, for a stdio server."""

    def __init__(self, app_state: Any, host: str = "127.0.0.1", port: int = 8765) -> None:
        self.host, self.port = host, port
        self._app_state = app_state
        self._sock: socket.socket | None = None
        self._server: _EmbeddedServer | None = None
        self._task: asyncio.Task[None] | None = None

    @property
    def url(self) -> str:
        bound = self._sock.getsockname()[1] if self._sock else self.port
        return f"http://[{self.host}]:{bound}" if ":" in self.host else f"http://{self.host}:{bound}"

    @property
    def listening(self) -> bool:
        return self._task is not None and not self._task.done()

    async def open(self) -> str:
        """Start listening; OSError when the address cannot be had (taken by another process, say)."""
        sock = socket.socket(socket.AF_INET6 if ":" in self.host else socket.AF_INET, socket.SOCK_STREAM)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((self.host, self.port))
            sock.listen(64)
            sock.setblocking(False)
        except OSError:
            sock.close()
            raise
        self._sock = sock
        get_app = lambda: self._app_state  # noqa: E731
        config = uvicorn.Config(
            Starlette(routes=callback_routes(get_app) + connect_routes(get_app) + webhook_routes(get_app)),
            lifespan="off",
            access_log=False,
            log_config=None,
            log_level="warning",
            server_header=False,
            date_header=False,
        )
        self._server = _EmbeddedServer(config)
        self._task = asyncio.create_task(self._server.serve(sockets=[sock]), name="oauth-callback-listener")
        while not self._server.started and not self._task.done():
            await asyncio.sleep(0.01)
        if self._task.done():
            await self.close()
            raise OSError(f"the listener on {self.host}:{self.port} stopped at once")
        log.info("listening for OAuth callbacks on %s", self.url)
        return self.url

    async def close(self) -> None:
        if self._server is not None:
            self._server.should_exit = True
        if self._task is not None:
            with contextlib.suppress(asyncio.TimeoutError, Exception):
                await asyncio.wait_for(self._task, timeout=5)
        if self._sock is not None:
            self._sock.close()
        self._sock = self._server = self._task = None


class OnDemandListener:
    """The stdio server's listener, opened by the first tool that hands out a link it must complete (an OAuth
    redirect or a connect page) and kept until the server exits. A server that never connects an integration
    listens on nothing, and two servers on one machine contend for the port only when both hand out links."""

    def __init__(self, app_state: Any, host: str, port: int) -> None:
        self._listener = LoopbackListener(app_state, host, port)
        self._lock = asyncio.Lock()

    async def ensure(self) -> str:
        """The listener's base URL; Unavailable, saying why and what to do, when it cannot listen."""
        async with self._lock:
            if not self._listener.listening:
                await self._listener.close()  # whatever is left of one that died
                try:
                    await self._listener.open()
                except OSError as exc:
                    where = f"{self._listener.host}:{self._listener.port}"
                    why = exc.strerror or str(exc)
                    raise Unavailable(
                        f"cannot hand out a link: this server cannot listen on {where}, where the browser comes back "
                        f"({why}; another renubu-mcp or another program has it). Nothing was changed: close that "
                        f"one and try again, or set RENUBU_PUBLIC_URL to a free loopback port (the redirect URI "
                        f"registered at the provider)"
                    ) from None
            return self._listener.url

    async def close(self) -> None:
        async with self._lock:
            await self._listener.close()


@contextlib.asynccontextmanager
async def serve_callback_on_loopback(
    app_state: Any, host: str = "127.0.0.1", port: int = 8765
) -> AsyncIterator[str | None]:
    """Listen on host:port while the block runs; yields the base URL, or None if the port is taken (logged)."""
    listener = LoopbackListener(app_state, host, port)
    try:
        url = await listener.open()
    except OSError as exc:
        log.warning(
            "cannot listen for OAuth callbacks on %s:%s (%s); connecting integrations will not complete here",
            host,
            port,
            exc.strerror or type(exc).__name__,
        )
        yield None
        return
    try:
        yield url
    finally:
        await listener.close()
