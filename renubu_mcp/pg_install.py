"""Finding the PostgreSQL server binaries and contrib extensions the embedded cluster runs on."""

from __future__ import annotations

import glob
import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

SERVER_BINARIES = ("initdb", "pg_ctl", "postgres")
REQUIRED_EXTENSIONS = ("pgcrypto", "uuid-ossp")
INSTALL_HINT = (
    "install PostgreSQL with its contrib extensions "
    "(Debian/Ubuntu: apt-get install postgresql postgresql-contrib; "
    "Fedora: dnf install postgresql-server postgresql-contrib; "
    "macOS: brew install postgresql@16), "
    "or set RENUBU_DATABASE_URL to use an existing database"
)


class EmbeddedError(RuntimeError):
    """The embedded cluster cannot be found, created or started; the message says what to do."""


def _pg_config(pg_config: str | Path, option: str) -> Path | None:
    try:
        out = subprocess.run([str(pg_config), option], capture_output=True, text=True, timeout=10, check=True)
    except (OSError, subprocess.SubprocessError):
        return None
    value = out.stdout.strip()
    return Path(value) if value else None


def _version_key(path: str) -> tuple[int, ...]:
    return tuple(int(n) for n in re.findall(r"\d+", path)) or (0,)


def _candidate_bindirs() -> Iterator[Path]:
    """Places PostgreSQL server binaries live, most specific first."""
    pg_config = shutil.which("pg_config")
    if pg_config:
        bindir = _pg_config(pg_config, "--bindir")
        if bindir:
            yield bindir
    for found in sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=_version_key, reverse=True):
        yield Path(found)
    yield Path("/usr/local/pgsql/bin")
    for found in sorted(glob.glob("/opt/homebrew/opt/postgresql@*/bin"), key=_version_key, reverse=True):
        yield Path(found)
    for entry in os.environ.get("PATH", "").split(os.pathsep):
        if entry:
            yield Path(entry)


def _candidate_sharedirs(bindir: Path) -> Iterator[Path]:
    """Places the extension control files of the PostgreSQL in bindir may live."""
    own_pg_config = bindir / "pg_config"
    if own_pg_config.exists():
        sharedir = _pg_config(own_pg_config, "--sharedir")
        if sharedir:
            yield sharedir
    pg_config = shutil.which("pg_config")
    # The pg_config on PATH only describes bindir if it says so itself.
    if pg_config and _pg_config(pg_config, "--bindir") == bindir:
        sharedir = _pg_config(pg_config, "--sharedir")
        if sharedir:
            yield sharedir
    share = bindir.parent / "share"
    yield share
    for found in sorted(glob.glob(str(share / "postgresql*")), key=_version_key, reverse=True):
        yield Path(found)
    yield share / "pgsql"  # Fedora
    version = re.search(r"/postgresql/(\d+)/bin$", str(bindir))  # Debian's /usr/lib/postgresql/<ver>/bin
    if version:
        yield Path("/usr/share/postgresql") / version.group(1)


def _has_server_binaries(bindir: Path) -> bool:
    return all(os.access(bindir / name, os.X_OK) and (bindir / name).is_file() for name in SERVER_BINARIES)


def find_pg_sharedir(bindir: Path) -> Path | None:
    """The share directory of the PostgreSQL in bindir if it has pgcrypto and uuid-ossp, else None."""
    for sharedir in _candidate_sharedirs(bindir):
        if all((sharedir / "extension" / f"{ext}.control").is_file() for ext in REQUIRED_EXTENSIONS):
            return sharedir
    return None


def find_pg_bindir() -> Path:
    """The directory holding initdb, pg_ctl and postgres of an installation that has pgcrypto and uuid-ossp."""
    without_extensions: list[Path] = []
    seen: set[Path] = set()
    for bindir in _candidate_bindirs():
        if bindir in seen:
            continue
        seen.add(bindir)
        if not _has_server_binaries(bindir):
            continue
        if find_pg_sharedir(bindir) is not None:
            return bindir
        without_extensions.append(bindir)
    if without_extensions:
        raise EmbeddedError(
            f"PostgreSQL in {without_extensions[0]} lacks the {' and '.join(REQUIRED_EXTENSIONS)} extensions: "
            + INSTALL_HINT
        )
    raise EmbeddedError(f"no PostgreSQL server (initdb, pg_ctl, postgres) found: {INSTALL_HINT}")
