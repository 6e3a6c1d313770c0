"""The three measured tools as they were before issue 6, for before/after tables in one run (benchmark only).

Registered as extra tools on the benchmark server (bench/serve_http.py), with the same result models, running
through today's per-request transaction and today's schema (plpgsql RLS helpers), so the difference measured is
the tool code:

    before_get_customer      six statements in one transaction: the customer, wake_due_workflows, contacts, open
                             workflows, open tasks, recent actions (9 round trips with BEGIN, set_config, COMMIT)
    before_search_customers  one statement with RLS alone deciding (it walks the sort index across every customer
                             and filters each row by policy)
    before_search_docs       every matching document ranked (ts_rank_cd reads each match's whole tsvector)

BEFORE_SEARCH_CUSTOMERS_SQL and BEFORE_SEARCH_DOCS_SQL are also used by bench/search_scale.py.
"""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from mcp.server import MCPServer
from mcp.server.mcpserver import Context
from pydantic import Field

from renubu_mcp.context import user_transaction
from renubu_mcp.errors import NotFound
from renubu_mcp.tools import docs, workflow_queries as wq
from renubu_mcp.tools.common import Cursor, Limit
from renubu_mcp.tools.customers import (
    _CONTACT_COLUMNS, _CUSTOMER_COLUMNS, _SORTS, Contact, Customer, CustomerDetail, CustomerPage, _escape_like,
)
from renubu_mcp.tools.paging import decode_cursor, page

# --- get_customer: six statements --------------------------------------------------------------------------------

_CUSTOMER_SQL = f"SELECT {_CUSTOMER_COLUMNS} FROM customers c WHERE c.id = $1 AND c.deleted_at IS NULL"
_CONTACTS_SQL = (f"SELECT {_CONTACT_COLUMNS} FROM contacts ct WHERE ct.customer_id = $1 AND ct.deleted_at IS NULL "
                 "ORDER BY ct.is_primary DESC, ct.name LIMIT 100")
_WORKFLOWS_SQL = (f"SELECT {wq.WORKFLOW_COLUMNS} FROM {wq.WORKFLOW_FROM} "
                  "WHERE e.customer_id = $1 AND e.deleted_at IS NULL AND e.status <> 'completed' "
                  "ORDER BY e.updated_at DESC LIMIT 50")
_TASKS_SQL = f"""
SELECT {wq.TASK_COLUMNS} FROM workflow_tasks t
JOIN workflow_executions e ON e.id = t.workflow_execution_id
WHERE e.customer_id = $1 AND e.deleted_at IS NULL AND t.deleted_at IS NULL AND t.status = ANY($2::text[])
ORDER BY t.due_date NULLS LAST, t.id LIMIT 100
"""
_ACTIONS_SQL = f"""
SELECT {wq.ACTION_COLUMNS} FROM workflow_actions a
JOIN workflow_executions e ON e.id = a.workflow_execution_id
WHERE e.customer_id = $1 AND e.deleted_at IS NULL AND a.deleted_at IS NULL
ORDER BY a.created_at DESC, a.id LIMIT 20
"""


async def before_get_customer(ctx: Context, customer_id: UUID) -> CustomerDetail:
    """get_customer as it was before issue 6: six statements."""
    async with user_transaction(ctx) as conn:
        row = await conn.fetchrow(_CUSTOMER_SQL, customer_id)
        if row is None:
            raise NotFound(f"no customer {customer_id}")
        await wq.wake_due_workflows(conn, customer_id=customer_id)
        contacts = await conn.fetch(_CONTACTS_SQL, customer_id)
        workflows = await conn.fetch(_WORKFLOWS_SQL, customer_id)
        tasks = await conn.fetch(_TASKS_SQL, customer_id, list(wq.OPEN_TASK_STATUSES))
        actions = await conn.fetch(_ACTIONS_SQL, customer_id)
    return CustomerDetail(
        customer=Customer(**dict(row)),
        contacts=[Contact(**dict(r)) for r in contacts],
        open_workflows=[wq.WorkflowSummary(**dict(r)) for r in workflows],
        open_tasks=[wq.Task(**dict(r)) for r in tasks],
        recent_actions=[wq.Action(**dict(r)) for r in actions],
    )


# --- search_customers: RLS alone -----------------------------------------------------------------------------------

BEFORE_SEARCH_CUSTOMERS_SQL = f"""
SELECT {_CUSTOMER_COLUMNS} FROM customers c
WHERE c.deleted_at IS NULL
  AND ($1::text IS NULL OR c.name ILIKE $1)
  AND ($2::date IS NULL OR c.renewal_date >= $2)
  AND ($3::date IS NULL OR c.renewal_date <= $3)
  AND ($4::int IS NULL OR c.risk_score >= $4)
ORDER BY {_SORTS["name"]}
LIMIT $5 OFFSET $6
"""


async def before_search_customers(ctx: Context, query: Annotated[str, Field(max_length=200)],
                                  limit: Limit = 20, cursor: Cursor = None) -> CustomerPage:
    """search_customers by name as it was before issue 6: RLS alone."""
    filters = {"query": query, "sort": "name"}
    offset = decode_cursor(cursor, filters)
    pattern = f"%{_escape_like(query.strip())}%"
    async with user_transaction(ctx) as conn:
        rows = await conn.fetch(BEFORE_SEARCH_CUSTOMERS_SQL, pattern, None, None, None, limit + 1, offset)
    items, next_cursor = page(rows, offset, limit, filters)
    return CustomerPage(customers=[Customer(**dict(r)) for r in items], next_cursor=next_cursor)


# --- search_docs: rank every match -------------------------------------------------------------------------------

BEFORE_SEARCH_DOCS_SQL = f"""
WITH q AS (SELECT websearch_to_tsquery('english', $1) AS tsq),
ranked AS (
  SELECT d.id, ts_rank_cd('{docs._RANK_WEIGHTS}'::float4[], d.search_vector, q.tsq, 32) AS rank
  FROM public.documentation d, q
  WHERE d.search_vector @@ q.tsq AND d.deleted_at IS NULL
  ORDER BY rank DESC, d.slug
  LIMIT $2 OFFSET $3
)
SELECT d.slug, d.title, d.category, d.version, r.rank,
       ts_headline('english', left(d.content, {docs._HEADLINE_CHARS}), q.tsq, '{docs._HEADLINE_OPTIONS}') AS snippet
FROM ranked r JOIN public.documentation d ON d.id = r.id, q
ORDER BY r.rank DESC, d.slug
"""


async def before_search_docs(ctx: Context, query: Annotated[str, Field(min_length=1, max_length=200)],
                             limit: Limit = 10, cursor: Cursor = None) -> docs.DocSearchPage:
    """search_docs as it was before issue 6: every match ranked."""
    filters = {"query": query}
    offset = decode_cursor(cursor, filters)
    async with user_transaction(ctx) as conn:
        rows = await conn.fetch(BEFORE_SEARCH_DOCS_SQL, query, limit + 1, offset)
    items, next_cursor = page(rows, offset, limit, filters)
    return docs.DocSearchPage(query=query, hits=[docs.DocHit(**dict(r)) for r in items], next_cursor=next_cursor)


def register(server: MCPServer) -> None:
    for fn in (before_get_customer, before_search_customers, before_search_docs):
        server.add_tool(fn, name=fn.__name__, structured_output=True)
