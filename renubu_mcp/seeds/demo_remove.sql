-- Removes the Renubu demo data set (seeds/demo.sql) again: `renubu-mcp db seed --demo --remove`.
--
-- Run by the schema owner in ONE transaction. Deletes exactly the rows the seed inserted, found by its fixed ids
-- (see the ID SCHEME in demo.sql) and, for the rows it made through create_release_snapshot and the feature
-- trigger, by what they hang off. Rows that cannot exist without a demo row go with it through the foreign keys
-- (a workflow someone started on a demo customer, a demo user's installs and sign-ins); rows that merely name a
-- demo user as their author keep their place with the author cleared, as for any deleted user. Everything else is
-- left alone. Idempotent: without the demo users and the marker customer there is nothing to do.

DO $remove$
DECLARE
  demo_users constant uuid[] := ARRAY[
    '00000000-0000-4000-8000-000000000001', '00000000-0000-4000-8000-000000000002',
    '00000000-0000-4000-8000-000000000003', '00000000-0000-4000-8000-000000000004']::uuid[];
  admin_id constant uuid := '00000000-0000-4000-8000-000000000001';
  demo_was_current boolean;
BEGIN
  IF to_regclass('public.customers') IS NULL THEN
    RAISE NOTICE 'no Renubu schema here: nothing to remove';
    RETURN;
  END IF;

  -- The demo's two releases are the ones its admin made under those versions. If one was current, the newest
  -- release that remains is current again, as it was before the seed made its own.
  WITH gone AS (
    DELETE FROM public.releases r WHERE r.version IN ('0.1.0', '0.2.0') AND r.created_by = admin_id
    RETURNING r.is_current)
  SELECT coalesce(bool_or(gone.is_current), false) INTO demo_was_current FROM gone;
  IF demo_was_current AND NOT EXISTS (SELECT 1 FROM public.releases WHERE is_current) THEN
    UPDATE public.releases SET is_current = true
    WHERE id = (SELECT id FROM public.releases ORDER BY release_date DESC, created_at DESC LIMIT 1);
  END IF;
  -- Help articles, documentation versions and feature history go with their documents and features.
  DELETE FROM public.help_articles h WHERE h.id::text LIKE '41000000-0000-4000-8000-%';
  DELETE FROM public.documentation d WHERE d.id::text LIKE '40000000-0000-4000-8000-%';
  DELETE FROM public.features f WHERE f.id::text LIKE '50000000-0000-4000-8000-%';
  -- Installs of the demo marketplace entries go with them.
  DELETE FROM public.mcp_integrations i WHERE i.id::text LIKE '60000000-0000-4000-8000-%';
  -- The parking lot, first: its items name workflows and tasks (which would only clear the reference).
  DELETE FROM public.parking_lot_items i WHERE i.id::text LIKE '34000000-0000-4000-8000-%';
  -- Tasks, actions, wake conditions and check-ins go with their workflows.
  DELETE FROM public.workflow_executions w WHERE w.id::text LIKE '30000000-0000-4000-8000-%';
  -- Contacts and assignments go with their customers.
  DELETE FROM public.customers c WHERE c.id::text LIKE '10000000-0000-4000-8000-%';
  -- Profiles, identities, and whatever else is a demo user's own go with the users.
  DELETE FROM auth.identities i WHERE i.user_id = ANY (demo_users) AND i.provider = 'email';
  DELETE FROM auth.users u WHERE u.id = ANY (demo_users);
END
$remove$;
