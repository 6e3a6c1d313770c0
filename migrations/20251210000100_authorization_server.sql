-- The built-in OAuth 2.1 authorization server for MCP clients (renubu_mcp/authserver): registered clients, sign-in
-- attempts, authorization codes, grants (refresh-token families) and failed sign-ins per account, all in
-- PostgreSQL so any replica can serve any step.
--
-- Schema renubu_auth is out of reach of the request roles: no privilege on it for PUBLIC, anon, authenticated or
-- service_role, row-level security on every table with no policy. The serving login role (authenticator) gets
-- EXECUTE on the SECURITY DEFINER functions below and nothing else, and calls them outside any request, like
-- find_user(). Tokens, codes and client secrets arrive as SHA-256 hashes; only passwords arrive in the clear (a
-- bind parameter, checked with pgcrypto's crypt() against auth.users.encrypted_password, bcrypt as Supabase's Auth
-- server stores it). Idempotent.

CREATE SCHEMA IF NOT EXISTS renubu_auth;
REVOKE ALL ON SCHEMA renubu_auth FROM PUBLIC;
GRANT USAGE ON SCHEMA renubu_auth TO authenticator;

-- client_id: a uuid for clients registered here (RFC 7591), the document's https URL for Client ID Metadata
-- Documents (fetched and cached). metadata: RFC 7591 client metadata, never a secret.
CREATE TABLE IF NOT EXISTS renubu_auth.clients (
  client_id text PRIMARY KEY CHECK (length(client_id) BETWEEN 1 AND 2000),
  kind text NOT NULL CHECK (kind IN ('registered', 'metadata_document')),
  secret_sha256 text CHECK (secret_sha256 IS NULL OR secret_sha256 ~ '^[0-9a-f]{64}$'),
  metadata jsonb NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  fetched_at timestamptz,
  last_used_at timestamptz
);
CREATE INDEX IF NOT EXISTS idx_clients_unused ON renubu_auth.clients (created_at) WHERE last_used_at IS NULL;

-- An authorization request waiting for the user to sign in on the page (10 minutes, once).
CREATE TABLE IF NOT EXISTS renubu_auth.sign_ins (
  attempt_hash text PRIMARY KEY,
  client_id text NOT NULL REFERENCES renubu_auth.clients (client_id) ON DELETE CASCADE,
  redirect_uri text NOT NULL,
  code_challenge text NOT NULL,
  state text,
  resource text,
  scopes text[] NOT NULL DEFAULT '{}',
  created_at timestamptz NOT NULL DEFAULT now(),
  expires_at timestamptz NOT NULL DEFAULT now() + interval '10 minutes',
  finished_at timestamptz
);
CREATE INDEX IF NOT EXISTS idx_sign_ins_client_id ON renubu_auth.sign_ins (client_id);
CREATE INDEX IF NOT EXISTS idx_sign_ins_expires_at ON renubu_auth.sign_ins (expires_at);

-- A grant: what one sign-in gave one client, and the family of its refresh tokens. Revoked as a whole.
CREATE TABLE IF NOT EXISTS renubu_auth.grants (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  client_id text NOT NULL REFERENCES renubu_auth.clients (client_id) ON DELETE CASCADE,
  user_id uuid NOT NULL REFERENCES auth.users (id) ON DELETE CASCADE,
  resource text,
  scopes text[] NOT NULL DEFAULT '{}',
  created_at timestamptz NOT NULL DEFAULT now(),
  revoked_at timestamptz,
  revoked_because text CHECK (revoked_because IN ('revoked', 'refresh token reused', 'code replayed', 'user inactive'))
);
CREATE INDEX IF NOT EXISTS idx_grants_user_id ON renubu_auth.grants (user_id);
CREATE INDEX IF NOT EXISTS idx_grants_client_id ON renubu_auth.grants (client_id);

CREATE TABLE IF NOT EXISTS renubu_auth.codes (
  code_hash text PRIMARY KEY,
  client_id text NOT NULL REFERENCES renubu_auth.clients (client_id) ON DELETE CASCADE,
  user_id uuid NOT NULL REFERENCES auth.users (id) ON DELETE CASCADE,
  redirect_uri text NOT NULL,
  code_challenge text NOT NULL,
  resource text,
  scopes text[] NOT NULL DEFAULT '{}',
  created_at timestamptz NOT NULL DEFAULT now(),
  expires_at timestamptz NOT NULL DEFAULT now() + interval '2 minutes',
  redeemed_at timestamptz,
  grant_id uuid REFERENCES renubu_auth.grants (id) ON DELETE SET NULL
);
CREATE INDEX IF NOT EXISTS idx_codes_expires_at ON renubu_auth.codes (expires_at);
CREATE INDEX IF NOT EXISTS idx_codes_grant_id ON renubu_auth.codes (grant_id);
CREATE INDEX IF NOT EXISTS idx_codes_client_id ON renubu_auth.codes (client_id);
CREATE INDEX IF NOT EXISTS idx_codes_user_id ON renubu_auth.codes (user_id);

CREATE TABLE IF NOT EXISTS renubu_auth.refresh_tokens (
  token_hash text PRIMARY KEY,
  grant_id uuid NOT NULL REFERENCES renubu_auth.grants (id) ON DELETE CASCADE,
  created_at timestamptz NOT NULL DEFAULT now(),
  expires_at timestamptz NOT NULL,
  used_at timestamptz
);
CREATE INDEX IF NOT EXISTS idx_refresh_tokens_grant_id ON renubu_auth.refresh_tokens (grant_id);

-- Failed sign-ins per account (lowercased email, whether or not a user has it, so the counts say nothing about
-- which accounts exist). Shared by every replica: the row is locked while an attempt is judged.
CREATE TABLE IF NOT EXISTS renubu_auth.sign_in_failures (
  email text PRIMARY KEY,
  failures integer NOT NULL DEFAULT 0,
  last_failed_at timestamptz,
  next_attempt_at timestamptz,
  locked_until timestamptz
);
CREATE INDEX IF NOT EXISTS idx_sign_in_failures_last ON renubu_auth.sign_in_failures (last_failed_at);

ALTER TABLE renubu_auth.clients ENABLE ROW LEVEL SECURITY;
ALTER TABLE renubu_auth.sign_ins ENABLE ROW LEVEL SECURITY;
ALTER TABLE renubu_auth.grants ENABLE ROW LEVEL SECURITY;
ALTER TABLE renubu_auth.codes ENABLE ROW LEVEL SECURITY;
ALTER TABLE renubu_auth.refresh_tokens ENABLE ROW LEVEL SECURITY;
ALTER TABLE renubu_auth.sign_in_failures ENABLE ROW LEVEL SECURITY;
REVOKE ALL ON renubu_auth.clients, renubu_auth.sign_ins, renubu_auth.grants, renubu_auth.codes,
  renubu_auth.refresh_tokens, renubu_auth.sign_in_failures FROM PUBLIC, anon, authenticated, service_role;

-- Who may be signed in and hold tokens: a user with an active profile whom the Auth server has not banned or
-- deleted.
CREATE OR REPLACE FUNCTION renubu_auth.user_is_active(p_user_id uuid)
RETURNS boolean LANGUAGE sql STABLE SET search_path = '' AS $$
  SELECT EXISTS (
    SELECT 1 FROM auth.users u JOIN public.profiles p ON p.id = u.id
    WHERE u.id = p_user_id AND p.deleted_at IS NULL AND u.deleted_at IS NULL
      AND (u.banned_until IS NULL OR u.banned_until <= now()))
$$;

CREATE OR REPLACE FUNCTION renubu_auth.register_client(p_client_id text, p_secret_sha256 text, p_metadata jsonb)
RETURNS void LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = '' AS $$
BEGIN
  -- Registration is open (RFC 7591, as MCP clients expect): registrations never used for a month go.
  DELETE FROM renubu_auth.clients c
  WHERE c.kind = 'registered' AND c.last_used_at IS NULL AND c.created_at < now() - interval '30 days';
  INSERT INTO renubu_auth.clients (client_id, kind, secret_sha256, metadata)
  VALUES (p_client_id, 'registered', p_secret_sha256, p_metadata);
END
$$;

CREATE OR REPLACE FUNCTION renubu_auth.client(p_client_id text)
RETURNS TABLE (kind text, secret_sha256 text, metadata jsonb, fetched_at timestamptz)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = '' AS $$
  SELECT c.kind, c.secret_sha256, c.metadata, c.fetched_at FROM renubu_auth.clients c WHERE c.client_id = p_client_id
$$;

CREATE OR REPLACE FUNCTION renubu_auth.save_client_document(p_client_id text, p_metadata jsonb)
RETURNS void LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path = '' AS $$
  INSERT INTO renubu_auth.clients AS c (client_id, kind, metadata, fetched_at)
  VALUES (p_client_id, 'metadata_document', p_metadata, now())
  ON CONFLICT (client_id) DO UPDATE SET metadata = EXCLUDED.metadata, fetched_at = EXCLUDED.fetched_at
  WHERE c.kind = 'metadata_document'
$$;

CREATE OR REPLACE FUNCTION renubu_auth.start_sign_in(
  p_attempt_hash text, p_client_id text, p_redirect_uri text, p_code_challenge text, p_state text,
  p_resource text, p_scopes text[])
RETURNS void LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = '' AS $$
BEGIN
  DELETE FROM renubu_auth.sign_ins s WHERE s.expires_at < now() - interval '1 day';
  DELETE FROM renubu_auth.codes c WHERE c.expires_at < now() - interval '1 day';
  INSERT INTO renubu_auth.sign_ins (attempt_hash, client_id, redirect_uri, code_challenge, state, resource, scopes)
  VALUES (p_attempt_hash, p_client_id, p_redirect_uri, p_code_challenge, p_state, p_resource, p_scopes);
END
$$;

CREATE OR REPLACE FUNCTION renubu_auth.sign_in(p_attempt_hash text)
RETURNS TABLE (client_id text, redirect_uri text, state text, usable boolean)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = '' AS $$
  SELECT s.client_id, s.redirect_uri, s.state, s.finished_at IS NULL AND s.expires_at > now()
  FROM renubu_auth.sign_ins s WHERE s.attempt_hash = p_attempt_hash
$$;

-- Ends a sign-in attempt once: with a user and a code hash it stores the code (2 minutes, single use), without
-- them (the user said no) it only ends the attempt. Returns where to send the browser, or nothing when the attempt
-- was already ended or expired.
CREATE OR REPLACE FUNCTION renubu_auth.finish_sign_in(p_attempt_hash text, p_user_id uuid, p_code_hash text)
RETURNS TABLE (redirect_uri text, state text)
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = '' AS $$
DECLARE
  a renubu_auth.sign_ins;
BEGIN
  UPDATE renubu_auth.sign_ins s SET finished_at = now()
  WHERE s.attempt_hash = p_attempt_hash AND s.finished_at IS NULL AND s.expires_at > now()
  RETURNING * INTO a;
  IF NOT FOUND THEN
    RETURN;
  END IF;
  IF p_user_id IS NOT NULL THEN
    INSERT INTO renubu_auth.codes (code_hash, client_id, user_id, redirect_uri, code_challenge, resource, scopes)
    VALUES (p_code_hash, a.client_id, p_user_id, a.redirect_uri, a.code_challenge, a.resource, a.scopes);
  END IF;
  RETURN QUERY SELECT a.redirect_uri, a.state;
END
$$;

-- A code as the token endpoint first reads it. A code presented again after it was redeemed revokes the grant it
-- gave (OAuth 2.1 section 4.1.3: someone else holds the code).
CREATE OR REPLACE FUNCTION renubu_auth.look_up_code(p_code_hash text, p_client_id text)
RETURNS TABLE (user_id uuid, redirect_uri text, code_challenge text, resource text, scopes text[],
               expires_at timestamptz, redeemed boolean, grant_id uuid)
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = '' AS $$
DECLARE
  c renubu_auth.codes;
BEGIN
  SELECT * INTO c FROM renubu_auth.codes k WHERE k.code_hash = p_code_hash AND k.client_id = p_client_id;
  IF NOT FOUND THEN
    RETURN;
  END IF;
  IF c.redeemed_at IS NOT NULL THEN
    UPDATE renubu_auth.grants g SET revoked_at = now(), revoked_because = 'code replayed'
    WHERE g.id = c.grant_id AND g.revoked_at IS NULL;
  END IF;
  RETURN QUERY SELECT c.user_id, c.redirect_uri, c.code_challenge, c.resource, c.scopes, c.expires_at,
                      c.redeemed_at IS NOT NULL, c.grant_id;
END
$$;

-- Redeems a code once and opens its grant with a first refresh token (issued). A second redemption (a race the
-- first look-up could not see) is not issued anything and revokes the grant the first one got (its id returned).
CREATE OR REPLACE FUNCTION renubu_auth.redeem_code(
  p_code_hash text, p_client_id text, p_refresh_hash text, p_refresh_ttl_seconds integer)
RETURNS TABLE (grant_id uuid, user_id uuid, email text, scopes text[], issued boolean)
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = '' AS $$
DECLARE
  c renubu_auth.codes;
  new_grant uuid;
  replayed uuid;
BEGIN
  UPDATE renubu_auth.codes k SET redeemed_at = now()
  WHERE k.code_hash = p_code_hash AND k.client_id = p_client_id AND k.redeemed_at IS NULL AND k.expires_at > now()
  RETURNING * INTO c;
  IF NOT FOUND THEN
    UPDATE renubu_auth.grants g SET revoked_at = now(), revoked_because = 'code replayed'
    FROM renubu_auth.codes k
    WHERE k.code_hash = p_code_hash AND k.redeemed_at IS NOT NULL AND g.id = k.grant_id AND g.revoked_at IS NULL
    RETURNING g.id INTO replayed;
    RETURN QUERY SELECT replayed, NULL::uuid, NULL::text, NULL::text[], false;
    RETURN;
  END IF;
  IF NOT renubu_auth.user_is_active(c.user_id) THEN
    RETURN QUERY SELECT NULL::uuid, c.user_id, NULL::text, NULL::text[], false;
    RETURN;
  END IF;
  INSERT INTO renubu_auth.grants (client_id, user_id, resource, scopes)
  VALUES (c.client_id, c.user_id, c.resource, c.scopes) RETURNING id INTO new_grant;
  UPDATE renubu_auth.codes k SET grant_id = new_grant WHERE k.code_hash = p_code_hash;
  INSERT INTO renubu_auth.refresh_tokens (token_hash, grant_id, expires_at)
  VALUES (p_refresh_hash, new_grant, now() + make_interval(secs => p_refresh_ttl_seconds));
  UPDATE renubu_auth.clients k SET last_used_at = now() WHERE k.client_id = p_client_id;
  RETURN QUERY SELECT new_grant, c.user_id, u.email::text, c.scopes, true FROM auth.users u WHERE u.id = c.user_id;
END
$$;

-- A refresh token as the token endpoint first reads it. One that was already used means two parties hold it:
-- the whole grant is revoked (refresh token rotation, OAuth 2.1 section 4.3.1).
CREATE OR REPLACE FUNCTION renubu_auth.look_up_refresh(p_token_hash text, p_client_id text)
RETURNS TABLE (grant_id uuid, user_id uuid, resource text, scopes text[], expires_at timestamptz, usable boolean)
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = '' AS $$
DECLARE
  r renubu_auth.refresh_tokens;
  g renubu_auth.grants;
BEGIN
  SELECT * INTO r FROM renubu_auth.refresh_tokens t WHERE t.token_hash = p_token_hash;
  IF NOT FOUND THEN
    RETURN;
  END IF;
  SELECT * INTO g FROM renubu_auth.grants x WHERE x.id = r.grant_id AND x.client_id = p_client_id;
  IF NOT FOUND THEN
    RETURN;
  END IF;
  IF r.used_at IS NOT NULL AND g.revoked_at IS NULL THEN
    UPDATE renubu_auth.grants x SET revoked_at = now(), revoked_because = 'refresh token reused' WHERE x.id = g.id;
    g.revoked_at := now();
  END IF;
  RETURN QUERY SELECT g.id, g.user_id, g.resource, g.scopes, r.expires_at,
                      r.used_at IS NULL AND g.revoked_at IS NULL AND r.expires_at > now();
END
$$;

-- Spends a refresh token and issues the next one in its grant. A token already spent (a race the look-up could not
-- see) gets nothing and revokes the grant; so does a user who is no longer active.
CREATE OR REPLACE FUNCTION renubu_auth.rotate_refresh(
  p_token_hash text, p_client_id text, p_new_hash text, p_refresh_ttl_seconds integer)
RETURNS TABLE (grant_id uuid, user_id uuid, email text, scopes text[])
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = '' AS $$
DECLARE
  spent_grant uuid;
  g renubu_auth.grants;
BEGIN
  UPDATE renubu_auth.refresh_tokens t SET used_at = now()
  FROM renubu_auth.grants x
  WHERE t.token_hash = p_token_hash AND x.id = t.grant_id AND x.client_id = p_client_id AND t.used_at IS NULL
    AND t.expires_at > now() AND x.revoked_at IS NULL
  RETURNING t.grant_id INTO spent_grant;
  IF NOT FOUND THEN
    UPDATE renubu_auth.grants x SET revoked_at = now(), revoked_because = 'refresh token reused'
    FROM renubu_auth.refresh_tokens t
    WHERE t.token_hash = p_token_hash AND t.used_at IS NOT NULL AND x.id = t.grant_id AND x.client_id = p_client_id
      AND x.revoked_at IS NULL;
    RETURN;
  END IF;
  SELECT * INTO g FROM renubu_auth.grants x WHERE x.id = spent_grant;
  IF NOT renubu_auth.user_is_active(g.user_id) THEN
    UPDATE renubu_auth.grants x SET revoked_at = now(), revoked_because = 'user inactive' WHERE x.id = g.id;
    RETURN;
  END IF;
  INSERT INTO renubu_auth.refresh_tokens (token_hash, grant_id, expires_at)
  VALUES (p_new_hash, g.id, now() + make_interval(secs => p_refresh_ttl_seconds));
  UPDATE renubu_auth.clients k SET last_used_at = now() WHERE k.client_id = p_client_id;
  RETURN QUERY SELECT g.id, g.user_id, u.email::text, g.scopes FROM auth.users u WHERE u.id = g.user_id;
END
$$;

-- RFC 7009: revoking an access token (named by its grant) or a refresh token revokes the whole grant, for the client
-- it was issued to only.
CREATE OR REPLACE FUNCTION renubu_auth.revoke_grant(p_grant_id uuid, p_refresh_hash text, p_client_id text)
RETURNS boolean LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = '' AS $$
BEGIN
  UPDATE renubu_auth.grants x SET revoked_at = now(), revoked_because = 'revoked'
  WHERE x.client_id = p_client_id AND x.revoked_at IS NULL
    AND (x.id = p_grant_id
         OR x.id = (SELECT t.grant_id FROM renubu_auth.refresh_tokens t WHERE t.token_hash = p_refresh_hash));
  RETURN FOUND;
END
$$;

-- The bearer check for this server's own access tokens: the user the grant was given to (as find_user() names
-- one), while the grant stands and the user is active; no row otherwise.
CREATE OR REPLACE FUNCTION renubu_auth.grant_holder(p_grant_id uuid, p_user_id uuid)
RETURNS TABLE (id uuid, email text) LANGUAGE sql STABLE SECURITY DEFINER SET search_path = '' AS $$
  SELECT u.id, u.email::text FROM renubu_auth.grants g JOIN auth.users u ON u.id = g.user_id
  WHERE g.id = p_grant_id AND g.user_id = p_user_id AND g.revoked_at IS NULL
    AND renubu_auth.user_is_active(p_user_id)
$$;

-- Passwords, with pgcrypto's crypt() from whichever schema holds pgcrypto (extensions on Supabase), so the
-- functions keep an empty search_path.
--
-- check_password judges one sign-in for an email, holding that account's failure row locked (replicas queue):
--   locked      10 failures in a row lock the account for 15 minutes (a new password lifts it);
--   throttled   from the 3rd failure on, the next try must wait 5 s, doubling to at most 5 minutes;
--   wrong       the email or the password is wrong (never which), counted;
--   inactive    the password is right but the user is deactivated, banned or deleted (not counted);
--   ok          the user (the account's count is cleared).
-- Locked and throttled attempts are refused before the password is looked at, and count nothing. An unknown email
-- costs the same bcrypt work as a known one. Failures an hour old are forgotten.
DO $do$
DECLARE
  crypto_schema text := (
    SELECT n.nspname FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace WHERE e.extname = 'pgcrypto');
BEGIN
  EXECUTE format($f$
    CREATE OR REPLACE FUNCTION renubu_auth.hash_password(p_password text)
    RETURNS text LANGUAGE sql VOLATILE SET search_path = '' AS $b$
      SELECT %1$I.crypt(p_password, %1$I.gen_salt('bf', 10))
    $b$ $f$, crypto_schema);
  EXECUTE format($f$
    CREATE OR REPLACE FUNCTION renubu_auth.check_password(p_email text, p_password text)
    RETURNS TABLE (outcome text, user_id uuid, retry_after_seconds integer)
    LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = '' AS $b$
    DECLARE
      v_email text := lower(btrim(p_email));
      f renubu_auth.sign_in_failures;
      v_user uuid;
      v_hash text;
      matches boolean;
    BEGIN
      DELETE FROM renubu_auth.sign_in_failures s
      WHERE s.last_failed_at < now() - interval '1 day' AND coalesce(s.locked_until, '-infinity') < now()
        AND s.email <> v_email;
      INSERT INTO renubu_auth.sign_in_failures (email) VALUES (v_email) ON CONFLICT DO NOTHING;
      SELECT * INTO f FROM renubu_auth.sign_in_failures s WHERE s.email = v_email FOR UPDATE;
      IF f.locked_until <= now() OR f.last_failed_at < now() - interval '1 hour' THEN
        f.failures := 0; f.next_attempt_at := NULL; f.locked_until := NULL;
      END IF;
      IF f.locked_until > now() THEN
        RETURN QUERY SELECT 'locked', NULL::uuid, ceil(extract(epoch FROM f.locked_until - now()))::integer;
        RETURN;
      END IF;
      IF f.next_attempt_at > now() THEN
        RETURN QUERY SELECT 'throttled', NULL::uuid, ceil(extract(epoch FROM f.next_attempt_at - now()))::integer;
        RETURN;
      END IF;
      SELECT u.id, u.encrypted_password INTO v_user, v_hash
      FROM auth.users u WHERE lower(u.email) = v_email AND NOT u.is_sso_user ORDER BY u.created_at LIMIT 1;
      IF v_hash IS NULL OR v_hash NOT LIKE '$2%%' THEN
        v_hash := NULL;
      END IF;
      -- A fixed salt of the same cost stands in for a missing hash, so both take as long.
      matches := %1$I.crypt(p_password, coalesce(v_hash, '$2a$10$renubumcpnosuchuserxxu')) = v_hash;
      IF coalesce(matches, false) THEN
        IF NOT renubu_auth.user_is_active(v_user) THEN
          RETURN QUERY SELECT 'inactive', NULL::uuid, 0;
          RETURN;
        END IF;
        DELETE FROM renubu_auth.sign_in_failures s WHERE s.email = v_email;
        RETURN QUERY SELECT 'ok', v_user, 0;
        RETURN;
      END IF;
      f.failures := f.failures + 1;
      f.last_failed_at := now();
      f.next_attempt_at := CASE WHEN f.failures >= 3
                                THEN now() + make_interval(secs => least(5 * 2 ^ (f.failures - 3), 300)) END;
      f.locked_until := CASE WHEN f.failures >= 10 THEN now() + interval '15 minutes' END;
      UPDATE renubu_auth.sign_in_failures s
      SET failures = f.failures, last_failed_at = f.last_failed_at, next_attempt_at = f.next_attempt_at,
          locked_until = f.locked_until
      WHERE s.email = v_email;
      IF f.locked_until IS NOT NULL THEN
        RETURN QUERY SELECT 'locked', NULL::uuid, 900;
      ELSE
        RETURN QUERY SELECT 'wrong', NULL::uuid,
                            coalesce(ceil(extract(epoch FROM f.next_attempt_at - now()))::integer, 0);
      END IF;
    END
    $b$ $f$, crypto_schema);
END
$do$;

-- `renubu-mcp users set-password` (the schema owner): a new bcrypt password, and the account's lock lifted.
CREATE OR REPLACE FUNCTION renubu_auth.set_password(p_email text, p_password text)
RETURNS uuid LANGUAGE plpgsql VOLATILE SET search_path = '' AS $$
DECLARE
  v_user uuid;
BEGIN
  UPDATE auth.users u SET encrypted_password = renubu_auth.hash_password(p_password), updated_at = now()
  WHERE u.id = (SELECT x.id FROM auth.users x WHERE lower(x.email) = lower(btrim(p_email)) AND NOT x.is_sso_user
                ORDER BY x.created_at LIMIT 1)
  RETURNING u.id INTO v_user;
  IF v_user IS NOT NULL THEN
    DELETE FROM renubu_auth.sign_in_failures s WHERE s.email = lower(btrim(p_email));
  END IF;
  RETURN v_user;
END
$$;

REVOKE ALL ON ALL FUNCTIONS IN SCHEMA renubu_auth FROM PUBLIC, anon, authenticated, service_role;
GRANT EXECUTE ON FUNCTION
  renubu_auth.register_client(text, text, jsonb),
  renubu_auth.client(text),
  renubu_auth.save_client_document(text, jsonb),
  renubu_auth.start_sign_in(text, text, text, text, text, text, text[]),
  renubu_auth.sign_in(text),
  renubu_auth.check_password(text, text),
  renubu_auth.finish_sign_in(text, uuid, text),
  renubu_auth.look_up_code(text, text),
  renubu_auth.redeem_code(text, text, text, integer),
  renubu_auth.look_up_refresh(text, text),
  renubu_auth.rotate_refresh(text, text, text, integer),
  renubu_auth.revoke_grant(uuid, text, text),
  renubu_auth.grant_holder(uuid, uuid)
  TO authenticator;

/* ROLLBACK
DROP SCHEMA IF EXISTS renubu_auth CASCADE;
*/
