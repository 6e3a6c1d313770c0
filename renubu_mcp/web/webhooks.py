"""POST /webhooks/{install_id}: deliveries from other products, verified and stored (see oauth/webhooks.py).

Status codes a sender can act on: 202 stored; 401 unsigned, badly signed or outside the 5-minute window;
404 no active webhook install here (install ids are random UUIDs, so this reveals nothing guessable, and it
tells an operator whose sender still posts to an uninstalled endpoint what is wrong); 409 already received
(a replay: do not retry); 413 too large; 503 try again later. Only a verified delivery gets a 2xx.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from ..oauth import webhooks
from ..oauth.connect import WEBHOOK_PATH

HEADERS = {"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"}


def webhook_endpoint(get_app: Callable[[], Any]) -> Callable[[Request], Any]:
    async def receive_webhook(request: Request) -> Response:
        declared = request.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > webhooks.MAX_BODY_BYTES:
            return _answer(webhooks.Received(413, f"deliveries are limited to {webhooks.MAX_BODY_BYTES} bytes"))
        body = b""
        async for chunk in request.stream():
            body += chunk
            if len(body) > webhooks.MAX_BODY_BYTES:
                return _answer(webhooks.Received(413, f"deliveries are limited to {webhooks.MAX_BODY_BYTES} bytes"))
        received = await webhooks.receive(get_app(), request.path_params.get("install_id", ""), request.headers, body)
        return _answer(received)

    return receive_webhook


def _answer(received: webhooks.Received) -> JSONResponse:
    if received.event_id is not None:
        content = {"status": "accepted", "event_id": str(received.event_id)}
    else:
        content = {"error": received.message}
    return JSONResponse(content, status_code=received.status_code, headers=HEADERS)


def webhook_routes(get_app: Callable[[], Any]) -> list[Route]:
    return [Route(WEBHOOK_PATH + "/{install_id}", webhook_endpoint(get_app), methods=["POST"])]
