-- get_customer in one round trip (issue 6).
--
-- customer_detail(id): the account as the caller sees it under RLS, in one statement, as one JSON document (the
-- shape of the get_customer tool's result: the customer, its contacts, open workflows, open tasks and 20 most
-- recent actions), and whether any of its workflows is snoozed (then the server runs wake_due_workflows in a
-- transaction and reads again). SECURITY INVOKER: every table in it is read through the caller's policies, exactly
-- as separate queries would be. Timestamps are written in UTC and ARR as a string, so that the server's models
-- read them back exactly (a JSON number would lose the numeric's scale).
--
-- customer_detail_as(role, claims, id): the same, as one statement outside any transaction block, for the login
-- role only. It does what the server's per-request transaction does (renubu_mcp/db.py): checks the role against
-- the same allow-list and sets role and claims with set_config(..., true), here at the start of the statement's
-- own implicit transaction, so nothing survives the statement. BEGIN, set_config, the read and COMMIT become one
-- round trip. The statement timeout is enforced by the server (asyncpg cancels the statement at the deadline):
-- a setting made inside a statement cannot arm that statement's own timer.

SET search_path = public, extensions;

-- The customer's executions are read once (the CTE), so their policy runs once rather than once per list.
-- Orders and limits: contacts primary first (100), open workflows newest first (50), open tasks by due date (100),
-- actions newest first (20).
CREATE OR REPLACE FUNCTION public.customer_detail(p_customer_id uuid)
RETURNS TABLE (detail text, has_snoozed boolean)
LANGUAGE plpgsql STABLE SET search_path = '' SET timezone = 'UTC' AS $$
BEGIN
  RETURN QUERY
  WITH e AS MATERIALIZED (
    SELECT x.id, x.customer_id, x.workflow_type, x.workflow_name, x.status, x.current_slide_index, x.total_slides,
           x.snoozed_until, x.wake_conditions, x.woken_at, x.wake_reason, x.started_at, x.completed_at, x.updated_at
    FROM public.workflow_executions x
    WHERE x.customer_id = p_customer_id AND x.deleted_at IS NULL
  )
  SELECT pg_catalog.json_build_object(
    'customer', pg_catalog.json_build_object(
      'id', c.id, 'name', c.name, 'domain', c.domain, 'industry', c.industry, 'arr', c.arr::text,
      'renewal_date', c.renewal_date, 'risk_score', c.risk_score, 'notes', c.notes, 'updated_at', c.updated_at),
    'contacts', coalesce((
      SELECT pg_catalog.json_agg(ct ORDER BY ct.is_primary DESC, ct.name) FROM (
        SELECT ct.id, ct.customer_id, ct.name, ct.email, ct.role, ct.phone, ct.is_primary
        FROM public.contacts ct
        WHERE ct.customer_id = c.id AND ct.deleted_at IS NULL
        ORDER BY ct.is_primary DESC, ct.name LIMIT 100) ct), '[]'),
    'open_workflows', coalesce((
      SELECT pg_catalog.json_agg(w ORDER BY w.updated_at DESC) FROM (
        SELECT e.id, e.customer_id, c.name AS customer_name, e.workflow_type, e.workflow_name, e.status,
               e.current_slide_index, e.total_slides, e.snoozed_until, e.wake_conditions, e.woken_at, e.wake_reason,
               e.started_at, e.completed_at, e.updated_at
        FROM e WHERE e.status <> 'completed'
        ORDER BY e.updated_at DESC LIMIT 50) w), '[]'),
    'open_tasks', coalesce((
      SELECT pg_catalog.json_agg(t ORDER BY t.due_date NULLS LAST, t.id) FROM (
        SELECT t.id, t.workflow_execution_id, t.title, t.description, t.status, t.priority, t.assigned_to,
               t.due_date, t.snoozed_until, t.completed_at, t.updated_at
        FROM public.workflow_tasks t JOIN e ON e.id = t.workflow_execution_id
        WHERE t.deleted_at IS NULL AND t.status IN ('pending', 'in_progress', 'snoozed')
        ORDER BY t.due_date NULLS LAST, t.id LIMIT 100) t), '[]'),
    'recent_actions', coalesce((
      SELECT pg_catalog.json_agg(a ORDER BY a.created_at DESC, a.id) FROM (
        SELECT a.id, a.workflow_execution_id, a.task_id, a.user_id, a.action_type, a.action_data, a.created_at
        FROM public.workflow_actions a JOIN e ON e.id = a.workflow_execution_id
        WHERE a.deleted_at IS NULL
        ORDER BY a.created_at DESC, a.id LIMIT 20) a), '[]')
  )::text,
  EXISTS (SELECT 1 FROM e WHERE e.status = 'snoozed')
  FROM public.customers c
  WHERE c.id = p_customer_id AND c.deleted_at IS NULL;
END
$$;
REVOKE ALL ON FUNCTION public.customer_detail(uuid) FROM PUBLIC, anon, authenticated, service_role;
GRANT EXECUTE ON FUNCTION public.customer_detail(uuid) TO authenticated, service_role;

CREATE OR REPLACE FUNCTION public.customer_detail_as(p_role text, p_claims text, p_customer_id uuid)
RETURNS TABLE (detail text, has_snoozed boolean)
LANGUAGE plpgsql SET search_path = '' AS $$
BEGIN
  IF p_role IS NULL OR p_role NOT IN ('authenticated', 'anon') THEN
    RAISE EXCEPTION 'request role % is not allowed', p_role USING ERRCODE = 'insufficient_privilege';
  END IF;
  PERFORM pg_catalog.set_config('role', p_role, true), pg_catalog.set_config('request.jwt.claims', p_claims, true);
  RETURN QUERY SELECT d.detail, d.has_snoozed FROM public.customer_detail(p_customer_id) d;
END
$$;
REVOKE ALL ON FUNCTION public.customer_detail_as(text, text, uuid) FROM PUBLIC, anon, authenticated, service_role;
GRANT EXECUTE ON FUNCTION public.customer_detail_as(text, text, uuid) TO authenticator;

/* ROLLBACK
DROP FUNCTION IF EXISTS public.customer_detail_as(text, text, uuid);
DROP FUNCTION IF EXISTS public.customer_detail(uuid);
*/
