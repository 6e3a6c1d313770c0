-- Phase 1, workflow snoozing: executions sleep until a time and/or until wake
-- conditions hold; workflow_conditions records each condition and when it was met.

SET search_path = public, extensions;

ALTER TABLE public.workflow_executions ADD COLUMN IF NOT EXISTS snoozed_until timestamptz;
ALTER TABLE public.workflow_executions ADD COLUMN IF NOT EXISTS wake_conditions jsonb NOT NULL DEFAULT '[]'::jsonb;
ALTER TABLE public.workflow_executions ADD COLUMN IF NOT EXISTS snoozed_at timestamptz;
ALTER TABLE public.workflow_executions ADD COLUMN IF NOT EXISTS woken_at timestamptz;
ALTER TABLE public.workflow_executions ADD COLUMN IF NOT EXISTS wake_reason text;
CREATE INDEX IF NOT EXISTS idx_workflow_executions_snoozed ON public.workflow_executions (snoozed_until)
  WHERE status = 'snoozed';

CREATE TABLE IF NOT EXISTS public.workflow_conditions (
  id uuid PRIMARY KEY DEFAULT uuid_generate_v4(),
  workflow_execution_id uuid NOT NULL REFERENCES public.workflow_executions (id) ON DELETE CASCADE,
  condition_type text NOT NULL CHECK (condition_type IN (
    'risk_score_at_least', 'renewal_within_days', 'task_completed', 'all_tasks_completed')),
  condition_config jsonb NOT NULL DEFAULT '{}'::jsonb CHECK (jsonb_typeof(condition_config) = 'object'),
  is_met boolean NOT NULL DEFAULT false,
  met_at timestamptz,
  last_evaluated_at timestamptz,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  deleted_at timestamptz
);
ALTER TABLE public.workflow_conditions ENABLE ROW LEVEL SECURITY;
CREATE INDEX IF NOT EXISTS idx_workflow_conditions_execution_id ON public.workflow_conditions (workflow_execution_id);
CREATE OR REPLACE TRIGGER workflow_conditions_updated_at
  BEFORE UPDATE ON public.workflow_conditions
  FOR EACH ROW EXECUTE FUNCTION public.update_updated_at_column();

DROP POLICY IF EXISTS "Conditions follow execution access" ON public.workflow_conditions;
CREATE POLICY "Conditions follow execution access" ON public.workflow_conditions
  FOR SELECT TO authenticated
  USING ((SELECT public.is_admin()) OR workflow_execution_id IN (SELECT public.owned_workflow_execution_ids()));
DROP POLICY IF EXISTS "Users add conditions to accessible executions" ON public.workflow_conditions;
CREATE POLICY "Users add conditions to accessible executions" ON public.workflow_conditions
  FOR INSERT TO authenticated
  WITH CHECK ((SELECT public.is_admin()) OR workflow_execution_id IN (SELECT public.owned_workflow_execution_ids()));
DROP POLICY IF EXISTS "Users update conditions of accessible executions" ON public.workflow_conditions;
CREATE POLICY "Users update conditions of accessible executions" ON public.workflow_conditions
  FOR UPDATE TO authenticated
  USING ((SELECT public.is_admin()) OR workflow_execution_id IN (SELECT public.owned_workflow_execution_ids()))
  WITH CHECK ((SELECT public.is_admin()) OR workflow_execution_id IN (SELECT public.owned_workflow_execution_ids()));
DROP POLICY IF EXISTS "Admins delete conditions" ON public.workflow_conditions;
CREATE POLICY "Admins delete conditions" ON public.workflow_conditions
  FOR DELETE TO authenticated USING ((SELECT public.is_admin()));

REVOKE ALL ON public.workflow_conditions FROM anon, authenticated, service_role;  -- see the core migration
GRANT SELECT, INSERT, UPDATE, DELETE ON public.workflow_conditions TO authenticated, service_role;

-- Wake snoozed executions whose time has come or any of whose wake conditions holds,
-- recording why. SECURITY INVOKER: RLS limits it to executions the caller may update,
-- and conditions read customers and tasks through the caller's own visibility. In a
-- read-only transaction it wakes nothing. Candidates are locked first, so the later
-- statements (each with a fresh snapshot) never wake a workflow that a concurrent call
-- just completed or re-snoozed. A workflow on a customer the caller no longer sees stays
-- asleep: waking it would fail the UPDATE policy and with it the caller's whole read.
CREATE OR REPLACE FUNCTION public.wake_due_workflows(p_customer_id uuid DEFAULT NULL, p_execution_id uuid DEFAULT NULL)
RETURNS TABLE (execution_id uuid, wake_reason text)
LANGUAGE plpgsql SET search_path = '' AS $$
BEGIN
  IF current_setting('transaction_read_only') = 'on' THEN
    RETURN;
  END IF;

  PERFORM 1 FROM public.workflow_executions x
  WHERE x.status = 'snoozed' AND x.deleted_at IS NULL
    AND (p_customer_id IS NULL OR x.customer_id = p_customer_id)
    AND (p_execution_id IS NULL OR x.id = p_execution_id)
  ORDER BY x.id
  FOR UPDATE;

  UPDATE public.workflow_conditions wc
  SET is_met = true, met_at = now(), last_evaluated_at = now()
  FROM public.workflow_executions e
  LEFT JOIN public.customers c ON c.id = e.customer_id
  WHERE wc.workflow_execution_id = e.id
    AND e.status = 'snoozed' AND e.deleted_at IS NULL
    AND NOT wc.is_met AND wc.deleted_at IS NULL
    AND (p_customer_id IS NULL OR e.customer_id = p_customer_id)
    AND (p_execution_id IS NULL OR e.id = p_execution_id)
    AND CASE wc.condition_type
      WHEN 'risk_score_at_least' THEN c.risk_score >= (wc.condition_config ->> 'threshold')::int
      WHEN 'renewal_within_days' THEN c.renewal_date <= current_date + (wc.condition_config ->> 'days')::int
      WHEN 'task_completed' THEN EXISTS (
        SELECT 1 FROM public.workflow_tasks t
        WHERE t.id = (wc.condition_config ->> 'task_id')::uuid AND t.workflow_execution_id = e.id
          AND t.status = 'completed' AND t.deleted_at IS NULL)
      WHEN 'all_tasks_completed' THEN NOT EXISTS (
        SELECT 1 FROM public.workflow_tasks t
        WHERE t.workflow_execution_id = e.id AND t.deleted_at IS NULL
          AND t.status NOT IN ('completed', 'skipped'))
      ELSE false
    END;

  RETURN QUERY
  UPDATE public.workflow_executions e
  SET status = 'in_progress', woken_at = now(), wake_reason = due.reason, snoozed_until = NULL
  FROM (
    SELECT x.id,
           CASE WHEN x.snoozed_until <= now()
                THEN 'snooze time reached (' || to_char(x.snoozed_until AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI') || ' UTC)'
                ELSE 'wake condition met: ' || (
                  SELECT string_agg(wc.condition_type || ' ' || wc.condition_config::text, '; ' ORDER BY wc.created_at)
                  FROM public.workflow_conditions wc
                  WHERE wc.workflow_execution_id = x.id AND wc.is_met AND wc.deleted_at IS NULL)
           END AS reason
    FROM public.workflow_executions x
    WHERE x.status = 'snoozed' AND x.deleted_at IS NULL
      AND (p_customer_id IS NULL OR x.customer_id = p_customer_id)
      AND (p_execution_id IS NULL OR x.id = p_execution_id)
      AND (x.customer_id IS NULL OR (SELECT public.is_admin())
           OR x.customer_id IN (SELECT public.assigned_customer_ids()))
      AND (x.snoozed_until <= now() OR EXISTS (
        SELECT 1 FROM public.workflow_conditions wc
        WHERE wc.workflow_execution_id = x.id AND wc.is_met AND wc.deleted_at IS NULL))
  ) AS due
  WHERE e.id = due.id AND e.status = 'snoozed'
  RETURNING e.id, e.wake_reason;
END
$$;
REVOKE ALL ON FUNCTION public.wake_due_workflows(uuid, uuid) FROM PUBLIC, anon, authenticated, service_role;
GRANT EXECUTE ON FUNCTION public.wake_due_workflows(uuid, uuid) TO authenticated, service_role;

/* ROLLBACK
DROP FUNCTION IF EXISTS public.wake_due_workflows(uuid, uuid);
DROP TABLE IF EXISTS public.workflow_conditions;
DROP INDEX IF EXISTS public.idx_workflow_executions_snoozed;
ALTER TABLE public.workflow_executions DROP COLUMN IF EXISTS wake_reason;
ALTER TABLE public.workflow_executions DROP COLUMN IF EXISTS woken_at;
ALTER TABLE public.workflow_executions DROP COLUMN IF EXISTS snoozed_at;
ALTER TABLE public.workflow_executions DROP COLUMN IF EXISTS wake_conditions;
ALTER TABLE public.workflow_executions DROP COLUMN IF EXISTS snoozed_until;
*/
