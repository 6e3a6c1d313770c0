-- Workflows name their owner (noticed in issue 3: admins see everyone's workflows but could not tell whose).
--
-- The tools now return `owner_id` (workflow_executions.user_id) with every workflow, so customer_detail(), whose
-- open_workflows must match the tools' output exactly (tests/tools/test_customers.py), writes it too. Same
-- signature, result, attributes and grants as 20251201; only the owner is added.

SET search_path = public, extensions;

CREATE OR REPLACE FUNCTION public.customer_detail(p_customer_id uuid)
RETURNS TABLE (detail text, has_snoozed boolean)
LANGUAGE plpgsql STABLE SET search_path = '' SET timezone = 'UTC' AS $$
BEGIN
  RETURN QUERY
  WITH e AS MATERIALIZED (
    SELECT x.id, x.user_id, x.customer_id, x.workflow_type, x.workflow_name, x.status, x.current_slide_index,
           x.total_slides, x.snoozed_until, x.wake_conditions, x.woken_at, x.wake_reason, x.started_at,
           x.completed_at, x.updated_at
    FROM public.workflow_executions x
    WHERE x.customer_id = p_customer_id AND x.deleted_at IS NULL
  )
  SELECT pg_catalog.json_build_object(
    'customer', pg_catalog.json_build_object(
      'id', c.id, 'name', c.name, 'domain', c.domain, 'industry', c.industry, 'arr', c.arr::text,
      'renewal_date', c.renewal_date, 'risk_score', c.risk_score, 'notes', c.notes,
      'updated_at', public.utc_text(c.updated_at)),
    'contacts', coalesce((
      SELECT pg_catalog.json_agg(pg_catalog.json_build_object(
               'id', ct.id, 'customer_id', ct.customer_id, 'name', ct.name, 'email', ct.email, 'role', ct.role,
               'phone', ct.phone, 'is_primary', ct.is_primary)
             ORDER BY ct.is_primary DESC, ct.name) FROM (
        SELECT ct.id, ct.customer_id, ct.name, ct.email, ct.role, ct.phone, ct.is_primary
        FROM public.contacts ct
        WHERE ct.customer_id = c.id AND ct.deleted_at IS NULL
        ORDER BY ct.is_primary DESC, ct.name LIMIT 100) ct), '[]'),
    'open_workflows', coalesce((
      SELECT pg_catalog.json_agg(pg_catalog.json_build_object(
               'id', w.id, 'owner_id', w.user_id, 'customer_id', w.customer_id, 'customer_name', c.name,
               'workflow_type', w.workflow_type, 'workflow_name', w.workflow_name, 'status', w.status,
               'current_slide_index', w.current_slide_index,
               'total_slides', w.total_slides, 'snoozed_until', public.utc_text(w.snoozed_until),
               'wake_conditions', w.wake_conditions, 'woken_at', public.utc_text(w.woken_at),
               'wake_reason', w.wake_reason, 'started_at', public.utc_text(w.started_at),
               'completed_at', public.utc_text(w.completed_at), 'updated_at', public.utc_text(w.updated_at))
             ORDER BY w.updated_at DESC) FROM (
        SELECT e.* FROM e WHERE e.status <> 'completed'
        ORDER BY e.updated_at DESC LIMIT 50) w), '[]'),
    'open_tasks', coalesce((
      SELECT pg_catalog.json_agg(pg_catalog.json_build_object(
               'id', t.id, 'workflow_execution_id', t.workflow_execution_id, 'title', t.title,
               'description', t.description, 'status', t.status, 'priority', t.priority,
               'assigned_to', t.assigned_to, 'due_date', public.utc_text(t.due_date),
               'snoozed_until', public.utc_text(t.snoozed_until), 'completed_at', public.utc_text(t.completed_at),
               'updated_at', public.utc_text(t.updated_at))
             ORDER BY t.due_date NULLS LAST, t.id) FROM (
        SELECT t.id, t.workflow_execution_id, t.title, t.description, t.status, t.priority, t.assigned_to,
               t.due_date, t.snoozed_until, t.completed_at, t.updated_at
        FROM public.workflow_tasks t JOIN e ON e.id = t.workflow_execution_id
        WHERE t.deleted_at IS NULL AND t.status IN ('pending', 'in_progress', 'snoozed')
        ORDER BY t.due_date NULLS LAST, t.id LIMIT 100) t), '[]'),
    'recent_actions', coalesce((
      SELECT pg_catalog.json_agg(pg_catalog.json_build_object(
               'id', a.id, 'workflow_execution_id', a.workflow_execution_id, 'task_id', a.task_id,
               'user_id', a.user_id, 'action_type', a.action_type, 'action_data', a.action_data,
               'created_at', public.utc_text(a.created_at))
             ORDER BY a.created_at DESC, a.id) FROM (
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

/* ROLLBACK
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
      'renewal_date', c.renewal_date, 'risk_score', c.risk_score, 'notes', c.notes,
      'updated_at', public.utc_text(c.updated_at)),
    'contacts', coalesce((
      SELECT pg_catalog.json_agg(pg_catalog.json_build_object(
               'id', ct.id, 'customer_id', ct.customer_id, 'name', ct.name, 'email', ct.email, 'role', ct.role,
               'phone', ct.phone, 'is_primary', ct.is_primary)
             ORDER BY ct.is_primary DESC, ct.name) FROM (
        SELECT ct.id, ct.customer_id, ct.name, ct.email, ct.role, ct.phone, ct.is_primary
        FROM public.contacts ct
        WHERE ct.customer_id = c.id AND ct.deleted_at IS NULL
        ORDER BY ct.is_primary DESC, ct.name LIMIT 100) ct), '[]'),
    'open_workflows', coalesce((
      SELECT pg_catalog.json_agg(pg_catalog.json_build_object(
               'id', w.id, 'customer_id', w.customer_id, 'customer_name', c.name, 'workflow_type', w.workflow_type,
               'workflow_name', w.workflow_name, 'status', w.status, 'current_slide_index', w.current_slide_index,
               'total_slides', w.total_slides, 'snoozed_until', public.utc_text(w.snoozed_until),
               'wake_conditions', w.wake_conditions, 'woken_at', public.utc_text(w.woken_at),
               'wake_reason', w.wake_reason, 'started_at', public.utc_text(w.started_at),
               'completed_at', public.utc_text(w.completed_at), 'updated_at', public.utc_text(w.updated_at))
             ORDER BY w.updated_at DESC) FROM (
        SELECT e.* FROM e WHERE e.status <> 'completed'
        ORDER BY e.updated_at DESC LIMIT 50) w), '[]'),
    'open_tasks', coalesce((
      SELECT pg_catalog.json_agg(pg_catalog.json_build_object(
               'id', t.id, 'workflow_execution_id', t.workflow_execution_id, 'title', t.title,
               'description', t.description, 'status', t.status, 'priority', t.priority,
               'assigned_to', t.assigned_to, 'due_date', public.utc_text(t.due_date),
               'snoozed_until', public.utc_text(t.snoozed_until), 'completed_at', public.utc_text(t.completed_at),
               'updated_at', public.utc_text(t.updated_at))
             ORDER BY t.due_date NULLS LAST, t.id) FROM (
        SELECT t.id, t.workflow_execution_id, t.title, t.description, t.status, t.priority, t.assigned_to,
               t.due_date, t.snoozed_until, t.completed_at, t.updated_at
        FROM public.workflow_tasks t JOIN e ON e.id = t.workflow_execution_id
        WHERE t.deleted_at IS NULL AND t.status IN ('pending', 'in_progress', 'snoozed')
        ORDER BY t.due_date NULLS LAST, t.id LIMIT 100) t), '[]'),
    'recent_actions', coalesce((
      SELECT pg_catalog.json_agg(pg_catalog.json_build_object(
               'id', a.id, 'workflow_execution_id', a.workflow_execution_id, 'task_id', a.task_id,
               'user_id', a.user_id, 'action_type', a.action_type, 'action_data', a.action_data,
               'created_at', public.utc_text(a.created_at))
             ORDER BY a.created_at DESC, a.id) FROM (
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
*/
