-- API-key and webhook integrations: single-use connect links (the page where a user pastes a key or
-- reveals a webhook signing secret), each webhook install's signing secret, and the deliveries it
-- received. Every secret is encrypted like the OAuth tokens, with the id of the key that made it.

SET search_path = public, extensions;

-- Where an API key goes on requests to the integration: `Authorization: Bearer <key>` by default, or the key
-- alone in a header the provider names (X-Api-Key and the like).
ALTER TABLE public.mcp_integrations ADD COLUMN IF NOT EXISTS api_key_header text NOT NULL DEFAULT 'Authorization'
  CHECK (api_key_header ~ '^[A-Za-z0-9-]{1,64}$'
         AND lower(api_key_header) NOT IN ('host', 'cookie', 'content-length', 'content-type', 'transfer-encoding'));
GRANT SELECT (api_key_header) ON public.mcp_integrations TO authenticated;

-- One row per connect link. As with OAuth states, only the SHA-256 of the link's token is stored; the link
-- is bound to one user's install, lasts 10 minutes and is spent by the submit that uses it.
CREATE TABLE IF NOT EXISTS public.connect_links (
  id uuid PRIMARY KEY DEFAULT uuid_generate_v4(),
  token_hash text NOT NULL UNIQUE CHECK (token_hash ~ '^[0-9a-f]{64}$'),
  user_id uuid NOT NULL DEFAULT auth.uid() REFERENCES auth.users (id) ON DELETE CASCADE,
  user_integration_id uuid NOT NULL REFERENCES public.user_integrations (id) ON DELETE CASCADE,
  purpose text NOT NULL CHECK (purpose IN ('api_key', 'webhook')),
  expires_at timestamptz NOT NULL DEFAULT now() + interval '10 minutes',
  consumed_at timestamptz,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT connect_links_short_lived CHECK (expires_at <= created_at + interval '10 minutes')
);
ALTER TABLE public.connect_links ENABLE ROW LEVEL SECURITY;
CREATE INDEX IF NOT EXISTS idx_connect_links_user_id ON public.connect_links (user_id);
CREATE INDEX IF NOT EXISTS idx_connect_links_user_integration_id ON public.connect_links (user_integration_id);
CREATE INDEX IF NOT EXISTS idx_connect_links_expires_at ON public.connect_links (expires_at);
CREATE INDEX IF NOT EXISTS idx_connect_links_consumed_at ON public.connect_links (consumed_at);
CREATE OR REPLACE TRIGGER connect_links_updated_at
  BEFORE UPDATE ON public.connect_links
  FOR EACH ROW EXECUTE FUNCTION public.update_updated_at_column();

-- A user's links are theirs alone (not even admins see them). Spending one is the only update: an unspent,
-- unexpired link becomes spent, in the same transaction that stores what the page submitted.
DROP POLICY IF EXISTS "Users see own connect links" ON public.connect_links;
CREATE POLICY "Users see own connect links" ON public.connect_links
  FOR SELECT TO authenticated
  USING (user_id = (SELECT auth.uid()));
DROP POLICY IF EXISTS "Users create connect links for own installs" ON public.connect_links;
CREATE POLICY "Users create connect links for own installs" ON public.connect_links
  FOR INSERT TO authenticated
  WITH CHECK (user_id = (SELECT auth.uid())
              AND user_integration_id IN (SELECT public.owned_user_integration_ids()));
DROP POLICY IF EXISTS "Users spend own connect links once" ON public.connect_links;
CREATE POLICY "Users spend own connect links once" ON public.connect_links
  FOR UPDATE TO authenticated
  USING (user_id = (SELECT auth.uid()) AND consumed_at IS NULL AND expires_at > now())
  WITH CHECK (user_id = (SELECT auth.uid()) AND consumed_at IS NOT NULL);
DROP POLICY IF EXISTS "Users delete own connect links" ON public.connect_links;
CREATE POLICY "Users delete own connect links" ON public.connect_links
  FOR DELETE TO authenticated
  USING (user_id = (SELECT auth.uid()));

-- The signing secret of a webhook install: the install's own, its user's alone.
CREATE TABLE IF NOT EXISTS public.webhook_endpoints (
  id uuid PRIMARY KEY DEFAULT uuid_generate_v4(),
  user_integration_id uuid NOT NULL UNIQUE REFERENCES public.user_integrations (id) ON DELETE CASCADE,
  user_id uuid NOT NULL DEFAULT auth.uid() REFERENCES auth.users (id) ON DELETE CASCADE,
  signing_secret_encrypted bytea NOT NULL,
  encryption_key_id text NOT NULL CHECK (length(encryption_key_id) BETWEEN 1 AND 64),
  -- The last characters of the secret, to tell which one a sender holds; never more.
  secret_hint text NOT NULL CHECK (length(secret_hint) BETWEEN 1 AND 8),
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now()
);
ALTER TABLE public.webhook_endpoints ENABLE ROW LEVEL SECURITY;
CREATE INDEX IF NOT EXISTS idx_webhook_endpoints_user_id ON public.webhook_endpoints (user_id);
CREATE INDEX IF NOT EXISTS idx_webhook_endpoints_encryption_key_id ON public.webhook_endpoints (encryption_key_id);
CREATE OR REPLACE TRIGGER webhook_endpoints_updated_at
  BEFORE UPDATE ON public.webhook_endpoints
  FOR EACH ROW EXECUTE FUNCTION public.update_updated_at_column();

DROP POLICY IF EXISTS "Users access only own webhook secrets" ON public.webhook_endpoints;
CREATE POLICY "Users access only own webhook secrets" ON public.webhook_endpoints
  FOR ALL TO authenticated
  USING (user_id = (SELECT auth.uid()))
  WITH CHECK (user_id = (SELECT auth.uid())
              AND user_integration_id IN (SELECT public.owned_user_integration_ids()));

-- Verified deliveries. The signature's SHA-256 is unique per install, so a replayed delivery is refused.
CREATE TABLE IF NOT EXISTS public.integration_events (
  id uuid PRIMARY KEY DEFAULT uuid_generate_v4(),
  user_integration_id uuid NOT NULL REFERENCES public.user_integrations (id) ON DELETE CASCADE,
  user_id uuid NOT NULL DEFAULT auth.uid() REFERENCES auth.users (id) ON DELETE CASCADE,
  received_at timestamptz NOT NULL DEFAULT now(),
  sent_at timestamptz NOT NULL,
  event_type text CHECK (event_type IS NULL OR length(event_type) <= 200),
  payload jsonb NOT NULL,
  signature_hash text NOT NULL CHECK (signature_hash ~ '^[0-9a-f]{64}$'),
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT integration_events_no_replay UNIQUE (user_integration_id, signature_hash)
);
ALTER TABLE public.integration_events ENABLE ROW LEVEL SECURITY;
CREATE INDEX IF NOT EXISTS idx_integration_events_user_id ON public.integration_events (user_id);
CREATE INDEX IF NOT EXISTS idx_integration_events_install_received
  ON public.integration_events (user_integration_id, received_at DESC, id DESC);
CREATE OR REPLACE TRIGGER integration_events_updated_at
  BEFORE UPDATE ON public.integration_events
  FOR EACH ROW EXECUTE FUNCTION public.update_updated_at_column();

-- The install's user records deliveries (the webhook route acts as them once the signature verifies) and
-- reads them; admins read every install's events, as they see every install. Events are never edited.
DROP POLICY IF EXISTS "Users see own events, admins see all" ON public.integration_events;
CREATE POLICY "Users see own events, admins see all" ON public.integration_events
  FOR SELECT TO authenticated
  USING (user_id = (SELECT auth.uid()) OR (SELECT public.is_admin()));
DROP POLICY IF EXISTS "Deliveries are recorded for their install's user" ON public.integration_events;
CREATE POLICY "Deliveries are recorded for their install's user" ON public.integration_events
  FOR INSERT TO authenticated
  WITH CHECK (user_id = (SELECT auth.uid())
              AND user_integration_id IN (SELECT public.owned_user_integration_ids()));
DROP POLICY IF EXISTS "Users delete own events, admins delete all" ON public.integration_events;
CREATE POLICY "Users delete own events, admins delete all" ON public.integration_events
  FOR DELETE TO authenticated
  USING (user_id = (SELECT auth.uid()) OR (SELECT public.is_admin()));

-- See the core migration; service_role too, so a second run rebuilds the grants in the same order.
REVOKE ALL ON public.connect_links, public.webhook_endpoints, public.integration_events
  FROM anon, authenticated, service_role;
GRANT SELECT, INSERT, DELETE ON public.connect_links TO authenticated;
GRANT UPDATE (consumed_at) ON public.connect_links TO authenticated;
GRANT SELECT, INSERT, UPDATE, DELETE ON public.webhook_endpoints TO authenticated;
GRANT SELECT, INSERT, DELETE ON public.integration_events TO authenticated;
GRANT SELECT, INSERT, UPDATE, DELETE ON public.connect_links, public.webhook_endpoints, public.integration_events
  TO service_role;

-- The connect page is opened in a browser with no user identity: only the link names the user. The serving
-- login role calls this outside any request (like consume_oauth_state) to learn whose link it is; the page
-- then acts as that user under RLS. Spent links stay visible (to say so) until swept a day after expiry.
CREATE OR REPLACE FUNCTION public.connect_link_owner(p_token_hash text)
RETURNS TABLE (user_id uuid, expired boolean, consumed boolean)
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = '' AS $$
BEGIN
  DELETE FROM public.connect_links l WHERE l.expires_at < now() - interval '1 day';
  RETURN QUERY
  SELECT l.user_id, l.expires_at <= now(), l.consumed_at IS NOT NULL
  FROM public.connect_links l WHERE l.token_hash = p_token_hash;
END
$$;
REVOKE ALL ON FUNCTION public.connect_link_owner(text) FROM PUBLIC, anon, authenticated, service_role;
GRANT EXECUTE ON FUNCTION public.connect_link_owner(text) TO authenticator;

-- A delivery arrives with no user identity either: the install id in its URL names the user, for an active
-- webhook install of an entry that is not disabled. Nothing else comes out: the signature is checked as
-- that user, under RLS.
CREATE OR REPLACE FUNCTION public.webhook_install_owner(p_install_id uuid)
RETURNS uuid LANGUAGE sql STABLE SECURITY DEFINER SET search_path = '' AS $$
  SELECT u.user_id
  FROM public.user_integrations u
  JOIN public.mcp_integrations i ON i.id = u.integration_id
  WHERE u.id = p_install_id AND u.status = 'active' AND u.deleted_at IS NULL
    AND i.connection_type = 'webhook' AND i.status <> 'disabled' AND i.deleted_at IS NULL
$$;
REVOKE ALL ON FUNCTION public.webhook_install_owner(uuid) FROM PUBLIC, anon, authenticated, service_role;
GRANT EXECUTE ON FUNCTION public.webhook_install_owner(uuid) TO authenticator;

/* ROLLBACK
DROP FUNCTION IF EXISTS public.webhook_install_owner(uuid);
DROP FUNCTION IF EXISTS public.connect_link_owner(text);
DROP TABLE IF EXISTS public.integration_events;
DROP TABLE IF EXISTS public.webhook_endpoints;
DROP TABLE IF EXISTS public.connect_links;
ALTER TABLE public.mcp_integrations DROP COLUMN IF EXISTS api_key_header;
*/
