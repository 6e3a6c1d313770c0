"""Key rotation: every encrypted column moves to the new key in batches while the server keeps working."""

from __future__ import annotations

import asyncio
import time

import asyncpg
import httpx
import pytest

from renubu_mcp import cli
from renubu_mcp.oauth import get_access_token, rotation
from renubu_mcp.oauth.api import integration_request
from renubu_mcp.oauth.vault import Keyring, key_id

from .conftest import KEY, PRINCIPALS, Browser, connect_webhook, connected, signed, submit, web_app

pytestmark = pytest.mark.usefixtures("mocked")

NEW_KEY = "rotated-key-" + "9c2b7e4d1a6f40d8b3e5c7a9f1d2e3b4"
ALICE = PRINCIPALS["alice@example.com"]
BULK = 1500  # extra marketplace entries with client secrets, so rotation takes many batches


async def test_the_registry_names_every_encrypted_column(owner):
    rows = await owner.fetch(
        "SELECT c.relname AS t, a.attname AS col FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid"
        " WHERE c.relnamespace = 'public'::regnamespace AND c.relkind = 'r' AND a.atttypid = 'bytea'::regtype"
        " AND a.attnum > 0 AND NOT a.attisdropped"
    )
    registered = {(e.table, c) for e in rotation.ENCRYPTED for c in e.ciphertexts}
    assert {(r["t"], r["col"]) for r in rows} == registered
    for entry in rotation.ENCRYPTED:
        assert (
            await owner.fetchval(
                "SELECT count(*) FROM pg_attribute WHERE attrelid = $1::regclass AND attname = $2",
                f"public.{entry.table}",
                entry.key_id_column,
            )
            == 1
        )


@pytest.fixture
def gong(mocked):
    mocked.route(host="api.gong.io").mock(return_value=httpx.Response(200, json={"ok": True}))


async def everything_encrypted(connect, web, app, hubspot) -> tuple[str, str]:
    """alice's OAuth install (and the client secret), API-key install, webhook install and a pending state."""
    async with connect("alice@example.com") as alice:
        await connected(alice, hubspot, Browser(app))
        started = await alice.ok("install_integration", {"slug": "gong"})
        assert (await submit(web, started["connect_url"], api_key="gong-key-123456")).status_code == 200
        webhook, secret = await connect_webhook(alice, web)
        await alice.ok("install_integration", {"slug": "hubspot"})  # a pending OAuth state, encrypted too
    return webhook["install_id"], secret


async def key_ids(owner) -> set[str]:
    ids: set[str] = set()
    for e in rotation.ENCRYPTED:
        ids |= {
            r[0]
            for r in await owner.fetch(
                f"SELECT DISTINCT {e.key_id_column} FROM public.{e.table} WHERE {e.key_id_column} IS NOT NULL"
            )
        }
    return ids


async def test_rotation_while_calls_keep_succeeding(connect, app, app_factory, web, hubspot, owner, gong, demo_db):
    install_id, secret = await everything_encrypted(connect, web, app, hubspot)
    await owner.execute(
        "INSERT INTO public.mcp_integrations (slug, name, connection_type, authorization_url, token_url, client_id,"
        " client_secret_encrypted, client_secret_key_id)"
        " SELECT 'bulk-' || n, 'Bulk ' || n, 'oauth2', 'https://x.test/a', 'https://x.test/t', 'c',"
        " public.encrypt_oauth_token('secret-' || n, $1), $2 FROM generate_series(1, $3) AS n",
        KEY,
        key_id(KEY),
        BULK,
    )
    assert await key_ids(owner) == {key_id(KEY)}

    # The server during rotation: the new key encrypts, the old one still decrypts.
    both = await app_factory(key=NEW_KEY, token_encryption_previous_keys=(KEY,))
    calls = {"token": 0, "api": 0, "webhook": 0, "refresh": 0}
    stop = asyncio.Event()

    async def keep_calling() -> None:
        transport = httpx.ASGITransport(app=web_app(both))
        async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1:8765") as client:
            n = 0
            while not stop.is_set():
                n += 1
                if n % 7 == 0:  # make the token due: a refresh writes under the new key mid-rotation
                    await owner.execute(
                        "UPDATE public.oauth_tokens SET expires_at = now() + interval '30 seconds'"
                        " WHERE token_type = 'Bearer'"
                    )
                    calls["refresh"] += 1
                assert await get_access_token(both, ALICE, "hubspot") in hubspot.access_tokens
                calls["token"] += 1
                result = await integration_request(both, ALICE, "gong", "GET", "calls")
                assert result.status_code == 200
                calls["api"] += 1
                body = f'{{"type": "tick", "n": {n}}}'.encode()
                answer = await client.post(f"/webhooks/{install_id}", content=body, headers=signed(secret, body))
                assert answer.status_code == 202, answer.text
                calls["webhook"] += 1

    caller = asyncio.create_task(keep_calling())
    await asyncio.sleep(0.2)
    started = time.monotonic()
    reports = await rotation.rotate(demo_db.owner_dsn, Keyring(NEW_KEY, (KEY,)), batch_size=100)
    seconds = time.monotonic() - started
    await asyncio.sleep(0.2)
    stop.set()
    await caller

    rotated = sum(r.rotated for r in reports)
    print(f"rotated {rotated} rows in {seconds:.2f} s ({rotated / seconds:.0f} rows/s) while {calls}")
    assert all(r.complete and r.unknown_key == 0 for r in reports), reports
    assert rotated >= BULK + 4 and min(calls.values()) > 0, calls
    assert await key_ids(owner) == {key_id(NEW_KEY)}
    for e in rotation.ENCRYPTED:
        for column in e.ciphertexts:
            values = [
                r[0] for r in await owner.fetch(f"SELECT {column} FROM public.{e.table} WHERE {column} IS NOT NULL")
            ]
            for value in values[:50]:
                with pytest.raises(asyncpg.PostgresError, match="Wrong key"):
                    await owner.fetchval("SELECT public.decrypt_oauth_token($1, $2)", value, KEY)
                assert await owner.fetchval("SELECT public.decrypt_oauth_token($1, $2)", value, NEW_KEY)

    # Afterwards the new key alone is enough, and the old one alone is not.
    only_new = await app_factory(key=NEW_KEY)
    assert await get_access_token(only_new, ALICE, "hubspot") in hubspot.access_tokens
    assert (await integration_request(only_new, ALICE, "gong", "GET", "calls")).status_code == 200


async def test_a_locked_row_is_taken_in_a_later_pass(connect, app, web, hubspot, owner, demo_db):
    async with connect("alice@example.com") as alice:
        await connected(alice, hubspot, Browser(app))
    holder = await asyncpg.connect(demo_db.owner_dsn)
    try:
        tx = holder.transaction()
        await tx.start()
        await holder.execute("SELECT 1 FROM public.oauth_tokens FOR UPDATE")  # a refresh in flight, say
        rotating = asyncio.create_task(rotation.rotate(demo_db.owner_dsn, Keyring(NEW_KEY, (KEY,)), batch_size=10))
        await asyncio.sleep(0.5)
        assert not rotating.done()  # the client secret is done; the token row waits its turn
        await tx.rollback()
        reports = await rotating
    finally:
        await holder.close()
    assert {r.table: r.rotated for r in reports}["oauth_tokens"] == 1
    assert await key_ids(owner) == {key_id(NEW_KEY)}


async def test_a_row_that_does_not_decrypt_is_reported_and_the_rest_still_move(connect, app, hubspot, owner, demo_db):
    async with connect("alice@example.com") as alice:
        await connected(alice, hubspot, Browser(app))
    broken = await owner.fetchval(
        "UPDATE public.oauth_tokens SET access_token_encrypted = '\\xc30d0409deadbeef' RETURNING id"
    )
    reports = {r.table: r for r in await rotation.rotate(demo_db.owner_dsn, Keyring(NEW_KEY, (KEY,)))}
    assert reports["oauth_tokens"].undecryptable == [broken] and reports["oauth_tokens"].rotated == 0
    assert reports["mcp_integrations"].rotated == 1 and reports["mcp_integrations"].complete
    lines, complete = rotation.summary(list(reports.values()), Keyring(NEW_KEY, (KEY,)), 1.0)
    assert not complete and str(broken) in "\n".join(lines)


async def test_the_command_rotates_prints_counts_only_and_is_safe_to_rerun(
    connect, app, hubspot, owner, demo_db, monkeypatch, capsys
):
    async with connect("alice@example.com") as alice:
        await connected(alice, hubspot, Browser(app))
    monkeypatch.setenv("RENUBU_MIGRATION_DATABASE_URL", demo_db.owner_dsn)
    monkeypatch.setenv("RENUBU_DATABASE_URL", demo_db.app_dsn)
    monkeypatch.setenv("RENUBU_TOKEN_ENCRYPTION_KEY", NEW_KEY)
    monkeypatch.delenv("RENUBU_TOKEN_ENCRYPTION_PREVIOUS_KEYS", raising=False)
    assert await asyncio.to_thread(cli.main, ["tokens", "rotate-key"]) == 1
    assert "RENUBU_TOKEN_ENCRYPTION_PREVIOUS_KEYS" in capsys.readouterr().err

    monkeypatch.setenv("RENUBU_TOKEN_ENCRYPTION_PREVIOUS_KEYS", f"some-retired-key-{'0' * 20},{KEY}")
    assert await asyncio.to_thread(cli.main, ["tokens", "rotate-key", "--batch-size", "1"]) == 0
    out = capsys.readouterr().out
    assert "oauth_tokens: 1 row(s) re-encrypted" in out and "mcp_integrations: 1 row(s) re-encrypted" in out
    assert "no row uses a previous key" in out
    assert await asyncio.to_thread(cli.main, ["tokens", "rotate-key"]) == 0
    again = capsys.readouterr().out
    assert "0 row(s) re-encrypted in" in again
    for secret in (KEY, NEW_KEY, *hubspot.secrets()):
        assert secret not in out + again
    assert await key_ids(owner) == {key_id(NEW_KEY)}


def test_the_embedded_default_rotates_to_a_new_key_file_and_retires_the_old_one(tmp_path):
    from renubu_mcp.config import Settings

    old = "e" * 64
    (tmp_path / "token.key").write_text(old + "\n")
    (tmp_path / "token.key").chmod(0o600)
    settings = Settings(data_dir=tmp_path)
    first = rotation.plan(settings)
    assert first.keys.previous == (old,) and first.keys.current != old
    assert (tmp_path / "token.key.next").stat().st_mode & 0o777 == 0o600
    again = rotation.plan(settings)  # an interrupted run is finished with the same new key
    assert again.keys.current == first.keys.current
    rotation.finish(again)
    assert (tmp_path / "token.key").read_text().strip() == first.keys.current
    assert not (tmp_path / "token.key.next").exists()
    with pytest.raises(rotation.ConfigError, match="embedded default"):
        rotation.plan(
            Settings(data_dir=tmp_path, token_encryption_key=NEW_KEY, token_encryption_previous_keys=(KEY,)),
            tmp_path / "token.key",
        )
