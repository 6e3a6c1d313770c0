"""`renubu-mcp users ...`: the passwords users sign in with (bcrypt in auth.users, as Supabase's Auth server keeps
them), set by the schema owner. A password is read from a prompt or stdin, never from the command line, where
other users of the machine and the shell history would see it."""

from __future__ import annotations

import getpass
import sys
from typing import TextIO
from uuid import UUID

import asyncpg

from .config import ConfigError

MIN_PASSWORD_CHARS = 8
MAX_PASSWORD_BYTES = 72  # bcrypt reads no further (Supabase's Auth server refuses longer ones too)


def password_problem(password: str) -> str | None:
    if len(password) < MIN_PASSWORD_CHARS:
        return f"a password needs at least {MIN_PASSWORD_CHARS} characters"
    if len(password.encode()) > MAX_PASSWORD_BYTES:
        return f"a password may have at most {MAX_PASSWORD_BYTES} bytes (bcrypt ignores the rest)"
    if password != password.strip() or any(ord(c) < 0x20 for c in password):
        return "a password must not start or end with white space or hold control characters"
    return None


def read_new_password(stdin: TextIO | None = None) -> str:
    """From a prompt (asked twice) when stdin is a terminal, else the first line of stdin."""
    stdin = stdin or sys.stdin
    if stdin.isatty():
        password = getpass.getpass("New password: ")
        if getpass.getpass("Again: ") != password:
            raise ConfigError("the two passwords differ; nothing was changed")
    else:
        password = stdin.readline().rstrip("\r\n")
    problem = password_problem(password)
    if problem:
        raise ConfigError(f"{problem}; nothing was changed")
    return password


async def set_password(owner_dsn: str, email: str, password: str) -> UUID | None:
    """Give the user with this email a new password (and lift a sign-in lock); their id, or None if no user."""
    conn = await asyncpg.connect(owner_dsn)
    try:
        return await conn.fetchval("SELECT renubu_auth.set_password($1, $2)", email, password)
    finally:
        await conn.close()
