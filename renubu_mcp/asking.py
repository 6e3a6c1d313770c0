"""Asking the user through their client, in either protocol era: a confirmation (form-mode elicitation) or a
page to visit (URL-mode elicitation).

- 2026-07-28: a tool that needs an answer returns an InputRequiredResult carrying the questions and its own
  state; the client asks the user and calls the tool again with the answers and the state. The SDK seals the
  state (request_state.py: every replica's keys), binding it to the caller, the tool and its arguments.
- 2025-11-25: a form is a request to the client in the middle of the call (it needs a channel back to the
  client: stdio, or an HTTP session); a page is `elicitation/create` in url mode, or, where the tool cannot go on
  without it, the URL-elicitation-required error (-32042). notifications/elicitation/complete follows once the
  page has done its work (elicitations.py).

What a client can be asked is what it declared (the `elicitation` capability and its `form`/`url` modes); a
client that declared neither gets what it got before: links in the result, or a refusal that says why.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

import anyio
from mcp.server.elicitation import render_elicitation_schema
from mcp.server.mcpserver import Context
from mcp.shared.exceptions import MCPError
from mcp.shared.message import ServerMessageMetadata
from mcp.types import (
    ElicitRequest,
    ElicitRequestFormParams,
    ElicitRequestURLParams,
    ElicitResult,
    InputRequiredResult,
)
from mcp_types.version import is_version_at_least
from pydantic import BaseModel

ROUNDS_VERSION = "2026-07-28"  # from this version on, questions travel in InputRequiredResult
# How long a 2025-11-25 client may take to answer a question asked mid-call; unanswered means no.
ANSWER_WAIT_S = 300.0
STATE_VERSION = 1


@dataclass(frozen=True)
class Channel:
    """What this call's client can be asked, and how."""

    rounds: bool  # 2026-07-28: questions go out in an InputRequiredResult; answers come with the retry
    form: bool  # the client declared form-mode elicitation
    url: bool  # the client declared URL-mode elicitation
    back_channel: bool  # 2025-11-25: a request can reach the client in the middle of this call

    @property
    def can_confirm(self) -> bool:
        """A yes/no question can reach the user in this call (or its retry)."""
        return self.form and (self.rounds or self.back_channel)

    @property
    def can_open_page(self) -> bool:
        """The client can be asked, now, to open a page for the user."""
        return self.url and (self.rounds or self.back_channel)


def channel(ctx: Context) -> Channel:
    version = ctx.protocol_version
    rounds = version is not None and is_version_at_least(version, ROUNDS_VERSION)
    try:
        capabilities = ctx.client_capabilities
        back_channel = ctx.session.can_send_request
    except (ValueError, AttributeError):  # no request behind the context (a direct call)
        return Channel(False, False, False, False)
    elicitation = capabilities.elicitation if capabilities is not None else None
    # A bare `elicitation: {}` (declared before modes existed) means forms.
    form = elicitation is not None and (elicitation.form is not None or elicitation.url is None)
    url = elicitation is not None and elicitation.url is not None
    return Channel(rounds=rounds, form=form, url=url, back_channel=back_channel and not rounds)


# --- 2026-07-28 rounds ---------------------------------------------------------------------------------------


def round_state(ctx: Context) -> dict[str, Any]:
    """This call's own state from the last round (verified by the SDK: ours, for this caller and these
    arguments, not expired), or {} on the first round."""
    text = ctx.request_state
    if not text:
        return {}
    try:
        state = json.loads(text)
    except ValueError:
        return {}
    return state if isinstance(state, dict) and state.get("v") == STATE_VERSION else {}


def answer(ctx: Context, key: str) -> ElicitResult | None:
    """The client's answer to the question asked under `key` last round, or None."""
    given = (ctx.input_responses or {}).get(key)
    return given if isinstance(given, ElicitResult) else None


def ask_again(questions: dict[str, ElicitRequest], state: dict[str, Any]) -> InputRequiredResult:
    return InputRequiredResult(
        input_requests=dict(questions), request_state=json.dumps({**state, "v": STATE_VERSION}, separators=(",", ":"))
    )


def confirmation(message: str, schema: type[BaseModel]) -> ElicitRequest:
    return ElicitRequest(
        params=ElicitRequestFormParams(message=message, requested_schema=render_elicitation_schema(schema))
    )


def page(message: str, url: str, elicitation_id: str | None) -> ElicitRequest:
    return ElicitRequest(params=ElicitRequestURLParams(message=message, url=url, elicitation_id=elicitation_id))


def question_id(request: ElicitRequest) -> str:
    """A digest of exactly what the user is shown: an answer counts only for the question it answered."""
    params = request.params.model_dump(mode="json", by_alias=True, exclude_none=True)
    return hashlib.sha256(json.dumps(params, sort_keys=True).encode()).hexdigest()[:32]


# --- 2025-11-25: a request in the middle of the call ---------------------------------------------------------


async def ask_now(ctx: Context, request: ElicitRequest, wait_s: float | None = None) -> ElicitResult | None:
    """Send the question to the client and wait for the answer; None when none came in time (or the client
    could not take it)."""
    try:
        with anyio.fail_after(ANSWER_WAIT_S if wait_s is None else wait_s):
            return await ctx.session.send_request(
                request, ElicitResult, metadata=ServerMessageMetadata(related_request_id=ctx.request_id)
            )
    except TimeoutError:
        return None
    except MCPError:  # the client refused the request itself (e.g. it has no one to ask)
        return None
