"""What publishing relies on: server.json is valid, in step with the package, and declares every setting."""

from __future__ import annotations

import json
import re
import tomllib
from pathlib import Path

import jsonschema

from renubu_mcp import __version__
from renubu_mcp.config import ENVIRONMENT

ROOT = Path(__file__).resolve().parent.parent
SCHEMA = Path(__file__).parent / "fixtures" / "server.schema.2025-12-11.json"  # the registry schema, vendored
SERVER_JSON = json.loads((ROOT / "server.json").read_text())
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())


def test_server_json_validates_against_the_registry_schema_offline():
    schema = json.loads(SCHEMA.read_text())
    jsonschema.Draft7Validator.check_schema(schema)
    errors = sorted(jsonschema.Draft7Validator(schema).iter_errors(SERVER_JSON), key=str)
    assert not errors, "\n".join(e.message for e in errors)


def test_versions_agree_across_server_json_pyproject_and_the_package():
    version = PYPROJECT["project"]["version"]
    assert SERVER_JSON["version"] == version == __version__
    assert [p["version"] for p in SERVER_JSON["packages"]] == [version]


def test_the_package_is_the_pypi_distribution_over_stdio():
    (package,) = SERVER_JSON["packages"]
    assert package["registryType"] == "pypi" and package["identifier"] == PYPROJECT["project"]["name"]
    assert package["transport"] == {"type": "stdio"}


def test_server_json_declares_exactly_the_environment_variables_the_server_reads():
    declared = {e["name"] for e in SERVER_JSON["packages"][0]["environmentVariables"]}
    read_by_settings = {
        f"RENUBU_{name}"
        for name in re.findall(r'(?<!environ\.)get\("([A-Z_]+)"\)', (ROOT / "renubu_mcp" / "config.py").read_text())
    }
    mentioned_anywhere = {
        name for path in (ROOT / "renubu_mcp").rglob("*.py") for name in re.findall(r"RENUBU_[A-Z_]+", path.read_text())
    }
    assert declared == set(ENVIRONMENT) == read_by_settings
    assert mentioned_anywhere <= declared, f"undeclared: {sorted(mentioned_anywhere - declared)}"
    secrets = {e["name"] for e in SERVER_JSON["packages"][0]["environmentVariables"] if e.get("isSecret")}
    assert {"RENUBU_DATABASE_URL", "RENUBU_TOKEN_ENCRYPTION_KEY", "RENUBU_JWT_SECRET", "RENUBU_ACCESS_TOKEN"} <= secrets


def test_the_readme_carries_the_registry_name_marker_and_documents_every_variable():
    readme = (ROOT / "README.md").read_text()
    assert f"mcp-name: {SERVER_JSON['name']}" in readme
    undocumented = [name for name in ENVIRONMENT if name not in readme]
    assert not undocumented, f"README lacks {undocumented}"
