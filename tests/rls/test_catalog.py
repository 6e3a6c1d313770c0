"""The migrated schema passes every catalog check, and each check demonstrably catches its offence."""

from __future__ import annotations

import asyncpg
import pytest

from renubu_mcp import migrate as migrations

from . import (
    test_policies_connect,
    test_policies_docs,
    test_policies_features,
    test_policies_integrations,
    test_policies_people,
    test_policies_planning,
    test_policies_tokens,
    test_policies_workflows,
)
from .catalog import CHECKS, referenced_columns, unwrapped_calls


@pytest.mark.parametrize("check", list(CHECKS))
async def test_the_migrated_schema_has_no_catalog_offenders(owner, check):
    offenders = await CHECKS[check](owner)
    assert offenders == [], f"{check}:\n  " + "\n  ".join(offenders)


# --- every check can fail: a fresh migrated database with one offence of each kind ---------------------------

OFFENCES = """
CREATE TABLE public.zz_no_rls (id int PRIMARY KEY);
CREATE TABLE public.zz_bad (
  id uuid PRIMARY KEY,
  owner_id uuid,
  customer_id uuid REFERENCES public.customers (id),
  note text
);
ALTER TABLE public.zz_bad ENABLE ROW LEVEL SECURITY;
CREATE POLICY "bare uid" ON public.zz_bad FOR SELECT TO authenticated USING (owner_id = auth.uid());
CREATE POLICY "bare admin" ON public.zz_bad FOR DELETE TO authenticated USING (public.is_admin());
CREATE POLICY "no role" ON public.zz_bad FOR UPDATE USING (true) WITH CHECK (note <> 'owner_id');
CREATE VIEW public.zz_view AS SELECT id FROM public.zz_bad;
CREATE FUNCTION public.zz_definer() RETURNS int LANGUAGE sql SECURITY DEFINER AS 'SELECT 1';
DROP INDEX public.idx_customer_assignments_user_id;
"""


@pytest.fixture(scope="module")
async def offending(database_factory):
    db = database_factory(prefix="rls_catalog")
    await migrations.migrate(db.owner_dsn)
    conn = await asyncpg.connect(db.owner_dsn)
    await conn.execute(OFFENCES)
    yield conn
    await conn.close()
    db.drop()


@pytest.mark.parametrize(
    ("check", "expected"),
    [
        ("tables without row-level security", ["zz_no_rls"]),
        ("views without security_invoker", ["zz_view"]),
        (
            "policies calling a function per row instead of (SELECT f())",
            [
                "zz_bad: policy 'bare admin' qual calls public.is_admin() per row",
                "zz_bad: policy 'bare uid' qual calls auth.uid() per row",
            ],
        ),
        ("policies without an explicit role", ["zz_bad: policy 'no role' applies TO public"]),
        (
            "policy columns without a leading index",
            [
                "customer_assignments.user_id (looked up by a SECURITY DEFINER policy helper)",
                "customer_assignments.user_id (policy 'Users see own assignments, admins see all' qual)",
                "zz_bad.note (policy 'no role' with_check)",
                "zz_bad.owner_id (policy 'bare uid' qual)",
            ],
        ),
        (
            "foreign-key columns without a leading index",
            [
                "customer_assignments.user_id (customer_assignments_user_id_fkey)",
                "zz_bad.customer_id (zz_bad_customer_id_fkey)",
            ],
        ),
        ("SECURITY DEFINER functions without search_path=''", ["zz_definer()"]),
        ("SECURITY DEFINER functions executable by anon", ["zz_definer()"]),
    ],
)
async def test_each_catalog_check_reports_a_planted_offender(offending, check, expected):
    assert sorted(await CHECKS[check](offending)) == sorted(expected)


async def test_a_definer_function_meant_for_anon_can_be_allowed_explicitly(offending):
    assert await CHECKS["SECURITY DEFINER functions executable by anon"](offending, frozenset({"zz_definer()"})) == []


# --- the expression parsing the checks rely on --------------------------------------------------------------


def test_a_wrapped_call_is_accepted_and_a_bare_one_reported():
    expr = "((user_id = ( SELECT auth.uid() AS uid)) OR public.is_admin() OR (x = auth.uid()))"
    assert unwrapped_calls(expr) == ["public.is_admin()", "auth.uid()"]
    assert unwrapped_calls("( SELECT public.is_admin() AS is_admin)") == []


def test_policy_columns_are_read_from_the_policys_own_table_only():
    attrs = {"id", "user_id", "integration_id", "status"}
    expr = (
        "((user_id = ( SELECT auth.uid() AS uid)) AND (integration_id IN ( SELECT i.id FROM public.mcp_integrations i"
        " WHERE (i.status = 'enabled'::text AND i.owner = user_integrations.status))))"
    )
    assert referenced_columns(expr, "user_integrations", attrs) == {"user_id", "integration_id", "status"}
    assert referenced_columns("(note = 'status user_id'::text)", "t", {"note", "status", "user_id"}) == {"note"}
    assert referenced_columns("( SELECT public.is_admin() AS status)", "t", {"status"}) == set()


# --- the policy tests themselves cover every table, operation and kind of actor ------------------------------

MODULES = [
    test_policies_people,
    test_policies_workflows,
    test_policies_docs,
    test_policies_features,
    test_policies_integrations,
    test_policies_tokens,
    test_policies_connect,
    test_policies_planning,
]


async def test_every_public_table_has_an_access_matrix_for_every_operation(owner):
    tables = {
        r["relname"]: r["soft"]
        for r in await owner.fetch(
            "SELECT c.relname, EXISTS (SELECT 1 FROM pg_attribute a WHERE a.attrelid = c.oid"
            " AND a.attname = 'deleted_at' AND NOT a.attisdropped) AS soft"
            " FROM pg_class c WHERE c.relnamespace = 'public'::regnamespace AND c.relkind IN ('r', 'p')"
        )
    }
    cases = {case.table: case for module in MODULES for case in module.CASES}
    assert sorted(cases) == sorted(tables)
    for table, soft in tables.items():
        expect = cases[table].expect
        # the owner (or writer), another signed-in user, an admin and anon
        assert {"admin", "anon"} <= set(expect) and len(expect) >= 4, f"{table}: actors {sorted(expect)}"
        ops = {"select", "insert", "update", "delete"} | ({"soft_delete"} if soft else set())
        for actor, row in expect.items():
            assert set(row) == ops, f"{table}/{actor}: operations {sorted(row)}, expected {sorted(ops)}"
