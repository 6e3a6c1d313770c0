"""Numeric settings: sane defaults, a clear error naming the variable for anything out of range, and the value
reaching what it configures."""

from __future__ import annotations

import asyncio

import pytest

from renubu_mcp.config import ConfigError, Settings
from renubu_mcp.db import Principal
from renubu_mcp.demo import ALICE
from renubu_mcp.runtime import open_backend


def test_the_numeric_settings_default_to_what_the_readme_says():
    settings = Settings.from_env({})
    assert (settings.statement_timeout_ms, settings.pool_max_size, settings.pool_idle_seconds) == (15_000, 10, 300)


def test_the_sign_in_settings_default_to_what_the_readme_says_and_are_read():
    settings = Settings.from_env({})
    assert (settings.builtin_auth_server, settings.access_token_ttl_seconds, settings.refresh_token_ttl_days) == (
        True,
        3600,
        30,
    )
    settings = Settings.from_env(
        {
            "RENUBU_BUILTIN_AUTH_SERVER": "off",
            "RENUBU_ACCESS_TOKEN_TTL_SECONDS": "600",
            "RENUBU_REFRESH_TOKEN_TTL_DAYS": "7",
        }
    )
    assert (settings.builtin_auth_server, settings.access_token_ttl_seconds, settings.refresh_token_ttl_days) == (
        False,
        600,
        7,
    )


def test_numeric_settings_are_read_from_the_environment():
    settings = Settings.from_env(
        {"RENUBU_STATEMENT_TIMEOUT_MS": "2500", "RENUBU_POOL_MAX_SIZE": "4", "RENUBU_POOL_IDLE_SECONDS": "60"}
    )
    assert (settings.statement_timeout_ms, settings.pool_max_size, settings.pool_idle_seconds) == (2500, 4, 60)


@pytest.mark.parametrize(
    ("name", "value", "says"),
    [
        ("STATEMENT_TIMEOUT_MS", "0", "must be between 1 and 86400000, not 0"),  # 0 would mean no deadline at all
        ("STATEMENT_TIMEOUT_MS", "-5", "must be between 1 and 86400000, not -5"),
        ("STATEMENT_TIMEOUT_MS", "1.5s", "takes a whole number, not '1.5s'"),
        ("POOL_MAX_SIZE", "0", "must be between 1 and 1000, not 0"),
        ("POOL_MAX_SIZE", "ten", "takes a whole number, not 'ten'"),
        ("POOL_IDLE_SECONDS", "0", "must be between 1 and 86400, not 0"),
        ("POOL_IDLE_SECONDS", "86401", "must be between 1 and 86400, not 86401"),
        ("ACCESS_TOKEN_TTL_SECONDS", "59", "must be between 60 and 86400, not 59"),
        ("REFRESH_TOKEN_TTL_DAYS", "0", "must be between 1 and 365, not 0"),
        ("BUILTIN_AUTH_SERVER", "maybe", "takes true or false, not 'maybe'"),
    ],
)
def test_an_out_of_range_number_stops_start_up_naming_the_variable(name, value, says):
    with pytest.raises(ConfigError) as refused:
        Settings.from_env({f"RENUBU_{name}": value})
    assert str(refused.value) == f"RENUBU_{name} {says}"


async def test_the_idle_setting_closes_unused_connections_of_the_running_backend(demo_db):
    settings = Settings(database_url=demo_db.app_dsn, pool_idle_seconds=1, pool_max_size=2)
    async with open_backend(settings) as backend:
        pool = backend.db.pool
        async with backend.db.as_user(Principal(ALICE.id, ALICE.email)) as conn:
            first = conn.get_server_pid()
        assert pool.get_idle_size() == 1
        await asyncio.sleep(1.3)
        async with backend.db.as_user(Principal(ALICE.id, ALICE.email)) as conn:
            second = conn.get_server_pid()
    assert second != first  # the idle one was closed and a new one opened


def test_the_log_level_is_one_of_the_five_names_in_any_case():
    assert Settings.from_env({"RENUBU_LOG_LEVEL": " info "}).log_level == "INFO"
    assert Settings.from_env({}).log_level == "WARNING"
    with pytest.raises(ConfigError, match="RENUBU_LOG_LEVEL must be one of DEBUG, INFO, WARNING, ERROR, CRITICAL"):
        Settings.from_env({"RENUBU_LOG_LEVEL": "verbose"})
