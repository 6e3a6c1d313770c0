"""The private PostgreSQL cluster renubu-mcp runs when no RENUBU_DATABASE_URL is set."""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import fcntl
import logging
import os
import pwd
import re
import secrets
import shutil
import socket
import subprocess
import tempfile
import time
import urllib.parse
import weakref
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import asyncpg

from .pg_install import EmbeddedError, find_pg_bindir

log = logging.getLogger(__name__)

OWNER_ROLE = "postgres"  # the superuser initdb creates; migrations run as it
APP_ROLE = "authenticator"  # the non-owner login role the server serves through (made by the core migration)
PORT = 5432  # only names the socket file: the cluster listens on no TCP address
# PostgreSQL refuses socket paths longer than sockaddr_un.sun_path (107 bytes); keep a margin.
MAX_SOCKET_PATH_BYTES = 100
# Anything else in a socket directory would need quoting in postgresql.conf and in the DSN.
SAFE_PATH = re.compile(r"^[A-Za-z0-9/._+@~-]+$")
# initdb, pg_ctl and postgres refuse to run as root; as root we run them as this system user.
SERVER_OS_USER = "postgres"

T = TypeVar("T")


# The clusters this process counts as a user of (start() without its stop() yet).
_IN_USE: weakref.WeakSet[EmbeddedCluster] = weakref.WeakSet()


def stop_using_all() -> None:
    """stop() every cluster this process still uses: for a process about to exit without unwinding (a signal while
    a thread is blocked reading stdin), so the last user out still stops PostgreSQL."""
    for cluster in list(_IN_USE):
        try:
            cluster.stop()
        except Exception as exc:  # exiting anyway: the next user adopts a cluster left running
            log.warning("could not stop PostgreSQL in %s: %s", cluster.data_dir, exc)


# --- running things ----------------------------------------------------------------------------


def run_async(make_coro: Callable[[], Awaitable[T]]) -> T:
    """Run a coroutine to completion from sync code, also when called inside a running event loop."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(make_coro())  # type: ignore[arg-type]
    # asyncio.run cannot nest, so a caller already inside a loop gets a worker thread with its own loop.
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(lambda: asyncio.run(make_coro())).result()  # type: ignore[arg-type]


def quote_ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _conf_literal(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "''") + "'"


class EmbeddedCluster:
    """One private PostgreSQL cluster under data_dir, reachable only over a unix socket in a 0700 directory.

    Layout: data_dir/pgdata (the cluster), data_dir/run (socket dir), data_dir/postgres.log, data_dir/token.key.

    Any number of processes may share it: start() counts the caller as a user (a shared lock on users.lock, which
    the kernel releases when a process dies, however it dies) and stop() uncounts it; the last user out stops the
    server if renubu-mcp started it (started.pid), so a server left behind by a killed process is adopted by the
    next one and stopped in turn, and one started by hand is left alone.
    """

    def __init__(self, data_dir: Path, *, dbname: str = "renubu", fast_unsafe: bool = False) -> None:
        self.data_dir = Path(data_dir).expanduser().absolute()
        self.dbname = dbname
        self.fast_unsafe = fast_unsafe
        self.pgdata = self.data_dir / "pgdata"
        self.log_file = self.data_dir / "postgres.log"
        self.token_file = self.data_dir / "token.key"
        # Remembers the short /tmp socket dir used when data_dir/run would make the socket path too long.
        self._socket_dir_record = self.data_dir / "socket_dir"
        self._lock_file = self.data_dir / "cluster.lock"
        # Every process using the cluster holds a shared lock on this file: the kernel drops a killed process's.
        self._users_file = self.data_dir / "users.lock"
        # Which postmaster renubu-mcp started (pid and start time): a server started by hand is not ours to stop.
        self._started_file = self.data_dir / "started.pid"
        self._use_fd: int | None = None
        self._bindir: Path | None = None
        self._socket_dir: Path | None = None
        self._port = PORT
        self.started_by_us = False  # this object ran pg_ctl start (information only: the last user out stops it)

    def __repr__(self) -> str:
        return f"EmbeddedCluster({str(self.data_dir)!r}, dbname={self.dbname!r})"

    # --- who runs the server ---

    @property
    def bindir(self) -> Path:
        if self._bindir is None:
            self._bindir = find_pg_bindir()
        return self._bindir

    @staticmethod
    def _as_root() -> bool:
        return os.geteuid() == 0

    def _server_user(self) -> pwd.struct_passwd | None:
        """The OS account the server binaries run as: None means ourselves."""
        if not self._as_root():
            return None
        try:
            return pwd.getpwnam(SERVER_OS_USER)
        except KeyError:
            raise EmbeddedError(
                f"running as root, the embedded PostgreSQL must run as the '{SERVER_OS_USER}' system user, "
                f"which does not exist: install PostgreSQL from your distribution, run as a normal user, "
                f"or set RENUBU_DATABASE_URL"
            ) from None

    def _run_server_tool(self, args: list[str], *, check: bool = True) -> subprocess.CompletedProcess[str]:
        user = self._server_user()
        # The server inherits this environment for its lifetime: keep our secrets (RENUBU_*) and stray
        # libpq/PG settings out of it.
        env = {k: v for k, v in os.environ.items() if not k.startswith(("RENUBU_", "PG"))}
        kwargs: dict[str, Any] = {"env": env}
        if user is not None:
            # extra_groups=[] drops root's supplementary groups instead of handing them to postgres.
            kwargs.update(user=user.pw_uid, group=user.pw_gid, extra_groups=[])
            env.update(HOME=user.pw_dir, USER=user.pw_name, LOGNAME=user.pw_name)
        log.debug("running %s", " ".join(args))
        # cwd="/" because postgres complains when it cannot read the caller's working directory.
        proc = subprocess.run(args, capture_output=True, text=True, cwd="/", stdin=subprocess.DEVNULL, **kwargs)
        if check and proc.returncode != 0:
            detail = (proc.stderr or proc.stdout).strip().splitlines()
            raise EmbeddedError(
                f"{Path(args[0]).name} failed (exit {proc.returncode}): {detail[-1] if detail else 'no output'}"
                f"; see {self.log_file}"
            )
        return proc

    def _give_to_server_user(self, path: Path) -> None:
        user = self._server_user()
        if user is not None:
            os.chown(path, user.pw_uid, user.pw_gid)

    # --- directories ---

    def _make_private_dir(self, path: Path, *, server_owned: bool) -> None:
        path.mkdir(mode=0o700, parents=True, exist_ok=True)
        os.chmod(path, 0o700)
        if server_owned:
            self._give_to_server_user(path)

    def _prepare_data_dir(self) -> None:
        self.data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        user = self._server_user()
        if user is None:
            os.chmod(self.data_dir, 0o700)
            return
        # As root, data_dir stays root's (token.key lives here) but lets postgres pass through to pgdata/run.
        os.chmod(self.data_dir, 0o711)
        probe = subprocess.run(
            [shutil.which("test") or "/usr/bin/test", "-x", str(self.data_dir)],
            user=user.pw_uid,
            group=user.pw_gid,
            extra_groups=[],
            cwd="/",
            capture_output=True,
        )
        if probe.returncode != 0:
            raise EmbeddedError(
                f"running as root, the embedded PostgreSQL runs as the '{SERVER_OS_USER}' user, which cannot "
                f"reach {self.data_dir} (a parent directory is private): set RENUBU_DATA_DIR to a directory it "
                f"can reach (e.g. /var/lib/renubu-mcp), run as a normal user, or set RENUBU_DATABASE_URL"
            )
        if not self.log_file.exists():
            # pg_ctl opens the log as postgres, who may not create files in root's data_dir.
            os.close(os.open(self.log_file, os.O_CREAT | os.O_WRONLY, 0o600))
        self._give_to_server_user(self.log_file)

    def _socket_path_ok(self, directory: Path) -> bool:
        socket_path = str(directory / f".s.PGSQL.{self._port}")
        return len(socket_path.encode()) <= MAX_SOCKET_PATH_BYTES and bool(SAFE_PATH.match(str(directory)))

    def _private_dir_is_ours(self, directory: Path) -> bool:
        try:
            st = os.lstat(directory)
        except FileNotFoundError:
            return False
        user = self._server_user()
        owner = user.pw_uid if user is not None else os.geteuid()
        return st.st_uid == owner and (st.st_mode & 0o777) == 0o700 and os.path.isdir(directory)

    def _choose_socket_dir(self) -> Path:
        run_dir = self.data_dir / "run"
        if self._socket_path_ok(run_dir):
            self._make_private_dir(run_dir, server_owned=True)
            return run_dir
        # Too long for a socket path: use a short private dir in /tmp, recorded so later runs find it.
        if self._socket_dir_record.exists():
            recorded = Path(self._socket_dir_record.read_text().strip())
            if self._private_dir_is_ours(recorded):
                return recorded
            with contextlib.suppress(OSError):
                os.mkdir(recorded, 0o700)  # /tmp was cleaned; re-create the same name if it is free
                self._give_to_server_user(recorded)
                if self._private_dir_is_ours(recorded):
                    return recorded
        short = Path(tempfile.mkdtemp(prefix="renubu-", dir="/tmp"))
        self._give_to_server_user(short)
        self._socket_dir_record.write_text(f"{short}\n")
        log.info("socket path under %s is too long; using %s", self.data_dir, short)
        return short

    @property
    def socket_dir(self) -> Path:
        """Where the server's unix socket is (or will be)."""
        if self._socket_dir is not None:
            return self._socket_dir
        running = self._read_pid_file()
        if running:
            return running[0]
        run_dir = self.data_dir / "run"
        if self._socket_path_ok(run_dir):
            return run_dir  # start() creates it
        self.data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        self._socket_dir = self._choose_socket_dir()
        return self._socket_dir

    # --- configuration ---

    def _settings(self, socket_dir: Path) -> dict[str, str]:
        settings = {
            "listen_addresses": "''",
            "port": str(self._port),
            "unix_socket_directories": _conf_literal(str(socket_dir)),
            "unix_socket_permissions": "0700",
            # Bind parameters carry encryption keys: never write them to the log.
            "log_parameter_max_length": "0",
            "log_parameter_max_length_on_error": "0",
            "shared_buffers": "'64MB'",
            "max_connections": "100",
            "work_mem": "'8MB'",
            "maintenance_work_mem": "'64MB'",
        }
        if self.fast_unsafe:
            # Tests only: a crash may corrupt the cluster, which is thrown away anyway.
            settings.update(fsync="off", synchronous_commit="off", full_page_writes="off")
        return settings

    def _write_config(self, socket_dir: Path) -> None:
        """Rewrite pgdata/renubu.conf, included last by postgresql.conf, so settings follow the code."""
        body = "# Written by renubu-mcp on every start; edits are overwritten.\n" + "".join(
            f"{name} = {value}\n" for name, value in self._settings(socket_dir).items()
        )
        conf = self.pgdata / "renubu.conf"
        conf.write_text(body)
        os.chmod(conf, 0o600)
        self._give_to_server_user(conf)
        main_conf = self.pgdata / "postgresql.conf"
        include = "include_if_exists = 'renubu.conf'"
        if include not in main_conf.read_text():
            with main_conf.open("a") as fh:
                fh.write(f"\n# renubu-mcp settings\n{include}\n")

    # --- lifecycle ---

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        """Serialize ensure/start/stop across processes sharing this data_dir."""
        self.data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd = os.open(self._lock_file, os.O_CREAT | os.O_RDWR, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)

    @contextlib.contextmanager
    def preparing(self) -> Iterator[None]:
        """Held by a process while it readies the cluster for serving (create, start, migrate, seed): one at a time,
        so another one starting meanwhile waits, then finds it complete. A separate lock from _locked(): start()
        and stop() take that one inside."""
        self.data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd = os.open(self.data_dir / "prepare.lock", os.O_CREAT | os.O_RDWR, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)

    def _initialized(self) -> bool:
        return (self.pgdata / "PG_VERSION").is_file()

    def ensure(self) -> bool:
        """Create the cluster if there is none yet; True when it was created now."""
        with self._locked():
            return self._ensure_locked()

    def _ensure_locked(self) -> bool:
        bindir = self.bindir
        self._prepare_data_dir()
        if self._initialized():
            return False
        if self.pgdata.exists() and any(self.pgdata.iterdir()):
            raise EmbeddedError(f"{self.pgdata} exists but is not a PostgreSQL cluster; move it away and retry")
        self._make_private_dir(self.pgdata, server_owned=True)
        log.info("creating PostgreSQL cluster in %s", self.pgdata)
        # trust is safe here: the only way in is the socket in a 0700 directory, like peer auth for its owner.
        self._run_server_tool(
            [
                str(bindir / "initdb"),
                "-D",
                str(self.pgdata),
                "--username",
                OWNER_ROLE,
                "--auth=trust",
                "--auth-host=reject",
                "--encoding=UTF8",
                "--locale=C",
            ]
        )
        return True

    def _read_pid_file(self) -> tuple[Path, int] | None:
        """(socket dir, port) of a server that is up and accepting connections on this cluster, else None."""
        try:
            lines = (self.pgdata / "postmaster.pid").read_text().splitlines()
        except (FileNotFoundError, NotADirectoryError, PermissionError):
            return None
        if len(lines) < 5 or not lines[4].strip():
            return None
        # Line 8 is the postmaster's status; "starting" would refuse connections.
        if len(lines) >= 8 and lines[7].strip() != "ready":
            return None
        try:
            socket_dir, port = Path(lines[4].strip()), int(lines[3].strip())
        except ValueError:
            return None
        probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            probe.settimeout(2)
            probe.connect(str(socket_dir / f".s.PGSQL.{port}"))
        except OSError:
            return None
        finally:
            probe.close()
        return socket_dir, port

    def _wait_until_ready(self, timeout: float = 60.0) -> bool:
        deadline = time.monotonic() + timeout
        while (self.pgdata / "postmaster.pid").exists() and time.monotonic() < deadline:
            if self._read_pid_file():
                return True
            time.sleep(0.1)
        return False

    def is_running(self) -> bool:
        return self._read_pid_file() is not None

    def start(self) -> None:
        """Start the server unless it is already running, count this object as one of its users, then create the
        database if missing. Calling it again (the server was stopped or crashed under us) starts it again."""
        with self._locked():
            if not self._initialized():
                raise EmbeddedError(f"no cluster in {self.pgdata}; call ensure() first")
            # Counted before starting it: a process stopped by a signal from here on still stops what it started.
            counted_now = self._count_as_user()
            try:
                running = self._read_pid_file()
                if running:
                    self._socket_dir, self._port = running
                    log.info("PostgreSQL already running in %s", self.pgdata)
                else:
                    self._start_server_locked()
            except BaseException:
                if counted_now:
                    self._uncount()
                raise
        try:
            self.create_database(self.dbname, exist_ok=True)
        except BaseException:
            self.stop()
            raise

    def _start_server_locked(self) -> None:
        self._prepare_data_dir()
        self._socket_dir = self._choose_socket_dir()
        self._write_config(self._socket_dir)
        log.info("starting PostgreSQL in %s", self.pgdata)
        proc = self._run_server_tool(
            [str(self.bindir / "pg_ctl"), "-D", str(self.pgdata), "-l", str(self.log_file), "-w", "-t", "60", "start"],
            check=False,
        )
        if proc.returncode != 0 and self._wait_until_ready():
            # A server was already starting (started by hand): use it, it is not ours to stop.
            self._socket_dir, self._port = self._read_pid_file()  # type: ignore[misc]
        elif proc.returncode != 0:
            detail = (proc.stderr or proc.stdout).strip().splitlines()
            raise EmbeddedError(
                f"PostgreSQL did not start ({detail[-1] if detail else 'no output'}); see {self.log_file}"
            )
        else:
            self.started_by_us = True
            identity = self._postmaster_identity()
            if identity:
                self._started_file.write_text(identity + "\n")

    def stop(self) -> None:
        """Stop using the cluster. The last user out stops the server, if renubu-mcp started it: a process that was
        killed no longer counts (the kernel released its lock), so a server it left running is stopped here."""
        if self._use_fd is None:
            return
        with self._locked():
            self._uncount()
            self.started_by_us = False
            if not (self.pgdata / "postmaster.pid").exists():
                return
            if self._others_use_it():
                log.info("PostgreSQL in %s keeps running for the other processes using it", self.pgdata)
                return
            if not self._started_by_renubu():
                log.info("PostgreSQL in %s was not started by renubu-mcp; leaving it running", self.pgdata)
                return
            log.info("stopping PostgreSQL in %s", self.pgdata)
            proc = self._run_server_tool(
                [str(self.bindir / "pg_ctl"), "-D", str(self.pgdata), "-m", "fast", "-w", "stop"], check=False
            )
            if proc.returncode != 0 and self.is_running():
                detail = (proc.stderr or proc.stdout).strip().splitlines()
                raise EmbeddedError(
                    f"PostgreSQL did not stop ({detail[-1] if detail else 'no output'}); see {self.log_file}"
                )
            self._started_file.unlink(missing_ok=True)  # (a failure above: it had crashed, leaving a stale pid file)

    # --- who is using it ---

    def _count_as_user(self) -> bool:
        """Hold a shared lock on users.lock until stop(): one per user, released by the kernel if we are killed.
        True when this call counted us (False: already counted)."""
        if self._use_fd is not None:
            return False
        fd = os.open(self._users_file, os.O_CREAT | os.O_RDWR, 0o600)  # not inherited by pg_ctl or postgres
        fcntl.flock(fd, fcntl.LOCK_SH)
        self._use_fd = fd
        _IN_USE.add(self)
        return True

    def _uncount(self) -> None:
        if self._use_fd is not None:
            os.close(self._use_fd)
            self._use_fd = None
        _IN_USE.discard(self)

    def _others_use_it(self) -> bool:
        """Whether another user (process, or object in this one) holds users.lock. Called under _locked(), so no
        user can come or go meanwhile."""
        fd = os.open(self._users_file, os.O_CREAT | os.O_RDWR, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        finally:
            os.close(fd)
        return False

    def _postmaster_identity(self) -> str | None:
        """The running postmaster's pid and start time, from postmaster.pid."""
        try:
            lines = (self.pgdata / "postmaster.pid").read_text().splitlines()
        except (FileNotFoundError, NotADirectoryError, PermissionError):
            return None
        return f"{lines[0].strip()} {lines[2].strip()}" if len(lines) >= 3 else None

    def _started_by_renubu(self) -> bool:
        try:
            recorded = self._started_file.read_text().strip()
        except FileNotFoundError:
            return False
        return recorded != "" and recorded == self._postmaster_identity()

    def __enter__(self) -> "EmbeddedCluster":
        self.ensure()
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # --- connecting ---

    def _dsn(self, user: str, dbname: str | None) -> str:
        database = urllib.parse.quote(dbname or self.dbname, safe="")
        host = urllib.parse.quote(str(self.socket_dir), safe="/")
        # host as a query parameter is the socket form both libpq (psql) and asyncpg accept.
        return f"postgresql://{user}@/{database}?host={host}&port={self._port}"

    def owner_dsn(self, dbname: str | None = None) -> str:
        """DSN for the superuser that owns the schema (migrations, tests)."""
        return self._dsn(OWNER_ROLE, dbname)

    def app_dsn(self, dbname: str | None = None) -> str:
        """DSN for the non-owner login role the server serves through."""
        return self._dsn(APP_ROLE, dbname)

    # --- databases ---

    def _owner_execute(self, sql: str, *args: object) -> Any:
        async def go() -> Any:
            conn = await asyncpg.connect(self.owner_dsn("postgres"))
            try:
                return await conn.fetchval(sql, *args) if args else await conn.execute(sql)
            finally:
                await conn.close()

        return run_async(go)

    def database_exists(self, name: str) -> bool:
        return bool(self._owner_execute("SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)", name))

    def create_database(self, name: str, template: str | None = None, *, exist_ok: bool = False) -> None:
        """CREATE DATABASE name [TEMPLATE template]; cloning a template is how tests get a fresh copy fast."""
        if exist_ok and self.database_exists(name):
            return
        sql = f"CREATE DATABASE {quote_ident(name)}"
        if template:
            sql += f" TEMPLATE {quote_ident(template)}"
        try:
            self._owner_execute(sql)
        except (asyncpg.DuplicateDatabaseError, asyncpg.UniqueViolationError):  # the latter: a concurrent CREATE
            if not exist_ok:
                raise

    def drop_database(self, name: str) -> None:
        """DROP DATABASE IF EXISTS, disconnecting anyone still connected."""
        self._owner_execute(f"DROP DATABASE IF EXISTS {quote_ident(name)} WITH (FORCE)")

    # --- token key ---

    def token_key(self) -> str:
        """The token-encryption key of the embedded setup: made once into token.key (0600), then reused."""
        return self._private_secret(self.token_file)

    def jwt_secret(self) -> str:
        """The secret that signs local access tokens (renubu-mcp token): made once into jwt.secret (0600)."""
        return self._private_secret(self.data_dir / "jwt.secret")

    def demo_password(self) -> str:
        """The demo users' password for signing in (printed at start): made once into demo.password (0600)."""
        return self._private_secret(self.data_dir / "demo.password")

    def _private_secret(self, path: Path) -> str:
        self.data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        if not path.exists():
            self._write_new_secret(path)
        st = os.stat(path)
        if st.st_mode & 0o077:
            raise EmbeddedError(
                f"{path} is readable by other users (mode {st.st_mode & 0o777:o}); "
                f"run chmod 600 {path} if nobody else has read it, otherwise replace it"
            )
        secret = path.read_text().strip()
        if not secret:
            raise EmbeddedError(f"{path} is empty; restore it from a backup")
        return secret

    def _write_new_secret(self, path: Path) -> None:
        # Write a temp file then link it into place: a concurrent reader never sees a half-written secret,
        # and the loser of a race keeps the winner's.
        tmp = self.data_dir / f".{path.name}.{secrets.token_hex(8)}"
        fd = os.open(tmp, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
        try:
            with os.fdopen(fd, "w") as fh:
                fh.write(secrets.token_urlsafe(32) + "\n")
                fh.flush()
                os.fsync(fh.fileno())
            with contextlib.suppress(FileExistsError):
                os.link(tmp, path)
        finally:
            tmp.unlink(missing_ok=True)


def default_cluster(data_dir: Path | None = None, **kwargs: Any) -> EmbeddedCluster:
    """The cluster for the current settings (RENUBU_DATA_DIR, default ~/.local/share/renubu-mcp)."""
    if data_dir is None:
        from .config import Settings

        data_dir = Settings.from_env().data_dir
    return EmbeddedCluster(data_dir, **kwargs)
