"""Key rotation: re-encrypt every stored integration secret from the previous key(s) to the current one.

ENCRYPTED names every set of encrypted columns (a test checks that no bytea column of the schema is missing
from it), so rotation cannot skip one. It runs as the schema owner, in batches of one transaction each,
taking rows with FOR UPDATE SKIP LOCKED: a refresh holding a token row's lock is not waited for, and that row
is taken in a later pass. Servers keep working throughout as long as they are configured with both keys
(RENUBU_TOKEN_ENCRYPTION_KEY = the new one, RENUBU_TOKEN_ENCRYPTION_PREVIOUS_KEYS = the old ones): every
row names the key that made it. Running it again is harmless; it ends when no row uses a previous key.
"""

from __future__ import annotations

import asyncio
import logging
import os
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from uuid import UUID

import asyncpg

from ..config import ConfigError, Settings
from .vault import Keyring, key_for, key_id

log = logging.getLogger(__name__)

BATCH_SIZE = 500
LOCKED_WAIT_S = 60.0


@dataclass(frozen=True)
class EncryptedColumns:
    table: str
    id_column: str
    ciphertexts: tuple[str, ...]
    key_id_column: str


# Every encrypted column in the schema, with the column naming the key that made it.
ENCRYPTED: tuple[EncryptedColumns, ...] = (
    EncryptedColumns("oauth_tokens", "id", ("access_token_encrypted", "refresh_token_encrypted"), "encryption_key_id"),
    EncryptedColumns("oauth_states", "id", ("code_verifier_encrypted",), "encryption_key_id"),
    EncryptedColumns("mcp_integrations", "id", ("client_secret_encrypted",), "client_secret_key_id"),
    EncryptedColumns("webhook_endpoints", "id", ("signing_secret_encrypted",), "encryption_key_id"),
    # Replaced grants still to be revoked at the provider (revocation.py).
    EncryptedColumns("oauth_revocations", "id", ("token_encrypted",), "encryption_key_id"),
)


@dataclass
class TableReport:
    table: str
    rotated: int = 0
    unknown_key: int = 0  # rows under a key that is neither current nor previous: left as they are
    undecryptable: list[UUID] = field(default_factory=list)  # corrupt, or not what its key id says
    still_locked: int = 0  # rows another transaction held for longer than the wait

    @property
    def complete(self) -> bool:
        return not self.undecryptable and not self.still_locked


def _rewrite_sql(cols: EncryptedColumns) -> str:
    """One batch: lock up to $5 rows still under a previous key (skipping locked ones and the ids in $6),
    re-encrypt each ciphertext with the current key ($3) and record its id ($4). $1/$2: previous keys/ids."""
    t = "t"
    old_key = key_for(f"{t}.{cols.key_id_column}", "$1", "$2")
    sets = ", ".join(
        f"{c} = public.encrypt_oauth_token(public.decrypt_oauth_token({t}.{c}, {old_key}), $3)"
        for c in cols.ciphertexts
    )
    return f"""
WITH batch AS (
  SELECT {cols.id_column} AS id FROM public.{cols.table}
  WHERE {cols.key_id_column} = ANY($2::text[]) AND {cols.id_column} <> ALL($6::uuid[])
  ORDER BY {cols.id_column} LIMIT $5 FOR UPDATE SKIP LOCKED
)
UPDATE public.{cols.table} {t} SET {sets}, {cols.key_id_column} = $4
FROM batch WHERE {t}.{cols.id_column} = batch.id
RETURNING {t}.{cols.id_column}
"""


def _ids_sql(cols: EncryptedColumns) -> str:
    return (
        f"SELECT {cols.id_column} FROM public.{cols.table} WHERE {cols.key_id_column} = ANY($1::text[])"
        f" AND {cols.id_column} <> ALL($2::uuid[]) ORDER BY 1 LIMIT $3"
    )


def _count_sql(cols: EncryptedColumns, condition: str) -> str:
    return f"SELECT count(*) FROM public.{cols.table} WHERE {condition}"


_DECRYPT_ERRORS = (asyncpg.InvalidParameterValueError, asyncpg.ExternalRoutineInvocationError)


async def rotate(
    dsn: str,
    keys: Keyring,
    *,
    batch_size: int = BATCH_SIZE,
    locked_wait_s: float = LOCKED_WAIT_S,
    on_batch: Callable[[str, int], None] | None = None,
) -> list[TableReport]:
    """Move every row under one of keys.previous to keys.current; a report per table (counts and ids only)."""
    conn = await asyncpg.connect(dsn)
    try:
        return [await _rotate_table(conn, cols, keys, batch_size, locked_wait_s, on_batch) for cols in ENCRYPTED]
    finally:
        await conn.close()


async def _rotate_table(
    conn: asyncpg.Connection,
    cols: EncryptedColumns,
    keys: Keyring,
    batch_size: int,
    locked_wait_s: float,
    on_batch: Callable[[str, int], None] | None,
) -> TableReport:
    report = TableReport(cols.table)
    old_keys, old_ids = list(keys.previous), keys.previous_ids
    sql = _rewrite_sql(cols)
    waited_since: float | None = None
    while old_ids:
        try:
            async with conn.transaction():
                done = await conn.fetch(
                    sql, old_keys, old_ids, keys.current, keys.current_id, batch_size, report.undecryptable
                )
        except _DECRYPT_ERRORS:
            # Some row in the batch does not decrypt: redo the batch's rows one by one to find it (them).
            done = await _one_by_one(conn, cols, keys, batch_size, report)
        if done:
            report.rotated += len(done)
            waited_since = None
            if on_batch:
                on_batch(cols.table, len(done))
            continue
        remaining = await conn.fetchval(
            _count_sql(cols, f"{cols.key_id_column} = ANY($1::text[]) AND {cols.id_column} <> ALL($2::uuid[])"),
            old_ids,
            report.undecryptable,
        )
        if not remaining:
            break
        # Rows left but none taken: others hold their locks (a refresh in flight). Take them in a later pass.
        waited_since = waited_since or time.monotonic()
        if time.monotonic() - waited_since > locked_wait_s:
            report.still_locked = remaining
            break
        await asyncio.sleep(0.1)
    known = [keys.current_id, *old_ids]
    report.unknown_key = await conn.fetchval(
        _count_sql(cols, f"{cols.key_id_column} IS NOT NULL AND {cols.key_id_column} <> ALL($1::text[])"), known
    )
    return report


async def _one_by_one(
    conn: asyncpg.Connection, cols: EncryptedColumns, keys: Keyring, batch_size: int, report: TableReport
) -> list[UUID]:
    ids = await conn.fetch(_ids_sql(cols), keys.previous_ids, report.undecryptable, batch_size)
    sql = _rewrite_sql(cols).replace(f"{cols.id_column} <> ALL($6::uuid[])", f"{cols.id_column} = ANY($6::uuid[])")
    done: list[UUID] = []
    for row in ids:
        try:
            async with conn.transaction():
                done += [
                    r[0]
                    for r in await conn.fetch(
                        sql, list(keys.previous), keys.previous_ids, keys.current, keys.current_id, 1, [row[0]]
                    )
                ]
        except _DECRYPT_ERRORS:
            report.undecryptable.append(row[0])
            log.warning("%s row %s does not decrypt with the key its key id names; left as it is", cols.table, row[0])
    return done


# --- the command -----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Plan:
    keys: Keyring
    # Embedded default: the new key waits in token.key.next until every row is moved, then replaces token.key.
    next_key_file: Path | None = None
    key_file: Path | None = None


def plan(settings: Settings, new_key_file: Path | None = None) -> Plan:
    """Which keys to rotate from and to: the environment's, or the embedded default's key files."""
    if settings.token_encryption_key:
        if new_key_file is not None:
            raise ConfigError(
                "--new-key-file is for the embedded default; with RENUBU_TOKEN_ENCRYPTION_KEY set, "
                "that is the new key and RENUBU_TOKEN_ENCRYPTION_PREVIOUS_KEYS the old ones"
            )
        if not settings.token_encryption_previous_keys:
            raise ConfigError(
                "set RENUBU_TOKEN_ENCRYPTION_PREVIOUS_KEYS to the key(s) to rotate away from "
                "(RENUBU_TOKEN_ENCRYPTION_KEY is the new one)"
            )
        return Plan(Keyring(settings.token_encryption_key, settings.token_encryption_previous_keys))
    if not settings.embedded:
        raise ConfigError(
            "set RENUBU_TOKEN_ENCRYPTION_KEY (the new key) and RENUBU_TOKEN_ENCRYPTION_PREVIOUS_KEYS (the old ones)"
        )
    from ..embedded import EmbeddedCluster

    cluster = EmbeddedCluster(settings.data_dir)
    if cluster.is_running():
        raise ConfigError(
            "the embedded server is running and holds the current key in memory: stop it, rotate, then start it again"
        )
    key_file = cluster.token_file
    if not key_file.exists():
        raise ConfigError(f"no {key_file}: nothing was ever encrypted here")
    next_file = key_file.with_name(key_file.name + ".next")
    if new_key_file is not None:
        _write_private(next_file, _read_key(new_key_file))
    elif not next_file.exists():  # an interrupted run left one: finish with it
        _write_private(next_file, secrets.token_hex(32))
    new = _read_key(next_file)
    old = _read_key(key_file)
    return Plan(Keyring(new, (old, *settings.token_encryption_previous_keys)), next_file, key_file)


def finish(p: Plan) -> None:
    """Embedded default: the new key becomes token.key; the old one is gone (no row needs it any more)."""
    if p.next_key_file is not None and p.key_file is not None:
        os.replace(p.next_key_file, p.key_file)


def _read_key(path: Path) -> str:
    try:
        key = path.read_text().strip()
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror}") from None
    if len(key) < 32:
        raise ConfigError(f"{path} must hold a key of at least 32 characters")
    return key


def _write_private(path: Path, key: str) -> None:
    tmp = path.with_name(path.name + f".tmp{os.getpid()}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(key + "\n")
    os.replace(tmp, path)


def summary(reports: list[TableReport], keys: Keyring, seconds: float) -> tuple[list[str], bool]:
    """Lines to print (counts and ids, never a secret) and whether every row is now under the current key."""
    lines = []
    for r in reports:
        line = f"{r.table}: {r.rotated} row(s) re-encrypted"
        if r.unknown_key:
            line += f", {r.unknown_key} under a key that is neither current nor previous (left as they are)"
        if r.undecryptable:
            line += f", {len(r.undecryptable)} that do not decrypt: {', '.join(map(str, r.undecryptable))}"
        if r.still_locked:
            line += f", {r.still_locked} still locked by other transactions (run again)"
        lines.append(line)
    total = sum(r.rotated for r in reports)
    rate = f" ({total / seconds:.0f} rows/s)" if seconds > 0 and total else ""
    complete = all(r.complete for r in reports)
    lines.append(f"{total} row(s) re-encrypted in {seconds:.1f} s{rate} to key {keys.current_id}")
    if complete:
        lines.append(
            "no row uses a previous key any more: RENUBU_TOKEN_ENCRYPTION_PREVIOUS_KEYS can be removed "
            "once every server runs with the new key"
        )
    return lines, complete


def fingerprints(keys: Keyring) -> str:
    return f"from {', '.join(key_id(k) for k in keys.previous)} to {keys.current_id}"
