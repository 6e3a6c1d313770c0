"""Debian's PgBouncer in transaction pooling mode, in front of an EmbeddedCluster, for tests.

It listens only on a unix socket in a private directory (no TCP), trusts whoever can reach that socket (as the
cluster itself does), and runs as the `postgres` user when we are root (PgBouncer refuses to run as root).
It is started as our child process and stopped by its pid.

asyncpg keeps named prepared statements per connection, which a transaction pooler cannot honour (PgBouncer
1.18 has no max_prepared_statements): the app DSN carries `?pgbouncer=true`, which tells renubu_mcp.db to turn
asyncpg's statement cache off.
"""

from __future__ import annotations

import os
import pwd
import shutil
import signal
import subprocess
import time
import urllib.parse
from pathlib import Path
from typing import Any


PGBOUNCER = shutil.which("pgbouncer") or "/usr/sbin/pgbouncer"
POOLER_FLAG = "pgbouncer"


def available() -> bool:
    return os.access(PGBOUNCER, os.X_OK)


class PgBouncer:
    def __init__(
        self,
        server_socket_dir: Path | str,
        server_port: int = 5432,
        *,
        pool_size: int = 4,
        users: tuple[str, ...] = ("authenticator",),
    ):
        self.server_socket_dir = Path(server_socket_dir)
        self.server_port = server_port
        self.pool_size = pool_size
        self.users = users
        self.port = 6432
        self.dir: Path | None = None
        self.proc: subprocess.Popen | None = None

    def _account(self) -> pwd.struct_passwd | None:
        return pwd.getpwnam("postgres") if os.geteuid() == 0 else None

    def start(self, timeout: float = 15.0) -> "PgBouncer":
        from tests.conftest import private_tmp_dir

        self.dir = private_tmp_dir("renubu-pgbouncer-")
        account = self._account()
        ini = self.dir / "pgbouncer.ini"
        ini.write_text(f"""\
[databases]
* = host={self.server_socket_dir} port={self.server_port}

[pgbouncer]
listen_addr =
listen_port = {self.port}
unix_socket_dir = {self.dir}
unix_socket_mode = 0700
auth_type = trust
auth_file = {self.dir}/userlist.txt
pool_mode = transaction
default_pool_size = {self.pool_size}
min_pool_size = 0
reserve_pool_size = 0
max_client_conn = 1000
max_db_connections = {self.pool_size * 2}
server_lifetime = 3600
server_idle_timeout = 30
server_login_retry = 1
query_wait_timeout = 3
ignore_startup_parameters = extra_float_digits,{POOLER_FLAG}
logfile = {self.dir}/pgbouncer.log
pidfile =
log_connections = 0
log_disconnections = 0
""")
        (self.dir / "userlist.txt").write_text("".join(f'"{u}" ""\n' for u in self.users))
        kwargs: dict[str, Any] = {}
        if account is not None:
            for path in (self.dir, ini, self.dir / "userlist.txt"):
                os.chown(path, account.pw_uid, account.pw_gid)
            kwargs.update(user=account.pw_uid, group=account.pw_gid, extra_groups=[])
        self.proc = subprocess.Popen(
            [PGBOUNCER, str(ini)],
            cwd="/",
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            **kwargs,
        )
        socket_file = self.dir / f".s.PGSQL.{self.port}"
        deadline = time.monotonic() + timeout
        while not socket_file.exists():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"pgbouncer did not start: {self.log()}")
            time.sleep(0.05)
        return self

    def dsn(self, user: str, dbname: str) -> str:
        host = urllib.parse.quote(str(self.dir), safe="/")
        return (
            f"postgresql://{user}@/{urllib.parse.quote(dbname, safe='')}?host={host}&port={self.port}"
            f"&{POOLER_FLAG}=true"
        )

    def log(self) -> str:
        if self.dir is None or not (self.dir / "pgbouncer.log").exists():
            return ""
        return (self.dir / "pgbouncer.log").read_text(errors="replace")[-4000:]

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)  # immediate shutdown: clients are gone by now
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        if self.dir is not None:
            shutil.rmtree(self.dir, ignore_errors=True)


# --- the pooler flag -------------------------------------------------------------------------------------------


def strip_pooler_flag(dsn: str) -> tuple[str, bool]:
    parts = urllib.parse.urlsplit(dsn)
    query = urllib.parse.parse_qsl(parts.query, keep_blank_values=True)
    flagged = any(k == POOLER_FLAG and v.lower() in ("true", "1", "yes", "on") for k, v in query)
    rest = urllib.parse.urlencode([(k, v) for k, v in query if k != POOLER_FLAG], safe="/")
    return urllib.parse.urlunsplit(parts._replace(query=rest)), flagged
