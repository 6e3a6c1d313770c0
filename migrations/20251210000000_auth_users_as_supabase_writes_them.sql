-- auth.users and auth.identities with the columns Supabase's Auth server writes, where the core migration made a
-- minimal auth.users for plain PostgreSQL: so one seed inserts users the way the Auth server does (instance_id,
-- aud, role, a confirmed email, a bcrypt password, an email identity) on Supabase and here alike, and sign-in can
-- refuse banned or deleted users. On Supabase (auth.users not ours) nothing changes. Idempotent.

DO $$
BEGIN
  IF to_regclass('auth.users') IS NOT NULL
     AND obj_description(to_regclass('auth.users'), 'pg_class') = 'renubu-mcp compat' THEN
    ALTER TABLE auth.users
      ADD COLUMN IF NOT EXISTS instance_id uuid,
      ADD COLUMN IF NOT EXISTS aud varchar(255),
      ADD COLUMN IF NOT EXISTS role varchar(255),
      ADD COLUMN IF NOT EXISTS email_confirmed_at timestamptz,
      ADD COLUMN IF NOT EXISTS raw_app_meta_data jsonb,
      ADD COLUMN IF NOT EXISTS last_sign_in_at timestamptz,
      ADD COLUMN IF NOT EXISTS banned_until timestamptz,
      ADD COLUMN IF NOT EXISTS deleted_at timestamptz,
      ADD COLUMN IF NOT EXISTS is_sso_user boolean NOT NULL DEFAULT false,
      ADD COLUMN IF NOT EXISTS is_anonymous boolean NOT NULL DEFAULT false;
  END IF;
  IF to_regclass('auth.identities') IS NULL
     AND obj_description(to_regnamespace('auth'), 'pg_namespace') = 'renubu-mcp compat' THEN
    CREATE TABLE auth.identities (
      provider_id text NOT NULL,
      user_id uuid NOT NULL REFERENCES auth.users (id) ON DELETE CASCADE,
      identity_data jsonb NOT NULL,
      provider text NOT NULL,
      last_sign_in_at timestamptz,
      created_at timestamptz,
      updated_at timestamptz,
      email text GENERATED ALWAYS AS (lower(identity_data ->> 'email')) STORED,
      id uuid NOT NULL DEFAULT gen_random_uuid() PRIMARY KEY,
      UNIQUE (provider_id, provider)
    );
    CREATE INDEX identities_user_id_idx ON auth.identities (user_id);
    -- As auth.users: only the owner reads it.
    ALTER TABLE auth.identities ENABLE ROW LEVEL SECURITY;
    COMMENT ON TABLE auth.identities IS 'renubu-mcp compat';
  END IF;
END
$$;

/* ROLLBACK
DO $$
BEGIN
  IF to_regclass('auth.identities') IS NOT NULL
     AND obj_description(to_regclass('auth.identities'), 'pg_class') = 'renubu-mcp compat' THEN
    DROP TABLE auth.identities;
  END IF;
  IF to_regclass('auth.users') IS NOT NULL
     AND obj_description(to_regclass('auth.users'), 'pg_class') = 'renubu-mcp compat' THEN
    ALTER TABLE auth.users
      DROP COLUMN IF EXISTS instance_id,
      DROP COLUMN IF EXISTS aud,
      DROP COLUMN IF EXISTS role,
      DROP COLUMN IF EXISTS email_confirmed_at,
      DROP COLUMN IF EXISTS raw_app_meta_data,
      DROP COLUMN IF EXISTS last_sign_in_at,
      DROP COLUMN IF EXISTS banned_until,
      DROP COLUMN IF EXISTS deleted_at,
      DROP COLUMN IF EXISTS is_sso_user,
      DROP COLUMN IF EXISTS is_anonymous;
  END IF;
END
$$;
*/
