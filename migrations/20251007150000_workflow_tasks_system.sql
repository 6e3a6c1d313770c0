-- Workflow tasks: the individual tasks of a workflow execution.

SET search_path = public, extensions;

CREATE TABLE IF NOT EXISTS public.workflow_tasks (
  id uuid PRIMARY KEY DEFAULT uuid_generate_v4(),
  workflow_execution_id uuid NOT NULL REFERENCES public.workflow_executions (id) ON DELETE CASCADE,
  title text NOT NULL CHECK (length(btrim(title)) BETWEEN 1 AND 300),
  description text CHECK (description IS NULL OR length(description) <= 20000),
  status text NOT NULL DEFAULT 'pending'
    CHECK (status IN ('pending', 'in_progress', 'snoozed', 'completed', 'skipped')),
  priority text NOT NULL DEFAULT 'medium' CHECK (priority IN ('low', 'medium', 'high', 'urgent')),
  assigned_to uuid REFERENCES auth.users (id) ON DELETE SET NULL,
  due_date timestamptz,
  snoozed_until timestamptz,
  completed_at timestamptz,
  created_by uuid DEFAULT auth.uid() REFERENCES auth.users (id) ON DELETE SET NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  deleted_at timestamptz
);
ALTER TABLE public.workflow_tasks ENABLE ROW LEVEL SECURITY;
CREATE INDEX IF NOT EXISTS idx_workflow_tasks_execution_id ON public.workflow_tasks (workflow_execution_id);
CREATE INDEX IF NOT EXISTS idx_workflow_tasks_assigned_to ON public.workflow_tasks (assigned_to);
CREATE INDEX IF NOT EXISTS idx_workflow_tasks_created_by ON public.workflow_tasks (created_by);
CREATE OR REPLACE TRIGGER workflow_tasks_updated_at
  BEFORE UPDATE ON public.workflow_tasks
  FOR EACH ROW EXECUTE FUNCTION public.update_updated_at_column();

DROP POLICY IF EXISTS "Tasks follow execution access" ON public.workflow_tasks;
CREATE POLICY "Tasks follow execution access" ON public.workflow_tasks
  FOR SELECT TO authenticated
  USING (((SELECT public.is_admin()) OR workflow_execution_id IN (SELECT public.owned_workflow_execution_ids())));
DROP POLICY IF EXISTS "Users add tasks to accessible executions" ON public.workflow_tasks;
CREATE POLICY "Users add tasks to accessible executions" ON public.workflow_tasks
  FOR INSERT TO authenticated
  WITH CHECK (((SELECT public.is_admin()) OR workflow_execution_id IN (SELECT public.owned_workflow_execution_ids())));
DROP POLICY IF EXISTS "Users update tasks of accessible executions" ON public.workflow_tasks;
CREATE POLICY "Users update tasks of accessible executions" ON public.workflow_tasks
  FOR UPDATE TO authenticated
  USING (((SELECT public.is_admin()) OR workflow_execution_id IN (SELECT public.owned_workflow_execution_ids())))
  WITH CHECK (((SELECT public.is_admin()) OR workflow_execution_id IN (SELECT public.owned_workflow_execution_ids())));
DROP POLICY IF EXISTS "Admins delete tasks" ON public.workflow_tasks;
CREATE POLICY "Admins delete tasks" ON public.workflow_tasks
  FOR DELETE TO authenticated
  USING ((SELECT public.is_admin()));

REVOKE ALL ON public.workflow_tasks FROM anon, authenticated, service_role;  -- see the core migration
GRANT SELECT, INSERT, UPDATE, DELETE ON public.workflow_tasks TO authenticated, service_role;

/* ROLLBACK
DROP TABLE IF EXISTS public.workflow_tasks;
*/
