-- Workflow executions: runtime instances of renewal workflows, owned by one user.

SET search_path = public, extensions;

CREATE TABLE IF NOT EXISTS public.workflow_executions (
  id uuid PRIMARY KEY DEFAULT uuid_generate_v4(),
  user_id uuid NOT NULL DEFAULT auth.uid() REFERENCES auth.users (id) ON DELETE CASCADE,
  customer_id uuid REFERENCES public.customers (id) ON DELETE SET NULL,
  workflow_type text NOT NULL CHECK (workflow_type ~ '^[a-z][a-z0-9_]{0,63}$'),
  workflow_name text CHECK (workflow_name IS NULL OR length(workflow_name) <= 200),
  status text NOT NULL DEFAULT 'not_started'
    CHECK (status IN ('not_started', 'in_progress', 'completed', 'snoozed')),
  current_slide_index integer NOT NULL DEFAULT 0 CHECK (current_slide_index >= 0),
  total_slides integer CHECK (total_slides IS NULL OR total_slides > 0),
  metadata jsonb NOT NULL DEFAULT '{}'::jsonb,
  started_at timestamptz,
  completed_at timestamptz,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  deleted_at timestamptz
);
ALTER TABLE public.workflow_executions ENABLE ROW LEVEL SECURITY;
CREATE INDEX IF NOT EXISTS idx_workflow_executions_user_id ON public.workflow_executions (user_id, status);
CREATE INDEX IF NOT EXISTS idx_workflow_executions_customer_id ON public.workflow_executions (customer_id);
CREATE OR REPLACE TRIGGER workflow_executions_updated_at
  BEFORE UPDATE ON public.workflow_executions
  FOR EACH ROW EXECUTE FUNCTION public.update_updated_at_column();

-- An execution is its owner's; admins see all. A new or moved execution must point at a
-- customer the user can see, so nobody attaches work to someone else's account.
DROP POLICY IF EXISTS "Users see own executions, admins see all" ON public.workflow_executions;
CREATE POLICY "Users see own executions, admins see all" ON public.workflow_executions
  FOR SELECT TO authenticated
  USING (user_id = (SELECT auth.uid()) OR (SELECT public.is_admin()));
DROP POLICY IF EXISTS "Users start own executions" ON public.workflow_executions;
CREATE POLICY "Users start own executions" ON public.workflow_executions
  FOR INSERT TO authenticated
  WITH CHECK (
    (user_id = (SELECT auth.uid()) OR (SELECT public.is_admin()))
    AND (customer_id IS NULL OR (SELECT public.is_admin())
         OR customer_id IN (SELECT public.assigned_customer_ids()))
  );
DROP POLICY IF EXISTS "Users update own executions, admins update all" ON public.workflow_executions;
CREATE POLICY "Users update own executions, admins update all" ON public.workflow_executions
  FOR UPDATE TO authenticated
  USING (user_id = (SELECT auth.uid()) OR (SELECT public.is_admin()))
  WITH CHECK (
    (user_id = (SELECT auth.uid()) OR (SELECT public.is_admin()))
    AND (customer_id IS NULL OR (SELECT public.is_admin())
         OR customer_id IN (SELECT public.assigned_customer_ids()))
  );
DROP POLICY IF EXISTS "Admins delete executions" ON public.workflow_executions;
CREATE POLICY "Admins delete executions" ON public.workflow_executions
  FOR DELETE TO authenticated
  USING ((SELECT public.is_admin()));

-- The ids of the current user's own executions: the set every child table's policy
-- checks against (one indexed lookup per statement, not one per row).
CREATE OR REPLACE FUNCTION public.owned_workflow_execution_ids()
RETURNS SETOF uuid LANGUAGE sql STABLE SECURITY DEFINER SET search_path = '' AS $$
  SELECT e.id FROM public.workflow_executions e
  WHERE e.user_id = (SELECT auth.uid())
$$;
REVOKE ALL ON FUNCTION public.owned_workflow_execution_ids() FROM PUBLIC, anon, authenticated, service_role;
GRANT EXECUTE ON FUNCTION public.owned_workflow_execution_ids() TO authenticated, service_role;

REVOKE ALL ON public.workflow_executions FROM anon, authenticated, service_role;  -- see the core migration
GRANT SELECT, INSERT, UPDATE, DELETE ON public.workflow_executions TO authenticated, service_role;

/* ROLLBACK
DROP FUNCTION IF EXISTS public.owned_workflow_execution_ids();
DROP TABLE IF EXISTS public.workflow_executions;
*/
