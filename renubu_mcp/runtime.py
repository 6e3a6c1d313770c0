"""Opening the backend the server runs on: the configured database, or the embedded cluster, migrated."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from . import migrate
from .auth import InvalidToken, TokenRules, principal_from_claims, verify_token
from .config import ConfigError, Settings
from .db import Database, Principal
from .demo import ALICE, give_demo_users_a_password

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
        from .embedded import EmbeddedCluster

        cluster = EmbeddedCluster(settings.data_dir)
        created = await asyncio.to_thread(cluster.ensure)
        await asyncio.to_thread(cluster.start)
        dsn = cluster.app_dsn()
        token_key = settings.token_encryption_key or await asyncio.to_thread(cluster.token_key)
        jwt_secret = settings.jwt_secret or await asyncio.to_thread(cluster.jwt_secret)
    else:
        dsn, token_key, jwt_secret = settings.database_url, settings.token_encryption_key, settings.jwt_secret
    try:
        if cluster is not None:
            applied = await migrate.migrate(cluster.owner_dsn())
            if applied:
                log.info("applied migrations %s", ", ".join(applied))
            demo_password = await asyncio.to_thread(cluster.demo_password)
            if created:
                await migrate.seed_demo(cluster.owner_dsn(), demo_password=demo_password)
                log.info("loaded the demo data into the new embedded database")
            else:
                await give_demo_users_a_password(cluster.owner_dsn(), demo_password)
        db = await Database.connect(
            dsn, max_size=settings.pool_max_size, statement_timeout_ms=settings.statement_timeout_ms,
            read_only=settings.read_only, max_idle_seconds=settings.pool_idle_seconds,
        )
        try:
            await db.check_login_role()
            yield Backend(db=db, token_key=token_key, jwt_secret=jwt_secret)
        finally:
            await db.close()
    finally:
        if cluster is not None:
            await asyncio.to_thread(cluster.stop)


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
                raise ConfigError("set RENUBU_USER_EMAIL (or RENUBU_ACCESS_TOKEN) to name the user this server acts for")
            email = ALICE.email
            log.warning("RENUBU_USER_EMAIL is not set: acting as the demo user %s", email)
        principal = None
    async with db.pool.acquire() as conn:
        row = await conn.fetchrow(
            "SELECT id, email FROM public.find_user($1, $2)", email, principal.user_id if principal else None
        )
    if row is None:
        named = f"the email {email!r} (RENUBU_USER_EMAIL)" if email else "the id in RENUBU_ACCESS_TOKEN"
        raise StartupError(f"no Renubu user has {named}")
    return Principal(user_id=row["id"], email=row["email"])
