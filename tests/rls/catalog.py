"""Catalog checks for the RLS rules of security.md section 2; each returns its offenders (empty when clean).

They read the system catalogs only, so they run against any migrated database, as any role that can read
pg_catalog. Policy expressions are deparsed with an empty search_path so every function is schema-qualified.
"""

from __future__ import annotations

import re

import asyncpg

SCHEMA = "public"

# Tables whose policies look rows up through SECURITY DEFINER helpers (assigned_customer_ids() and friends):
# the helper's lookup column must lead an index just like a column the policy reads itself.
HELPER_LOOKUP_COLUMNS = [
    ("customer_assignments", "user_id"),
    ("workflow_executions", "user_id"),
    ("user_integrations", "user_id"),
]

_POLICIES = """
SELECT c.relname AS table, p.polname AS policy,
       CASE p.polcmd WHEN 'r' THEN 'SELECT' WHEN 'a' THEN 'INSERT' WHEN 'w' THEN 'UPDATE'
                     WHEN 'd' THEN 'DELETE' ELSE 'ALL' END AS cmd,
       p.polroles = '{0}'::oid[] AS to_public,
       pg_get_expr(p.polqual, p.polrelid) AS qual,
       pg_get_expr(p.polwithcheck, p.polrelid) AS with_check
FROM pg_policy p JOIN pg_class c ON c.oid = p.polrelid
WHERE c.relnamespace = $1::regnamespace
ORDER BY 1, 2
"""


async def _policies(conn: asyncpg.Connection) -> list[asyncpg.Record]:
    async with conn.transaction():
        await conn.execute("SET LOCAL search_path = ''")
        return await conn.fetch(_POLICIES, SCHEMA)


async def tables_without_rls(conn: asyncpg.Connection) -> list[str]:
    rows = await conn.fetch(
        "SELECT relname FROM pg_class WHERE relnamespace = $1::regnamespace AND relkind IN ('r', 'p')"
        " AND NOT relrowsecurity ORDER BY 1",
        SCHEMA,
    )
    return [r["relname"] for r in rows]


async def views_without_security_invoker(conn: asyncpg.Connection) -> list[str]:
    rows = await conn.fetch(
        "SELECT relname FROM pg_class WHERE relnamespace = $1::regnamespace AND relkind = 'v'"
        " AND NOT coalesce('security_invoker=true' = ANY (reloptions) OR 'security_invoker=on' = ANY (reloptions),"
        " false) ORDER BY 1",
        SCHEMA,
    )
    return [r["relname"] for r in rows]


_CALL = re.compile(r"\b(?:auth|public)\.[A-Za-z_][A-Za-z0-9_]*\(\)")


def unwrapped_calls(expr: str | None) -> list[str]:
    """Argument-less auth.*/public.* calls not evaluated once per statement as `( SELECT f() ...`."""
    if not expr:
        return []
    return [m.group(0) for m in _CALL.finditer(expr) if not re.search(r"\(\s*SELECT\s+$", expr[: m.start()])]


async def policies_with_unwrapped_calls(conn: asyncpg.Connection) -> list[str]:
    out = []
    for p in await _policies(conn):
        for part in ("qual", "with_check"):
            for call in unwrapped_calls(p[part]):
                out.append(f"{p['table']}: policy {p['policy']!r} {part} calls {call} per row")
    return out


async def policies_without_explicit_role(conn: asyncpg.Connection) -> list[str]:
    return [f"{p['table']}: policy {p['policy']!r} applies TO public" for p in await _policies(conn) if p["to_public"]]


_STRING = re.compile(r"'(?:[^']|'')*'")
_IDENT = re.compile(r'(?P<pre>::\s*|\.|\bAS\s+)?(?P<name>"(?:[^"]|"")+"|[A-Za-z_][A-Za-z0-9_$]*)(?P<call>\s*\()?')


def referenced_columns(expr: str | None, table: str, attributes: set[str]) -> set[str]:
    """Columns of `table` an expression reads: bare or `table.`-qualified names, not function names, casts,
    aliases or other tables' columns (`i.status`). String literals are skipped."""
    if not expr:
        return set()
    text = _STRING.sub("''", expr)
    found = set()
    for m in _IDENT.finditer(text):
        name = m.group("name").strip('"')
        pre = (m.group("pre") or "").strip()
        if m.group("call") or pre in ("::", "AS") or name not in attributes:
            continue
        if pre == ".":
            qualifier = re.search(r'("?)([A-Za-z_][A-Za-z0-9_$]*)\1\s*\.$', text[: m.start("name")])
            if not qualifier or qualifier.group(2) != table:
                continue
        found.add(name)
    return found


async def _leading_index_columns(conn: asyncpg.Connection) -> set[tuple[str, str]]:
    rows = await conn.fetch(
        """
        SELECT c.relname, a.attname
        FROM pg_index i JOIN pg_class c ON c.oid = i.indrelid
        JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = i.indkey[0]
        WHERE c.relnamespace = $1::regnamespace AND i.indkey[0] <> 0
        """,
        SCHEMA,
    )
    return {(r["relname"], r["attname"]) for r in rows}


async def _attributes(conn: asyncpg.Connection) -> dict[str, set[str]]:
    rows = await conn.fetch(
        """
        SELECT c.relname, array_agg(a.attname::text) AS cols
        FROM pg_class c JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
        WHERE c.relnamespace = $1::regnamespace AND c.relkind IN ('r', 'p') GROUP BY c.relname
        """,
        SCHEMA,
    )
    return {r["relname"]: set(r["cols"]) for r in rows}


async def unindexed_policy_columns(conn: asyncpg.Connection) -> list[str]:
    """Columns a policy reads from its own table with no index leading on them.

    USING expressions filter existing rows, so their columns need an index; so do WITH CHECK columns of
    UPDATE/ALL policies. The WITH CHECK of an INSERT-only policy tests the one new row and no index can serve
    it, so it is left out (on purpose: see the RLS test report)."""
    indexed = await _leading_index_columns(conn)
    attrs = await _attributes(conn)
    out = set()
    for p in await _policies(conn):
        exprs = [("qual", p["qual"])] + ([("with_check", p["with_check"])] if p["cmd"] != "INSERT" else [])
        for part, expr in exprs:
            for col in referenced_columns(expr, p["table"], attrs.get(p["table"], set())):
                if (p["table"], col) not in indexed:
                    out.add(f"{p['table']}.{col} (policy {p['policy']!r} {part})")
    for table, col in HELPER_LOOKUP_COLUMNS:
        if (table, col) not in indexed:
            out.add(f"{table}.{col} (looked up by a SECURITY DEFINER policy helper)")
    return sorted(out)


async def unindexed_foreign_keys(conn: asyncpg.Connection) -> list[str]:
    indexed = await _leading_index_columns(conn)
    rows = await conn.fetch(
        """
        SELECT c.relname, a.attname, con.conname
        FROM pg_constraint con JOIN pg_class c ON c.oid = con.conrelid
        JOIN pg_attribute a ON a.attrelid = con.conrelid AND a.attnum = con.conkey[1]
        WHERE con.contype = 'f' AND c.relnamespace = $1::regnamespace ORDER BY 1, 2
        """,
        SCHEMA,
    )
    return [
        f"{r['relname']}.{r['attname']} ({r['conname']})" for r in rows if (r["relname"], r["attname"]) not in indexed
    ]


async def definer_functions_without_empty_search_path(conn: asyncpg.Connection) -> list[str]:
    rows = await conn.fetch(
        "SELECT p.oid::regprocedure::text AS fn FROM pg_proc p WHERE p.pronamespace = $1::regnamespace"
        " AND p.prosecdef AND NOT coalesce('search_path=\"\"' = ANY (p.proconfig), false) ORDER BY 1",
        SCHEMA,
    )
    return [r["fn"] for r in rows]


async def definer_functions_executable_by_anon(
    conn: asyncpg.Connection, intended: frozenset[str] = frozenset()
) -> list[str]:
    rows = await conn.fetch(
        "SELECT p.oid::regprocedure::text AS fn FROM pg_proc p WHERE p.pronamespace = $1::regnamespace"
        " AND p.prosecdef AND has_function_privilege('anon', p.oid, 'EXECUTE') ORDER BY 1",
        SCHEMA,
    )
    return [r["fn"] for r in rows if r["fn"] not in intended]


CHECKS = {
    "tables without row-level security": tables_without_rls,
    "views without security_invoker": views_without_security_invoker,
    "policies calling a function per row instead of (SELECT f())": policies_with_unwrapped_calls,
    "policies without an explicit role": policies_without_explicit_role,
    "policy columns without a leading index": unindexed_policy_columns,
    "foreign-key columns without a leading index": unindexed_foreign_keys,
    "SECURITY DEFINER functions without search_path=''": definer_functions_without_empty_search_path,
    "SECURITY DEFINER functions executable by anon": definer_functions_executable_by_anon,
}
