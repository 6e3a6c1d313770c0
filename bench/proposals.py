"""Schema proposals measured by the benchmarks, applied only to throw-away copies of the benchmark databases.

    PLPGSQL_HELPERS   the RLS helpers (current_user_role, is_admin, assigned_customer_ids) as plpgsql: same
                      signatures, SECURITY DEFINER, empty search_path and results. A SQL function that cannot be
                      inlined (SECURITY DEFINER, SET search_path) re-plans its body on every call; plpgsql keeps
                      the plan for the session. Every RLS-filtered statement calls them.
    wake_early_exit   wake_due_workflows returns before its locking query and two UPDATEs when the scope has no
                      snoozed workflow (the common case for get_customer).
"""

from __future__ import annotations

import asyncpg

PLPGSQL_HELPERS = """
CREATE OR REPLACE FUNCTION public.current_user_role()
RETURNS text LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = '' AS $$
BEGIN
  RETURN (SELECT p.role FROM public.profiles p WHERE p.id = (SELECT auth.uid()) AND p.deleted_at IS NULL);
END
$$;
CREATE OR REPLACE FUNCTION public.is_admin()
RETURNS boolean LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = '' AS $$
BEGIN
  RETURN coalesce(public.current_user_role() = 'admin', false);
END
$$;
CREATE OR REPLACE FUNCTION public.assigned_customer_ids()
RETURNS SETOF uuid LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = '' AS $$
BEGIN
  RETURN QUERY SELECT a.customer_id FROM public.customer_assignments a WHERE a.user_id = (SELECT auth.uid());
END
$$;
"""

WAKE_EARLY_EXIT = """
  IF NOT EXISTS (
    SELECT 1 FROM public.workflow_executions x
    WHERE x.status = 'snoozed' AND x.deleted_at IS NULL
      AND (p_customer_id IS NULL OR x.customer_id = p_customer_id)
      AND (p_execution_id IS NULL OR x.id = p_execution_id)
  ) THEN
    RETURN;
  END IF;

  PERFORM 1 FROM public.workflow_executions x"""


async def apply_all(owner_dsn: str) -> None:
    conn = await asyncpg.connect(owner_dsn)
    try:
        await conn.execute(PLPGSQL_HELPERS)
        ddl = await conn.fetchval("SELECT pg_get_functiondef('public.wake_due_workflows(uuid, uuid)'::regprocedure)")
        marker = "  PERFORM 1 FROM public.workflow_executions x"
        assert ddl.count(marker) == 1, "wake_due_workflows changed: update bench/proposals.py"
        await conn.execute(ddl.replace(marker, WAKE_EARLY_EXIT))
    finally:
        await conn.close()
