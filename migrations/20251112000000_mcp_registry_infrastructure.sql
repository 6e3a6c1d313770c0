-- MCP registry (Phase 0.2): the integration marketplace, users' installs, and their
-- OAuth tokens encrypted at rest with pgcrypto (AES-256, key supplied per call).

SET search_path = public, extensions;

CREATE TABLE IF NOT EXISTS public.mcp_integrations (
  id uuid PRIMARY KEY DEFAULT uuid_generate_v4(),
  slug text NOT NULL UNIQUE CHECK (slug ~ '^[a-z0-9]+(-[a-z0-9]+)*$' AND length(slug) <= 64),
  name text NOT NULL CHECK (length(btrim(name)) BETWEEN 1 AND 120),
  description text CHECK (description IS NULL OR length(description) <= 5000),
  category text NOT NULL DEFAULT 'other' CHECK (length(category) BETWEEN 1 AND 60),
  connection_type text NOT NULL CHECK (connection_type IN ('oauth2', 'api_key', 'webhook')),
  status text NOT NULL DEFAULT 'disabled' CHECK (status IN ('disabled', 'enabled', 'deprecated')),
  authorization_url text CHECK (authorization_url IS NULL OR authorization_url ~ '^https?://'),
  token_url text CHECK (token_url IS NULL OR token_url ~ '^https?://'),
  revocation_url text CHECK (revocation_url IS NULL OR revocation_url ~ '^https?://'),
  default_scopes text[] NOT NULL DEFAULT '{}',
  client_id text CHECK (client_id IS NULL OR length(client_id) <= 500),
  -- Encrypted like the tokens; never granted to the request roles (see grants below).
  client_secret_encrypted bytea,
  client_secret_key_id text,
  api_base_url text CHECK (api_base_url IS NULL OR api_base_url ~ '^https?://'),
  docs_url text,
  icon_url text,
  created_by uuid DEFAULT auth.uid() REFERENCES auth.users (id) ON DELETE SET NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  deleted_at timestamptz,
  CONSTRAINT oauth2_needs_endpoints CHECK (
    connection_type <> 'oauth2' OR (authorization_url IS NOT NULL AND token_url IS NOT NULL)
  )
);
ALTER TABLE public.mcp_integrations ENABLE ROW LEVEL SECURITY;
CREATE INDEX IF NOT EXISTS idx_mcp_integrations_status ON public.mcp_integrations (status, category);
CREATE INDEX IF NOT EXISTS idx_mcp_integrations_created_by ON public.mcp_integrations (created_by);
CREATE OR REPLACE TRIGGER mcp_integrations_updated_at
  BEFORE UPDATE ON public.mcp_integrations
  FOR EACH ROW EXECUTE FUNCTION public.update_updated_at_column();

CREATE TABLE IF NOT EXISTS public.user_integrations (
  id uuid PRIMARY KEY DEFAULT uuid_generate_v4(),
  user_id uuid NOT NULL DEFAULT auth.uid() REFERENCES auth.users (id) ON DELETE CASCADE,
  integration_id uuid NOT NULL REFERENCES public.mcp_integrations (id) ON DELETE CASCADE,
  status text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'active', 'error', 'revoked')),
  scopes text[] NOT NULL DEFAULT '{}',
  installed_at timestamptz,
  last_error text CHECK (last_error IS NULL OR length(last_error) <= 2000),
  last_used_at timestamptz,
  metadata jsonb NOT NULL DEFAULT '{}'::jsonb,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  deleted_at timestamptz,
  UNIQUE (user_id, integration_id)
);
ALTER TABLE public.user_integrations ENABLE ROW LEVEL SECURITY;
CREATE INDEX IF NOT EXISTS idx_user_integrations_integration_id ON public.user_integrations (integration_id);
CREATE INDEX IF NOT EXISTS idx_user_integrations_user_id ON public.user_integrations (user_id, status);
CREATE OR REPLACE TRIGGER user_integrations_updated_at
  BEFORE UPDATE ON public.user_integrations
  FOR EACH ROW EXECUTE FUNCTION public.update_updated_at_column();

CREATE TABLE IF NOT EXISTS public.oauth_tokens (
  id uuid PRIMARY KEY DEFAULT uuid_generate_v4(),
  user_integration_id uuid NOT NULL UNIQUE REFERENCES public.user_integrations (id) ON DELETE CASCADE,
  user_id uuid NOT NULL DEFAULT auth.uid() REFERENCES auth.users (id) ON DELETE CASCADE,
  access_token_encrypted bytea NOT NULL,
  refresh_token_encrypted bytea,
  -- Which key made these ciphertexts, so keys can be rotated row by row.
  encryption_key_id text NOT NULL CHECK (length(encryption_key_id) BETWEEN 1 AND 64),
  token_type text NOT NULL DEFAULT 'Bearer' CHECK (length(token_type) <= 40),
  scopes text[] NOT NULL DEFAULT '{}',
  expires_at timestamptz,
  refreshed_at timestamptz,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now()
);
ALTER TABLE public.oauth_tokens ENABLE ROW LEVEL SECURITY;
CREATE INDEX IF NOT EXISTS idx_oauth_tokens_user_id ON public.oauth_tokens (user_id);
CREATE INDEX IF NOT EXISTS idx_oauth_tokens_encryption_key_id ON public.oauth_tokens (encryption_key_id);
CREATE OR REPLACE TRIGGER oauth_tokens_updated_at
  BEFORE UPDATE ON public.oauth_tokens
  FOR EACH ROW EXECUTE FUNCTION public.update_updated_at_column();

-- The ids of the current user's installs (for policies on tables that hang off them).
CREATE OR REPLACE FUNCTION public.owned_user_integration_ids()
RETURNS SETOF uuid LANGUAGE sql STABLE SECURITY DEFINER SET search_path = '' AS $$
  SELECT u.id FROM public.user_integrations u WHERE u.user_id = (SELECT auth.uid())
$$;
-- The integrations the current user has installed (they stay readable once deprecated).
CREATE OR REPLACE FUNCTION public.installed_integration_ids()
RETURNS SETOF uuid LANGUAGE sql STABLE SECURITY DEFINER SET search_path = '' AS $$
  SELECT u.integration_id FROM public.user_integrations u
  WHERE u.user_id = (SELECT auth.uid()) AND u.deleted_at IS NULL
$$;
REVOKE ALL ON FUNCTION public.owned_user_integration_ids(), public.installed_integration_ids() FROM PUBLIC, anon, authenticated, service_role;
GRANT EXECUTE ON FUNCTION public.owned_user_integration_ids(), public.installed_integration_ids()
  TO authenticated, service_role;

DROP POLICY IF EXISTS "Users read enabled or installed integrations, admins read all" ON public.mcp_integrations;
CREATE POLICY "Users read enabled or installed integrations, admins read all" ON public.mcp_integrations
  FOR SELECT TO authenticated
  USING (status = 'enabled' OR (SELECT public.is_admin()) OR id IN (SELECT public.installed_integration_ids()));
DROP POLICY IF EXISTS "Admins manage integrations" ON public.mcp_integrations;
CREATE POLICY "Admins manage integrations" ON public.mcp_integrations
  FOR ALL TO authenticated
  USING ((SELECT public.is_admin())) WITH CHECK ((SELECT public.is_admin()));

DROP POLICY IF EXISTS "Users see own installs, admins see all" ON public.user_integrations;
CREATE POLICY "Users see own installs, admins see all" ON public.user_integrations
  FOR SELECT TO authenticated
  USING (user_id = (SELECT auth.uid()) OR (SELECT public.is_admin()));
-- Installing needs an enabled marketplace entry.
DROP POLICY IF EXISTS "Users install enabled integrations" ON public.user_integrations;
CREATE POLICY "Users install enabled integrations" ON public.user_integrations
  FOR INSERT TO authenticated
  WITH CHECK (user_id = (SELECT auth.uid())
              AND integration_id IN (SELECT i.id FROM public.mcp_integrations i WHERE i.status = 'enabled'));
DROP POLICY IF EXISTS "Users update own installs, admins update all" ON public.user_integrations;
CREATE POLICY "Users update own installs, admins update all" ON public.user_integrations
  FOR UPDATE TO authenticated
  USING (user_id = (SELECT auth.uid()) OR (SELECT public.is_admin()))
  WITH CHECK (user_id = (SELECT auth.uid()) OR (SELECT public.is_admin()));
DROP POLICY IF EXISTS "Users delete own installs, admins delete all" ON public.user_integrations;
CREATE POLICY "Users delete own installs, admins delete all" ON public.user_integrations
  FOR DELETE TO authenticated
  USING (user_id = (SELECT auth.uid()) OR (SELECT public.is_admin()));

-- Tokens are their user's alone: not even admins read them.
DROP POLICY IF EXISTS "Users access only own tokens" ON public.oauth_tokens;
CREATE POLICY "Users access only own tokens" ON public.oauth_tokens
  FOR ALL TO authenticated
  USING (user_id = (SELECT auth.uid()))
  WITH CHECK (user_id = (SELECT auth.uid())
              AND user_integration_id IN (SELECT public.owned_user_integration_ids()));

REVOKE ALL ON public.mcp_integrations, public.user_integrations, public.oauth_tokens
  FROM anon, authenticated, service_role;  -- see the core migration (this must precede the column grant)
GRANT INSERT, UPDATE, DELETE ON public.mcp_integrations TO authenticated;
GRANT SELECT, INSERT, DELETE ON public.user_integrations, public.oauth_tokens TO authenticated;
GRANT UPDATE ON public.oauth_tokens TO authenticated;
-- An install never moves to another integration or user (that would dodge the
-- "enabled entries only" check on INSERT): only these columns may change.
GRANT UPDATE (status, scopes, installed_at, last_error, last_used_at, metadata, updated_at, deleted_at)
  ON public.user_integrations TO authenticated;
-- The client secret column is left out of the request roles' SELECT grant.
GRANT SELECT (id, slug, name, description, category, connection_type, status, authorization_url,
              token_url, revocation_url, default_scopes, client_id, client_secret_key_id,
              api_base_url, docs_url, icon_url, created_by, created_at, updated_at, deleted_at)
  ON public.mcp_integrations TO authenticated;
GRANT SELECT, INSERT, UPDATE, DELETE ON public.mcp_integrations, public.user_integrations, public.oauth_tokens
  TO service_role;

-- Token encryption: PGP symmetric (pgp_sym_encrypt) with AES-256 and its integrity
-- check. s2k-mode=1 because the key is a random 256-bit secret, not a password: the
-- iterated default (mode 3) costs ~20x more and adds nothing for such a key. Decryption
-- insists on AES-256. The key is always the caller's bind parameter; it never lives in
-- the database. Built with the schema pgcrypto actually lives in (public on some plain
-- installs, extensions on Supabase) so the functions can keep an empty search_path.
DO $do$
DECLARE
  crypto_schema text := (
    SELECT n.nspname FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace
    WHERE e.extname = 'pgcrypto');
BEGIN
  EXECUTE format($f$
    CREATE OR REPLACE FUNCTION public.encrypt_oauth_token(p_token text, p_key text)
    RETURNS bytea LANGUAGE plpgsql VOLATILE SET search_path = '' AS $b$
    BEGIN
      IF p_key IS NULL OR p_key = '' THEN
        RAISE EXCEPTION 'token encryption key is missing' USING ERRCODE = '22023';
      END IF;
      IF p_token IS NULL THEN
        RETURN NULL;
      END IF;
      RETURN %1$I.pgp_sym_encrypt(p_token, p_key, 'cipher-algo=aes256, s2k-mode=1, compress-algo=0');
    END
    $b$ $f$, crypto_schema);
  EXECUTE format($f$
    CREATE OR REPLACE FUNCTION public.decrypt_oauth_token(p_ciphertext bytea, p_key text)
    RETURNS text LANGUAGE plpgsql STABLE SET search_path = '' AS $b$
    BEGIN
      IF p_key IS NULL OR p_key = '' THEN
        RAISE EXCEPTION 'token encryption key is missing' USING ERRCODE = '22023';
      END IF;
      IF p_ciphertext IS NULL THEN
        RETURN NULL;
      END IF;
      -- pgcrypto's expect-cipher-algo only warns on a mismatch, so read the packet header:
      -- a new-format symmetric-key session packet (0xC3), version 4, cipher 9 (AES-256).
      IF length(p_ciphertext) < 4 OR get_byte(p_ciphertext, 0) <> 195
         OR get_byte(p_ciphertext, 2) <> 4 OR get_byte(p_ciphertext, 3) <> 9 THEN
        RAISE EXCEPTION 'ciphertext is not AES-256 PGP data' USING ERRCODE = '22023';
      END IF;
      RETURN %1$I.pgp_sym_decrypt(p_ciphertext, p_key, 'expect-cipher-algo=aes256');
    END
    $b$ $f$, crypto_schema);
END
$do$;
REVOKE ALL ON FUNCTION public.encrypt_oauth_token(text, text), public.decrypt_oauth_token(bytea, text) FROM PUBLIC, anon, authenticated, service_role;
GRANT EXECUTE ON FUNCTION public.encrypt_oauth_token(text, text), public.decrypt_oauth_token(bytea, text)
  TO authenticated, service_role;

-- The client secret of an integration, decrypted, for the OAuth code exchange and
-- refresh made on behalf of a user who has installed it (or an admin). Users cannot
-- select the ciphertext column itself.
CREATE OR REPLACE FUNCTION public.integration_client_secret(p_integration_id uuid, p_key text)
RETURNS text LANGUAGE sql STABLE SECURITY DEFINER SET search_path = '' AS $$
  SELECT public.decrypt_oauth_token(i.client_secret_encrypted, p_key)
  FROM public.mcp_integrations i
  WHERE i.id = p_integration_id
    AND i.deleted_at IS NULL
    AND (public.is_admin() OR i.id IN (SELECT public.installed_integration_ids()))
$$;
REVOKE ALL ON FUNCTION public.integration_client_secret(uuid, text) FROM PUBLIC, anon, authenticated, service_role;
GRANT EXECUTE ON FUNCTION public.integration_client_secret(uuid, text) TO authenticated, service_role;

/* ROLLBACK
DROP FUNCTION IF EXISTS public.integration_client_secret(uuid, text);
DROP TABLE IF EXISTS public.oauth_tokens;
DROP TABLE IF EXISTS public.user_integrations;
DROP TABLE IF EXISTS public.mcp_integrations;
DROP FUNCTION IF EXISTS public.owned_user_integration_ids();
DROP FUNCTION IF EXISTS public.installed_integration_ids();
DROP FUNCTION IF EXISTS public.encrypt_oauth_token(text, text);
DROP FUNCTION IF EXISTS public.decrypt_oauth_token(bytea, text);
*/
