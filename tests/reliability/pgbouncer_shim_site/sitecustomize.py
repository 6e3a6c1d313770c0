"""Test-only: put on PYTHONPATH by tests.reliability.pgbouncer_plugin for the `renubu-mcp` processes the tool tests
start, while renubu_mcp.db does not yet read ?pgbouncer=true itself. Delete with the shim once it does."""

import importlib.util
from pathlib import Path

_spec = importlib.util.spec_from_file_location("_renubu_pgbouncer_shim", Path(__file__).parents[1] / "pgbouncer.py")
_module = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_module)
_module.install_statement_cache_shim()
