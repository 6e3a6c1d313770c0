"""A request's identity lives and dies with its transaction: pooled connections never carry it further."""

from __future__ import annotations

import asyncio
import json
import random
import time
from collections.abc import AsyncIterator

import asyncpg
import pytest

from renubu_mcp.db import Database, Principal, UnsafeLoginRole

from . import world as w
from .world import PRINCIPALS

LEFTOVERS = """
SELECT current_setting('request.jwt.claims', true) AS claims, current_user::text AS login,
       current_setting('role') AS role, current_setting('statement_timeout') AS timeout
"""
WHO = "SELECT auth.uid() AS uid, auth.email() AS email, current_user::text AS role"


async def _no_reset(conn: asyncpg.Connection) -> None:
    """Skip asyncpg's RESET ALL on release, so only the transaction can be what clears the identity."""


@pytest.fixture(params=["asyncpg reset on release", "no reset on release"])
async def single(request, rls_db) -> AsyncIterator[Database]:
    """A Database whose pool has exactly one connection, so every request reuses it."""
    if request.param == "no reset on release":
        pool = await asyncpg.create_pool(rls_db.app_dsn, min_size=1, max_size=1, reset=_no_reset)
        db = Database(pool)
    else:
        db = await Database.connect(rls_db.app_dsn, min_size=1, max_size=1)
    yield db
    await db.close()


def assert_clean(row: asyncpg.Record) -> None:
    assert row["claims"] in ("", None), f"claims survived the request: {row['claims']}"
    assert row["login"] == "authenticator" and row["role"] == "none", f"role survived: {dict(row)}"
    assert row["timeout"] == "0", f"statement_timeout survived: {row['timeout']}"


async def test_after_a_request_the_pooled_connection_is_back_to_the_login_role_with_no_claims(single):
    async with single.as_user(PRINCIPALS["alice"]) as conn:
        during = await conn.fetchrow(WHO)
        assert (during["uid"], during["role"]) == (w.ALICE, "authenticated")
        assert await conn.fetchval("SELECT current_setting('statement_timeout')") == "15s"
    async with single.pool.acquire() as conn:
        assert_clean(await conn.fetchrow(LEFTOVERS))


async def test_the_leftover_check_would_catch_a_session_level_setting(rls_db):
    """Control for the test above: without asyncpg's reset, a session-level SET does survive release."""
    pool = await asyncpg.create_pool(rls_db.app_dsn, min_size=1, max_size=1, reset=_no_reset)
    try:
        async with pool.acquire() as conn:
            await conn.execute("SELECT set_config('request.jwt.claims', '{\"sub\": \"x\"}', false)")
        async with pool.acquire() as conn:
            assert (await conn.fetchrow(LEFTOVERS))["claims"] == '{"sub": "x"}'
    finally:
        await pool.close()


async def test_interleaved_concurrent_requests_each_see_only_their_own_identity(rls_db):
    db = await Database.connect(rls_db.app_dsn, min_size=3, max_size=3)
    rng = random.Random(7)
    own_customer = {"alice": w.CUST_ALICE, "bob": w.CUST_BOB}

    in_flight, most_in_flight, served = 0, 0, {}  # served: backend pid -> the users it carried

    async def request(name: str) -> tuple[str, list]:
        nonlocal in_flight, most_in_flight
        seen = []
        async with db.as_user(PRINCIPALS[name]) as conn:
            in_flight += 1
            most_in_flight = max(most_in_flight, in_flight)
            served.setdefault(await conn.fetchval("SELECT pg_backend_pid()"), set()).add(name)
            for _ in range(3):
                await asyncio.sleep(rng.random() / 500)  # let the other requests run in between
                row = await conn.fetchrow(
                    WHO + ", (SELECT array_agg(id) FROM public.customers WHERE id = ANY($1::uuid[])) AS customers",
                    [w.CUST_ALICE, w.CUST_BOB],
                )
                seen.append((row["uid"], row["email"], row["role"], tuple(row["customers"] or ())))
            in_flight -= 1
        return name, seen

    try:
        names = ["alice", "bob"] * 40
        for name, seen in await asyncio.gather(*(request(n) for n in names)):
            p = PRINCIPALS[name]
            assert set(seen) == {(p.user_id, p.email, "authenticated", (own_customer[name],))}, (name, seen)
        assert most_in_flight == 3, "the requests did not overlap"
        assert any(users == {"alice", "bob"} for users in served.values()), "no connection served both users"
    finally:
        await db.close()


async def test_an_exception_inside_a_request_rolls_back_its_writes_and_the_next_request_is_clean(single, owner):
    with pytest.raises(RuntimeError, match="tool failed"):
        async with single.as_user(PRINCIPALS["alice"]) as conn:
            changed = await conn.fetch(
                "UPDATE public.customers SET notes = 'half-done' WHERE id = $1 RETURNING id", w.CUST_ALICE
            )
            assert len(changed) == 1
            raise RuntimeError("tool failed")
    assert await owner.fetchval("SELECT notes FROM public.customers WHERE id = $1", w.CUST_ALICE) is None
    async with single.as_user(Principal.anonymous()) as conn:
        after = await conn.fetchrow(WHO)
        assert (after["uid"], after["email"], after["role"]) == (None, None, "anon")
    async with single.pool.acquire() as conn:
        assert_clean(await conn.fetchrow(LEFTOVERS))


async def test_a_failed_statement_inside_a_request_does_not_poison_the_next_one(single):
    with pytest.raises(asyncpg.InsufficientPrivilegeError):
        async with single.as_user(PRINCIPALS["alice"]) as conn:
            await conn.execute("INSERT INTO public.customers (name) VALUES ('Not allowed')")
    async with single.as_user(PRINCIPALS["bob"]) as conn:
        assert (await conn.fetchrow(WHO))["uid"] == w.BOB


async def test_a_read_only_request_rejects_writes(app):
    with pytest.raises(asyncpg.ReadOnlySQLTransactionError):
        async with app.as_user(PRINCIPALS["alice"], read_only=True) as conn:
            assert await conn.fetchval("SELECT count(*) FROM public.customers WHERE id = $1", w.CUST_ALICE) == 1
            await conn.execute("UPDATE public.customers SET notes = 'x' WHERE id = $1", w.CUST_ALICE)


async def test_a_read_only_database_makes_every_request_read_only(rls_db):
    db = await Database.connect(rls_db.app_dsn, min_size=1, max_size=1, read_only=True)
    try:
        with pytest.raises(asyncpg.ReadOnlySQLTransactionError):
            async with db.as_user(PRINCIPALS["alice"]) as conn:
                await conn.execute("UPDATE public.customers SET notes = 'x' WHERE id = $1", w.CUST_ALICE)
    finally:
        await db.close()


@pytest.mark.parametrize(
    "sql",
    ["SELECT count(*) FROM public.customers", "SELECT count(*) FROM public.oauth_tokens", "SELECT public.is_admin()"],
)
async def test_outside_a_request_the_login_role_itself_can_read_nothing(app, sql):
    async with app.pool.acquire() as conn:
        with pytest.raises(asyncpg.InsufficientPrivilegeError, match="permission denied"):
            await conn.fetchval(sql)


async def test_claims_are_bound_not_spliced(app):
    tricky = Principal(w.ALICE, "a'); SET ROLE postgres; --\"@example.com")
    async with app.as_user(tricky) as conn:
        row = await conn.fetchrow(WHO)
    assert (row["uid"], row["email"], row["role"]) == (w.ALICE, tricky.email, "authenticated")


def test_a_principal_cannot_ask_for_a_role_outside_the_allow_list():
    with pytest.raises(ValueError):
        Principal(w.ADMIN, role="service_role")  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        Principal(None, role="authenticated")


# --- request functions: the same rules in one statement (db.call_as) -------------------------------------------

READ = "public.read_as"


def customer(id_) -> str:
    return json.dumps({"customer_id": str(id_)})


def document(rows) -> dict:
    [(text,)] = rows
    return json.loads(text)


async def test_a_request_function_reads_as_the_user_and_leaves_the_connection_clean(single):
    detail = document(await single.call_as(PRINCIPALS["alice"], READ, "get_customer", customer(w.CUST_ALICE)))
    assert detail["customer"]["id"] == str(w.CUST_ALICE)
    assert [c["name"] for c in detail["contacts"]] == ["Carla Contact"]
    async with single.pool.acquire() as conn:
        assert_clean(await conn.fetchrow(LEFTOVERS))
    with pytest.raises(asyncpg.exceptions.NoDataFoundError, match="no customer"):  # RLS: not hers
        await single.call_as(PRINCIPALS["alice"], READ, "get_customer", customer(w.CUST_BOB))
    admin = document(await single.call_as(PRINCIPALS["admin"], READ, "get_customer", customer(w.CUST_BOB)))
    assert admin["customer"]["id"] == str(w.CUST_BOB)
    async with single.pool.acquire() as conn:
        assert_clean(await conn.fetchrow(LEFTOVERS))


async def test_a_request_function_refuses_a_role_outside_the_allow_list_and_sets_nothing(app):
    claims = Principal(w.ADMIN).claims_json()
    async with app.pool.acquire() as conn:
        for role in ("service_role", "postgres", "authenticator", None):
            with pytest.raises(asyncpg.InsufficientPrivilegeError, match="not allowed"):
                await conn.fetch(
                    f"SELECT * FROM {READ}($1, $2, $3, $4)", role, claims, "get_customer", customer(w.CUST_ALICE)
                )
            assert_clean(await conn.fetchrow(LEFTOVERS))


async def test_a_request_function_runs_only_the_reads_its_schema_holds(app):
    """The read is named, never written: it can only be a function of renubu_read, which only migrations create."""
    for name in ("pg_sleep", "get_customer($1); SELECT pg_sleep(1); --", "../public.find_user", "find_user"):
        with pytest.raises(asyncpg.UndefinedFunctionError):
            await app.call_as(PRINCIPALS["admin"], READ, name, customer(w.CUST_ALICE))
    async with app.pool.acquire() as conn:
        assert_clean(await conn.fetchrow(LEFTOVERS))


async def test_only_request_functions_can_be_called_that_way(app):
    with pytest.raises(ValueError, match="not a request function"):
        await app.call_as(PRINCIPALS["alice"], "public.find_user", w.CUST_ALICE)


async def test_a_request_function_is_cancelled_at_the_statement_timeout_and_the_pool_recovers(rls_db):
    db = await Database.connect(rls_db.app_dsn, min_size=1, max_size=1, statement_timeout_ms=300)
    locker = await asyncpg.connect(rls_db.owner_dsn)
    try:
        async with locker.transaction():
            await locker.execute("LOCK TABLE public.customers IN ACCESS EXCLUSIVE MODE")
            started = time.monotonic()
            with pytest.raises(asyncio.TimeoutError):
                # The outer bound only keeps a missing deadline from hanging the suite; the elapsed check fails it.
                await asyncio.wait_for(db.call_as(PRINCIPALS["alice"], READ, "get_customer", customer(w.CUST_ALICE)), 5)
            assert time.monotonic() - started < 3
        rows = await db.call_as(PRINCIPALS["alice"], READ, "get_customer", customer(w.CUST_ALICE))
        assert document(rows)["customer"]["id"] == str(w.CUST_ALICE)
        async with db.pool.acquire() as conn:
            assert_clean(await conn.fetchrow(LEFTOVERS))
    finally:
        await locker.close()
        await db.close()


async def test_only_an_admin_gets_customer_ids_by_name_and_nothing_but_ids(app):
    """The admin search's definer helper (it reads past RLS to use the trigram index) answers admins only."""
    query = "SELECT * FROM public.admin_customer_ids_by_name('%account%', 10)"
    for name in ("alice", "bob"):
        async with app.as_user(PRINCIPALS[name]) as conn:
            assert await conn.fetch(query) == []
    async with app.as_user(PRINCIPALS["admin"]) as conn:
        rows = await conn.fetch(query)
    assert {w.CUST_ALICE, w.CUST_BOB} <= {r[0] for r in rows} and all(len(r) == 1 for r in rows)


# --- the serving login role ------------------------------------------------------------------------------------


async def login_role_check(dsn: str) -> str:
    db = await Database.connect(dsn, min_size=1, max_size=1)
    try:
        return await db.check_login_role()
    finally:
        await db.close()


def dsn_for(rls_db, role: str) -> str:
    return rls_db.app_dsn.replace("authenticator@", f"{role}@", 1)


async def test_the_login_role_check_accepts_authenticator(rls_db):
    assert await login_role_check(rls_db.app_dsn) == "authenticator"


async def test_the_login_role_check_refuses_the_superuser_owner(rls_db):
    with pytest.raises(UnsafeLoginRole, match="superuser"):
        await login_role_check(rls_db.owner_dsn)


@pytest.fixture
async def login_role(rls_db, owner) -> AsyncIterator[str]:
    """A fresh login role (roles are cluster-wide: uniquely named, dropped afterwards) with the request roles."""
    name = f"rls_login_{random.randrange(16**8):08x}"
    await owner.execute(f"CREATE ROLE {name} LOGIN NOINHERIT; GRANT anon, authenticated TO {name}")
    yield name
    await owner.execute(f"DROP OWNED BY {name}; DROP ROLE {name}")


async def test_the_login_role_check_refuses_a_role_that_owns_a_table(rls_db, owner, login_role):
    await owner.execute(f"CREATE TABLE public.zz_owned (id int); ALTER TABLE public.zz_owned OWNER TO {login_role}")
    try:
        with pytest.raises(UnsafeLoginRole, match="owns 1 table"):
            await login_role_check(dsn_for(rls_db, login_role))
    finally:
        await owner.execute("DROP TABLE public.zz_owned")


async def test_the_login_role_check_refuses_a_role_with_bypassrls(rls_db, owner, login_role):
    await owner.execute(f"ALTER ROLE {login_role} BYPASSRLS")
    with pytest.raises(UnsafeLoginRole, match="BYPASSRLS"):
        await login_role_check(dsn_for(rls_db, login_role))


async def test_the_login_role_check_refuses_a_role_that_cannot_switch_to_the_request_roles(rls_db, owner, login_role):
    await owner.execute(f"REVOKE authenticated FROM {login_role}")
    with pytest.raises(UnsafeLoginRole, match="cannot switch to authenticated"):
        await login_role_check(dsn_for(rls_db, login_role))


async def test_the_login_role_check_refuses_a_role_that_cannot_execute_the_request_functions(rls_db, owner, login_role):
    with pytest.raises(UnsafeLoginRole, match=r"cannot execute public.read_as\(text, text, text, text\)"):
        await login_role_check(dsn_for(rls_db, login_role))
    await owner.execute(f"GRANT EXECUTE ON FUNCTION public.read_as(text, text, text, text) TO {login_role}")
    assert await login_role_check(dsn_for(rls_db, login_role)) == login_role
