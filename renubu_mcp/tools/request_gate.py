"""What integration_request needs before anything leaves Renubu: a connection, and the user's yes to a write.

integration_request is the one way data read from Renubu (text customers wrote included) reaches a third party,
so a request with any method but GET goes out only after the user confirmed it in their client, shown the
integration, the method, the host and path, and the body's size. Declined, dismissed or unanswered: nothing is
sent. A client that cannot ask is refused, unless an admin marked the integration as allowing unattended writes
(mcp_integrations.allow_unattended_writes, off by default).

An integration the user has not connected yet (or must connect again: errored, revoked) is connected through
the client when it opens pages itself (connecting.py), and the call then goes on. On 2026-07-28 both questions
can go out in one round; the state that comes back with the retry records what was asked and agreed, so a
write is confirmed once even when connecting takes another round.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from mcp.server.mcpserver import Context
from mcp.server.mcpserver.exceptions import ToolError
from mcp.types import ElicitRequest, InputRequiredResult
from pydantic import BaseModel, Field

from .. import asking
from ..context import app_state, user_transaction
from ..errors import Forbidden
from ..oauth import api
from . import connecting

SAFE_METHODS = frozenset({"GET", "HEAD"})
CONSENT = "consent"  # the question's key in input_requests / input_responses


class Confirm(BaseModel):
    send: bool = Field(description="Send this request")


@dataclass(frozen=True)
class Entry:
    slug: str
    name: str
    connection_type: str
    status: str
    api_base_url: str | None
    allow_unattended_writes: bool
    install_status: str | None  # None: not installed

    @property
    def connected(self) -> bool:
        return self.install_status == "active"


_ENTRY = """
SELECT i.slug, i.name, i.connection_type, i.status, i.api_base_url, i.allow_unattended_writes,
       ui.status AS install_status
FROM public.mcp_integrations i
LEFT JOIN public.user_integrations ui
  ON ui.integration_id = i.id AND ui.user_id = (SELECT auth.uid()) AND ui.deleted_at IS NULL
WHERE i.slug = $1 AND i.deleted_at IS NULL
"""


@dataclass
class Cleared:
    """The call may go on; `state` is what a later round must still know (the write agreed to)."""

    entry: Entry | None
    state: dict[str, Any] = field(default_factory=dict)


def consent_message(name: str, method: str, url: Any, query: dict[str, Any] | None, body: bytes | None) -> str:
    pairs = api.query_pairs(query)
    where = url.raw_path.decode("ascii") + (f"?{urlencode(pairs)}" if pairs else "")
    if len(where) > 300:
        where = where[:299] + "\u2026"
    host = url.host + (f":{url.port}" if url.port else "")
    size = f"{len(body):,} bytes of JSON" if body else "none"
    return (
        f"Send this {method} request to {name} as you?\nHost: {host}\nPath: {where}\nBody: {size}\n"
        "Nothing is sent unless you confirm."
    )


def refused_without_asking(name: str, method: str) -> Forbidden:
    return Forbidden(
        f"a {method} request sends data to {name}, so the user must confirm it, and this client cannot "
        f"ask (it has no form elicitation): nothing was sent. Use a client that can, or ask an admin to "
        f"allow unattended writes for {name}"
    )


def not_sent(name: str, why: str) -> ToolError:
    return ToolError(f"{why}: nothing was sent to {name}")


async def clear(
    ctx: Context, slug: str, method: str, path: str, query: dict[str, Any] | None, body: bytes | None
) -> Cleared | InputRequiredResult:
    """Cleared to send, or the questions to ask first (2026-07-28); raises when the call must stop here (a write
    declined or not askable, the URL-elicitation-required error on 2025-11-25)."""
    async with user_transaction(ctx) as conn:
        row = await conn.fetchrow(_ENTRY, slug)
    entry = Entry(**dict(row)) if row else None
    if (
        entry is None
        or entry.connection_type not in ("oauth2", "api_key")
        or entry.status == "disabled"
        or not entry.api_base_url
    ):
        return Cleared(entry)  # integration_request says what is wrong
    url = api.target_url(entry.api_base_url, path)  # an unsafe path is refused before anyone is asked

    channel = asking.channel(ctx)
    state = asking.round_state(ctx) if channel.rounds else {}
    questions: dict[str, ElicitRequest] = {}
    carried: dict[str, Any] = {}

    if not entry.connected:
        if not channel.url:
            return Cleared(entry)  # today's answer: connect it with install_integration first
        if not channel.rounds:
            await _send_to_page(ctx, slug)  # raises the URL-elicitation-required error
        page = await _connect_round(ctx, slug, state)
        if page is not None:
            questions[connecting.KEY], carried[connecting.KEY] = page

    if method not in SAFE_METHODS and not entry.allow_unattended_writes:
        if not channel.can_confirm:
            raise refused_without_asking(entry.name, method)
        request = asking.confirmation(consent_message(entry.name, method, url, query, body), Confirm)
        asked = asking.question_id(request)
        if channel.rounds:
            if state.get("agreed") == asked or _agrees(entry, asking.answer(ctx, CONSENT), state.get(CONSENT) == asked):
                carried["agreed"] = asked
            else:
                questions[CONSENT], carried[CONSENT] = request, asked
        else:
            _agrees(entry, await asking.ask_now(ctx, request), True)

    if questions:
        return asking.ask_again(questions, carried)
    return Cleared(entry, carried)


def _agrees(entry: Entry, reply: Any, was_asked: bool) -> bool:
    """True for a yes to the question asked; raises for a no; False when it has not been answered yet."""
    if not was_asked:
        return False
    if reply is None:
        raise not_sent(entry.name, "the user did not answer the confirmation")
    if reply.action == "accept" and (reply.content or {}).get("send") is True:
        return True
    raise not_sent(
        entry.name, "the user declined" if reply.action != "cancel" else "the user dismissed the confirmation"
    )


async def _send_to_page(ctx: Context, slug: str) -> None:
    started = await connecting.open_page(ctx, slug)
    app_state(ctx).elicitations.wait_for(started.elicitation_id, ctx.session)
    raise connecting.required_error(started)


async def _connect_round(ctx: Context, slug: str, state: dict[str, Any]) -> tuple[ElicitRequest, dict] | None:
    """2026-07-28: None once the page asked last round has connected it; otherwise the page to ask for (again)."""
    asked = state.get(connecting.KEY)
    reply = asking.answer(ctx, connecting.KEY)
    if asked and reply is not None:
        if reply.action != "accept":
            await connecting.withdraw(ctx, asked["install"])
            raise connecting.declined(asked["name"], sent=True)
        if await connecting.finished(ctx, {**asked, "since": None}):
            return None
    started = await connecting.open_page(ctx, slug)
    return connecting.page_request(started, with_id=False), connecting.asked(started)


def can_reconnect(ctx: Context) -> bool:
    return asking.channel(ctx).url


async def reconnect(ctx: Context, slug: str, cleared: Cleared) -> InputRequiredResult:
    """The provider stopped honouring the grant mid-call (the install is now in error): connect it again through
    the client (can_reconnect), keeping what was agreed; 2025-11-25 raises the URL-elicitation-required error."""
    if not asking.channel(ctx).rounds:
        await _send_to_page(ctx, slug)
    started = await connecting.open_page(ctx, slug)
    return asking.ask_again(
        {connecting.KEY: connecting.page_request(started, with_id=False)},
        {**cleared.state, connecting.KEY: connecting.asked(started)},
    )
