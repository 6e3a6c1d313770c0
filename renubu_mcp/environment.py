"""Marks the Python environment this process runs from as in use, so scripts/bootstrap never changes it under a
running server: bootstrap reinstalls only when it can lock the same file exclusively."""

from __future__ import annotations

import fcntl
import logging
import os
import sys
from pathlib import Path

log = logging.getLogger(__name__)

MARKER = ".renubu-in-use"  # made by scripts/bootstrap in the checkout's .venv; absent from other installs

_held: list[int] = []


def hold() -> None:
    """Hold a shared lock on the environment's marker until the process exits (the kernel lets go of it however
    the process ends). A setup in progress holds it exclusively: wait for it, then run on the finished one."""
    marker = Path(sys.prefix) / MARKER
    if _held or not marker.is_file():
        return
    try:
        fd = os.open(marker, os.O_RDONLY)
    except OSError:
        return
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        log.warning("scripts/bootstrap is setting up %s; waiting for it to finish", sys.prefix)
        fcntl.flock(fd, fcntl.LOCK_SH)
    _held.append(fd)
