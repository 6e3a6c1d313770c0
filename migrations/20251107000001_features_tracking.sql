-- Feature tracking (Phase 0.1): the product's feature registry and its change log.

SET search_path = public, extensions;

CREATE TABLE IF NOT EXISTS public.features (
  id uuid PRIMARY KEY DEFAULT uuid_generate_v4(),
  slug text NOT NULL UNIQUE CHECK (slug ~ '^[a-z0-9]+(-[a-z0-9]+)*$' AND length(slug) <= 120),
  title text NOT NULL CHECK (length(btrim(title)) BETWEEN 1 AND 300),
  description text CHECK (description IS NULL OR length(description) <= 20000),
  status text NOT NULL DEFAULT 'backlog'
    CHECK (status IN ('active', 'planned', 'backlog', 'deferred', 'shipped')),
  phase text CHECK (phase IS NULL OR phase ~ '^[0-9]+(\.[0-9]+)?$'),
  priority integer NOT NULL DEFAULT 3 CHECK (priority BETWEEN 1 AND 5),
  owner_id uuid REFERENCES auth.users (id) ON DELETE SET NULL,
  shipped_at timestamptz,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  deleted_at timestamptz
);
ALTER TABLE public.features ENABLE ROW LEVEL SECURITY;
CREATE INDEX IF NOT EXISTS idx_features_status ON public.features (status, priority);
CREATE INDEX IF NOT EXISTS idx_features_phase ON public.features (phase);
CREATE INDEX IF NOT EXISTS idx_features_owner_id ON public.features (owner_id);
CREATE OR REPLACE TRIGGER features_updated_at
  BEFORE UPDATE ON public.features
  FOR EACH ROW EXECUTE FUNCTION public.update_updated_at_column();

CREATE TABLE IF NOT EXISTS public.feature_updates (
  id uuid PRIMARY KEY DEFAULT uuid_generate_v4(),
  feature_id uuid NOT NULL REFERENCES public.features (id) ON DELETE CASCADE,
  update_type text NOT NULL CHECK (update_type IN ('created', 'status_change', 'phase_change', 'priority_change', 'note')),
  old_value text,
  new_value text,
  note text CHECK (note IS NULL OR length(note) <= 5000),
  changed_by uuid DEFAULT auth.uid() REFERENCES auth.users (id) ON DELETE SET NULL,
  -- clock_timestamp, not now(): entries written in one transaction keep their order.
  created_at timestamptz NOT NULL DEFAULT clock_timestamp(),
  updated_at timestamptz NOT NULL DEFAULT now()
);
ALTER TABLE public.feature_updates ENABLE ROW LEVEL SECURITY;
CREATE INDEX IF NOT EXISTS idx_feature_updates_feature_id ON public.feature_updates (feature_id, created_at DESC);
CREATE INDEX IF NOT EXISTS idx_feature_updates_changed_by ON public.feature_updates (changed_by);
CREATE OR REPLACE TRIGGER feature_updates_updated_at
  BEFORE UPDATE ON public.feature_updates
  FOR EACH ROW EXECUTE FUNCTION public.update_updated_at_column();

-- Every change of status, phase or priority lands in feature_updates, whoever makes it
-- and however: SECURITY DEFINER so the log is written even though writers of features
-- hold no INSERT right on the log beyond notes.
CREATE OR REPLACE FUNCTION public.log_feature_changes()
RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER SET search_path = '' AS $$
DECLARE
  actor uuid := auth.uid();
BEGIN
  IF TG_OP = 'INSERT' THEN
    INSERT INTO public.feature_updates (feature_id, update_type, new_value, changed_by)
    VALUES (NEW.id, 'created', NEW.status, actor);
    RETURN NEW;
  END IF;
  IF NEW.status IS DISTINCT FROM OLD.status THEN
    INSERT INTO public.feature_updates (feature_id, update_type, old_value, new_value, changed_by)
    VALUES (NEW.id, 'status_change', OLD.status, NEW.status, actor);
  END IF;
  IF NEW.phase IS DISTINCT FROM OLD.phase THEN
    INSERT INTO public.feature_updates (feature_id, update_type, old_value, new_value, changed_by)
    VALUES (NEW.id, 'phase_change', OLD.phase, NEW.phase, actor);
  END IF;
  IF NEW.priority IS DISTINCT FROM OLD.priority THEN
    INSERT INTO public.feature_updates (feature_id, update_type, old_value, new_value, changed_by)
    VALUES (NEW.id, 'priority_change', OLD.priority::text, NEW.priority::text, actor);
  END IF;
  RETURN NEW;
END
$$;
REVOKE ALL ON FUNCTION public.log_feature_changes() FROM PUBLIC, anon, authenticated, service_role;
CREATE OR REPLACE TRIGGER features_log_changes
  AFTER INSERT OR UPDATE ON public.features
  FOR EACH ROW EXECUTE FUNCTION public.log_feature_changes();

DROP POLICY IF EXISTS "Authenticated users read features" ON public.features;
CREATE POLICY "Authenticated users read features" ON public.features
  FOR SELECT TO authenticated USING (true);
DROP POLICY IF EXISTS "Admins and PMs write features" ON public.features;
DROP POLICY IF EXISTS "Admins and PMs add features" ON public.features;
CREATE POLICY "Admins and PMs add features" ON public.features
  FOR INSERT TO authenticated WITH CHECK ((SELECT public.is_admin_or_pm()));
DROP POLICY IF EXISTS "Admins and PMs change features" ON public.features;
CREATE POLICY "Admins and PMs change features" ON public.features
  FOR UPDATE TO authenticated
  USING ((SELECT public.is_admin_or_pm())) WITH CHECK ((SELECT public.is_admin_or_pm()));
-- Deleting a feature cascades to its change log, which only admins may erase.
DROP POLICY IF EXISTS "Admins delete features" ON public.features;
CREATE POLICY "Admins delete features" ON public.features
  FOR DELETE TO authenticated USING ((SELECT public.is_admin()));

DROP POLICY IF EXISTS "Authenticated users read feature updates" ON public.feature_updates;
CREATE POLICY "Authenticated users read feature updates" ON public.feature_updates
  FOR SELECT TO authenticated USING (true);
DROP POLICY IF EXISTS "Admins and PMs add notes" ON public.feature_updates;
CREATE POLICY "Admins and PMs add notes" ON public.feature_updates
  FOR INSERT TO authenticated
  WITH CHECK ((SELECT public.is_admin_or_pm()) AND update_type = 'note'
              AND changed_by = (SELECT auth.uid()));
DROP POLICY IF EXISTS "Admins correct feature updates" ON public.feature_updates;
CREATE POLICY "Admins correct feature updates" ON public.feature_updates
  FOR UPDATE TO authenticated
  USING ((SELECT public.is_admin())) WITH CHECK ((SELECT public.is_admin()));
DROP POLICY IF EXISTS "Admins delete feature updates" ON public.feature_updates;
CREATE POLICY "Admins delete feature updates" ON public.feature_updates
  FOR DELETE TO authenticated USING ((SELECT public.is_admin()));

REVOKE ALL ON public.features, public.feature_updates FROM anon, authenticated, service_role;  -- see the core migration
GRANT SELECT, INSERT, UPDATE, DELETE ON public.features, public.feature_updates TO authenticated, service_role;

/* ROLLBACK
DROP TABLE IF EXISTS public.feature_updates;
DROP TABLE IF EXISTS public.features;
DROP FUNCTION IF EXISTS public.log_feature_changes();
*/
