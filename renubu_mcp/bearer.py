"""Who is calling over HTTP: bearer tokens verified into the SDK's AccessToken, for users that exist and are active."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from uuid import UUID

import asyncpg
from mcp.server.auth.provider import AccessToken

from .auth import InvalidToken, JwksKeys, TokenRules, verify_bearer
from .config import Settings
from .db import FIND_ACTIVE_USER
from .context import AppState, CheckedAccessToken, UncheckedAccessToken

log = logging.getLogger(__name__)

USER_CHECK_TTL_SECONDS = 30.0  # how long a verified user's "exists and is active" answer is reused


class BearerTokenVerifier:
    """The SDK's TokenVerifier: signature, expiry, not-before, issuer and audience, then the user in the database.

    Admin rights are never read from the token: RLS reads profiles.role for every statement.
    The token is never sent anywhere (no passthrough); integrations use the user's own installs.
    """

    def __init__(self, settings: Settings, app: Callable[[], AppState]):
        self._settings = settings
        self._app = app
        self._jwks = JwksKeys(settings.jwks_url) if settings.jwks_url else None
        # user id -> (when checked, profile role): the user exists and is active, and their role for the catalog.
        self._active_users: dict[UUID, tuple[float, str | None]] = {}

    async def verify_token(self, token: str) -> AccessToken | None:
        app = self._app()
        secret = app.jwt_secret
        rules = TokenRules(secret, self._settings.jwt_issuer, self._settings.jwt_audience) if secret else None
        try:
            claims = await verify_bearer(token, rules, self._jwks)
            user_id = UUID(str(claims["sub"]))
            try:
                active, role = await self._active_user_role(app, user_id)
            except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError, asyncio.TimeoutError) as exc:
                # Let the signed token through; the call is then refused as "database unavailable"
                # (a clear tool error) instead of the HTTP layer failing with a 500.
                log.warning("could not check a bearer token's user: database %s", type(exc).__name__)
                active, role = None, None
            if active is False:
                raise InvalidToken("the access token names no active Renubu user")
        except InvalidToken as exc:
            log.info("refused a bearer token: %s", exc)
            return None
        scope = claims.get("scope")
        checked = {"profile_role": role} if active else {}
        return (CheckedAccessToken if active else UncheckedAccessToken)(
            **checked,
            token=token,
            client_id=str(claims.get("client_id") or claims.get("azp") or "renubu"),
            scopes=scope.split() if isinstance(scope, str) else [],
            subject=str(user_id),
            resource=f"{self._settings.base_url}/mcp",
            claims=claims,
            expires_at=int(claims["exp"]),
        )

    async def _active_user_role(self, app: AppState, user_id: UUID) -> tuple[bool, str | None]:
        checked = self._active_users.get(user_id)
        if checked is not None and time.monotonic() - checked[0] < USER_CHECK_TTL_SECONDS:
            return True, checked[1]
        async with app.db.pool.acquire() as conn:
            found = await conn.fetchrow(FIND_ACTIVE_USER, None, user_id)
        if found is None:
            self._active_users.pop(user_id, None)
            return False, None
        self._active_users[user_id] = (time.monotonic(), found["role"])
        return True, found["role"]

    async def aclose(self) -> None:
        if self._jwks is not None:
            await self._jwks.aclose()
