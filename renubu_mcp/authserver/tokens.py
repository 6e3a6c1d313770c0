"""The credentials the authorization server hands out: random secrets stored only as hashes, and access tokens.

Access tokens are the JWTs the bearer check already verifies (HS256 with the server's JWT secret), naming this
server as issuer and the MCP endpoint as audience, plus the client and the grant (`sid`) they were issued under
so a revoked grant stops them.
"""

from __future__ import annotations

import hashlib
import secrets
import time
from dataclasses import dataclass
from uuid import UUID

import jwt


def new_secret() -> str:
    """256 random bits, URL-safe: codes, refresh tokens, client secrets, sign-in attempts."""
    return secrets.token_urlsafe(32)


def digest(value: str) -> str:
    """What the database keeps instead of a secret: its SHA-256 (a 256-bit random value needs no slower hash)."""
    return hashlib.sha256(value.encode()).hexdigest()


@dataclass(frozen=True)
class AccessTokenClaims:
    issuer: str
    audience: str
    user_id: UUID
    email: str | None
    client_id: str
    grant_id: UUID
    scopes: tuple[str, ...] = ()


def mint_access_token(secret: str, claims: AccessTokenClaims, ttl_seconds: int) -> str:
    now = int(time.time())
    payload = {
        "iss": claims.issuer,
        "aud": claims.audience,
        "sub": str(claims.user_id),
        "role": "authenticated",
        "iat": now,
        "exp": now + ttl_seconds,
        "client_id": claims.client_id,
        "sid": str(claims.grant_id),
        "jti": secrets.token_urlsafe(12),
    }
    if claims.email:
        payload["email"] = claims.email
    if claims.scopes:
        payload["scope"] = " ".join(claims.scopes)
    return jwt.encode(payload, secret, algorithm="HS256")
