-- Core schema: extensions, Supabase auth compatibility, roles, shared helpers,
-- profiles, customers, customer assignments and contacts.
--
-- Runs on a Supabase database (where the auth schema, its functions and the roles
-- anon/authenticated/service_role/authenticator exist and are left untouched) and on
-- plain PostgreSQL >= 14 (where a minimal, behaviour-compatible version is created).
-- Objects this file creates for compatibility carry the comment 'renubu-mcp compat' so
-- the rollback drops only what it made. Idempotent: every statement is guarded.

SET search_path = public, extensions;

CREATE SCHEMA IF NOT EXISTS extensions;
CREATE EXTENSION IF NOT EXISTS "uuid-ossp" WITH SCHEMA extensions;
CREATE EXTENSION IF NOT EXISTS pgcrypto WITH SCHEMA extensions;
CREATE EXTENSION IF NOT EXISTS pg_trgm WITH SCHEMA extensions;

-- Roles (cluster-wide; created only where missing, never dropped by the rollback).
-- authenticator is the login role the server serves through: it owns nothing, cannot
-- bypass RLS, and may only switch to anon or authenticated, exactly as PostgREST does.
DO $$
BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'anon') THEN
    CREATE ROLE anon NOLOGIN NOINHERIT;
  END IF;
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'authenticated') THEN
    CREATE ROLE authenticated NOLOGIN NOINHERIT;
  END IF;
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'service_role') THEN
    CREATE ROLE service_role NOLOGIN NOINHERIT BYPASSRLS;
  END IF;
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'authenticator') THEN
    CREATE ROLE authenticator LOGIN NOINHERIT;
  END IF;
  IF NOT pg_has_role('authenticator', 'anon', 'MEMBER') THEN
    GRANT anon TO authenticator;
  END IF;
  IF NOT pg_has_role('authenticator', 'authenticated', 'MEMBER') THEN
    GRANT authenticated TO authenticator;
  END IF;
END
$$;

GRANT USAGE ON SCHEMA extensions TO anon, authenticated, service_role;
GRANT USAGE ON SCHEMA public TO anon, authenticated, service_role;

-- Minimal auth schema (Supabase provides the real one).
DO $$
BEGIN
  IF to_regnamespace('auth') IS NULL THEN
    CREATE SCHEMA auth;
    COMMENT ON SCHEMA auth IS 'renubu-mcp compat';
  END IF;
  IF to_regclass('auth.users') IS NULL THEN
    CREATE TABLE auth.users (
      id uuid PRIMARY KEY DEFAULT uuid_generate_v4(),
      email text UNIQUE,
      encrypted_password text,
      raw_user_meta_data jsonb NOT NULL DEFAULT '{}'::jsonb,
      created_at timestamptz NOT NULL DEFAULT now(),
      updated_at timestamptz NOT NULL DEFAULT now()
    );
    -- No policies: only the owner (and service_role) reads auth.users, as on Supabase.
    ALTER TABLE auth.users ENABLE ROW LEVEL SECURITY;
    COMMENT ON TABLE auth.users IS 'renubu-mcp compat';
  END IF;
  -- Claims come from request.jwt.claims (set transaction-locally per request), falling
  -- back to the older per-claim settings, exactly like Supabase's own definitions.
  IF to_regprocedure('auth.jwt()') IS NULL THEN
    CREATE FUNCTION auth.jwt() RETURNS jsonb LANGUAGE sql STABLE AS $f$
      SELECT coalesce(
        nullif(current_setting('request.jwt.claim', true), ''),
        nullif(current_setting('request.jwt.claims', true), '')
      )::jsonb
    $f$;
    COMMENT ON FUNCTION auth.jwt() IS 'renubu-mcp compat';
  END IF;
  IF to_regprocedure('auth.uid()') IS NULL THEN
    CREATE FUNCTION auth.uid() RETURNS uuid LANGUAGE sql STABLE AS $f$
      SELECT coalesce(
        nullif(current_setting('request.jwt.claims', true), '')::jsonb ->> 'sub',
        nullif(current_setting('request.jwt.claim.sub', true), '')
      )::uuid
    $f$;
    COMMENT ON FUNCTION auth.uid() IS 'renubu-mcp compat';
  END IF;
  IF to_regprocedure('auth.role()') IS NULL THEN
    CREATE FUNCTION auth.role() RETURNS text LANGUAGE sql STABLE AS $f$
      SELECT coalesce(
        nullif(current_setting('request.jwt.claims', true), '')::jsonb ->> 'role',
        nullif(current_setting('request.jwt.claim.role', true), '')
      )::text
    $f$;
    COMMENT ON FUNCTION auth.role() IS 'renubu-mcp compat';
  END IF;
  IF to_regprocedure('auth.email()') IS NULL THEN
    CREATE FUNCTION auth.email() RETURNS text LANGUAGE sql STABLE AS $f$
      SELECT coalesce(
        nullif(current_setting('request.jwt.claims', true), '')::jsonb ->> 'email',
        nullif(current_setting('request.jwt.claim.email', true), '')
      )::text
    $f$;
    COMMENT ON FUNCTION auth.email() IS 'renubu-mcp compat';
  END IF;
END
$$;

GRANT USAGE ON SCHEMA auth TO anon, authenticated, service_role;
GRANT EXECUTE ON FUNCTION auth.uid(), auth.role(), auth.email(), auth.jwt()
  TO anon, authenticated, service_role;

-- Shared trigger: keep updated_at current.
CREATE OR REPLACE FUNCTION public.update_updated_at_column()
RETURNS trigger LANGUAGE plpgsql SET search_path = '' AS $$
BEGIN
  NEW.updated_at = now();
  RETURN NEW;
END
$$;

-- Profiles -------------------------------------------------------------------------
CREATE TABLE IF NOT EXISTS public.profiles (
  id uuid PRIMARY KEY DEFAULT uuid_generate_v4() REFERENCES auth.users (id) ON DELETE CASCADE,
  email text NOT NULL,
  full_name text,
  role text NOT NULL DEFAULT 'user' CHECK (role IN ('admin', 'pm', 'csm', 'user')),
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  deleted_at timestamptz
);
ALTER TABLE public.profiles ENABLE ROW LEVEL SECURITY;
CREATE INDEX IF NOT EXISTS idx_profiles_email ON public.profiles (lower(email));
CREATE INDEX IF NOT EXISTS idx_profiles_role ON public.profiles (role);
CREATE OR REPLACE TRIGGER profiles_updated_at
  BEFORE UPDATE ON public.profiles
  FOR EACH ROW EXECUTE FUNCTION public.update_updated_at_column();

-- Role helpers: SECURITY DEFINER so policies can read profiles without recursing
-- into profiles' own policy; empty search_path and qualified names so a caller's
-- search_path cannot redirect them. Called as (select public.is_admin()) so the
-- planner evaluates them once per statement.
CREATE OR REPLACE FUNCTION public.current_user_role()
RETURNS text LANGUAGE sql STABLE SECURITY DEFINER SET search_path = '' AS $$
  SELECT p.role FROM public.profiles p
  WHERE p.id = (SELECT auth.uid()) AND p.deleted_at IS NULL
$$;

CREATE OR REPLACE FUNCTION public.is_admin()
RETURNS boolean LANGUAGE sql STABLE SECURITY DEFINER SET search_path = '' AS $$
  SELECT coalesce(public.current_user_role() = 'admin', false)
$$;

CREATE OR REPLACE FUNCTION public.is_admin_or_pm()
RETURNS boolean LANGUAGE sql STABLE SECURITY DEFINER SET search_path = '' AS $$
  SELECT coalesce(public.current_user_role() IN ('admin', 'pm'), false)
$$;

REVOKE ALL ON FUNCTION public.current_user_role(), public.is_admin(), public.is_admin_or_pm() FROM PUBLIC, anon, authenticated, service_role;
GRANT EXECUTE ON FUNCTION public.current_user_role(), public.is_admin(), public.is_admin_or_pm()
  TO authenticated, service_role;

-- A user may edit their own profile but never their role, nor undo their deactivation: RLS cannot compare old and
-- new values, so a trigger guards the column for the request roles.
CREATE OR REPLACE FUNCTION public.guard_profile_role()
RETURNS trigger LANGUAGE plpgsql SET search_path = '' AS $$
BEGIN
  IF NEW.role IS DISTINCT FROM OLD.role
     AND current_user IN ('anon', 'authenticated')
     AND NOT public.is_admin() THEN
    RAISE EXCEPTION 'only an admin can change a role' USING ERRCODE = '42501';
  END IF;
  -- is_admin() ignores deactivated profiles, so a deactivated admin fails this too.
  IF OLD.deleted_at IS NOT NULL AND NEW.deleted_at IS NULL
     AND current_user IN ('anon', 'authenticated')
     AND NOT public.is_admin() THEN
    RAISE EXCEPTION 'only an admin can restore a profile' USING ERRCODE = '42501';
  END IF;
  RETURN NEW;
END
$$;
CREATE OR REPLACE TRIGGER profiles_guard_role
  BEFORE UPDATE ON public.profiles
  FOR EACH ROW EXECUTE FUNCTION public.guard_profile_role();

-- Every new auth user gets a profile with the default role.
CREATE OR REPLACE FUNCTION public.handle_new_user()
RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER SET search_path = '' AS $$
BEGIN
  INSERT INTO public.profiles (id, email, full_name)
  VALUES (NEW.id, coalesce(NEW.email, ''), NEW.raw_user_meta_data ->> 'full_name')
  ON CONFLICT (id) DO NOTHING;
  RETURN NEW;
END
$$;
REVOKE ALL ON FUNCTION public.handle_new_user() FROM PUBLIC, anon, authenticated, service_role;
CREATE OR REPLACE TRIGGER on_auth_user_created
  AFTER INSERT ON auth.users
  FOR EACH ROW EXECUTE FUNCTION public.handle_new_user();

DROP POLICY IF EXISTS "Users read own profile, admins read all" ON public.profiles;
CREATE POLICY "Users read own profile, admins read all" ON public.profiles
  FOR SELECT TO authenticated
  USING (id = (SELECT auth.uid()) OR (SELECT public.is_admin()));
DROP POLICY IF EXISTS "Users update own profile, admins update all" ON public.profiles;
CREATE POLICY "Users update own profile, admins update all" ON public.profiles
  FOR UPDATE TO authenticated
  USING (id = (SELECT auth.uid()) OR (SELECT public.is_admin()))
  WITH CHECK (id = (SELECT auth.uid()) OR (SELECT public.is_admin()));
DROP POLICY IF EXISTS "Admins create profiles" ON public.profiles;
CREATE POLICY "Admins create profiles" ON public.profiles
  FOR INSERT TO authenticated
  WITH CHECK ((SELECT public.is_admin()));
DROP POLICY IF EXISTS "Admins delete profiles" ON public.profiles;
CREATE POLICY "Admins delete profiles" ON public.profiles
  FOR DELETE TO authenticated
  USING ((SELECT public.is_admin()));

-- Customers ------------------------------------------------------------------------
CREATE TABLE IF NOT EXISTS public.customers (
  id uuid PRIMARY KEY DEFAULT uuid_generate_v4(),
  name text NOT NULL CHECK (length(btrim(name)) BETWEEN 1 AND 200),
  domain text CHECK (domain IS NULL OR length(domain) <= 253),
  industry text CHECK (industry IS NULL OR length(industry) <= 100),
  arr numeric(14, 2) NOT NULL DEFAULT 0 CHECK (arr >= 0),
  renewal_date date,
  risk_score integer CHECK (risk_score BETWEEN 0 AND 100),
  notes text CHECK (notes IS NULL OR length(notes) <= 20000),
  created_by uuid REFERENCES auth.users (id) ON DELETE SET NULL DEFAULT auth.uid(),
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  deleted_at timestamptz
);
ALTER TABLE public.customers ENABLE ROW LEVEL SECURITY;
CREATE INDEX IF NOT EXISTS idx_customers_name ON public.customers (name);
CREATE INDEX IF NOT EXISTS idx_customers_name_trgm ON public.customers USING gin (name gin_trgm_ops);
CREATE INDEX IF NOT EXISTS idx_customers_renewal_date ON public.customers (renewal_date);
CREATE INDEX IF NOT EXISTS idx_customers_risk_score ON public.customers (risk_score);
CREATE INDEX IF NOT EXISTS idx_customers_created_by ON public.customers (created_by);
CREATE OR REPLACE TRIGGER customers_updated_at
  BEFORE UPDATE ON public.customers
  FOR EACH ROW EXECUTE FUNCTION public.update_updated_at_column();

-- Assignment model: any number of users per customer, any number of customers per user.
CREATE TABLE IF NOT EXISTS public.customer_assignments (
  id uuid PRIMARY KEY DEFAULT uuid_generate_v4(),
  customer_id uuid NOT NULL REFERENCES public.customers (id) ON DELETE CASCADE,
  user_id uuid NOT NULL REFERENCES auth.users (id) ON DELETE CASCADE,
  assignment_role text NOT NULL DEFAULT 'owner' CHECK (assignment_role IN ('owner', 'collaborator')),
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  UNIQUE (customer_id, user_id)
);
ALTER TABLE public.customer_assignments ENABLE ROW LEVEL SECURITY;
CREATE INDEX IF NOT EXISTS idx_customer_assignments_user_id ON public.customer_assignments (user_id, customer_id);
CREATE INDEX IF NOT EXISTS idx_customer_assignments_customer_id ON public.customer_assignments (customer_id);
CREATE OR REPLACE TRIGGER customer_assignments_updated_at
  BEFORE UPDATE ON public.customer_assignments
  FOR EACH ROW EXECUTE FUNCTION public.update_updated_at_column();

-- The ids of the customers assigned to the current user. SECURITY DEFINER so every
-- customer-scoped policy shares one indexed lookup instead of chaining policies.
CREATE OR REPLACE FUNCTION public.assigned_customer_ids()
RETURNS SETOF uuid LANGUAGE sql STABLE SECURITY DEFINER SET search_path = '' AS $$
  SELECT a.customer_id FROM public.customer_assignments a
  WHERE a.user_id = (SELECT auth.uid())
$$;
REVOKE ALL ON FUNCTION public.assigned_customer_ids() FROM PUBLIC, anon, authenticated, service_role;
GRANT EXECUTE ON FUNCTION public.assigned_customer_ids() TO authenticated, service_role;

DROP POLICY IF EXISTS "Users see assigned customers, admins see all" ON public.customers;
CREATE POLICY "Users see assigned customers, admins see all" ON public.customers
  FOR SELECT TO authenticated
  USING ((SELECT public.is_admin()) OR id IN (SELECT public.assigned_customer_ids()));
DROP POLICY IF EXISTS "Users update assigned customers, admins update all" ON public.customers;
CREATE POLICY "Users update assigned customers, admins update all" ON public.customers
  FOR UPDATE TO authenticated
  USING ((SELECT public.is_admin()) OR id IN (SELECT public.assigned_customer_ids()))
  WITH CHECK ((SELECT public.is_admin()) OR id IN (SELECT public.assigned_customer_ids()));
DROP POLICY IF EXISTS "Admins create customers" ON public.customers;
CREATE POLICY "Admins create customers" ON public.customers
  FOR INSERT TO authenticated
  WITH CHECK ((SELECT public.is_admin()));
DROP POLICY IF EXISTS "Admins delete customers" ON public.customers;
CREATE POLICY "Admins delete customers" ON public.customers
  FOR DELETE TO authenticated
  USING ((SELECT public.is_admin()));

DROP POLICY IF EXISTS "Users see own assignments, admins see all" ON public.customer_assignments;
CREATE POLICY "Users see own assignments, admins see all" ON public.customer_assignments
  FOR SELECT TO authenticated
  USING (user_id = (SELECT auth.uid()) OR (SELECT public.is_admin()));
DROP POLICY IF EXISTS "Admins manage assignments" ON public.customer_assignments;
CREATE POLICY "Admins manage assignments" ON public.customer_assignments
  FOR ALL TO authenticated
  USING ((SELECT public.is_admin()))
  WITH CHECK ((SELECT public.is_admin()));

-- Contacts -------------------------------------------------------------------------
CREATE TABLE IF NOT EXISTS public.contacts (
  id uuid PRIMARY KEY DEFAULT uuid_generate_v4(),
  customer_id uuid NOT NULL REFERENCES public.customers (id) ON DELETE CASCADE,
  name text NOT NULL CHECK (length(btrim(name)) BETWEEN 1 AND 200),
  email text CHECK (email IS NULL OR (length(email) <= 320 AND email ~ '^[^@\s]+@[^@\s]+\.[^@\s]+$')),
  role text CHECK (role IS NULL OR length(role) <= 100),
  phone text CHECK (phone IS NULL OR length(phone) <= 50),
  is_primary boolean NOT NULL DEFAULT false,
  created_by uuid REFERENCES auth.users (id) ON DELETE SET NULL DEFAULT auth.uid(),
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  deleted_at timestamptz
);
ALTER TABLE public.contacts ENABLE ROW LEVEL SECURITY;
CREATE INDEX IF NOT EXISTS idx_contacts_customer_id ON public.contacts (customer_id);
CREATE INDEX IF NOT EXISTS idx_contacts_email ON public.contacts (lower(email));
CREATE INDEX IF NOT EXISTS idx_contacts_created_by ON public.contacts (created_by);
CREATE OR REPLACE TRIGGER contacts_updated_at
  BEFORE UPDATE ON public.contacts
  FOR EACH ROW EXECUTE FUNCTION public.update_updated_at_column();

DROP POLICY IF EXISTS "Contacts follow customer access" ON public.contacts;
CREATE POLICY "Contacts follow customer access" ON public.contacts
  FOR SELECT TO authenticated
  USING ((SELECT public.is_admin()) OR customer_id IN (SELECT public.assigned_customer_ids()));
DROP POLICY IF EXISTS "Users add contacts to assigned customers" ON public.contacts;
CREATE POLICY "Users add contacts to assigned customers" ON public.contacts
  FOR INSERT TO authenticated
  WITH CHECK ((SELECT public.is_admin()) OR customer_id IN (SELECT public.assigned_customer_ids()));
DROP POLICY IF EXISTS "Users update contacts of assigned customers" ON public.contacts;
CREATE POLICY "Users update contacts of assigned customers" ON public.contacts
  FOR UPDATE TO authenticated
  USING ((SELECT public.is_admin()) OR customer_id IN (SELECT public.assigned_customer_ids()))
  WITH CHECK ((SELECT public.is_admin()) OR customer_id IN (SELECT public.assigned_customer_ids()));
DROP POLICY IF EXISTS "Admins delete contacts" ON public.contacts;
CREATE POLICY "Admins delete contacts" ON public.contacts
  FOR DELETE TO authenticated
  USING ((SELECT public.is_admin()));

-- Supabase grants ALL on new tables to anon and authenticated by default (TRUNCATE
-- ignores RLS): take everything back, then grant only what the policies are written for.
REVOKE ALL ON public.profiles, public.customers, public.customer_assignments, public.contacts
  FROM anon, authenticated, service_role;
GRANT SELECT, INSERT, UPDATE, DELETE
  ON public.profiles, public.customers, public.customer_assignments, public.contacts
  TO authenticated, service_role;

-- The stdio server names its user by email (RENUBU_USER_EMAIL) or by a token's subject.
-- Only the serving login role may look a user up, and only outside a request (the
-- request roles lack the grant).
CREATE OR REPLACE FUNCTION public.find_user(p_email text DEFAULT NULL, p_id uuid DEFAULT NULL)
RETURNS TABLE (id uuid, email text) LANGUAGE sql STABLE SECURITY DEFINER SET search_path = '' AS $$
  SELECT u.id, u.email FROM auth.users u
  JOIN public.profiles p ON p.id = u.id AND p.deleted_at IS NULL
  WHERE (p_email IS NOT NULL AND lower(u.email) = lower(p_email)) OR (p_id IS NOT NULL AND u.id = p_id)
  LIMIT 1
$$;
REVOKE ALL ON FUNCTION public.find_user(text, uuid) FROM PUBLIC, anon, authenticated, service_role;
GRANT EXECUTE ON FUNCTION public.find_user(text, uuid) TO authenticator;

/* ROLLBACK
DROP FUNCTION IF EXISTS public.find_user(text, uuid);
DROP TABLE IF EXISTS public.contacts;
DROP TABLE IF EXISTS public.customer_assignments;
DROP TABLE IF EXISTS public.customers;
DROP FUNCTION IF EXISTS public.assigned_customer_ids();
DROP TRIGGER IF EXISTS on_auth_user_created ON auth.users;
DROP FUNCTION IF EXISTS public.handle_new_user();
DROP TABLE IF EXISTS public.profiles;
DROP FUNCTION IF EXISTS public.guard_profile_role();
DROP FUNCTION IF EXISTS public.is_admin_or_pm();
DROP FUNCTION IF EXISTS public.is_admin();
DROP FUNCTION IF EXISTS public.current_user_role();
DROP FUNCTION IF EXISTS public.update_updated_at_column();
DO $$
DECLARE
  fn text;
BEGIN
  FOREACH fn IN ARRAY ARRAY['auth.uid()', 'auth.role()', 'auth.email()', 'auth.jwt()'] LOOP
    IF to_regprocedure(fn) IS NOT NULL
       AND obj_description(to_regprocedure(fn), 'pg_proc') = 'renubu-mcp compat' THEN
      EXECUTE 'DROP FUNCTION ' || fn;
    END IF;
  END LOOP;
  IF to_regclass('auth.users') IS NOT NULL
     AND obj_description(to_regclass('auth.users'), 'pg_class') = 'renubu-mcp compat' THEN
    DROP TABLE auth.users;
  END IF;
  IF to_regnamespace('auth') IS NOT NULL
     AND obj_description(to_regnamespace('auth'), 'pg_namespace') = 'renubu-mcp compat' THEN
    DROP SCHEMA auth;
  END IF;
END
$$;
-- Supabase's own auth.uid(), auth.role(), auth.email() and auth.jwt() stay, and go back to what Supabase grants:
-- EXECUTE to PUBLIC. The explicit grants to the request roles above were ours; taking them back changes nothing
-- anyone can do while PUBLIC holds EXECUTE, and where it does not they are left alone.
DO $$
DECLARE
  fn text;
BEGIN
  FOREACH fn IN ARRAY ARRAY['auth.uid()', 'auth.role()', 'auth.email()', 'auth.jwt()'] LOOP
    IF to_regprocedure(fn) IS NOT NULL AND EXISTS (
         SELECT 1 FROM pg_proc p, aclexplode(coalesce(p.proacl, acldefault('f', p.proowner))) a
         WHERE p.oid = to_regprocedure(fn) AND a.grantee = 0 AND a.privilege_type = 'EXECUTE') THEN
      EXECUTE 'REVOKE EXECUTE ON FUNCTION ' || fn || ' FROM anon, authenticated, service_role';
    END IF;
  END LOOP;
END
$$;
-- Extensions this migration created go; ones that were there before (Supabase's pgcrypto and uuid-ossp, a
-- project's pg_trgm) stay. A catalog row made by the transaction that applied this migration carries the same
-- xmin as the migration's own row in supabase_migrations.schema_migrations (written in that transaction, never
-- updated), which is how the runner's history tells one from the other. Without that row (applied by hand) or
-- with other objects using an extension, it is kept.
DO $$
DECLARE
  applied xid;
  ext text;
BEGIN
  IF to_regclass('supabase_migrations.schema_migrations') IS NULL THEN
    RETURN;
  END IF;
  EXECUTE 'SELECT xmin FROM supabase_migrations.schema_migrations WHERE version = $1'
    INTO applied USING '20251001000000';
  IF applied IS NULL THEN
    RETURN;
  END IF;
  FOREACH ext IN ARRAY ARRAY['pg_trgm', 'pgcrypto', 'uuid-ossp'] LOOP
    IF EXISTS (SELECT 1 FROM pg_extension e WHERE e.extname = ext AND e.xmin = applied) THEN
      BEGIN
        EXECUTE format('DROP EXTENSION %I', ext);
      EXCEPTION WHEN dependent_objects_still_exist THEN
        RAISE NOTICE 'keeping extension %: other objects use it', ext;
      END;
    END IF;
  END LOOP;
  -- The schema row is also rewritten by the GRANT above, so only an empty one goes.
  IF EXISTS (SELECT 1 FROM pg_namespace n WHERE n.nspname = 'extensions' AND n.xmin = applied)
     AND NOT EXISTS (SELECT 1 FROM pg_depend d
                     WHERE d.refclassid = 'pg_namespace'::regclass AND d.refobjid = 'extensions'::regnamespace) THEN
    DROP SCHEMA extensions;
  END IF;
END
$$;
*/
