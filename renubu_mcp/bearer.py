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
from .authserver import policy
from .config import Settings
from .context import AppState, CheckedAccessToken, UncheckedAccessToken
from .db import FIND_ACTIVE_USER

log = logging.getLogger(__name__)

USER_CHECK_TTL_SECONDS = 30.0  # how long a verified user's "exists and is active" answer is reused
# This server's own tokens: the user their grant was given to, while it stands (renubu_auth, migration 20251210).
GRANT_HOLDER = "SELECT g.id, g.email, public.user_role(g.id) AS role FROM renubu_auth.grant_holder($1, $2) g"


class BearerTokenVerifier:
    """The SDK's TokenVerifier: signature, expiry, not-before, issuer and audience, then the user in the database.

    Admin rights are never read from the token: RLS reads profiles.role for every statement.
    The token is never sent anywhere (no passthrough); integrations use the user's own installs.

    With the built-in authorization server (authserver/), its tokens name this server as issuer and the MCP
    endpoint as audience, and a token naming another audience is refused; each names its grant (`sid`), which
    must still stand: a revoked grant stops its tokens here at once, and on other replicas within 30 s.
    """

    def __init__(self, settings: Settings, app: Callable[[], AppState]):
        self._settings = settings
        self._app = app
        self._jwks = JwksKeys(settings.jwks_url) if settings.jwks_url else None
        # user or grant id -> (when checked, profile role): the user exists and is active (the grant stands), and
        # their role for the catalog.
        self._active_users: dict[UUID, tuple[float, str | None]] = {}
        self._active_grants: dict[UUID, tuple[float, str | None]] = {}
        self._own_issuer = policy.issuer(settings) if policy.enabled(settings) else None
        self._resource = policy.resource(settings)
        issuers = [i for i in (settings.jwt_issuer, self._own_issuer) if i]
        audiences = [a for a in (settings.jwt_audience, self._own_issuer and self._resource) if a]
        # Without RENUBU_JWT_ISSUER any issuer passes, as before; with it, this server's own passes too.
        self._issuer = tuple(issuers) if settings.jwt_issuer else None
        self._audience = tuple(audiences) if settings.jwt_audience else None

    def forget_grant(self, grant_id: UUID) -> None:
        """A grant was revoked here: stop accepting its tokens now rather than after the cache's 30 s."""
        self._active_grants.pop(grant_id, None)

    async def verify_token(self, token: str) -> AccessToken | None:
        app = self._app()
        secret = app.jwt_secret
        rules = TokenRules(secret, self._issuer, self._audience) if secret else None
        try:
            claims = await verify_bearer(token, rules, self._jwks)
            self._check_audience(claims)
            user_id = UUID(str(claims["sub"]))
            grant_id = self._grant_of(claims)
            try:
                if grant_id is not None:
                    active, role = await self._active_role(
                        app, self._active_grants, grant_id, GRANT_HOLDER, grant_id, user_id
                    )
                else:
                    active, role = await self._active_role(
                        app, self._active_users, user_id, FIND_ACTIVE_USER, None, user_id
                    )
            except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError, asyncio.TimeoutError) as exc:
                # Let the signed token through; the call is then refused as "database unavailable"
                # (a clear tool error) instead of the HTTP layer failing with a 500.
                log.warning("could not check a bearer token's user: database %s", type(exc).__name__)
                active, role = None, None
            if active is False:
                raise InvalidToken("the access token names no active Renubu user, or its grant was revoked")
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

    def _check_audience(self, claims: dict) -> None:
        """Built-in server, no RENUBU_JWT_AUDIENCE: a token that names an audience must name this resource."""
        if self._own_issuer is None or self._audience is not None or "aud" not in claims:
            return
        audience = claims["aud"]
        if self._resource not in ([audience] if isinstance(audience, str) else list(audience or [])):
            raise InvalidToken("the access token is for another resource")

    def _grant_of(self, claims: dict) -> UUID | None:
        if self._own_issuer is None or claims.get("iss") != self._own_issuer or "sid" not in claims:
            return None
        try:
            return UUID(str(claims["sid"]))
        except ValueError:
            raise InvalidToken("the access token names no grant") from None

    async def _active_role(
        self, app: AppState, cache: dict[UUID, tuple[float, str | None]], key: UUID, query: str, *args: object
    ) -> tuple[bool, str | None]:
        """Whether the user (or the grant: `key`) is still good, and the user's profile role, asked of the database
        (`query` with `args`) at most every 30 s."""
        checked = cache.get(key)
        if checked is not None and time.monotonic() - checked[0] < USER_CHECK_TTL_SECONDS:
            return True, checked[1]
        async with app.db.pool.acquire() as conn:
            found = await conn.fetchrow(query, *args)
        if found is None:
            cache.pop(key, None)
            return False, None
        cache[key] = (time.monotonic(), found["role"])
        return True, found["role"]

    async def aclose(self) -> None:
        if self._jwks is not None:
            await self._jwks.aclose()
