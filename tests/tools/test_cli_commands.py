"""The hand-check commands: `renubu-mcp tools`, `renubu-mcp call`, `renubu-mcp token`."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from renubu_mcp.auth import TokenRules, verify_token
from renubu_mcp.demo import ALICE

RENUBU_MCP = Path(sys.executable).with_name("renubu-mcp")
SECRET = "cli-test-jwt-secret-0123456789abcdef0123456789"


def run(demo, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("RENUBU_")}
    base.update(RENUBU_DATABASE_URL=demo.app_dsn, RENUBU_USER_EMAIL="alice@example.com", **env)
    return subprocess.run([str(RENUBU_MCP), *args], env=base, capture_output=True, text=True, timeout=60)


def test_tools_lists_what_the_configuration_offers(demo):
    everything = run(demo, "tools")
    read_only = run(demo, "tools", RENUBU_READ_ONLY="true", RENUBU_TOOLSETS="customers")
    assert (
        everything.returncode == 0 and "update_customer" in everything.stdout and "list_features" in everything.stdout
    )
    assert "search_customers" in read_only.stdout
    assert "update_customer" not in read_only.stdout and "list_features" not in read_only.stdout


def test_call_prints_the_structured_result_and_refusals_go_to_stderr(demo):
    found = run(demo, "call", "search_customers", '{"query": "acme"}')
    assert found.returncode == 0
    assert [c["name"] for c in json.loads(found.stdout)["customers"]] == ["Acme Corp"]
    hidden = run(demo, "call", "get_customer", '{"customer_id": "10000000-0000-4000-8000-000000000021"}')
    assert hidden.returncode == 1 and hidden.stdout == "" and "no customer" in hidden.stderr
    malformed = run(demo, "call", "search_customers", "not json")
    assert malformed.returncode == 1 and "JSON object" in malformed.stderr


def test_token_mints_a_verifiable_token_for_a_known_user_only(demo):
    minted = run(
        demo,
        "token",
        "--email",
        "alice@example.com",
        "--ttl",
        "10m",
        RENUBU_MIGRATION_DATABASE_URL=demo.owner_dsn,
        RENUBU_JWT_SECRET=SECRET,
    )
    assert minted.returncode == 0
    claims = verify_token(minted.stdout.strip(), TokenRules(SECRET))
    assert claims["sub"] == str(ALICE.id) and claims["exp"] - claims["iat"] == 600
    unknown = run(
        demo,
        "token",
        "--email",
        "eve@example.com",
        RENUBU_MIGRATION_DATABASE_URL=demo.owner_dsn,
        RENUBU_JWT_SECRET=SECRET,
    )
    assert unknown.returncode == 1 and "no Renubu user" in unknown.stderr and unknown.stdout == ""
    bad_ttl = run(
        demo,
        "token",
        "--email",
        "alice@example.com",
        "--ttl",
        "forever",
        RENUBU_MIGRATION_DATABASE_URL=demo.owner_dsn,
        RENUBU_JWT_SECRET=SECRET,
    )
    assert bad_ttl.returncode == 1 and "--ttl" in bad_ttl.stderr
