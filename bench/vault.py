"""Issue 6, benchmark 3: the token vault - encrypt/decrypt per operation inside PostgreSQL, and a full refresh.

    .venv/bin/python bench/vault.py            # full run, under a minute (after the large data set exists)
    .venv/bin/python bench/vault.py --quick

Per operation: one statement applies the function to N rows (N = 2000); the time of the same statement with a
trivial function (md5 / length) is subtracted, and the rest divided by N. Old ciphertexts are the 10 % of the
large data set's tokens made with pgcrypto's default iterated S2K (mode 3), as the vault did before; they must
still decrypt through decrypt_oauth_token. Checks: AES-256 (pgp_sym_decrypt with expect-cipher-algo=aes256),
the integrity check (a flipped byte is refused), old ciphertexts readable.

Full refresh: the statements of a token refresh in one per-user transaction (renubu_mcp/db.py as_user, as the
install's owner): lock the install, read and decrypt both tokens FOR UPDATE, call the provider (a no-op here: the
network is not the vault's cost), re-encrypt and write both tokens, clear the install's error; COMMIT (fsync on).
Target: under 10 us per encrypt or decrypt, keeping AES-256 and the integrity check.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import (  # noqa: E402
    TOKEN_KEY,
    bench_cluster,
    machine_line,
    ms,
    owner_conn,
    p50,
    pct,
    prepare_large,
    table,
    timed,
    us,
)
from bench.scale_data import USERS, bench_user_email, bench_user_id  # noqa: E402
from renubu_mcp.db import Database, Principal  # noqa: E402
from renubu_mcp.oauth.vault import key_id  # noqa: E402

N = 2000
# get_byte(ciphertext, 4) is the S2K specifier of the symmetric-key session packet: 1 salted, 3 iterated.
ROWS = "(SELECT t.access_token_encrypted AS ct FROM public.oauth_tokens t WHERE get_byte(t.access_token_encrypted, 4) = {mode} LIMIT {n})"

PER_OP = {
    "encrypt: encrypt_oauth_token (AES-256, s2k-mode=1; now)": (
        "SELECT count(public.encrypt_oauth_token('access-token-' || g || '-0123456789abcdef', $1)) "
        "FROM generate_series(1, {n}) g",
        "SELECT count(md5('access-token-' || g || '-0123456789abcdef' || $1)) FROM generate_series(1, {n}) g",
    ),
    "encrypt: pgp_sym_encrypt aes256, default S2K (mode 3; before)": (
        "SELECT count({crypto}.pgp_sym_encrypt('access-token-' || g || '-0123456789abcdef', $1, 'cipher-algo=aes256')) "
        "FROM generate_series(1, {n}) g",
        "SELECT count(md5('access-token-' || g || '-0123456789abcdef' || $1)) FROM generate_series(1, {n}) g",
    ),
    "decrypt: decrypt_oauth_token, s2k-mode=1 ciphertext": (
        "SELECT count(public.decrypt_oauth_token(r.ct, $1)) FROM " + ROWS.replace("{mode}", "1") + " r",
        "SELECT count(length(r.ct) || $1) FROM " + ROWS.replace("{mode}", "1") + " r",
    ),
    "decrypt: decrypt_oauth_token, old mode-3 ciphertext": (
        "SELECT count(public.decrypt_oauth_token(r.ct, $1)) FROM " + ROWS.replace("{mode}", "3") + " r",
        "SELECT count(length(r.ct) || $1) FROM " + ROWS.replace("{mode}", "3") + " r",
    ),
    "decrypt: pgp_sym_decrypt alone, s2k-mode=1 ciphertext": (
        "SELECT count({crypto}.pgp_sym_decrypt(r.ct, $1)) FROM " + ROWS.replace("{mode}", "1") + " r",
        "SELECT count(length(r.ct) || $1) FROM " + ROWS.replace("{mode}", "1") + " r",
    ),
}

LOCK_INSTALL = (
    "SELECT ui.id, ui.status FROM public.user_integrations ui WHERE ui.id = $1 AND ui.deleted_at IS NULL FOR UPDATE"
)
READ_LOCKED = """
SELECT public.decrypt_oauth_token(t.access_token_encrypted, $2) AS access_token,
       public.decrypt_oauth_token(t.refresh_token_encrypted, $2) AS refresh_token, t.expires_at
FROM public.oauth_tokens t WHERE t.user_integration_id = $1 AND t.encryption_key_id = $3 FOR UPDATE
"""
STORE = """
UPDATE public.oauth_tokens SET
  access_token_encrypted = public.encrypt_oauth_token($2, $4),
  refresh_token_encrypted = public.encrypt_oauth_token($3, $4),
  encryption_key_id = $5, expires_at = clock_timestamp() + interval '30 days', refreshed_at = clock_timestamp()
WHERE user_integration_id = $1
"""
REFRESHED_OK = "UPDATE public.user_integrations SET last_error = NULL, last_used_at = now() WHERE id = $1"


async def per_op(conn, crypto: str, reps: int) -> list[tuple]:
    rows = []
    for label, (sql, base_sql) in PER_OP.items():
        n = N if "mode 3" not in label else N // 10  # the iterated S2K is slow: fewer rows
        sql, base_sql = sql.format(n=n, crypto=crypto), base_sql.format(n=n)
        per_call = []
        for _ in range(reps):
            t0 = time.perf_counter()
            await conn.fetchval(sql, TOKEN_KEY)
            t1 = time.perf_counter()
            await conn.fetchval(base_sql, TOKEN_KEY)
            t2 = time.perf_counter()
            per_call.append(((t1 - t0) - (t2 - t1)) / n)
        rows.append((label, n, us(statistics.median(per_call)), us(max(per_call))))
    return rows


async def checks(conn, crypto: str) -> list[tuple]:
    ct = await conn.fetchval("SELECT public.encrypt_oauth_token('secret-token', $1)", TOKEN_KEY)
    aes = await conn.fetchval(f"SELECT {crypto}.pgp_sym_decrypt($1, $2, 'expect-cipher-algo=aes256')", ct, TOKEN_KEY)
    s2k = await conn.fetchval("SELECT get_byte($1, 4)", ct)
    tampered = bytearray(ct)
    tampered[-5] ^= 0x01
    try:
        await conn.fetchval("SELECT public.decrypt_oauth_token($1, $2)", bytes(tampered), TOKEN_KEY)
        integrity = "NOT refused"
    except Exception as exc:  # pgcrypto: "Wrong key or corrupt data"
        integrity = f"refused ({type(exc).__name__}: {str(exc).splitlines()[0]})"
    old_total = await conn.fetchval(
        "SELECT count(*) FROM public.oauth_tokens WHERE get_byte(access_token_encrypted, 4) = 3"
    )
    old_ok = await conn.fetchval(
        "SELECT count(*) FROM public.oauth_tokens WHERE get_byte(access_token_encrypted, 4) = 3 "
        "AND public.decrypt_oauth_token(access_token_encrypted, $1) LIKE 'access-%'",
        TOKEN_KEY,
    )
    return [
        ("new ciphertext decrypts with expect-cipher-algo=aes256", "yes" if aes == "secret-token" else "NO"),
        ("S2K mode of new ciphertexts", str(s2k)),
        ("one flipped byte", integrity),
        ("old (mode 3) ciphertexts readable via decrypt_oauth_token", f"{old_ok} of {old_total}"),
    ]


async def refresh(app_dsn: str, n: int) -> list[float]:
    db = await Database.connect(app_dsn, min_size=1, max_size=1)
    kid = key_id(TOKEN_KEY)
    users = [u for u in range(1, USERS + 1) if u % 10 != 0]  # keep the old-format rows as they are
    i = 0
    try:

        async def one() -> None:
            nonlocal i
            u = users[i % len(users)]
            i += 1
            import hashlib
            from uuid import UUID

            install = UUID(hashlib.md5(f"bench-install-{u}".encode()).hexdigest())
            async with db.as_user(Principal(bench_user_id(u), bench_user_email(u))) as conn:
                assert await conn.fetchrow(LOCK_INSTALL, install) is not None
                row = await conn.fetchrow(READ_LOCKED, install, TOKEN_KEY, kid)
                assert row["refresh_token"].startswith("refresh-")
                await asyncio.sleep(0)  # the provider call
                await conn.execute(STORE, install, row["access_token"], row["refresh_token"], TOKEN_KEY, kid)
                await conn.execute(REFRESHED_OK, install)

        return await timed(one, n, warmup=20)
    finally:
        await db.close()


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    print(f"# token vault ({'quick' if args.quick else 'full'}) - {machine_line()}")
    with bench_cluster() as cluster:
        large = await prepare_large(cluster)
        async with owner_conn(cluster.owner_dsn(large)) as conn:
            crypto = await conn.fetchval(
                "SELECT n.nspname FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace "
                "WHERE e.extname = 'pgcrypto'"
            )
            ops = await per_op(conn, crypto, 3 if args.quick else 9)
            checked = await checks(conn, crypto)
        print("\n### per operation, inside PostgreSQL (median of the runs; target < 10 us)\n")
        print(table(["operation", "rows per statement", "us per op", "worst run us"], ops))
        print("\n### checks\n")
        print(table(["check", "result"], checked))
        samples = await refresh(cluster.app_dsn(large), 100 if args.quick else 1000)
        print("\n### full refresh (lock, decrypt x2, call (no-op), re-encrypt x2, write, COMMIT) as the owner\n")
        print(
            table(
                ["path", "calls", "p50 ms", "p99 ms"],
                [("as_user transaction, 5 statements", len(samples), ms(p50(samples)), ms(pct(samples, 99)))],
            )
        )


if __name__ == "__main__":
    asyncio.run(main())
