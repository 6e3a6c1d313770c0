"""The embedded cluster: created once, reused, stopped by the last user out, with a private token key."""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import asyncpg
import pytest

from renubu_mcp import embedded, pg_install
from renubu_mcp.embedded import EmbeddedCluster, EmbeddedError


@pytest.fixture
def cluster_dir() -> Iterator[Path]:
    """An empty data dir; any server still running in it afterwards is stopped and the dir removed."""
    # Directly under /tmp: as root, the postgres user must reach it (pytest's tmp_path is root-only).
    data_dir = Path(tempfile.mkdtemp(prefix="renubu-test-emb-", dir="/tmp"))
    yield data_dir
    leftover = EmbeddedCluster(data_dir)
    if (leftover.pgdata / "postmaster.pid").exists():  # a failed test may have left it running
        leftover._run_server_tool(
            [str(leftover.bindir / "pg_ctl"), "-D", str(leftover.pgdata), "-m", "immediate", "stop"], check=False
        )
    record = data_dir / "socket_dir"
    if record.exists():
        shutil.rmtree(record.read_text().strip(), ignore_errors=True)
    shutil.rmtree(data_dir, ignore_errors=True)


async def _whoami(dsn: str) -> str:
    conn = await asyncpg.connect(dsn)
    try:
        return await conn.fetchval("SELECT current_user || '@' || current_database()")
    finally:
        await conn.close()


async def test_first_start_creates_cluster_and_database_then_reuses(cluster_dir: Path) -> None:
    first = EmbeddedCluster(cluster_dir, fast_unsafe=True)
    assert first.ensure() is True
    with first:  # ensure() again inside: already there
        assert first.started_by_us
        assert await _whoami(first.owner_dsn()) == "postgres@renubu"
        assert await _whoami(first.owner_dsn("postgres")) == "postgres@postgres"
        # psql must accept the same DSN form as asyncpg (tests and people use it).
        psql = subprocess.run(
            [shutil.which("psql") or "/usr/bin/psql", "-X", "-A", "-t", "-c", "SELECT 1", first.owner_dsn()],
            capture_output=True,
            text=True,
        )
        assert psql.returncode == 0, psql.stderr
        assert psql.stdout.strip() == "1"
        key = first.token_key()
    assert not first.is_running()

    second = EmbeddedCluster(cluster_dir, fast_unsafe=True)
    assert second.ensure() is False
    with second:
        assert second.started_by_us
        assert second.database_exists("renubu")
        assert second.token_key() == key
    assert not second.is_running()


async def test_cluster_is_private(cluster_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RENUBU_TOKEN_ENCRYPTION_KEY", "do-not-inherit-me")
    with EmbeddedCluster(cluster_dir, fast_unsafe=True) as cluster:
        postmaster_pid = (cluster.pgdata / "postmaster.pid").read_text().split()[0]
        environ = Path(f"/proc/{postmaster_pid}/environ")
        if environ.exists():  # Linux: the server process must not carry our secrets
            assert b"do-not-inherit-me" not in environ.read_bytes()
        for private in (cluster.pgdata, cluster.socket_dir):
            assert stat.S_IMODE(os.stat(private).st_mode) == 0o700
        # The data dir is the owner's only; as root, postgres may pass through it but not list it.
        assert stat.S_IMODE(os.stat(cluster_dir).st_mode) in (0o700, 0o711)
        conn = await asyncpg.connect(cluster.owner_dsn())
        try:
            settings = dict(
                await conn.fetch(
                    "SELECT name, setting FROM pg_settings WHERE name = ANY($1::text[])",
                    ["listen_addresses", "log_parameter_max_length", "log_parameter_max_length_on_error", "fsync"],
                )
            )
        finally:
            await conn.close()
    assert settings == {
        "listen_addresses": "",
        "log_parameter_max_length": "0",
        "log_parameter_max_length_on_error": "0",
        "fsync": "off",
    }


def test_stop_only_stops_what_we_started(cluster_dir: Path) -> None:
    owner = EmbeddedCluster(cluster_dir, fast_unsafe=True)
    owner.ensure()
    owner.start()
    try:
        guest = EmbeddedCluster(cluster_dir)
        guest.start()
        assert not guest.started_by_us
        assert guest.owner_dsn() == owner.owner_dsn()
        guest.stop()
        assert owner.is_running(), "a cluster someone else started must survive our stop()"
    finally:
        owner.stop()
    assert not owner.is_running()


def test_the_last_user_out_stops_it_whoever_started_it(cluster_dir: Path) -> None:
    first = EmbeddedCluster(cluster_dir, fast_unsafe=True)
    first.ensure()
    first.start()
    second = EmbeddedCluster(cluster_dir)
    second.start()
    first.stop()  # the one that started it leaves first
    assert second.is_running()
    assert second.database_exists("renubu")
    second.stop()
    assert not second.is_running()
    second.stop()  # a second stop is a no-op


def test_postgresql_does_not_inherit_the_lock_that_counts_its_users(cluster_dir: Path) -> None:
    with EmbeddedCluster(cluster_dir, fast_unsafe=True) as cluster:
        postmaster = (cluster.pgdata / "postmaster.pid").read_text().split()[0]
        fds = Path(f"/proc/{postmaster}/fd")
        if not fds.exists():
            pytest.skip("no /proc on this system")
        held = {os.readlink(fd) for fd in fds.iterdir() if fd.is_symlink()}
        assert str(cluster_dir / "users.lock") not in held, "the server would count as a user for ever"


def test_long_data_dir_uses_short_recorded_socket_dir(cluster_dir: Path) -> None:
    os.chmod(cluster_dir, 0o711)  # as root, the postgres user must pass through to the nested data dir
    deep = cluster_dir / ("d" * 60) / ("e" * 60)
    first = EmbeddedCluster(deep, fast_unsafe=True)
    with first:
        socket_dir = first.socket_dir
        assert len(str(socket_dir / ".s.PGSQL.5432")) <= embedded.MAX_SOCKET_PATH_BYTES
        assert not str(socket_dir).startswith(str(deep))
    # Record it where the cluster_dir fixture cleans up.
    (cluster_dir / "socket_dir").write_text((deep / "socket_dir").read_text())
    with EmbeddedCluster(deep, fast_unsafe=True) as again:
        assert again.socket_dir == socket_dir


def test_token_key_is_private_and_stable(cluster_dir: Path) -> None:
    key = EmbeddedCluster(cluster_dir).token_key()
    token_file = cluster_dir / "token.key"
    assert stat.S_IMODE(os.stat(token_file).st_mode) == 0o600
    assert len(key) >= 32
    assert EmbeddedCluster(cluster_dir).token_key() == key
    os.chmod(token_file, 0o644)
    with pytest.raises(EmbeddedError, match="readable by other users"):
        EmbeddedCluster(cluster_dir).token_key()


def test_token_key_is_never_overwritten(cluster_dir: Path) -> None:
    cluster_dir.joinpath("token.key").write_text("kept\n")
    os.chmod(cluster_dir / "token.key", 0o600)
    assert EmbeddedCluster(cluster_dir).token_key() == "kept"


def test_finds_the_installed_postgresql() -> None:
    bindir = pg_install.find_pg_bindir()
    assert (bindir / "initdb").exists()
    sharedir = pg_install.find_pg_sharedir(bindir)
    assert sharedir is not None and (sharedir / "extension" / "pgcrypto.control").exists()


def _fake_bindir(root: Path) -> Path:
    bindir = root / "bin"
    bindir.mkdir()
    for name in pg_install.SERVER_BINARIES:
        exe = bindir / name
        exe.write_text("#!/bin/sh\nexit 1\n")
        exe.chmod(0o755)
    return bindir


def test_missing_postgresql_says_what_to_install(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(pg_install, "_candidate_bindirs", lambda: iter([tmp_path / "nowhere"]))
    with pytest.raises(EmbeddedError) as caught:
        pg_install.find_pg_bindir()
    message = str(caught.value)
    assert "apt-get install postgresql postgresql-contrib" in message
    assert "dnf install postgresql-server postgresql-contrib" in message
    assert "brew install postgresql@16" in message
    assert "RENUBU_DATABASE_URL" in message


def test_missing_extensions_say_to_install_contrib(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    bindir = _fake_bindir(tmp_path)
    monkeypatch.setattr(pg_install, "_candidate_bindirs", lambda: iter([bindir]))
    monkeypatch.setattr(pg_install, "_candidate_sharedirs", lambda _bindir: iter([tmp_path / "share"]))
    with pytest.raises(EmbeddedError, match="pgcrypto and uuid-ossp") as caught:
        pg_install.find_pg_bindir()
    assert "postgresql-contrib" in str(caught.value)


def test_missing_postgresql_fails_ensure_before_touching_anything(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(pg_install, "_candidate_bindirs", lambda: iter([]))
    with pytest.raises(EmbeddedError, match="apt-get install"):
        EmbeddedCluster(tmp_path / "data").ensure()
    assert not (tmp_path / "data" / "pgdata").exists()
