"""The state of a call that asks the user something (2026-07-28 requestState) is sealed with keys every replica
shares: RENUBU_REQUEST_STATE_KEY and its previous keys, or keys derived from the token encryption key(s).

Each server here is its own MCPServer with its own keys (as another replica or a restarted one would be); the
question is asked by one and the retry sent to another, by hand, as a client whose retry lands elsewhere would.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest
from mcp import Client, MCPError
from mcp.types import InputRequiredResult

from renubu_mcp.config import ConfigError, Settings
from renubu_mcp.request_state import configured_keys, derived
from renubu_mcp.server import build_server

from .conftest import KEY, settings_for
from .person import Person

K1 = "request-state-key-one-" + "0123456789abcdef0123456789"
K2 = "request-state-key-two-" + "fedcba9876543210fedcba9876"
ASK = ("install_integration", {"slug": "gong"})
ACCEPTED = {"connect": {"action": "accept"}}


@asynccontextmanager
async def replica(demo_db, **settings) -> AsyncIterator[Client]:
    server = build_server(settings_for(demo_db.app_dsn, "alice@example.com", **settings))
    async with Client(server, elicitation_callback=Person(page="accept")) as client:
        yield client


async def asked_on(demo_db, **settings) -> InputRequiredResult:
    async with replica(demo_db, **settings) as client:
        asked = await client.session.call_tool(*ASK, allow_input_required=True)
    assert isinstance(asked, InputRequiredResult)
    return asked


async def retried_on(demo_db, asked: InputRequiredResult, **settings):
    """The retry's result, or the protocol error it got (raised here, outside the client's task group)."""
    async with replica(demo_db, **settings) as client:
        try:
            return await client.session.call_tool(
                *ASK, input_responses=ACCEPTED, request_state=asked.request_state, allow_input_required=True
            )
        except MCPError as exc:
            refused = exc
    raise refused


async def test_a_retry_is_opened_by_any_replica_with_the_same_key(demo_db):
    asked = await asked_on(demo_db, request_state_key=K1)
    again = await retried_on(demo_db, asked, request_state_key=K1)
    # Opened: the server read its own state (the user has not finished yet, so it asks for the page again).
    assert isinstance(again, InputRequiredResult) and list(again.input_requests) == ["connect"]


async def test_rotation_a_previous_key_still_opens_and_a_retired_one_does_not(demo_db):
    asked = await asked_on(demo_db, request_state_key=K1)
    rotating = await retried_on(demo_db, asked, request_state_key=K2, request_state_previous_keys=(K1,))
    assert isinstance(rotating, InputRequiredResult)
    with pytest.raises(MCPError, match="Invalid or expired requestState"):
        await retried_on(demo_db, asked, request_state_key=K2)
    # What the rotated replica sealed, an old one that already knows the new key opens too.
    assert isinstance(
        await retried_on(demo_db, rotating, request_state_key=K1, request_state_previous_keys=(K2,)),
        InputRequiredResult,
    )


async def test_without_a_request_state_key_replicas_sharing_the_token_key_agree(demo_db):
    asked = await asked_on(demo_db)  # the suite's token key, KEY
    assert isinstance(await retried_on(demo_db, asked), InputRequiredResult)
    with pytest.raises(MCPError, match="Invalid or expired requestState"):
        await retried_on(demo_db, asked, token_encryption_key="another-token-key-" + "9" * 32)
    # During a token key rotation the old key is a previous one, and its derived key still opens.
    assert isinstance(
        await retried_on(
            demo_db, asked, token_encryption_key="another-token-key-" + "9" * 32, token_encryption_previous_keys=(KEY,)
        ),
        InputRequiredResult,
    )


def test_the_keys_come_from_configuration():
    assert configured_keys(Settings(request_state_key=K1, request_state_previous_keys=(K2,)), "tk" * 20) == [K1, K2]
    derived_keys = configured_keys(Settings(token_encryption_previous_keys=("old" * 12,)), "tk" * 20)
    assert derived_keys == [derived("tk" * 20), derived("old" * 12)]
    assert all(len(k) == 64 and k not in ("tk" * 20, "old" * 12) for k in derived_keys)  # never the token key itself
    assert configured_keys(Settings(), None) is None


def test_settings_read_the_keys_and_refuse_short_ones():
    settings = Settings.from_env({"RENUBU_REQUEST_STATE_KEY": K1, "RENUBU_REQUEST_STATE_PREVIOUS_KEYS": f"{K2}, {K1}"})
    assert settings.request_state_key == K1 and settings.request_state_previous_keys == (K2, K1)
    assert K1 not in repr(settings) and K2 not in repr(settings)
    with pytest.raises(ConfigError, match="RENUBU_REQUEST_STATE_KEY must hold keys of at least 32 characters"):
        Settings.from_env({"RENUBU_REQUEST_STATE_KEY": "short"})
    with pytest.raises(ConfigError, match="RENUBU_REQUEST_STATE_PREVIOUS_KEYS"):
        Settings.from_env({"RENUBU_REQUEST_STATE_PREVIOUS_KEYS": f"{K1},short"})
