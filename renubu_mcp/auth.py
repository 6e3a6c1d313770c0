"""Access tokens: verifying the signed tokens that name a user, and minting them for local use."""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from uuid import UUID

import jwt

if TYPE_CHECKING:
    import httpx

from .db import Principal

log = logging.getLogger(__name__)


class InvalidToken(ValueError):
    """The token is malformed, forged, expired or meant for someone else; the message never repeats it."""


@dataclass(frozen=True)
class TokenRules:
    secret: str
    issuer: str | tuple[str, ...] | None = None  # when verifying, any of several may be accepted
    audience: str | tuple[str, ...] | None = None
    leeway_seconds: int = 30

    def __repr__(self) -> str:  # the secret never reaches a log line
        return f"TokenRules(issuer={self.issuer!r}, audience={self.audience!r})"


def verify_token(token: str, rules: TokenRules) -> dict[str, Any]:
    """The claims of an HS256 token whose signature, expiry, not-before, issuer and audience check out."""
    return _decode(token, rules.secret, ["HS256"], rules)


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


class JwksKeys:
    """Signing keys from a JWKS URL, fetched with httpx, cached, and refetched when a token names an unknown key."""

    # A new kid usually means the identity provider rotated its keys: refetch at once, but never more than
    # once a second, so tokens with made-up kids cannot make us hammer the JWKS endpoint.
    REFETCH_INTERVAL_SECONDS = 1.0

    def __init__(self, url: str, http: "httpx.AsyncClient | None" = None):
        import httpx

        self.url = url
        self._http = http or httpx.AsyncClient(timeout=10.0, follow_redirects=False)
        self._keys: dict[str, Any] = {}
        self._fetched_at = float("-inf")
        self._lock = asyncio.Lock()

    async def key_for(self, kid: str | None) -> Any:
        if kid in self._keys:
            return self._keys[kid]
        async with self._lock:
            if kid not in self._keys and time.monotonic() - self._fetched_at >= self.REFETCH_INTERVAL_SECONDS:
                await self._refresh()
        if kid not in self._keys:
            raise InvalidToken("the access token is signed with an unknown key")
        return self._keys[kid]

    async def _refresh(self) -> None:
        self._fetched_at = time.monotonic()
        try:
            response = await self._http.get(self.url)
            response.raise_for_status()
            keyset = jwt.PyJWKSet.from_dict(response.json())
        except Exception as exc:  # an unreachable or broken JWKS rejects tokens; it never crashes a request
            log.warning("could not fetch the JWKS from %s: %s", self.url, type(exc).__name__)
            return
        self._keys = {k.key_id: k.key for k in keyset.keys if k.key_id}

    async def aclose(self) -> None:
        await self._http.aclose()


ASYMMETRIC_ALGORITHMS = ["RS256", "ES256"]


async def verify_bearer(token: str, rules: TokenRules | None, jwks: JwksKeys | None) -> dict[str, Any]:
    """Claims of a token signed with the shared secret (HS256) or a JWKS key (RS256/ES256); else InvalidToken."""
    try:
        header = jwt.get_unverified_header(token)
    except jwt.PyJWTError:
        raise InvalidToken("the access token is not a JWT") from None
    algorithm = header.get("alg")
    if algorithm == "HS256" and rules is not None:
        return verify_token(token, rules)
    if algorithm in ASYMMETRIC_ALGORITHMS and jwks is not None:
        key = await jwks.key_for(header.get("kid"))
        asymmetric = TokenRules(
            secret="", issuer=rules.issuer if rules else None, audience=rules.audience if rules else None
        )
        return _decode(token, key, [algorithm], asymmetric)
    raise InvalidToken("the access token's signing algorithm is not accepted")


def _decode(token: str, key: Any, algorithms: list[str], rules: TokenRules) -> dict[str, Any]:
    options: Any = {"require": ["exp", "sub"], "verify_aud": rules.audience is not None}
    try:
        claims = jwt.decode(
            token,
            key,
            algorithms=algorithms,
            issuer=rules.issuer,
            audience=rules.audience,
            leeway=rules.leeway_seconds,
            options=options,
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
