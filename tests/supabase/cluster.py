"""A PostgreSQL cluster built the way a Supabase database is (../shared/reference/supabase.md), for the tests.

initdb's superuser becomes `supabase_admin`; `postgres` is a new role without SUPERUSER but with BYPASSRLS,
CREATEDB and CREATEROLE, a member of the request roles and of supabase_auth_admin, as on Supabase. Each test
database is a copy of TEMPLATE, which holds what a fresh Supabase project has before any migration: the
`extensions` schema with pgcrypto and uuid-ossp, default privileges that grant every new table, function and
sequence in public to anon and authenticated, the `auth` schema owned by supabase_auth_admin with auth.users and
auth.identities as the Auth server writes them and auth.uid()/role()/email()/jwt() executable by PUBLIC, the CLI's
supabase_migrations.schema_migrations, and one user who signed up before Renubu was installed.

What stands in for Supabase's supautils: `postgres` may CREATE in `extensions`, so it can add pg_trgm there.
"""

from __future__ import annotations

from pathlib import Path

import asyncpg

from renubu_mcp.embedded import EmbeddedCluster, run_async

SUPERUSER = "supabase_admin"
TEMPLATE = "supabase_template"
EARLY_USER = ("5b1e0000-0000-4000-8000-0000000000c0", "carol@signed-up-early.example")

ROLES = """
CREATE ROLE anon NOLOGIN INHERIT;
CREATE ROLE authenticated NOLOGIN INHERIT;
CREATE ROLE service_role NOLOGIN INHERIT BYPASSRLS;
CREATE ROLE authenticator LOGIN NOINHERIT;
GRANT anon, authenticated, service_role, supabase_admin TO authenticator;
ALTER ROLE authenticator SET statement_timeout = '8s';
ALTER ROLE authenticator SET lock_timeout = '8s';
ALTER ROLE anon SET statement_timeout = '3s';
ALTER ROLE authenticated SET statement_timeout = '8s';
CREATE ROLE supabase_auth_admin LOGIN NOINHERIT CREATEROLE;
ALTER ROLE supabase_auth_admin SET search_path = auth;
CREATE ROLE supabase_storage_admin LOGIN NOINHERIT CREATEROLE;
CREATE ROLE dashboard_user NOLOGIN CREATEROLE CREATEDB REPLICATION;
CREATE ROLE pgbouncer LOGIN;
CREATE ROLE supabase_read_only_user LOGIN BYPASSRLS;
GRANT pg_read_all_data TO supabase_read_only_user;
GRANT anon, authenticated, service_role, supabase_auth_admin, supabase_storage_admin, pg_monitor, pg_read_all_data,
  pg_signal_backend TO postgres;
ALTER ROLE postgres SET search_path = "$user", public, extensions;
"""

PROJECT = """
CREATE SCHEMA extensions;
GRANT USAGE ON SCHEMA extensions TO postgres, anon, authenticated, service_role;
GRANT CREATE ON SCHEMA extensions TO postgres;
CREATE EXTENSION "uuid-ossp" WITH SCHEMA extensions;
CREATE EXTENSION pgcrypto WITH SCHEMA extensions;

ALTER SCHEMA public OWNER TO postgres;
GRANT USAGE ON SCHEMA public TO anon, authenticated, service_role;
ALTER DEFAULT PRIVILEGES FOR ROLE postgres, supabase_admin IN SCHEMA public
  GRANT ALL ON TABLES TO postgres, anon, authenticated, service_role;
ALTER DEFAULT PRIVILEGES FOR ROLE postgres, supabase_admin IN SCHEMA public
  GRANT ALL ON FUNCTIONS TO postgres, anon, authenticated, service_role;
ALTER DEFAULT PRIVILEGES FOR ROLE postgres, supabase_admin IN SCHEMA public
  GRANT ALL ON SEQUENCES TO postgres, anon, authenticated, service_role;

CREATE SCHEMA auth AUTHORIZATION supabase_auth_admin;
GRANT USAGE ON SCHEMA auth TO postgres, anon, authenticated, service_role, dashboard_user;
ALTER DEFAULT PRIVILEGES FOR ROLE supabase_auth_admin IN SCHEMA auth GRANT ALL ON TABLES TO postgres, dashboard_user;

SET ROLE supabase_auth_admin;
CREATE TABLE auth.users (
  instance_id uuid,
  id uuid NOT NULL PRIMARY KEY,
  aud varchar(255),
  role varchar(255),
  email varchar(255),
  encrypted_password varchar(255),
  email_confirmed_at timestamptz,
  invited_at timestamptz,
  confirmation_token varchar(255),
  confirmation_sent_at timestamptz,
  recovery_token varchar(255),
  recovery_sent_at timestamptz,
  email_change_token_new varchar(255),
  email_change varchar(255),
  email_change_sent_at timestamptz,
  last_sign_in_at timestamptz,
  raw_app_meta_data jsonb,
  raw_user_meta_data jsonb,
  is_super_admin boolean,
  created_at timestamptz,
  updated_at timestamptz,
  phone text UNIQUE DEFAULT NULL,
  phone_confirmed_at timestamptz,
  phone_change text DEFAULT '',
  phone_change_token varchar(255) DEFAULT '',
  phone_change_sent_at timestamptz,
  confirmed_at timestamptz GENERATED ALWAYS AS (LEAST(email_confirmed_at, phone_confirmed_at)) STORED,
  email_change_token_current varchar(255) DEFAULT '',
  email_change_confirm_status smallint DEFAULT 0,
  banned_until timestamptz,
  reauthentication_token varchar(255) DEFAULT '',
  reauthentication_sent_at timestamptz,
  is_sso_user boolean NOT NULL DEFAULT false,
  deleted_at timestamptz,
  is_anonymous boolean NOT NULL DEFAULT false
);
CREATE UNIQUE INDEX users_email_partial_key ON auth.users (email) WHERE is_sso_user = false;
ALTER TABLE auth.users ENABLE ROW LEVEL SECURITY;
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
  CONSTRAINT identities_provider_id_provider_unique UNIQUE (provider_id, provider)
);
ALTER TABLE auth.identities ENABLE ROW LEVEL SECURITY;
CREATE FUNCTION auth.uid() RETURNS uuid LANGUAGE sql STABLE AS $$
  SELECT coalesce(nullif(current_setting('request.jwt.claim.sub', true), ''),
                  (nullif(current_setting('request.jwt.claims', true), '')::jsonb ->> 'sub'))::uuid
$$;
CREATE FUNCTION auth.role() RETURNS text LANGUAGE sql STABLE AS $$
  SELECT coalesce(nullif(current_setting('request.jwt.claim.role', true), ''),
                  (nullif(current_setting('request.jwt.claims', true), '')::jsonb ->> 'role'))::text
$$;
CREATE FUNCTION auth.email() RETURNS text LANGUAGE sql STABLE AS $$
  SELECT coalesce(nullif(current_setting('request.jwt.claim.email', true), ''),
                  (nullif(current_setting('request.jwt.claims', true), '')::jsonb ->> 'email'))::text
$$;
CREATE FUNCTION auth.jwt() RETURNS jsonb LANGUAGE sql STABLE AS $$
  SELECT coalesce(nullif(current_setting('request.jwt.claim', true), ''),
                  nullif(current_setting('request.jwt.claims', true), ''))::jsonb
$$;
RESET ROLE;

CREATE SCHEMA supabase_migrations AUTHORIZATION postgres;
SET ROLE postgres;
CREATE TABLE supabase_migrations.schema_migrations (version text NOT NULL PRIMARY KEY, statements text[], name text);
RESET ROLE;
"""


def superuser_dsn(cluster: EmbeddedCluster, dbname: str) -> str:
    return cluster.owner_dsn(dbname).replace("postgresql://postgres@", f"postgresql://{SUPERUSER}@", 1)


async def auth_server_signs_up(dsn: str, user_id: str, email: str, password: str, full_name: str) -> None:
    """What Supabase's Auth server does for a confirmed email sign-up, as the role it runs as (it hashes the
    password with bcrypt, cost 10, itself: here pgcrypto does, beforehand)."""
    conn = await asyncpg.connect(dsn)
    try:
        hashed = await conn.fetchval("SELECT extensions.crypt($1, extensions.gen_salt('bf', 10))", password)
        async with conn.transaction():
            await conn.execute("SET LOCAL ROLE supabase_auth_admin")
            await conn.execute(
                """
                INSERT INTO auth.users (instance_id, id, aud, role, email, encrypted_password, email_confirmed_at,
                                        raw_app_meta_data, raw_user_meta_data, created_at, updated_at)
                VALUES ('00000000-0000-0000-0000-000000000000', $1, 'authenticated', 'authenticated', $2,
                        $3, now(),
                        '{"provider": "email", "providers": ["email"]}', jsonb_build_object('full_name', $4::text),
                        now(), now())
                """,
                user_id,
                email,
                hashed,
                full_name,
            )
            await conn.execute(
                "INSERT INTO auth.identities (provider_id, user_id, identity_data, provider, created_at, updated_at)"
                " VALUES ($1::text, $1::uuid, jsonb_build_object('sub', $1::text, 'email', $2::text,"
                " 'email_verified', true), 'email', now(), now())",
                user_id,
                email,
            )
    finally:
        await conn.close()


async def _build(cluster: EmbeddedCluster) -> None:
    conn = await asyncpg.connect(cluster.owner_dsn("postgres"))  # still initdb's superuser
    try:
        await conn.execute("CREATE ROLE renubu_fixture_bootstrap SUPERUSER LOGIN")
    finally:
        await conn.close()
    conn = await asyncpg.connect(cluster.owner_dsn("postgres").replace("postgres@", "renubu_fixture_bootstrap@", 1))
    try:
        await conn.execute(f"ALTER ROLE postgres RENAME TO {SUPERUSER}")
        await conn.execute("CREATE ROLE postgres NOSUPERUSER CREATEDB CREATEROLE LOGIN REPLICATION BYPASSRLS")
    finally:
        await conn.close()
    conn = await asyncpg.connect(superuser_dsn(cluster, "postgres"))
    try:
        await conn.execute("DROP ROLE renubu_fixture_bootstrap")
        await conn.execute(ROLES)
        await conn.execute(f"CREATE DATABASE {TEMPLATE} OWNER postgres")
    finally:
        await conn.close()
    conn = await asyncpg.connect(superuser_dsn(cluster, TEMPLATE))
    try:
        await conn.execute(PROJECT)
    finally:
        await conn.close()
    await auth_server_signs_up(superuser_dsn(cluster, TEMPLATE), *EARLY_USER, "an early password", "Carol Early")
    conn = await asyncpg.connect(superuser_dsn(cluster, "postgres"))
    try:
        await conn.execute(f"ALTER DATABASE {TEMPLATE} IS_TEMPLATE true")
    finally:
        await conn.close()


def start_supabase_cluster(data_dir: Path) -> EmbeddedCluster:
    """A fresh cluster in data_dir, started and built as above; stop it with cluster.stop()."""
    cluster = EmbeddedCluster(data_dir, fast_unsafe=True)
    cluster.__enter__()
    try:
        run_async(lambda: _build(cluster))
    except BaseException:
        cluster.stop()
        raise
    return cluster
