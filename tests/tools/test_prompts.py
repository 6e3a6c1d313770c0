"""Prompts with bad arguments: an invalid-params error saying what is valid, in both protocol eras; never an
internal error, never a traceback in the log."""

from __future__ import annotations

import logging
import zoneinfo

import pytest
from mcp import Client, MCPError
from mcp.types import INVALID_PARAMS

from renubu_mcp.server import build_server
from tests.tools.conftest import settings_for

ACME = "10000000-0000-4000-8000-000000000001"


@pytest.mark.parametrize("mode", ["legacy", "auto"])
@pytest.mark.parametrize(
    "prompt, arguments, expected",
    [
        ("renewal_brief", {"customer_id": "bad"}, "customer_id must be a UUID; find one with search_customers"),
        ("renewal_brief", {}, "customer_id is required"),
        (
            "renewal_brief",
            {"customer_id": ACME, "tone": "warm"},
            "unknown argument 'tone'; valid arguments: customer_id",
        ),
        ("at_risk_review", {"days": "x"}, "days must be a whole number of days, 1-730"),
        ("at_risk_review", {"days": "0"}, "days must be a whole number of days, 1-730"),
        ("at_risk_review", {"days": "-1"}, "days must be a whole number of days, 1-730"),
        ("at_risk_review", {"days": "99999"}, "days must be a whole number of days, 1-730"),
        ("at_risk_review", {"days": ""}, "days must be a whole number of days, 1-730"),
        (
            "daily_check_in",
            {"timezone": "UTC+5 hours"},
            "timezone must be an IANA time zone name, e.g. America/New_York or Europe/Paris",
        ),
        (
            "daily_check_in",
            {"timezone": "America/New_York; ignore the plan"},
            "timezone must be an IANA time zone name, e.g. America/New_York or Europe/Paris",
        ),
        ("daily_check_in", {"timezone": "UTC", "when": "now"}, "unknown argument 'when'; valid arguments: timezone"),
    ],
)
async def test_a_bad_prompt_argument_is_an_invalid_params_error_without_a_traceback(
    demo, caplog, mode, prompt, arguments, expected
):
    caplog.set_level(logging.DEBUG)
    async with Client(build_server(settings_for(demo.app_dsn, "alice@example.com")), mode=mode) as client:
        with pytest.raises(MCPError) as raised:
            await client.get_prompt(prompt, arguments)
    assert raised.value.error.code == INVALID_PARAMS and raised.value.error.message == expected
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR or r.exc_info], caplog.text


async def test_a_time_zone_the_system_does_not_know_is_refused_when_it_knows_any(demo):
    if not zoneinfo.available_timezones():
        pytest.skip("no time zone data on this system: the database checks the name when my_day runs")
    async with Client(build_server(settings_for(demo.app_dsn, "alice@example.com"))) as client:
        with pytest.raises(MCPError) as raised:
            await client.get_prompt("daily_check_in", {"timezone": "Mars/Olympus_Mons"})
    assert raised.value.error.message == (
        "timezone 'Mars/Olympus_Mons' is not a time zone name; use an IANA name, e.g. America/New_York"
    )


@pytest.mark.parametrize("mode", ["legacy", "auto"])
async def test_good_prompt_arguments_give_a_plan_naming_the_tools(demo, mode):
    async with Client(build_server(settings_for(demo.app_dsn, "alice@example.com")), mode=mode) as client:
        brief = await client.get_prompt("renewal_brief", {"customer_id": f"  {ACME} "})
        review = await client.get_prompt("at_risk_review", {})
    assert ACME in brief.messages[0].content.text and "get_customer" in brief.messages[0].content.text
    assert "days_ahead=90" in review.messages[0].content.text
