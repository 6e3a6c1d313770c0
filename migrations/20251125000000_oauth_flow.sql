-- The OAuth2 authorization-code flow: single-use PKCE states kept server-side (so any
-- replica can take the callback), the per-integration token endpoint auth method and
-- expected issuer, and the one function that consumes a state.

SET search_path = public, extensions;

-- How the client authenticates at the provider's token endpoint (RFC 6749 2.3.1 /
-- RFC 8414 names), and the issuer the provider puts in `iss` (RFC 9207), if known.
ALTER TABLE public.mcp_integrations ADD COLUMN IF NOT EXISTS token_endpoint_auth_method text NOT NULL
  DEFAULT 'client_secret_basic'
  CHECK (token_endpoint_auth_method IN ('client_secret_basic', 'client_secret_post', 'none'));
ALTER TABLE public.mcp_integrations ADD COLUMN IF NOT EXISTS issuer text
  CHECK (issuer IS NULL OR (issuer ~ '^https?://' AND length(issuer) <= 500));
GRANT SELECT (token_endpoint_auth_method, issuer) ON public.mcp_integrations TO authenticated;

-- One row per authorization request. The raw state never reaches the database, only
-- its SHA-256; the PKCE verifier is a secret and is encrypted like the tokens.
CREATE TABLE IF NOT EXISTS public.oauth_states (
  id uuid PRIMARY KEY DEFAULT uuid_generate_v4(),
  state_hash text NOT NULL UNIQUE CHECK (state_hash ~ '^[0-9a-f]{64}$'),
  user_id uuid NOT NULL DEFAULT auth.uid() REFERENCES auth.users (id) ON DELETE CASCADE,
  -- The install binds the state to one user and one integration (an install never moves).
  user_integration_id uuid NOT NULL REFERENCES public.user_integrations (id) ON DELETE CASCADE,
  code_verifier_encrypted bytea NOT NULL,
  encryption_key_id text NOT NULL CHECK (length(encryption_key_id) BETWEEN 1 AND 64),
  redirect_uri text NOT NULL CHECK (redirect_uri ~ '^https?://' AND length(redirect_uri) <= 2000),
  requested_scopes text[] NOT NULL DEFAULT '{}',
  expires_at timestamptz NOT NULL DEFAULT now() + interval '10 minutes',
  consumed_at timestamptz,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT oauth_states_short_lived CHECK (expires_at <= created_at + interval '10 minutes')
);
ALTER TABLE public.oauth_states ENABLE ROW LEVEL SECURITY;
CREATE INDEX IF NOT EXISTS idx_oauth_states_user_id ON public.oauth_states (user_id);
CREATE INDEX IF NOT EXISTS idx_oauth_states_user_integration_id ON public.oauth_states (user_integration_id);
CREATE INDEX IF NOT EXISTS idx_oauth_states_expires_at ON public.oauth_states (expires_at);
CREATE INDEX IF NOT EXISTS idx_oauth_states_encryption_key_id ON public.oauth_states (encryption_key_id);
CREATE OR REPLACE TRIGGER oauth_states_updated_at
  BEFORE UPDATE ON public.oauth_states
  FOR EACH ROW EXECUTE FUNCTION public.update_updated_at_column();

-- A user starts and abandons their own authorizations; nobody else sees them, not even
-- admins. Consuming one goes through consume_oauth_state() only (no UPDATE grant).
DROP POLICY IF EXISTS "Users see own authorization states" ON public.oauth_states;
CREATE POLICY "Users see own authorization states" ON public.oauth_states
  FOR SELECT TO authenticated
  USING (user_id = (SELECT auth.uid()));
DROP POLICY IF EXISTS "Users start authorizations for own installs" ON public.oauth_states;
CREATE POLICY "Users start authorizations for own installs" ON public.oauth_states
  FOR INSERT TO authenticated
  WITH CHECK (user_id = (SELECT auth.uid())
              AND user_integration_id IN (SELECT public.owned_user_integration_ids()));
DROP POLICY IF EXISTS "Users delete own authorization states" ON public.oauth_states;
CREATE POLICY "Users delete own authorization states" ON public.oauth_states
  FOR DELETE TO authenticated
  USING (user_id = (SELECT auth.uid()));

-- See the core migration; service_role too, so a second run rebuilds the grants in the same order.
REVOKE ALL ON public.oauth_states FROM anon, authenticated, service_role;
GRANT SELECT, INSERT, DELETE ON public.oauth_states TO authenticated;
GRANT SELECT, INSERT, UPDATE, DELETE ON public.oauth_states TO service_role;

-- The OAuth callback arrives with no user identity: only the state names the user. The
-- serving login role calls this outside any request (like find_user); it marks the
-- state consumed and returns it once, so a replay, or a second replica racing for the
-- same callback, gets no row. An expired state is consumed too and reported as
-- expired. Old rows are swept on the way.
CREATE OR REPLACE FUNCTION public.consume_oauth_state(p_state_hash text)
RETURNS TABLE (user_id uuid, user_integration_id uuid, integration_id uuid, code_verifier_encrypted bytea,
               encryption_key_id text, redirect_uri text, requested_scopes text[], expired boolean)
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = '' AS $$
BEGIN
  DELETE FROM public.oauth_states s WHERE s.expires_at < now() - interval '1 day';
  RETURN QUERY
  UPDATE public.oauth_states s SET consumed_at = now()
  FROM public.user_integrations u
  WHERE s.state_hash = p_state_hash AND s.consumed_at IS NULL AND u.id = s.user_integration_id
  RETURNING s.user_id, s.user_integration_id, u.integration_id, s.code_verifier_encrypted,
            s.encryption_key_id, s.redirect_uri, s.requested_scopes, s.expires_at <= now();
END
$$;
REVOKE ALL ON FUNCTION public.consume_oauth_state(text) FROM PUBLIC, anon, authenticated, service_role;
GRANT EXECUTE ON FUNCTION public.consume_oauth_state(text) TO authenticator;

/* ROLLBACK
DROP FUNCTION IF EXISTS public.consume_oauth_state(text);
DROP TABLE IF EXISTS public.oauth_states;
ALTER TABLE public.mcp_integrations DROP COLUMN IF EXISTS issuer;
ALTER TABLE public.mcp_integrations DROP COLUMN IF EXISTS token_endpoint_auth_method;
*/
