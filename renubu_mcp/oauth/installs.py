"""Reading a user's install and its marketplace entry, as that user (RLS decides what exists)."""

from __future__ import annotations

from dataclasses import dataclass
from uuid import UUID

import asyncpg

from ..errors import Conflict, NotFound
from .provider import ProviderConfig
from .vault import Keyring, fetchrow_decrypting, key_for, wrong_key


@dataclass(frozen=True)
class Install:
    id: UUID
    status: str
    integration_id: UUID
    slug: str
    name: str
    integration_status: str
    connection_type: str
    api_base_url: str | None
    api_key_header: str = "Authorization"


_INSTALL = """
SELECT ui.id, ui.status, ui.integration_id, i.slug, i.name, i.status AS integration_status, i.connection_type,
       i.api_base_url, i.api_key_header
FROM public.user_integrations ui
JOIN public.mcp_integrations i ON i.id = ui.integration_id AND i.deleted_at IS NULL
WHERE ui.user_id = (SELECT auth.uid()) AND ui.deleted_at IS NULL AND {match}
"""


async def own_install(conn: asyncpg.Connection, ref: str | UUID, *, lock: bool = False) -> Install:
    """The caller's own install of an integration, by slug or install id; NotFound otherwise."""
    install_id = _as_uuid(ref)
    sql = _INSTALL.format(match="ui.id = $1" if install_id else "i.slug = $1") + (" FOR UPDATE OF ui" if lock else "")
    row = await conn.fetchrow(sql, install_id or str(ref))
    if row is None:
        raise NotFound(f"you have not installed {ref!s}; see list_my_integrations")
    return Install(**dict(row))


_CONFIG = f"""
SELECT i.id AS integration_id, i.slug, i.name, i.status, i.authorization_url, i.token_url, i.revocation_url,
       i.client_id, i.token_endpoint_auth_method AS auth_method, i.issuer, i.api_base_url, i.default_scopes,
       i.client_secret_key_id,
       CASE WHEN i.client_secret_key_id = ANY($3::text[])
            THEN public.integration_client_secret(i.id, {key_for("i.client_secret_key_id", "$2", "$3")}) END
         AS client_secret
FROM public.mcp_integrations i
WHERE i.id = $1 AND i.deleted_at IS NULL
"""


async def provider_config(conn: asyncpg.Connection, integration_id: UUID, keys: Keyring) -> ProviderConfig:
    """The entry's OAuth settings with its client secret decrypted (visible to installers and admins only)."""
    row = await fetchrow_decrypting(conn, _CONFIG, integration_id, keys.keys, keys.ids)
    if row is None:
        raise NotFound("the integration no longer exists; see list_integrations")
    if row["client_secret_key_id"] is not None and row["client_secret_key_id"] not in keys.ids:
        raise wrong_key()
    values = dict(row)
    values.pop("client_secret_key_id")
    values["default_scopes"] = tuple(values["default_scopes"] or ())
    return ProviderConfig(**values)


def _as_uuid(ref: str | UUID) -> UUID | None:
    if isinstance(ref, UUID):
        return ref
    try:
        return UUID(str(ref))
    except ValueError:
        return None


_EXISTING_INSTALL = """
SELECT ui.id, ui.status FROM public.user_integrations ui
WHERE ui.user_id = (SELECT auth.uid()) AND ui.integration_id = $1
FOR UPDATE
"""
# Connecting again keeps an active install (its tokens, key or secret) working until the new grant or key
# arrives; the requested scopes replace the old ones only on an install that is not active.
_REOPEN_INSTALL = """
UPDATE public.user_integrations SET
  status = CASE WHEN status = 'active' THEN 'active' ELSE 'pending' END,
  scopes = CASE WHEN status = 'active' OR $2::text[] IS NULL THEN scopes ELSE $2 END,
  deleted_at = NULL
WHERE id = $1
RETURNING id, status
"""
_CREATE_INSTALL = """
INSERT INTO public.user_integrations (user_id, integration_id, status, scopes)
VALUES ((SELECT auth.uid()), $1, 'pending', coalesce($2::text[], '{}'))
RETURNING id, status
"""


async def open_install(
    conn: asyncpg.Connection, entry: asyncpg.Record, scopes: list[str] | None = None
) -> asyncpg.Record:
    """Create or reopen the caller's install of a marketplace entry (id, name, status), locked for this transaction.

    A disabled entry cannot be connected; a deprecated one only by someone who already has a live install.
    """
    existing = await conn.fetchrow(_EXISTING_INSTALL, entry["id"])
    if entry["status"] == "disabled":
        raise Conflict(f"{entry['name']} is disabled in the marketplace")
    if entry["status"] == "deprecated" and (existing is None or existing["status"] == "revoked"):
        raise Conflict(
            f"{entry['name']} is deprecated: existing connections keep working, but it cannot be newly installed"
        )
    if existing is not None:
        return await conn.fetchrow(_REOPEN_INSTALL, existing["id"], scopes)
    return await conn.fetchrow(_CREATE_INSTALL, entry["id"], scopes)
