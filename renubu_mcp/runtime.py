"""Opening the backend the server runs on: the configured database, or the embedded cluster, migrated."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from . import migrate
from .auth import InvalidToken, TokenRules, principal_from_claims, verify_token
from .config import ConfigError, Settings
from .db import FIND_ACTIVE_USER, Database, Principal
from .demo import ALICE, give_demo_users_a_password
from .embedded import EmbeddedCluster, EmbeddedError, run_async, stop_using_all

log = logging.getLogger(__name__)


class StartupError(RuntimeError):
    """The server cannot start as configured; the message says what to change."""


@dataclass
class Backend:
    db: Database
    token_key: str | None
    jwt_secret: str | None


@asynccontextmanager
async def open_backend(settings: Settings) -> AsyncIterator[Backend]:
    """Connect as the serving role (starting, migrating and seeding the embedded cluster if no URL is set)."""
    cluster = None
    if settings.embedded:
        cluster = EmbeddedCluster(settings.data_dir)
        token_key = settings.token_encryption_key or await asyncio.to_thread(cluster.token_key)
        jwt_secret = settings.jwt_secret or await asyncio.to_thread(cluster.jwt_secret)
    else:
        dsn, token_key, jwt_secret = settings.database_url, settings.token_encryption_key, settings.jwt_secret
    try:
        if cluster is not None:
            await asyncio.to_thread(_prepare_embedded, cluster)  # from here on this process is one of its users
            dsn = cluster.app_dsn()
        # Only the embedded cluster can be brought back (and the benchmarks' stand-in pools take no revive).
        revive: dict[str, Any] = {"revive": _restarter(cluster)} if cluster is not None else {}
        assert dsn is not None  # not embedded means RENUBU_DATABASE_URL is set (Settings.embedded)
        db = await Database.connect(
            dsn,
            max_size=settings.pool_max_size,
            statement_timeout_ms=settings.statement_timeout_ms,
            read_only=settings.read_only,
            max_idle_seconds=settings.pool_idle_seconds,
            **revive,
        )
        try:
            await db.check_login_role()
            yield Backend(db=db, token_key=token_key, jwt_secret=jwt_secret)
        finally:
            await db.close()
    finally:
        if cluster is not None:
            await asyncio.to_thread(cluster.stop)


def _prepare_embedded(cluster: EmbeddedCluster) -> None:
    """Create (first run), start, migrate and seed (first run) the embedded cluster, one process at a time: servers
    started together (two clients opening at login) wait for the first, then find the demo data in place."""
    with cluster.preparing():
        created = cluster.ensure()
        cluster.start()
        applied = run_async(lambda: migrate.migrate(cluster.owner_dsn()))
        if applied:
            log.info("applied migrations %s", ", ".join(applied))
        demo_password = cluster.demo_password()
        if created:
            run_async(lambda: migrate.seed_demo(cluster.owner_dsn(), demo_password=demo_password))
            log.info("loaded the demo data into the new embedded database")
        else:
            run_async(lambda: give_demo_users_a_password(cluster.owner_dsn(), demo_password))


def exit_on_signals() -> None:
    """stdio: SIGINT (Ctrl-C) or SIGTERM (a host closing the server) ends the process at once, after stopping the
    embedded cluster if this was its last user. Unwinding cannot work here: the SDK reads stdin in a worker thread,
    and shutdown would wait for that read until the next line or EOF."""

    def on_signal(signum: int, _frame: object) -> None:
        stop_using_all()
        os._exit(128 + signum)

    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, on_signal)


def _restarter(cluster: EmbeddedCluster) -> Callable[[], Awaitable[bool]]:
    """Starts the embedded cluster again when it is found down (stopped by another process, or crashed), one
    start at a time; calls waiting meanwhile find it running."""
    lock = asyncio.Lock()

    async def restart() -> bool:
        async with lock:
            was_running = await asyncio.to_thread(cluster.is_running)
            try:
                await asyncio.to_thread(cluster.start)
            except EmbeddedError as exc:
                log.warning("the embedded PostgreSQL is down and could not be started again: %s", exc)
                return False
            if not was_running:
                log.warning("the embedded PostgreSQL in %s had stopped; started it again", cluster.data_dir)
            return True

    return restart


async def resolve_stdio_principal(settings: Settings, db: Database) -> Principal:
    """The one user a stdio server acts for: from RENUBU_ACCESS_TOKEN, RENUBU_USER_EMAIL, or the demo user."""
    if settings.access_token:
        if not settings.jwt_secret:
            raise ConfigError("RENUBU_ACCESS_TOKEN needs RENUBU_JWT_SECRET to verify it")
        rules = TokenRules(settings.jwt_secret, settings.jwt_issuer, settings.jwt_audience)
        try:
            principal = principal_from_claims(verify_token(settings.access_token, rules))
        except InvalidToken as exc:
            raise StartupError(f"RENUBU_ACCESS_TOKEN: {exc}") from None
        email = None
    else:
        email = settings.user_email
        if email is None:
            if not settings.embedded:
                raise ConfigError(
                    "set RENUBU_USER_EMAIL (or RENUBU_ACCESS_TOKEN) to name the user this server acts for"
                )
            email = ALICE.email
            log.info("RENUBU_USER_EMAIL is not set: acting as the demo user %s", email)
        principal = None
    async with db.pool.acquire() as conn:
        row = await conn.fetchrow(FIND_ACTIVE_USER, email, principal.user_id if principal else None)
    if row is None:
        named = f"the email {email!r} (RENUBU_USER_EMAIL)" if email else "the id in RENUBU_ACCESS_TOKEN"
        raise StartupError(f"no Renubu user has {named}")
    return Principal(user_id=row["id"], email=row["email"], profile_role=row["role"])
