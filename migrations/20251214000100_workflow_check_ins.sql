-- Phase 3 of the schema document, human check-ins (issue 14): the owner's periodic word on how a workflow is going
-- (on track, at risk, blocked), how confident they are (1-5), what blocks it and the next step (people-written),
-- and when. Visible to the workflow's owner and admins, like everything that hangs off a workflow. The author is
-- created_by, which nobody's request can forge (migration 20251202); only the author (or an admin) edits a
-- check-in, and owners soft-delete rather than delete.

SET search_path = public, extensions;

CREATE TABLE IF NOT EXISTS public.workflow_check_ins (
  id uuid PRIMARY KEY DEFAULT uuid_generate_v4(),
  workflow_execution_id uuid NOT NULL REFERENCES public.workflow_executions (id) ON DELETE CASCADE,
  status text NOT NULL CHECK (status IN ('on_track', 'at_risk', 'blocked')),
  confidence smallint NOT NULL CHECK (confidence BETWEEN 1 AND 5),
  blockers text CHECK (blockers IS NULL OR length(blockers) <= 2000),
  next_step text CHECK (next_step IS NULL OR length(next_step) <= 2000),
  checked_in_at timestamptz NOT NULL DEFAULT now(),
  created_by uuid DEFAULT auth.uid() REFERENCES auth.users (id) ON DELETE SET NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  deleted_at timestamptz
);
ALTER TABLE public.workflow_check_ins ENABLE ROW LEVEL SECURITY;
-- A workflow's check-ins newest first (list_check_ins, my_day's "no check-in for 7 days").
CREATE INDEX IF NOT EXISTS idx_workflow_check_ins_execution_id
  ON public.workflow_check_ins (workflow_execution_id, checked_in_at DESC);
-- One user's check-ins (their cadence: user_patterns).
CREATE INDEX IF NOT EXISTS idx_workflow_check_ins_created_by ON public.workflow_check_ins (created_by, checked_in_at);
CREATE OR REPLACE TRIGGER workflow_check_ins_updated_at
  BEFORE UPDATE ON public.workflow_check_ins
  FOR EACH ROW EXECUTE FUNCTION public.update_updated_at_column();
CREATE OR REPLACE TRIGGER workflow_check_ins_guard_created_by
  BEFORE INSERT OR UPDATE OF created_by ON public.workflow_check_ins
  FOR EACH ROW EXECUTE FUNCTION public.guard_created_by();

DROP POLICY IF EXISTS "Check-ins follow execution access" ON public.workflow_check_ins;
CREATE POLICY "Check-ins follow execution access" ON public.workflow_check_ins
  FOR SELECT TO authenticated
  USING ((SELECT public.is_admin()) OR workflow_execution_id IN (SELECT public.owned_workflow_execution_ids()));
DROP POLICY IF EXISTS "Owners check in on own executions, admins on all" ON public.workflow_check_ins;
CREATE POLICY "Owners check in on own executions, admins on all" ON public.workflow_check_ins
  FOR INSERT TO authenticated
  WITH CHECK ((SELECT public.is_admin()) OR workflow_execution_id IN (SELECT public.owned_workflow_execution_ids()));
DROP POLICY IF EXISTS "Authors update own check-ins, admins update all" ON public.workflow_check_ins;
CREATE POLICY "Authors update own check-ins, admins update all" ON public.workflow_check_ins
  FOR UPDATE TO authenticated
  USING ((SELECT public.is_admin())
         OR (created_by = (SELECT auth.uid())
             AND workflow_execution_id IN (SELECT public.owned_workflow_execution_ids())))
  WITH CHECK ((SELECT public.is_admin())
              OR (created_by = (SELECT auth.uid())
                  AND workflow_execution_id IN (SELECT public.owned_workflow_execution_ids())));
DROP POLICY IF EXISTS "Admins delete check-ins" ON public.workflow_check_ins;
CREATE POLICY "Admins delete check-ins" ON public.workflow_check_ins
  FOR DELETE TO authenticated
  USING ((SELECT public.is_admin()));

REVOKE ALL ON public.workflow_check_ins FROM anon, authenticated, service_role;  -- see the core migration
GRANT SELECT, INSERT, UPDATE, DELETE ON public.workflow_check_ins TO authenticated, service_role;

-- --- Reads (migration 20251204's conventions) ------------------------------------------------------------------
-- Built only on renubu_read.ts and renubu_read.people (names are joined in by the callers).

-- The author is named only when it is someone else (an admin who checked in on a user's workflow).
CREATE OR REPLACE FUNCTION renubu_read.check_in_row(c public.workflow_check_ins, with_workflow boolean, by_name text)
RETURNS json LANGUAGE sql STABLE AS $$
  SELECT pg_catalog.json_strip_nulls(pg_catalog.json_build_object(
    'id', c.id, 'workflow_id', CASE WHEN with_workflow THEN c.workflow_execution_id END,
    'status', c.status, 'confidence', c.confidence, 'blockers', c.blockers, 'next_step', c.next_step,
    'checked_in_at', renubu_read.ts(c.checked_in_at),
    'by_id', CASE WHEN c.created_by IS DISTINCT FROM (SELECT auth.uid()) THEN c.created_by END,
    'by_name', CASE WHEN c.created_by IS DISTINCT FROM (SELECT auth.uid()) THEN by_name END))
$$;

-- Newest first; check-ins arrive while someone pages, so pages follow the last one shown (time and id).
CREATE OR REPLACE FUNCTION renubu_read.list_check_ins(p jsonb)
RETURNS text LANGUAGE plpgsql STABLE SET search_path = '' AS $$
DECLARE
  v_id uuid := (p ->> 'workflow_id')::uuid;
  v_after timestamptz := (p ->> 'after')::timestamptz;
  v_after_id uuid := (p ->> 'after_id')::uuid;
  v_limit int := (p ->> 'limit')::int;
  v_doc text;
BEGIN
  IF NOT EXISTS (SELECT 1 FROM public.workflow_executions e WHERE e.id = v_id AND e.deleted_at IS NULL) THEN
    RAISE EXCEPTION 'no workflow % (it does not exist or is not yours); find workflows with list_workflows', v_id
      USING ERRCODE = 'no_data_found';
  END IF;
  WITH page AS MATERIALIZED (
    SELECT c, b.full_name AS by_name, pg_catalog.row_number() OVER (ORDER BY c.checked_in_at DESC, c.id DESC) AS n
    FROM public.workflow_check_ins c LEFT JOIN renubu_read.people b ON b.id = c.created_by
    WHERE c.workflow_execution_id = v_id AND c.deleted_at IS NULL
      AND (v_after IS NULL OR (c.checked_in_at, c.id) < (v_after, v_after_id))
    ORDER BY c.checked_in_at DESC, c.id DESC
    LIMIT v_limit + 1
  )
  SELECT pg_catalog.json_build_object(
    'check_ins', coalesce((SELECT pg_catalog.json_agg(renubu_read.check_in_row(page.c, false, page.by_name)
                                                      ORDER BY page.n)
                           FROM page WHERE page.n <= v_limit), '[]'),
    '_next', (SELECT pg_catalog.json_build_object('u', public.utc_text((last.c).checked_in_at), 'i', (last.c).id)
              FROM page last WHERE last.n = v_limit AND EXISTS (SELECT 1 FROM page WHERE page.n > v_limit))
  )::text INTO v_doc;
  RETURN v_doc;
END
$$;

REVOKE ALL ON FUNCTION renubu_read.check_in_row(public.workflow_check_ins, boolean, text),
  renubu_read.list_check_ins(jsonb) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION renubu_read.check_in_row(public.workflow_check_ins, boolean, text),
  renubu_read.list_check_ins(jsonb) TO authenticated, service_role;

/* ROLLBACK
DROP FUNCTION IF EXISTS renubu_read.list_check_ins(jsonb);
DROP FUNCTION IF EXISTS renubu_read.check_in_row(public.workflow_check_ins, boolean, text);
DROP TABLE IF EXISTS public.workflow_check_ins;
*/
