"""Access tokens: verifying the signed tokens that name a user, and minting them for local use."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any
from uuid import UUID

import jwt

from .db import Principal


class InvalidToken(ValueError):
    """The token is malformed, forged, expired or meant for someone else; the message never repeats it."""


@dataclass(frozen=True)
class TokenRules:
    secret: str
    issuer: str | None = None
    audience: str | None = None
    leeway_seconds: int = 30

    def __repr__(self) -> str:  # the secret never reaches a log line
        return f"TokenRules(issuer={self.issuer!r}, audience={self.audience!r})"


def verify_token(token: str, rules: TokenRules) -> dict[str, Any]:
    """The claims of an HS256 token whose signature, expiry, not-before, issuer and audience check out."""
    options = {"require": ["exp", "sub"], "verify_aud": rules.audience is not None}
    try:
        claims = jwt.decode(
            token, rules.secret, algorithms=["HS256"], issuer=rules.issuer, audience=rules.audience,
            leeway=rules.leeway_seconds, options=options,
        )
    except jwt.ExpiredSignatureError:
        raise InvalidToken("the access token has expired") from None
    except jwt.PyJWTError as exc:
        raise InvalidToken(f"the access token is not valid ({type(exc).__name__})") from None
    try:
        UUID(str(claims["sub"]))
    except ValueError:
        raise InvalidToken("the access token's subject is not a user id") from None
    return claims


def principal_from_claims(claims: dict[str, Any]) -> Principal:
    # Admin rights come from profiles.role in the database, never from the token.
    return Principal(user_id=UUID(str(claims["sub"])), email=claims.get("email"))


def mint_token(rules: TokenRules, user_id: UUID, email: str | None, ttl_seconds: int = 3600) -> str:
    now = int(time.time())
    claims: dict[str, Any] = {"sub": str(user_id), "role": "authenticated", "iat": now, "exp": now + ttl_seconds}
    if email:
        claims["email"] = email
    if rules.issuer:
        claims["iss"] = rules.issuer
    if rules.audience:
        claims["aud"] = rules.audience
    return jwt.encode(claims, rules.secret, algorithm="HS256")
