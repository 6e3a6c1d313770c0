"""The clients this server knows: registered here (RFC 7591), or described by a Client ID Metadata Document.

Either way the SDK's handlers get the SDK's client record; the secret of a confidential client is kept only as
its SHA-256 (secret_sha256), so the record they get carries no secret.
"""

from __future__ import annotations

import json
import time
from typing import Any, Literal

from mcp.server.auth.provider import RegistrationError
from mcp.shared.auth import InvalidRedirectUriError, OAuthClientInformationFull
from pydantic import AnyUrl, Field, ValidationError

from . import documents, policy, redirects, store

DOCUMENT_MAX_AGE_SECONDS = 3600  # a metadata document is fetched again at the next sign-in after an hour
MAX_REDIRECT_URIS = 10
MAX_METADATA_BYTES = 16 * 1024
MAX_NAME_CHARS = 200
AUTH_METHODS = ("none", "client_secret_post", "client_secret_basic")
GRANT_TYPES = frozenset({"authorization_code", "refresh_token"})
_OWN_FIELDS = {"client_id", "client_secret", "kind", "secret_sha256"}


class Client(OAuthClientInformationFull):
    kind: Literal["registered", "metadata_document"] = "registered"
    secret_sha256: str | None = Field(default=None, exclude=True, repr=False)

    def validate_redirect_uri(self, redirect_uri: AnyUrl | None) -> AnyUrl:
        """The SDK's check with redirects.matches: exact, or a registered loopback URI on any port."""
        registered = [str(uri) for uri in self.redirect_uris or []]
        if redirect_uri is None:
            if len(registered) == 1:
                return AnyUrl(registered[0])
            raise InvalidRedirectUriError("redirect_uri is required: the app registered more than one")
        if not redirects.matches(registered, str(redirect_uri)):
            raise InvalidRedirectUriError("redirect_uri is not one the app registered")
        return redirect_uri

    @property
    def name(self) -> str | None:
        return self.client_name.strip()[:MAX_NAME_CHARS] if self.client_name and self.client_name.strip() else None

    def stored_metadata(self) -> dict[str, Any]:
        return self.model_dump(mode="json", exclude=_OWN_FIELDS, exclude_none=True)


def is_document_url(client_id: str) -> bool:
    return client_id.startswith(("https://", "http://"))


def registration_problem(info: OAuthClientInformationFull) -> RegistrationError | None:
    """Why this server will not register a client, or None (the SDK has checked the shape already)."""
    uris = [str(uri) for uri in info.redirect_uris or []]
    if not uris or len(uris) > MAX_REDIRECT_URIS:
        return RegistrationError("invalid_redirect_uri", f"register 1 to {MAX_REDIRECT_URIS} redirect URIs")
    for uri in uris:
        wrong = redirects.problem(uri)
        if wrong:
            return RegistrationError("invalid_redirect_uri", wrong)
    if info.token_endpoint_auth_method not in AUTH_METHODS:
        return RegistrationError(
            "invalid_client_metadata", f"token_endpoint_auth_method must be one of {', '.join(AUTH_METHODS)}"
        )
    if "authorization_code" not in info.grant_types or not set(info.grant_types) <= GRANT_TYPES:
        return RegistrationError(
            "invalid_client_metadata", "grant_types must hold authorization_code, and may hold refresh_token"
        )
    if set(info.response_types) != {"code"}:
        return RegistrationError("invalid_client_metadata", 'response_types must be ["code"]')
    if info.client_name is not None and len(info.client_name) > MAX_NAME_CHARS:
        return RegistrationError("invalid_client_metadata", f"client_name is longer than {MAX_NAME_CHARS} characters")
    if len(json.dumps(info.model_dump(mode="json", exclude_none=True))) > MAX_METADATA_BYTES:
        return RegistrationError("invalid_client_metadata", "the client metadata is too large")
    return None


def from_record(client_id: str, record: Any) -> Client:
    return Client.model_validate(
        {**record["metadata"], "client_id": client_id, "kind": record["kind"], "secret_sha256": record["secret_sha256"]}
    )


def from_document(url: str, document: dict[str, Any]) -> Client:
    """A client from its metadata document; DocumentRefused when the document cannot describe a client here."""
    if document.get("client_id") != url:
        raise documents.DocumentRefused("the app's description names another client_id than its own URL")
    if "client_secret" in document or "client_secret_expires_at" in document:
        raise documents.DocumentRefused("the app's description carries a client secret")
    method = document.get("token_endpoint_auth_method", "none")
    if method != "none":
        raise documents.DocumentRefused(f"the app authenticates with {method!r}; here only 'none' (PKCE) is supported")
    try:
        client = Client.model_validate(
            {
                **document,
                "token_endpoint_auth_method": "none",
                "kind": "metadata_document",
                "client_id_issued_at": int(time.time()),
            }
        )
    except ValidationError:
        raise documents.DocumentRefused("the app's description is not valid client metadata") from None
    problem = registration_problem(client)
    if problem is not None:
        raise documents.DocumentRefused(f"the app's description is not usable: {problem.error_description}")
    return client


async def find(app: Any, client_id: str, *, fetch_document: bool = False) -> Client | None:
    """The client with this id, or None. fetch_document (at /authorize): a metadata-document client is fetched
    (again, if the stored copy is over an hour old); elsewhere the stored copy serves."""
    if not client_id or len(client_id) > 2000:
        return None
    record = await store.client(app, client_id)
    if is_document_url(client_id) and fetch_document:
        fresh = (
            record is not None
            and record["fetched_at"] is not None
            and (time.time() - record["fetched_at"].timestamp() < DOCUMENT_MAX_AGE_SECONDS)
        )
        if not fresh:
            document = await documents.fetch_document(client_id, development=policy.development(app.settings))
            client = from_document(client_id, document)
            await store.save_client_document(app, client_id, client.stored_metadata())
            return client
    return from_record(client_id, record) if record is not None else None
