"""`pytest -p tests.reliability.pgbouncer_plugin tests/tools`: the same tool tests, with every app-role DSN going
through a PgBouncer in transaction pooling mode.

EmbeddedCluster.app_dsn (which the fixtures use for the serving role) is wrapped: the first call for a cluster
starts a PgBouncer in front of its socket, and every app DSN then points at PgBouncer (with ?pgbouncer=true).
Owner DSNs (migrations, test set-up and checks) still go straight to PostgreSQL.
"""

from __future__ import annotations

from typing import Any

import pytest

from renubu_mcp.embedded import APP_ROLE, EmbeddedCluster

from .pgbouncer import PgBouncer, available

_original_app_dsn = EmbeddedCluster.app_dsn
_bouncers: dict[tuple[str, int], PgBouncer] = {}
_routed = 0


def _app_dsn_through_pgbouncer(self: EmbeddedCluster, dbname: str | None = None) -> str:
    global _routed
    key = (str(self.socket_dir), self._port)
    bouncer = _bouncers.get(key)
    if bouncer is None:
        bouncer = _bouncers[key] = PgBouncer(self.socket_dir, self._port, pool_size=4).start()
    _routed += 1
    return bouncer.dsn(APP_ROLE, dbname or self.dbname)


def pytest_configure(config: pytest.Config) -> None:
    if not available():
        raise pytest.UsageError("pgbouncer_plugin: no pgbouncer binary (apt-get install pgbouncer)")
    EmbeddedCluster.app_dsn = _app_dsn_through_pgbouncer  # type: ignore[method-assign]


def pytest_unconfigure(config: pytest.Config) -> None:
    EmbeddedCluster.app_dsn = _original_app_dsn  # type: ignore[method-assign]
    for bouncer in _bouncers.values():
        bouncer.stop()


def pytest_terminal_summary(terminalreporter: Any) -> None:
    terminalreporter.write_line(
        f"pgbouncer-plugin: {_routed} app DSN(s) through {len(_bouncers)} pgbouncer(s), pool_mode=transaction, "
        f"statement cache off by ?pgbouncer=true"
    )
