-- Phase 2 of the schema document, the parking lot (issue 14): things a CSM wants to come back to that are not (yet)
-- work in a workflow (a risk signal, an idea for an account, a follow-up someone mentioned). An item is its owner's
-- (admins see and change all); it may name a customer and a workflow it came from, and says when to revisit it.
-- Promoting it makes a new workflow on its customer or a task in one of the owner's workflows, and the item keeps
-- what it became; dismissing it ends it. Items are never hard-deleted by their owners (soft delete).
--
-- What an item may name is checked when it is named, by a trigger running as the caller: a customer, workflow or
-- task the caller cannot see (RLS decides) is refused as if it did not exist (foreign_key_violation, with the
-- column). A policy's WITH CHECK would re-check every later update too, so an owner could no longer dismiss an item
-- about an account that has since moved to a colleague; the trigger checks only references that change.

SET search_path = public, extensions;

CREATE TABLE IF NOT EXISTS public.parking_lot_items (
  id uuid PRIMARY KEY DEFAULT uuid_generate_v4(),
  user_id uuid NOT NULL DEFAULT auth.uid() REFERENCES auth.users (id) ON DELETE CASCADE,
  title text NOT NULL CHECK (length(btrim(title)) BETWEEN 1 AND 200),
  notes text CHECK (notes IS NULL OR length(notes) <= 2000),
  customer_id uuid REFERENCES public.customers (id) ON DELETE SET NULL,
  workflow_execution_id uuid REFERENCES public.workflow_executions (id) ON DELETE SET NULL,
  revisit_at timestamptz,
  status text NOT NULL DEFAULT 'parked' CHECK (status IN ('parked', 'promoted', 'dismissed')),
  promoted_workflow_id uuid REFERENCES public.workflow_executions (id) ON DELETE SET NULL,
  promoted_task_id uuid REFERENCES public.workflow_tasks (id) ON DELETE SET NULL,
  resolved_at timestamptz,
  created_by uuid DEFAULT auth.uid() REFERENCES auth.users (id) ON DELETE SET NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  deleted_at timestamptz,
  -- A parked item has no outcome; a promoted or dismissed one says when. A promoted item became one thing (the
  -- reference may later be cleared when that workflow or task is deleted).
  CONSTRAINT parking_lot_items_outcome CHECK (
    CASE status
      WHEN 'parked' THEN resolved_at IS NULL AND promoted_workflow_id IS NULL AND promoted_task_id IS NULL
      WHEN 'dismissed' THEN resolved_at IS NOT NULL AND promoted_workflow_id IS NULL AND promoted_task_id IS NULL
      ELSE resolved_at IS NOT NULL AND (promoted_workflow_id IS NULL OR promoted_task_id IS NULL)
    END)
);
ALTER TABLE public.parking_lot_items ENABLE ROW LEVEL SECURITY;
-- The owner's lot, due for revisit first (list_parked_items, my_day); user_id leads for the policies.
CREATE INDEX IF NOT EXISTS idx_parking_lot_items_user_id ON public.parking_lot_items (user_id, status, revisit_at);
CREATE INDEX IF NOT EXISTS idx_parking_lot_items_customer_id ON public.parking_lot_items (customer_id);
CREATE INDEX IF NOT EXISTS idx_parking_lot_items_workflow_execution_id
  ON public.parking_lot_items (workflow_execution_id);
CREATE INDEX IF NOT EXISTS idx_parking_lot_items_promoted_workflow_id
  ON public.parking_lot_items (promoted_workflow_id);
CREATE INDEX IF NOT EXISTS idx_parking_lot_items_promoted_task_id ON public.parking_lot_items (promoted_task_id);
CREATE INDEX IF NOT EXISTS idx_parking_lot_items_created_by ON public.parking_lot_items (created_by);
CREATE OR REPLACE TRIGGER parking_lot_items_updated_at
  BEFORE UPDATE ON public.parking_lot_items
  FOR EACH ROW EXECUTE FUNCTION public.update_updated_at_column();
-- Authorship cannot be forged (migration 20251202).
CREATE OR REPLACE TRIGGER parking_lot_items_guard_created_by
  BEFORE INSERT OR UPDATE OF created_by ON public.parking_lot_items
  FOR EACH ROW EXECUTE FUNCTION public.guard_created_by();

-- An item names only what its author can see, and its workflow is on its customer. For the request roles only:
-- the schema owner (seeds, imports) is trusted, as for created_by.
CREATE OR REPLACE FUNCTION public.guard_parking_lot_references()
RETURNS trigger LANGUAGE plpgsql SET search_path = '' AS $$
BEGIN
  IF current_user NOT IN ('anon', 'authenticated') THEN
    RETURN NEW;
  END IF;
  IF NEW.customer_id IS NOT NULL AND (TG_OP = 'INSERT' OR NEW.customer_id IS DISTINCT FROM OLD.customer_id)
     AND NOT EXISTS (SELECT 1 FROM public.customers c WHERE c.id = NEW.customer_id AND c.deleted_at IS NULL) THEN
    RAISE EXCEPTION 'customer % does not exist or is not assigned to you', NEW.customer_id
      USING ERRCODE = 'foreign_key_violation', TABLE = TG_TABLE_NAME, COLUMN = 'customer_id';
  END IF;
  IF NEW.workflow_execution_id IS NOT NULL
     AND (TG_OP = 'INSERT' OR NEW.workflow_execution_id IS DISTINCT FROM OLD.workflow_execution_id)
     AND NOT EXISTS (SELECT 1 FROM public.workflow_executions e
                     WHERE e.id = NEW.workflow_execution_id AND e.deleted_at IS NULL) THEN
    RAISE EXCEPTION 'workflow % does not exist or is not yours', NEW.workflow_execution_id
      USING ERRCODE = 'foreign_key_violation', TABLE = TG_TABLE_NAME, COLUMN = 'workflow_execution_id';
  END IF;
  IF NEW.workflow_execution_id IS NOT NULL AND NEW.customer_id IS NOT NULL
     AND (TG_OP = 'INSERT' OR NEW.workflow_execution_id IS DISTINCT FROM OLD.workflow_execution_id
          OR NEW.customer_id IS DISTINCT FROM OLD.customer_id)
     AND NOT EXISTS (SELECT 1 FROM public.workflow_executions e
                     WHERE e.id = NEW.workflow_execution_id AND e.customer_id = NEW.customer_id) THEN
    RAISE EXCEPTION 'workflow % is not on customer %', NEW.workflow_execution_id, NEW.customer_id
      USING ERRCODE = 'check_violation', TABLE = TG_TABLE_NAME, CONSTRAINT = 'parking_lot_items_workflow_customer';
  END IF;
  IF NEW.promoted_workflow_id IS NOT NULL
     AND (TG_OP = 'INSERT' OR NEW.promoted_workflow_id IS DISTINCT FROM OLD.promoted_workflow_id)
     AND NOT EXISTS (SELECT 1 FROM public.workflow_executions e
                     WHERE e.id = NEW.promoted_workflow_id AND e.deleted_at IS NULL) THEN
    RAISE EXCEPTION 'workflow % does not exist or is not yours', NEW.promoted_workflow_id
      USING ERRCODE = 'foreign_key_violation', TABLE = TG_TABLE_NAME, COLUMN = 'promoted_workflow_id';
  END IF;
  IF NEW.promoted_task_id IS NOT NULL
     AND (TG_OP = 'INSERT' OR NEW.promoted_task_id IS DISTINCT FROM OLD.promoted_task_id)
     AND NOT EXISTS (SELECT 1 FROM public.workflow_tasks t
                     WHERE t.id = NEW.promoted_task_id AND t.deleted_at IS NULL) THEN
    RAISE EXCEPTION 'task % does not exist or is not yours', NEW.promoted_task_id
      USING ERRCODE = 'foreign_key_violation', TABLE = TG_TABLE_NAME, COLUMN = 'promoted_task_id';
  END IF;
  RETURN NEW;
END
$$;
REVOKE ALL ON FUNCTION public.guard_parking_lot_references() FROM PUBLIC, anon, authenticated, service_role;
CREATE OR REPLACE TRIGGER parking_lot_items_guard_references
  BEFORE INSERT OR UPDATE OF customer_id, workflow_execution_id, promoted_workflow_id, promoted_task_id
  ON public.parking_lot_items
  FOR EACH ROW EXECUTE FUNCTION public.guard_parking_lot_references();

-- User isolation with the admin override; hard delete is for admins only (owners soft-delete).
DROP POLICY IF EXISTS "Users see own parked items, admins see all" ON public.parking_lot_items;
CREATE POLICY "Users see own parked items, admins see all" ON public.parking_lot_items
  FOR SELECT TO authenticated
  USING (user_id = (SELECT auth.uid()) OR (SELECT public.is_admin()));
DROP POLICY IF EXISTS "Users park own items, admins park for anyone" ON public.parking_lot_items;
CREATE POLICY "Users park own items, admins park for anyone" ON public.parking_lot_items
  FOR INSERT TO authenticated
  WITH CHECK (user_id = (SELECT auth.uid()) OR (SELECT public.is_admin()));
DROP POLICY IF EXISTS "Users update own parked items, admins update all" ON public.parking_lot_items;
CREATE POLICY "Users update own parked items, admins update all" ON public.parking_lot_items
  FOR UPDATE TO authenticated
  USING (user_id = (SELECT auth.uid()) OR (SELECT public.is_admin()))
  WITH CHECK (user_id = (SELECT auth.uid()) OR (SELECT public.is_admin()));
DROP POLICY IF EXISTS "Admins delete parked items" ON public.parking_lot_items;
CREATE POLICY "Admins delete parked items" ON public.parking_lot_items
  FOR DELETE TO authenticated
  USING ((SELECT public.is_admin()));

REVOKE ALL ON public.parking_lot_items FROM anon, authenticated, service_role;  -- see the core migration
GRANT SELECT, INSERT, UPDATE, DELETE ON public.parking_lot_items TO authenticated, service_role;

-- --- Reads (migration 20251204's conventions) ------------------------------------------------------------------
-- Built only on renubu_read.ts and renubu_read.people (names are joined in by the callers), so that the row
-- helpers of 20251204 can change without these.

-- The owner is named only when it is someone else (an admin's view).
CREATE OR REPLACE FUNCTION renubu_read.parked_item_row(i public.parking_lot_items, customer_name text, owner_name text)
RETURNS json LANGUAGE sql STABLE AS $$
  SELECT pg_catalog.json_strip_nulls(pg_catalog.json_build_object(
    'id', i.id,
    'owner_id', CASE WHEN i.user_id IS DISTINCT FROM (SELECT auth.uid()) THEN i.user_id END,
    'owner_name', CASE WHEN i.user_id IS DISTINCT FROM (SELECT auth.uid()) THEN owner_name END,
    'title', i.title, 'notes', i.notes, 'customer_id', i.customer_id, 'customer_name', customer_name,
    'from_workflow_id', i.workflow_execution_id, 'revisit_at', renubu_read.ts(i.revisit_at), 'status', i.status,
    'promoted_to_workflow_id', i.promoted_workflow_id, 'promoted_to_task_id', i.promoted_task_id,
    'resolved_at', renubu_read.ts(i.resolved_at), 'created_at', renubu_read.ts(i.created_at)))
$$;

-- Parked items due for revisit first (then those with no date, oldest first); promoted and dismissed ones latest
-- first.
CREATE OR REPLACE FUNCTION renubu_read.list_parked_items(p jsonb)
RETURNS text LANGUAGE plpgsql STABLE SET search_path = '' AS $$
DECLARE
  v_status text := p ->> 'status';
  v_customer uuid := (p ->> 'customer_id')::uuid;
  v_limit int := (p ->> 'limit')::int;
  v_rows json[];
BEGIN
  -- Up to limit + 1 items: the first limit are the page, one more means there are more.
  SELECT pg_catalog.array_agg(renubu_read.parked_item_row(x.i, x.customer_name, x.owner_name) ORDER BY x.ord)
  INTO v_rows FROM (
    SELECT i, c.name AS customer_name, o.full_name AS owner_name, pg_catalog.row_number() OVER (ORDER BY
             CASE WHEN v_status = 'parked' THEN i.revisit_at END NULLS LAST,
             CASE WHEN v_status = 'parked' THEN i.created_at END,
             i.resolved_at DESC, i.id) AS ord
    FROM public.parking_lot_items i LEFT JOIN public.customers c ON c.id = i.customer_id
    LEFT JOIN renubu_read.people o ON o.id = i.user_id
    WHERE i.deleted_at IS NULL AND i.status = v_status AND (v_customer IS NULL OR i.customer_id = v_customer)
    ORDER BY ord LIMIT v_limit + 1 OFFSET (p ->> 'offset')::int) x;
  RETURN pg_catalog.json_build_object(
    'items', coalesce(pg_catalog.array_to_json(v_rows[1:v_limit]), '[]'::json),
    '_more', CASE WHEN pg_catalog.cardinality(v_rows) > v_limit THEN true END)::text;
END
$$;

CREATE OR REPLACE FUNCTION renubu_read.get_parked_item(p jsonb)
RETURNS text LANGUAGE plpgsql STABLE SET search_path = '' AS $$
DECLARE
  v_id uuid := (p ->> 'item_id')::uuid;
  v_doc text;
BEGIN
  SELECT renubu_read.parked_item_row(i, c.name, o.full_name)::text INTO v_doc
  FROM public.parking_lot_items i LEFT JOIN public.customers c ON c.id = i.customer_id
  LEFT JOIN renubu_read.people o ON o.id = i.user_id
  WHERE i.id = v_id AND i.deleted_at IS NULL;
  IF v_doc IS NULL THEN
    RAISE EXCEPTION 'no parked item % (it does not exist or is not yours); see list_parked_items', v_id
      USING ERRCODE = 'no_data_found';
  END IF;
  RETURN v_doc;
END
$$;

REVOKE ALL ON FUNCTION renubu_read.parked_item_row(public.parking_lot_items, text, text),
  renubu_read.list_parked_items(jsonb), renubu_read.get_parked_item(jsonb) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION renubu_read.parked_item_row(public.parking_lot_items, text, text),
  renubu_read.list_parked_items(jsonb), renubu_read.get_parked_item(jsonb) TO authenticated, service_role;

/* ROLLBACK
DROP FUNCTION IF EXISTS renubu_read.get_parked_item(jsonb);
DROP FUNCTION IF EXISTS renubu_read.list_parked_items(jsonb);
DROP FUNCTION IF EXISTS renubu_read.parked_item_row(public.parking_lot_items, text, text);
DROP TABLE IF EXISTS public.parking_lot_items;
DROP FUNCTION IF EXISTS public.guard_parking_lot_references();
*/
