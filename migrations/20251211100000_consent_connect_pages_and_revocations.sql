-- Connecting through the client, consent before data leaves, and grants revoked when replaced (issue 13):
-- an admin's switch that lets an integration's writes go out unattended; connect links that lead to an OAuth
-- authorization (the page names the user and the integration before the browser goes on to the provider);
-- the elicitation an authorization completes; and the replaced grants still to be revoked at the provider.

SET search_path = public, extensions;

-- integration_request sends a write (any method but GET) only after the user confirmed it in their client.
-- For a client that cannot ask, an admin may let one integration's writes go out unattended. Off by default.
ALTER TABLE public.mcp_integrations ADD COLUMN IF NOT EXISTS allow_unattended_writes boolean NOT NULL DEFAULT false;
GRANT SELECT (allow_unattended_writes) ON public.mcp_integrations TO authenticated;

-- A connect link may also open the page that starts an OAuth authorization (with the scopes the tool asked
-- for): the provider's own consent screen cannot say which Renubu user is connecting.
ALTER TABLE public.connect_links DROP CONSTRAINT IF EXISTS connect_links_purpose_check;
ALTER TABLE public.connect_links ADD CONSTRAINT connect_links_purpose_check
  CHECK (purpose IN ('api_key', 'webhook', 'oauth2'));
ALTER TABLE public.connect_links ADD COLUMN IF NOT EXISTS requested_scopes text[];

-- The client-side elicitation an authorization belongs to (started from a connect page), so the callback can
-- tell the client it is done. An opaque id, never a secret.
ALTER TABLE public.oauth_states ADD COLUMN IF NOT EXISTS elicitation_id text
  CHECK (elicitation_id IS NULL OR elicitation_id ~ '^[A-Za-z0-9_-]{1,64}$');

-- Tokens of a grant that a newer one replaced, until the provider confirms their revocation (RFC 7009).
-- Encrypted like the tokens, with the id of the key that made them; uninstalling revokes them too.
CREATE TABLE IF NOT EXISTS public.oauth_revocations (
  id uuid PRIMARY KEY DEFAULT uuid_generate_v4(),
  user_integration_id uuid NOT NULL REFERENCES public.user_integrations (id) ON DELETE CASCADE,
  user_id uuid NOT NULL DEFAULT auth.uid() REFERENCES auth.users (id) ON DELETE CASCADE,
  token_encrypted bytea NOT NULL,
  token_type_hint text NOT NULL CHECK (token_type_hint IN ('access_token', 'refresh_token')),
  encryption_key_id text NOT NULL CHECK (length(encryption_key_id) BETWEEN 1 AND 64),
  attempts integer NOT NULL DEFAULT 0 CHECK (attempts >= 0),
  last_error text CHECK (last_error IS NULL OR length(last_error) <= 2000),
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now()
);
ALTER TABLE public.oauth_revocations ENABLE ROW LEVEL SECURITY;
CREATE INDEX IF NOT EXISTS idx_oauth_revocations_user_id ON public.oauth_revocations (user_id);
CREATE INDEX IF NOT EXISTS idx_oauth_revocations_user_integration_id ON public.oauth_revocations (user_integration_id);
CREATE INDEX IF NOT EXISTS idx_oauth_revocations_encryption_key_id ON public.oauth_revocations (encryption_key_id);
CREATE OR REPLACE TRIGGER oauth_revocations_updated_at
  BEFORE UPDATE ON public.oauth_revocations
  FOR EACH ROW EXECUTE FUNCTION public.update_updated_at_column();

-- Like the tokens they were: their user's alone, not even an admin's.
DROP POLICY IF EXISTS "Users access only own revocations" ON public.oauth_revocations;
CREATE POLICY "Users access only own revocations" ON public.oauth_revocations
  FOR ALL TO authenticated
  USING (user_id = (SELECT auth.uid()))
  WITH CHECK (user_id = (SELECT auth.uid())
              AND user_integration_id IN (SELECT public.owned_user_integration_ids()));

-- See the core migration; service_role too, so a second run rebuilds the grants in the same order.
REVOKE ALL ON public.oauth_revocations FROM anon, authenticated, service_role;
GRANT SELECT, INSERT, UPDATE, DELETE ON public.oauth_revocations TO authenticated, service_role;

-- get_integration shows the switch when it is on (absent: off, the default).
CREATE OR REPLACE FUNCTION renubu_read.get_integration(p jsonb)
RETURNS text LANGUAGE plpgsql STABLE SET search_path = '' AS $$
DECLARE
  v_doc text;
BEGIN
  SELECT pg_catalog.json_strip_nulls(pg_catalog.json_build_object(
           'slug', i.slug, 'name', i.name, 'category', i.category, 'connection_type', i.connection_type,
           'status', i.status, 'description', i.description, 'authorization_url', i.authorization_url,
           'token_url', i.token_url, 'revocation_url', i.revocation_url, 'default_scopes', i.default_scopes,
           'client_id', i.client_id, 'has_client_secret', i.client_secret_key_id IS NOT NULL,
           'token_endpoint_auth_method', CASE WHEN i.connection_type = 'oauth2' THEN i.token_endpoint_auth_method END,
           'issuer', i.issuer, 'api_base_url', i.api_base_url,
           'api_key_header', CASE WHEN i.connection_type = 'api_key' THEN i.api_key_header END,
           'allow_unattended_writes', CASE WHEN i.allow_unattended_writes THEN true END,
           'docs_url', i.docs_url, 'icon_url', i.icon_url, 'updated_at', renubu_read.ts(i.updated_at)))::text
  INTO v_doc
  FROM public.mcp_integrations i WHERE i.slug = p ->> 'slug' AND i.deleted_at IS NULL;
  IF v_doc IS NULL THEN
    RAISE EXCEPTION 'no integration % in the marketplace; find slugs with list_integrations',
      pg_catalog.quote_literal(p ->> 'slug') USING ERRCODE = 'no_data_found';
  END IF;
  RETURN v_doc;
END
$$;
GRANT EXECUTE ON FUNCTION renubu_read.get_integration(jsonb) TO authenticated, service_role;

/* ROLLBACK
CREATE OR REPLACE FUNCTION renubu_read.get_integration(p jsonb)
RETURNS text LANGUAGE plpgsql STABLE SET search_path = '' AS $$
DECLARE
  v_doc text;
BEGIN
  SELECT pg_catalog.json_strip_nulls(pg_catalog.json_build_object(
           'slug', i.slug, 'name', i.name, 'category', i.category, 'connection_type', i.connection_type,
           'status', i.status, 'description', i.description, 'authorization_url', i.authorization_url,
           'token_url', i.token_url, 'revocation_url', i.revocation_url, 'default_scopes', i.default_scopes,
           'client_id', i.client_id, 'has_client_secret', i.client_secret_key_id IS NOT NULL,
           'token_endpoint_auth_method', CASE WHEN i.connection_type = 'oauth2' THEN i.token_endpoint_auth_method END,
           'issuer', i.issuer, 'api_base_url', i.api_base_url,
           'api_key_header', CASE WHEN i.connection_type = 'api_key' THEN i.api_key_header END,
           'docs_url', i.docs_url, 'icon_url', i.icon_url, 'updated_at', renubu_read.ts(i.updated_at)))::text
  INTO v_doc
  FROM public.mcp_integrations i WHERE i.slug = p ->> 'slug' AND i.deleted_at IS NULL;
  IF v_doc IS NULL THEN
    RAISE EXCEPTION 'no integration % in the marketplace; find slugs with list_integrations',
      pg_catalog.quote_literal(p ->> 'slug') USING ERRCODE = 'no_data_found';
  END IF;
  RETURN v_doc;
END
$$;
DROP TABLE IF EXISTS public.oauth_revocations;
ALTER TABLE public.oauth_states DROP COLUMN IF EXISTS elicitation_id;
DELETE FROM public.connect_links WHERE purpose = 'oauth2';
ALTER TABLE public.connect_links DROP COLUMN IF EXISTS requested_scopes;
ALTER TABLE public.connect_links DROP CONSTRAINT IF EXISTS connect_links_purpose_check;
ALTER TABLE public.connect_links ADD CONSTRAINT connect_links_purpose_check CHECK (purpose IN ('api_key', 'webhook'));
ALTER TABLE public.mcp_integrations DROP COLUMN IF EXISTS allow_unattended_writes;
*/
