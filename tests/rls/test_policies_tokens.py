"""OAuth tokens: their user's alone (not even an admin's), and encrypted at rest with AES-256.

alice owns TOKEN_ALICE (on her install UI_ALICE); her install UI_ALICE_DEPRECATED has no token yet.
"""

from __future__ import annotations

import asyncpg
import pytest

from . import world as w
from .access import DENIED, NONE, OK, RLS, TableCase, attempt, cells, check_cell, ops, rolled_back
from .world import PRINCIPALS

CASES = [
    TableCase(
        "oauth_tokens",
        w.TOKEN_ALICE,
        "INSERT INTO public.oauth_tokens (id, user_integration_id, user_id, access_token_encrypted, encryption_key_id)"
        " VALUES ($1, $2, $3, '\\x00'::bytea, 'k1') RETURNING id",
        (w.UI_ALICE_DEPRECATED, w.ALICE),
        expect={
            "alice": ops(OK, OK, OK, OK),
            "bob": ops(NONE, RLS, NONE, NONE),
            "admin": ops(NONE, RLS, NONE, NONE),  # not even an admin
            "anon": ops(DENIED, DENIED, DENIED, DENIED),
        },
    ),
    TableCase(
        "oauth_states",
        w.STATE_ALICE,
        "INSERT INTO public.oauth_states (id, state_hash, user_id, user_integration_id, code_verifier_encrypted,"
        " encryption_key_id, redirect_uri) VALUES ($1, repeat('a', 64), $2, $3, '\\x00'::bytea, 'k1',"
        " 'http://127.0.0.1:8765/oauth/callback') RETURNING id",
        (w.ALICE, w.UI_ALICE_DEPRECATED),
        expect={
            "alice": ops(OK, OK, DENIED, OK),  # states are consumed only through consume_oauth_state()
            "bob": ops(NONE, RLS, DENIED, NONE),
            "admin": ops(NONE, RLS, DENIED, NONE),  # not even an admin
            "anon": ops(DENIED, DENIED, DENIED, DENIED),
        },
    ),
    TableCase(
        "oauth_revocations",
        w.REVOCATION_ALICE,
        "INSERT INTO public.oauth_revocations (id, user_integration_id, user_id, token_encrypted, token_type_hint,"
        " encryption_key_id) VALUES ($1, $2, $3, '\\x00'::bytea, 'refresh_token', 'k1') RETURNING id",
        (w.UI_ALICE_DEPRECATED, w.ALICE),
        expect={
            "alice": ops(OK, OK, OK, OK),
            "bob": ops(NONE, RLS, NONE, NONE),
            "admin": ops(NONE, RLS, NONE, NONE),  # replaced tokens are as private as the tokens
            "anon": ops(DENIED, DENIED, DENIED, DENIED),
        },
    ),
]


@pytest.mark.parametrize(("case", "actor", "op", "expect"), cells(CASES))
async def test_each_actor_gets_exactly_the_access_the_token_policy_grants(app, case, actor, op, expect):
    await check_cell(app, case, actor, op, expect)


async def test_a_user_cannot_attach_a_token_to_someone_elses_install(app):
    outcome = await attempt(
        app,
        PRINCIPALS["alice"],
        "INSERT INTO public.oauth_tokens (user_integration_id, user_id, access_token_encrypted, encryption_key_id)"
        " VALUES ($1, $2, '\\x00'::bytea, 'k1') RETURNING id",
        w.UI_BOB,
        w.ALICE,
    )
    assert isinstance(outcome.error, asyncpg.InsufficientPrivilegeError), outcome.describe()
    assert "row-level security" in str(outcome.error)


async def test_a_user_cannot_give_their_token_row_to_someone_else(app):
    outcome = await attempt(
        app,
        PRINCIPALS["alice"],
        "UPDATE public.oauth_tokens SET user_id = $2 WHERE id = $1 RETURNING id",
        w.TOKEN_ALICE,
        w.BOB,
    )
    assert isinstance(outcome.error, asyncpg.InsufficientPrivilegeError), outcome.describe()


async def test_the_owner_decrypts_their_stored_token(app):
    outcome = await attempt(
        app,
        PRINCIPALS["alice"],
        "SELECT public.decrypt_oauth_token(access_token_encrypted, $2) FROM public.oauth_tokens WHERE id = $1",
        w.TOKEN_ALICE,
        w.WORLD_KEY,
    )
    assert [r[0] for r in outcome.rows] == ["alice-access-token"], outcome.describe()


# --- encrypt_oauth_token / decrypt_oauth_token, called as a signed-in user with the key as a bind parameter ---

KEY = "0123456789abcdef0123456789abcdef0123456789abcdef"
PLAIN = "ya29.a0-very-secret-access-token"


async def encrypt(app, plaintext=PLAIN, key=KEY) -> bytes:
    outcome = await attempt(app, PRINCIPALS["alice"], "SELECT public.encrypt_oauth_token($1, $2)", plaintext, key)
    assert outcome.error is None, outcome.describe()
    return outcome.rows[0][0]


async def test_a_token_survives_the_encryption_round_trip(app):
    ciphertext = await encrypt(app)
    outcome = await attempt(app, PRINCIPALS["alice"], "SELECT public.decrypt_oauth_token($1, $2)", ciphertext, KEY)
    assert outcome.rows[0][0] == PLAIN


async def test_the_ciphertext_does_not_contain_the_plaintext(app):
    ciphertext = await encrypt(app)
    assert PLAIN.encode() not in ciphertext
    assert PLAIN.encode()[:8] not in ciphertext


async def test_encrypting_the_same_token_twice_gives_different_ciphertexts(app):
    assert await encrypt(app) != await encrypt(app)


@pytest.mark.parametrize("key", [None, ""], ids=["null key", "empty key"])
@pytest.mark.parametrize(
    "call",
    [
        "SELECT public.encrypt_oauth_token('t', $1)",
        "SELECT public.decrypt_oauth_token('\\xc30d'::bytea, $1)",
    ],
    ids=["encrypt", "decrypt"],
)
async def test_a_missing_key_raises_instead_of_storing_null(app, call, key):
    outcome = await attempt(app, PRINCIPALS["alice"], call, key)
    assert isinstance(outcome.error, asyncpg.InvalidParameterValueError), outcome.describe()
    assert "key is missing" in str(outcome.error)


async def decrypt_with_notices(app, ciphertext: bytes, options: str) -> tuple[str, list[str]]:
    """pgp_sym_decrypt with `options`, and the NOTICEs it raised (expect-* mismatches are NOTICEs, not errors)."""

    async def go(conn):
        notices: list[str] = []
        listener = lambda _conn, msg: notices.append(msg.message)  # noqa: E731
        conn.add_log_listener(listener)
        try:
            plain = await conn.fetchval("SELECT extensions.pgp_sym_decrypt($1, $2, $3)", ciphertext, KEY, options)
        finally:
            conn.remove_log_listener(listener)
        return plain, notices

    return await rolled_back(app, PRINCIPALS["alice"], go)


async def test_the_ciphertext_is_aes256(app):
    ciphertext = await encrypt(app)
    # The first OpenPGP packet is the symmetric-key session key (tag 3, version 4) naming the cipher: 9 = AES-256.
    assert (ciphertext[0] & 0x3F, ciphertext[2], ciphertext[3]) == (3, 4, 9), ciphertext[:4].hex()
    assert await decrypt_with_notices(app, ciphertext, "expect-cipher-algo=aes256") == (PLAIN, [])
    plain, notices = await decrypt_with_notices(app, ciphertext, "expect-cipher-algo=aes128")
    assert any("unexpected cipher_algo: expected 7 got 9" in n for n in notices), notices


async def test_decrypt_refuses_a_ciphertext_that_is_not_aes256(app):
    """pgcrypto's expect-cipher-algo only raises a NOTICE on a mismatch, so decrypt_oauth_token's
    'expect-cipher-algo=aes256' does not, by itself, make decryption insist on AES-256."""

    async def go(conn):
        aes128 = await conn.fetchval("SELECT extensions.pgp_sym_encrypt($1, $2)", PLAIN, KEY)  # default: aes128
        try:
            async with conn.transaction():
                return await conn.fetchval("SELECT public.decrypt_oauth_token($1, $2)", aes128, KEY)
        except asyncpg.PostgresError:
            return None

    assert await rolled_back(app, PRINCIPALS["alice"], go) is None, (
        "decrypt_oauth_token decrypted an AES-128 ciphertext (mcp_registry_infrastructure: "
        "expect-cipher-algo is a debug option that only emits a NOTICE)"
    )


async def test_a_wrong_key_does_not_decrypt(app):
    ciphertext = await encrypt(app)
    outcome = await attempt(
        app, PRINCIPALS["alice"], "SELECT public.decrypt_oauth_token($1, $2)", ciphertext, KEY + "x"
    )
    assert isinstance(outcome.error, asyncpg.PostgresError), outcome.describe()
    assert "Wrong key or corrupt data" in str(outcome.error)
    assert KEY not in str(outcome.error)


async def test_anon_cannot_call_the_token_functions(app):
    outcome = await attempt(app, PRINCIPALS["anon"], "SELECT public.encrypt_oauth_token('t', $1)", KEY)
    assert isinstance(outcome.error, asyncpg.InsufficientPrivilegeError), outcome.describe()
    assert "permission denied for function" in str(outcome.error)


async def test_a_stored_token_never_leaks_across_users_even_decrypted_with_the_right_key(app):
    async def steal(conn):
        return await conn.fetch(
            "SELECT public.decrypt_oauth_token(access_token_encrypted, $1) FROM public.oauth_tokens", w.WORLD_KEY
        )

    for thief in ("bob", "admin"):
        plaintexts = {r[0] for r in await rolled_back(app, PRINCIPALS[thief], steal)}
        assert "alice-access-token" not in plaintexts
