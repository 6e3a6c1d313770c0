"""Proposed query variants, registered as extra tools on the benchmark server only (never in production).

Each is the SQL proposed for the tool module named, run through the same user_transaction, with the same result
model, so the ladder measures old and new side by side in one process:

    bench_get_customer      customers.get_customer in 2 statements instead of 6: the wake-up rides on the
                            customer read, and contacts/workflows/tasks/actions come back as JSON arrays of
                            one statement (5 round trips per call instead of 9)
    bench_search_customers  customers.search_customers driven from the caller's assignments (UNION ALL: the
                            admin branch scans customers, the user branch reads ~100 rows by primary key)
    bench_search_docs       docs.search_docs ranking at most DOC_CANDIDATES unranked matches (exact whenever a
                            query matches fewer documents), with the tsquery visible to the planner
    bench_customer_row      only the first statement of get_customer (for bench/sql_three_ways.py)
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Literal
from uuid import UUID

from mcp.server import MCPServer
from mcp.server.mcpserver import Context
from pydantic import Field

from renubu_mcp.context import user_transaction
from renubu_mcp.errors import InvalidArgument, NotFound
from renubu_mcp.tools import docs, workflow_queries as wq
from renubu_mcp.tools.common import Cursor, Limit
from renubu_mcp.tools.customers import (
    _CONTACT_COLUMNS, _CUSTOMER_COLUMNS, _SORTS, Contact, Customer, CustomerDetail, CustomerPage, _escape_like,
    fetch_customer,
)
from renubu_mcp.tools.paging import decode_cursor, page

# --- get_customer: 2 statements -------------------------------------------------------------------------------

# The wake-up runs only when the customer row is visible (the scalar subquery is evaluated per output row), as
# the current code runs it only after fetch_customer found the customer.
CUSTOMER_AND_WAKE_SQL = f"""
SELECT {_CUSTOMER_COLUMNS}, (SELECT count(*) FROM public.wake_due_workflows(c.id, NULL)) AS woken
FROM customers c WHERE c.id = $1 AND c.deleted_at IS NULL
"""

# A new statement, so a new snapshot: it sees what the wake-up changed. Same filters, orders and limits as
# customers.fetch_customer_detail and workflow_queries.*_for_customer.
DETAIL_SQL = f"""
SELECT
  (SELECT coalesce(json_agg(x), '[]') FROM (
     SELECT {_CONTACT_COLUMNS} FROM contacts ct WHERE ct.customer_id = $1 AND ct.deleted_at IS NULL
     ORDER BY ct.is_primary DESC, ct.name LIMIT 100) x) AS contacts,
  (SELECT coalesce(json_agg(x), '[]') FROM (
     SELECT {wq.WORKFLOW_COLUMNS} FROM {wq.WORKFLOW_FROM}
     WHERE e.customer_id = $1 AND e.deleted_at IS NULL AND e.status <> 'completed'
     ORDER BY e.updated_at DESC LIMIT 50) x) AS workflows,
  (SELECT coalesce(json_agg(x), '[]') FROM (
     SELECT {wq.TASK_COLUMNS} FROM workflow_tasks t JOIN workflow_executions e ON e.id = t.workflow_execution_id
     WHERE e.customer_id = $1 AND e.deleted_at IS NULL AND t.deleted_at IS NULL AND t.status = ANY($2::text[])
     ORDER BY t.due_date NULLS LAST, t.id LIMIT 100) x) AS tasks,
  (SELECT coalesce(json_agg(x), '[]') FROM (
     SELECT {wq.ACTION_COLUMNS} FROM workflow_actions a JOIN workflow_executions e ON e.id = a.workflow_execution_id
     WHERE e.customer_id = $1 AND e.deleted_at IS NULL AND a.deleted_at IS NULL
     ORDER BY a.created_at DESC, a.id LIMIT 20) x) AS actions
"""


async def bench_get_customer(ctx: Context, customer_id: UUID) -> CustomerDetail:
    """get_customer in two statements (proposal)."""
    async with user_transaction(ctx) as conn:
        row = await conn.fetchrow(CUSTOMER_AND_WAKE_SQL, customer_id)
        if row is None:
            raise NotFound(f"no customer {customer_id} (it does not exist or is not assigned to you)")
        detail = await conn.fetchrow(DETAIL_SQL, customer_id, list(wq.OPEN_TASK_STATUSES))
    return CustomerDetail(
        customer=Customer(**{k: v for k, v in row.items() if k != "woken"}),
        contacts=[Contact(**r) for r in detail["contacts"]],
        open_workflows=[wq.WorkflowSummary(**r) for r in detail["workflows"]],
        open_tasks=[wq.Task(**r) for r in detail["tasks"]],
        recent_actions=[wq.Action(**r) for r in detail["actions"]],
    )


async def bench_customer_row(ctx: Context, customer_id: UUID) -> Customer:
    """Only the customer row (one statement in the per-user transaction)."""
    async with user_transaction(ctx) as conn:
        return await fetch_customer(conn, customer_id)


# --- search_customers: driven from the caller's assignments ----------------------------------------------------

# The policy's `(SELECT is_admin()) OR id IN (SELECT assigned_customer_ids())` is an OR, so the planner cannot
# turn it into a join and walks idx_customers_name (or the trigram bitmap) over all 1M rows, filtering. Splitting
# on is_admin() lets a CSM's branch start from their ~100 assigned ids (primary-key probes); an admin's branch is
# the old query. RLS still applies to both branches unchanged: this only adds a redundant, index-friendly filter.
_CUSTOMER_FILTERS = """c.deleted_at IS NULL
    AND ($1::text IS NULL OR c.name ILIKE $1)
    AND ($2::date IS NULL OR c.renewal_date >= $2)
    AND ($3::date IS NULL OR c.renewal_date <= $3)
    AND ($4::int IS NULL OR c.risk_score >= $4)"""

# Each branch is ordered and limited on its own (to limit + offset rows), so the admin branch is exactly today's
# query and plan, and the CSM branch sorts at most their ~100 rows; the one-time filters on is_admin() make
# PostgreSQL run only one branch.
SCOPED_CUSTOMERS_SQL = """
(SELECT {cols} FROM customers c
  WHERE (SELECT public.is_admin()) AND """ + _CUSTOMER_FILTERS + """
  ORDER BY {order} LIMIT $5::bigint + $6::bigint)
UNION ALL
(SELECT {cols} FROM customers c
  WHERE NOT (SELECT public.is_admin()) AND c.id = ANY (ARRAY(SELECT public.assigned_customer_ids()))
    AND """ + _CUSTOMER_FILTERS + """
  ORDER BY {order} LIMIT $5::bigint + $6::bigint)
ORDER BY {outer_order}
LIMIT $5 OFFSET $6
"""


def scoped_customers_sql(sort: str) -> str:
    # The outer ORDER BY names output columns (no "c." qualifier outside the branches).
    return SCOPED_CUSTOMERS_SQL.format(cols=_CUSTOMER_COLUMNS, order=_SORTS[sort],
                                       outer_order=_SORTS[sort].replace("c.", ""))


async def bench_search_customers(
    ctx: Context,
    query: str | None = None,
    renewal_after: date | None = None,
    renewal_before: date | None = None,
    min_risk_score: Annotated[int | None, Field(ge=0, le=100)] = None,
    sort: Literal["name", "renewal_date", "risk_score", "arr"] = "name",
    limit: Limit = 20,
    cursor: Cursor = None,
) -> CustomerPage:
    """search_customers driven from the caller's assignments (proposal)."""
    if renewal_after and renewal_before and renewal_after > renewal_before:
        raise InvalidArgument("renewal_after must be on or before renewal_before")
    filters = {"query": query, "after": renewal_after, "before": renewal_before, "risk": min_risk_score, "sort": sort}
    offset = decode_cursor(cursor, filters)
    pattern = f"%{_escape_like(query.strip())}%" if query and query.strip() else None
    sql = scoped_customers_sql(sort)
    async with user_transaction(ctx) as conn:
        rows = await conn.fetch(sql, pattern, renewal_after, renewal_before, min_risk_score, limit + 1, offset)
    items, next_cursor = page(rows, offset, limit, filters)
    return CustomerPage(customers=[Customer(**dict(r)) for r in items], next_cursor=next_cursor)


# --- search_docs: rank a capped candidate set -------------------------------------------------------------------

DOC_CANDIDATES = 300

# The tsquery is written where the planner can see it (a subquery, not a CTE), so it estimates each term from the
# column statistics: a term in most documents is found by a short sequential scan that stops after
# DOC_CANDIDATES matches, a rare one by the GIN index. Only the candidates are ranked (ts_rank_cd reads each
# candidate's whole tsvector), and only the page gets a headline.
CAPPED_SEARCH_SQL = f"""
WITH candidates AS MATERIALIZED (
  SELECT d.id, d.slug, d.search_vector FROM public.documentation d
  WHERE d.search_vector @@ websearch_to_tsquery('english', $1) AND d.deleted_at IS NULL
  LIMIT {DOC_CANDIDATES}
),
ranked AS (
  SELECT c.id, ts_rank_cd('{docs._RANK_WEIGHTS}'::float4[], c.search_vector, websearch_to_tsquery('english', $1), 32)
           AS rank
  FROM candidates c
  ORDER BY rank DESC, c.slug
  LIMIT $2 OFFSET $3
)
SELECT d.slug, d.title, d.category, d.version, r.rank,
       ts_headline('english', left(d.content, {docs._HEADLINE_CHARS}), websearch_to_tsquery('english', $1),
                   '{docs._HEADLINE_OPTIONS}') AS snippet
FROM ranked r JOIN public.documentation d ON d.id = r.id
ORDER BY r.rank DESC, d.slug
"""


async def bench_search_docs(ctx: Context, query: Annotated[str, Field(min_length=1, max_length=200)],
                            limit: Limit = 10, cursor: Cursor = None) -> docs.DocSearchPage:
    """search_docs over at most DOC_CANDIDATES matches (proposal)."""
    filters = {"query": query}
    offset = decode_cursor(cursor, filters)
    async with user_transaction(ctx) as conn:
        rows = await conn.fetch(CAPPED_SEARCH_SQL, query, limit + 1, offset)
    items, next_cursor = page(rows, offset, limit, filters)
    return docs.DocSearchPage(query=query, hits=[docs.DocHit(**dict(r)) for r in items], next_cursor=next_cursor)


def register(server: MCPServer) -> None:
    for fn in (bench_get_customer, bench_customer_row, bench_search_customers, bench_search_docs):
        server.add_tool(fn, name=fn.__name__, structured_output=True)
