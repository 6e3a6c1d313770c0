-- Workflow actions: what was done during a workflow execution (an audit trail).

SET search_path = public, extensions;

CREATE TABLE IF NOT EXISTS public.workflow_actions (
  id uuid PRIMARY KEY DEFAULT uuid_generate_v4(),
  workflow_execution_id uuid NOT NULL REFERENCES public.workflow_executions (id) ON DELETE CASCADE,
  task_id uuid REFERENCES public.workflow_tasks (id) ON DELETE SET NULL,
  user_id uuid NOT NULL DEFAULT auth.uid() REFERENCES auth.users (id) ON DELETE CASCADE,
  action_type text NOT NULL CHECK (action_type ~ '^[a-z][a-z0-9_]{0,63}$'),
  action_data jsonb NOT NULL DEFAULT '{}'::jsonb
    CHECK (jsonb_typeof(action_data) = 'object' AND pg_column_size(action_data) <= 65536),
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  deleted_at timestamptz
);
ALTER TABLE public.workflow_actions ENABLE ROW LEVEL SECURITY;
CREATE INDEX IF NOT EXISTS idx_workflow_actions_execution_id ON public.workflow_actions (workflow_execution_id, created_at DESC);
CREATE INDEX IF NOT EXISTS idx_workflow_actions_task_id ON public.workflow_actions (task_id);
CREATE INDEX IF NOT EXISTS idx_workflow_actions_user_id ON public.workflow_actions (user_id);
CREATE OR REPLACE TRIGGER workflow_actions_updated_at
  BEFORE UPDATE ON public.workflow_actions
  FOR EACH ROW EXECUTE FUNCTION public.update_updated_at_column();

DROP POLICY IF EXISTS "Actions follow execution access" ON public.workflow_actions;
CREATE POLICY "Actions follow execution access" ON public.workflow_actions
  FOR SELECT TO authenticated
  USING (((SELECT public.is_admin()) OR workflow_execution_id IN (SELECT public.owned_workflow_execution_ids())));
-- An action is recorded by the acting user, on an execution they can access.
DROP POLICY IF EXISTS "Users record own actions" ON public.workflow_actions;
CREATE POLICY "Users record own actions" ON public.workflow_actions
  FOR INSERT TO authenticated
  WITH CHECK (user_id = (SELECT auth.uid())
              AND ((SELECT public.is_admin()) OR workflow_execution_id IN (SELECT public.owned_workflow_execution_ids()))
              AND (task_id IS NULL OR task_id IN (
                SELECT t.id FROM public.workflow_tasks t
                WHERE t.workflow_execution_id = workflow_actions.workflow_execution_id)));
DROP POLICY IF EXISTS "Users update own actions, admins update all" ON public.workflow_actions;
CREATE POLICY "Users update own actions, admins update all" ON public.workflow_actions
  FOR UPDATE TO authenticated
  USING (user_id = (SELECT auth.uid()) OR (SELECT public.is_admin()))
  WITH CHECK ((user_id = (SELECT auth.uid()) OR (SELECT public.is_admin()))
              AND ((SELECT public.is_admin()) OR workflow_execution_id IN (SELECT public.owned_workflow_execution_ids())));
DROP POLICY IF EXISTS "Admins delete actions" ON public.workflow_actions;
CREATE POLICY "Admins delete actions" ON public.workflow_actions
  FOR DELETE TO authenticated
  USING ((SELECT public.is_admin()));

REVOKE ALL ON public.workflow_actions FROM anon, authenticated, service_role;  -- see the core migration
GRANT SELECT, INSERT, UPDATE, DELETE ON public.workflow_actions TO authenticated, service_role;

/* ROLLBACK
DROP TABLE IF EXISTS public.workflow_actions;
*/
