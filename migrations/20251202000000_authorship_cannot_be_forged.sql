-- Authorship cannot be forged (noticed in issue 2, fixed here).
--
-- Seven tables record who created a row in `created_by`, defaulting to auth.uid(). A default is only a default: a
-- request could name someone else as the author on INSERT, or rewrite the author later with an UPDATE, and RLS
-- cannot stop either (a WITH CHECK sees only the new row, not the old one nor whether a value was given). So a
-- trigger guards the column for the request roles (anon, authenticated), admins included: the author of a row a
-- request creates is the user making it, and nobody's request changes it afterwards.
--
-- The schema owner (migrations, seeds, imports), service_role and SECURITY DEFINER functions (which run as their
-- owner) are not request roles: they may still set the column, as seeds do. ON DELETE SET NULL runs as the table
-- owner too, so deleting a user still clears their authorship.

SET search_path = public, extensions;

CREATE OR REPLACE FUNCTION public.guard_created_by()
RETURNS trigger LANGUAGE plpgsql SET search_path = '' AS $$
BEGIN
  IF current_user NOT IN ('anon', 'authenticated') THEN
    RETURN NEW;
  END IF;
  IF TG_OP = 'INSERT' AND NEW.created_by IS DISTINCT FROM (SELECT auth.uid()) THEN
    RAISE EXCEPTION 'created_by is always the user making the request; leave it out'
      USING ERRCODE = '42501', TABLE = TG_TABLE_NAME, COLUMN = 'created_by';
  END IF;
  IF TG_OP = 'UPDATE' AND NEW.created_by IS DISTINCT FROM OLD.created_by THEN
    RAISE EXCEPTION 'created_by cannot be changed'
      USING ERRCODE = '42501', TABLE = TG_TABLE_NAME, COLUMN = 'created_by';
  END IF;
  RETURN NEW;
END
$$;
REVOKE ALL ON FUNCTION public.guard_created_by() FROM PUBLIC, anon, authenticated, service_role;

-- UPDATE OF created_by: the trigger fires only for updates that name the column, so other updates pay nothing.
DO $$
DECLARE
  t text;
BEGIN
  FOREACH t IN ARRAY ARRAY['customers', 'contacts', 'workflow_tasks', 'documentation', 'documentation_versions',
                           'releases', 'mcp_integrations'] LOOP
    EXECUTE format('CREATE OR REPLACE TRIGGER %I BEFORE INSERT OR UPDATE OF created_by ON public.%I '
                   'FOR EACH ROW EXECUTE FUNCTION public.guard_created_by()', t || '_guard_created_by', t);
  END LOOP;
END
$$;

/* ROLLBACK
DO $$
DECLARE
  t text;
BEGIN
  FOREACH t IN ARRAY ARRAY['customers', 'contacts', 'workflow_tasks', 'documentation', 'documentation_versions',
                           'releases', 'mcp_integrations'] LOOP
    EXECUTE format('DROP TRIGGER IF EXISTS %I ON public.%I', t || '_guard_created_by', t);
  END LOOP;
END
$$;
DROP FUNCTION IF EXISTS public.guard_created_by();
*/
