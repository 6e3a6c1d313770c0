"""The SDK's OAuthAuthorizationServerProvider, on PostgreSQL: what /token, /register and /revoke do.

The SDK's handlers parse and check the requests (PKCE S256, the redirect URI, expiry, the client owning the code
or token); this provider keeps the state. A code is redeemed once; presented again, it revokes what it gave. Every
refresh returns a new refresh token; an old one presented again revokes its whole grant (RFC 9700 section 4.14).
Revoking either token revokes the grant, which stops its access tokens at the bearer check.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import logging
from collections.abc import Callable
from typing import Any
from urllib.parse import unquote
from uuid import UUID

import jwt
from mcp.server.auth.middleware.client_auth import AuthenticationError, ClientAuthenticator
from mcp.server.auth.provider import AccessToken, AuthorizationCode, RefreshToken, TokenError
from mcp.shared.auth import OAuthClientInformationFull, OAuthToken
from pydantic import AnyUrl
from starlette.requests import Request

from ..config import Settings
from . import clients, policy, store
from .tokens import AccessTokenClaims, digest, mint_access_token, new_secret

log = logging.getLogger(__name__)


class GrantAccessToken(AccessToken):
    grant_id: UUID


class GrantRefreshToken(RefreshToken):
    grant_id: UUID


class AuthorizationServer:
    """State for the SDK's token, registration and revocation handlers (the /authorize page is signin.py's)."""

    def __init__(self, settings: Settings, app: Callable[[], Any], forget_grant: Callable[[UUID], None]):
        self._settings = settings
        self._app = app
        self._forget_grant = forget_grant  # the bearer check's cache of grants it found active

    # --- clients ---

    async def get_client(self, client_id: str) -> clients.Client | None:
        return await clients.find(self._app(), client_id)

    async def register_client(self, client_info: OAuthClientInformationFull) -> None:
        problem = clients.registration_problem(client_info)
        if problem is not None:
            raise problem
        record = clients.Client.model_validate(client_info.model_dump())
        secret = client_info.client_secret
        await store.register_client(
            self._app(), client_info.client_id, digest(secret) if secret else None, record.stored_metadata()
        )
        log.info("registered OAuth client %s (%r)", client_info.client_id, record.name)

    # --- authorization codes ---

    async def load_authorization_code(
        self, client: OAuthClientInformationFull, authorization_code: str
    ) -> AuthorizationCode | None:
        row = await store.look_up_code(self._app(), digest(authorization_code), client.client_id)
        if row is None:
            return None
        if row["redeemed"]:
            log.warning(
                "an authorization code for client %s was presented again: its grant is revoked", client.client_id
            )
            if row["grant_id"] is not None:
                self._forget_grant(row["grant_id"])
            return None
        return AuthorizationCode(
            code=authorization_code,
            scopes=list(row["scopes"]),
            expires_at=row["expires_at"].timestamp(),
            client_id=client.client_id,
            code_challenge=row["code_challenge"],
            redirect_uri=AnyUrl(row["redirect_uri"]),
            redirect_uri_provided_explicitly=True,
            resource=row["resource"],
            subject=str(row["user_id"]),
        )

    async def exchange_authorization_code(
        self, client: OAuthClientInformationFull, authorization_code: AuthorizationCode
    ) -> OAuthToken:
        refresh = new_secret()
        row = await store.redeem_code(
            self._app(), digest(authorization_code.code), client.client_id, digest(refresh), self._refresh_ttl_seconds
        )
        if row is None or not row["issued"]:
            if row is not None and row["grant_id"] is not None:
                self._forget_grant(row["grant_id"])  # a replay racing the first redemption revoked it
            raise TokenError(
                "invalid_grant",
                "the authorization code was used already, has expired, or its user can no longer sign in",
            )
        return self._tokens(client, row, refresh)

    # --- refresh tokens ---

    async def load_refresh_token(
        self, client: OAuthClientInformationFull, refresh_token: str
    ) -> GrantRefreshToken | None:
        row = await store.look_up_refresh(self._app(), digest(refresh_token), client.client_id)
        if row is None:
            return None
        if not row["usable"]:
            self._forget_grant(row["grant_id"])  # a reused token has just revoked it
            return None
        return GrantRefreshToken(
            token=refresh_token,
            client_id=client.client_id,
            scopes=list(row["scopes"]),
            expires_at=int(row["expires_at"].timestamp()),
            resource=row["resource"],
            subject=str(row["user_id"]),
            grant_id=row["grant_id"],
        )

    async def exchange_refresh_token(
        self, client: OAuthClientInformationFull, refresh_token: RefreshToken, scopes: list[str]
    ) -> OAuthToken:
        new_refresh = new_secret()
        row = await store.rotate_refresh(
            self._app(), digest(refresh_token.token), client.client_id, digest(new_refresh), self._refresh_ttl_seconds
        )
        if row is None:
            if isinstance(refresh_token, GrantRefreshToken):
                self._forget_grant(refresh_token.grant_id)
            raise TokenError("invalid_grant", "the refresh token was used already, or its grant was revoked")
        return self._tokens(client, row, new_refresh)

    # --- access tokens and revocation ---

    async def load_access_token(self, token: str) -> GrantAccessToken | None:
        """One of this server's own access tokens (for /revoke; the bearer check verifies tokens itself)."""
        try:
            claims = jwt.decode(
                token,
                self._app().jwt_secret,
                algorithms=["HS256"],
                issuer=policy.issuer(self._settings),
                audience=policy.resource(self._settings),
                options={"require": ["exp", "sub", "sid", "client_id"]},
            )
            return GrantAccessToken(
                token=token,
                client_id=str(claims["client_id"]),
                scopes=[],
                expires_at=int(claims["exp"]),
                subject=str(claims["sub"]),
                grant_id=UUID(str(claims["sid"])),
            )
        except (jwt.PyJWTError, ValueError):
            return None

    async def revoke_token(self, token: AccessToken | RefreshToken) -> None:
        if isinstance(token, GrantAccessToken | GrantRefreshToken):
            await store.revoke_grant(self._app(), token.client_id, grant_id=token.grant_id)
            self._forget_grant(token.grant_id)
        elif isinstance(token, RefreshToken):
            await store.revoke_grant(self._app(), token.client_id, refresh_hash=digest(token.token))

    # --- helpers ---

    @property
    def _refresh_ttl_seconds(self) -> int:
        return self._settings.refresh_token_ttl_days * 86_400

    def _tokens(self, client: OAuthClientInformationFull, grant: Any, refresh: str) -> OAuthToken:
        scopes = tuple(grant["scopes"])
        claims = AccessTokenClaims(
            issuer=policy.issuer(self._settings),
            audience=policy.resource(self._settings),
            user_id=grant["user_id"],
            email=grant["email"],
            client_id=client.client_id,
            grant_id=grant["grant_id"],
            scopes=scopes,
        )
        ttl = self._settings.access_token_ttl_seconds
        return OAuthToken(
            access_token=mint_access_token(self._app().jwt_secret, claims, ttl),
            token_type="Bearer",
            expires_in=ttl,
            scope=" ".join(scopes) or None,
            refresh_token=refresh if "refresh_token" in client.grant_types else None,
        )


class HashedSecretAuthenticator(ClientAuthenticator):
    """The SDK's client authentication (client_secret_basic, client_secret_post, or none for public clients),
    against the secret's stored hash."""

    async def authenticate_request(self, request: Request) -> OAuthClientInformationFull:
        form = await request.form()
        client_id = form.get("client_id")
        if not isinstance(client_id, str) or not client_id:
            raise AuthenticationError("Missing client_id")
        client = await self.provider.get_client(client_id)
        if client is None:
            raise AuthenticationError("Invalid client_id")
        method = client.token_endpoint_auth_method
        presented: str | None
        if method == "none":
            return client
        if method == "client_secret_basic":
            presented = _basic_secret(request.headers.get("Authorization", ""), client_id)
        elif method == "client_secret_post":
            value = form.get("client_secret")
            presented = value if isinstance(value, str) else None
        else:
            raise AuthenticationError(f"Unsupported auth method: {method}")
        stored = getattr(client, "secret_sha256", None)
        if not presented or not stored or not hmac.compare_digest(stored, digest(presented)):
            raise AuthenticationError("Invalid client credentials")
        return client


def _basic_secret(header: str, client_id: str) -> str:
    if not header.startswith("Basic "):
        raise AuthenticationError("Missing or invalid Basic authentication in Authorization header")
    try:
        user, _, secret = base64.b64decode(header[6:], validate=True).decode().partition(":")
    except (ValueError, UnicodeDecodeError, binascii.Error):
        raise AuthenticationError("Invalid Basic authentication header") from None
    if unquote(user) != client_id:
        raise AuthenticationError("Client ID mismatch in Basic auth")
    return unquote(secret)
