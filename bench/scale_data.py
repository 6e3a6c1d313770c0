"""The large-scale data set, bulk-loaded in SQL (generate_series) on top of the migrations and the demo seed.

    10,000 users (u1@bench.example ... u10000@bench.example, role csm), each assigned 100 customers
    1,000,000 customers (customer i belongs to user ((i - 1) % 10000) + 1), one contact each
    50,000 workflow executions (5 per user, on their own customers), 150,000 tasks, 200,000 actions
    100,000 docs, ~200 words each drawn from a 5,000-word Zipf-like vocabulary, with planted terms:
        zeppelin 0.02 % of docs (rare), onboarding 0.5 %, playbook 5 % (common),
        escalation 30 % (very common), renewal 90 % (matches most documents)
    10,000 installs (each user has HubSpot connected) with encrypted access and refresh tokens:
        90 % made by the current encrypt_oauth_token (AES-256, s2k-mode=1), 10 % "old" ciphertexts made with
        pgcrypto's default iterated S2K (mode 3), to show they stay readable.
    Customer names "<Prefix> <Word> <Industry> <Suffix>"; planted fragment "Zyxwave" in 11 names.

Deterministic (setseed). Secondary indexes are dropped during the load and rebuilt after it, then VACUUM ANALYZE.
Run through bench/common.py (prepare_large), or alone:  .venv/bin/python bench/scale_data.py
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import time
import uuid
from collections.abc import Callable

import asyncpg

# RENUBU_BENCH_SCALE shrinks everything (e.g. 0.01 for a smoke run of this generator); the figures use 1.
SCALE = float(os.environ.get("RENUBU_BENCH_SCALE", "1"))
USERS = max(10, int(10_000 * SCALE))
CUSTOMERS = USERS * 100
DOCS = max(100, int(100_000 * SCALE))
VERSION = f"2025-12-bench-v2 scale={SCALE:g}"
VOCABULARY = 5_000
HUBSPOT = "60000000-0000-4000-8000-000000000001"

# Terms planted in the docs and the share of docs holding each.
DOC_TERMS = {"zeppelin": 0.0002, "onboarding": 0.005, "playbook": 0.05, "escalation": 0.30, "renewal": 0.90}


def bench_user_id(n: int) -> uuid.UUID:
    return uuid.UUID(hashlib.md5(f"bench-user-{n}".encode()).hexdigest())


def bench_customer_id(i: int) -> uuid.UUID:
    return uuid.UUID(hashlib.md5(f"bench-cust-{i}".encode()).hexdigest())


def bench_user_email(n: int) -> str:
    return f"u{n}@bench.example"


_INDEXED_TABLES = [
    "public.customers",
    "public.customer_assignments",
    "public.contacts",
    "public.documentation",
    "public.workflow_executions",
    "public.workflow_tasks",
    "public.workflow_actions",
]

_SECONDARY_INDEXES = """
SELECT ci.relname AS name, pg_get_indexdef(i.indexrelid) AS ddl
FROM pg_index i JOIN pg_class ci ON ci.oid = i.indexrelid
WHERE i.indrelid = ANY($1::regclass[])
  AND NOT EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conindid = i.indexrelid)
"""

_VOCAB = """
CREATE TEMP TABLE bench_vocab AS
WITH syl AS (SELECT ARRAY['ka','lo','mi','ne','ru','ta','vi','zo','bel','dar','fen','gor','hal','jun','kel','lam',
                          'mor','nix','pel','quor','ras','sul','tev','ulm','vor','wen','xal','yor','zen','bri',
                          'cla','dro','fla','gri','plo','sta','tru','vel','wix','yal'] AS s)
SELECT n - 39 AS k,
       s[1 + n % 40] || s[1 + (n / 40) % 40] || CASE WHEN n >= 1600 THEN s[1 + (n / 1600) % 40] ELSE '' END AS w
FROM syl, generate_series(40, 40 + $VOCAB - 1) n;
ALTER TABLE bench_vocab ADD PRIMARY KEY (k);
ANALYZE bench_vocab;
""".replace("$VOCAB", str(VOCABULARY))


# Deterministic per-row draws from a hash of the row number (a volatile random() inside a correlated subquery
# would defeat the vocabulary's index): a number in [0, 1), then a word, uniform or Zipf-like (P(k) ~ 1/k).
def _u(seed: str) -> str:
    return f"(abs(hashint8(({seed})::bigint)::bigint)::float8 / 2147483648.0)"


def _word(seed: str, zipf: bool = False) -> str:
    draw = (
        f"least({VOCABULARY}, floor(exp({_u(seed)} * ln({VOCABULARY})))::int)"
        if zipf
        else f"(1 + floor({_u(seed)} * {VOCABULARY})::int)"
    )
    return f"(SELECT w FROM bench_vocab WHERE k = {draw})"


_ZIPF = f"least({VOCABULARY}, floor(exp(random() * ln({VOCABULARY})))::int)"


_USERS = f"""
INSERT INTO auth.users (id, email, raw_user_meta_data)
SELECT md5('bench-user-' || n)::uuid, 'u' || n || '@bench.example', jsonb_build_object('full_name', 'Bench User ' || n)
FROM generate_series(1, {USERS}) n;
INSERT INTO public.profiles (id, email, full_name, role)
SELECT md5('bench-user-' || n)::uuid, 'u' || n || '@bench.example', 'Bench User ' || n, 'csm'
FROM generate_series(1, {USERS}) n;
"""

_CUSTOMERS = f"""
INSERT INTO public.customers (id, name, domain, industry, arr, renewal_date, risk_score, notes, created_at, updated_at)
SELECT md5('bench-cust-' || i)::uuid,
       CASE WHEN i % 99991 = 1 THEN 'Zyxwave ' ELSE '' END
         || (ARRAY['Acme','Apex','Blue','Bright','Cedar','Crest','Delta','Echo','Evergreen','First','Golden',
                   'Granite','Harbor','Iron','Jade','Keystone','Lake','Luna','Maple','Meridian','North','Nova','Oak',
                   'Orbit','Pacific','Peak','Pine','Prime','Quantum','Red','River','Silver','Sky','Solar','Stone',
                   'Summit','Terra','Tidal','True','Union','Vertex','Vista','West','Willow','Zen','Atlas','Beacon',
                   'Cobalt','Falcon','Harvest','Horizon','Ivy','Juniper','Kite','Lumen','Mosaic','Nimbus','Onyx',
                   'Polar','Radiant'])[1 + floor(random() * 60)::int]
         || ' ' || initcap({_word("i * 8 + 1")})
         || ' ' || (ARRAY['Technologies','Tech','Systems','Labs','Health','Logistics','Software','Energy','Foods',
                          'Media','Analytics','Robotics','Capital','Retail','Networks','Biotech','Fintech',
                          'Consulting','Manufacturing','Studios'])[1 + floor(random() * 20)::int]
         || (ARRAY[' Inc',' LLC',' Ltd',' Group',' Corp',' Co',' Holdings',''])[1 + floor(random() * 8)::int],
       'c' || i || '.bench.example',
       (ARRAY['software','healthcare','retail','finance','manufacturing','media','logistics','energy'])[1 + i % 8],
       round((5000 + random() * 995000)::numeric, 2),
       current_date + (floor(random() * 730)::int - 180),
       floor(random() * 101)::int,
       CASE WHEN random() < 0.3 THEN 'Account notes for customer ' || i || ': renewal discussion pending.' END,
       now() - interval '400 days', now() - (random() * interval '90 days')
FROM generate_series(1, {CUSTOMERS}) i;

INSERT INTO public.customer_assignments (id, customer_id, user_id, assignment_role)
SELECT md5('bench-asg-' || i)::uuid, md5('bench-cust-' || i)::uuid, md5('bench-user-' || (((i - 1) % {USERS}) + 1))::uuid,
       'owner'
FROM generate_series(1, {CUSTOMERS}) i;

INSERT INTO public.contacts (id, customer_id, name, email, role, is_primary)
SELECT md5('bench-contact-' || i)::uuid, md5('bench-cust-' || i)::uuid, 'Contact ' || i,
       'contact' || i || '@c' || i || '.bench.example', 'Champion', true
FROM generate_series(1, {CUSTOMERS}) i;
"""

# Executions e = 1..50000: user ((e-1) % USERS) + 1, on that user's customer number e (same user by construction).
_WORKFLOWS = f"""
INSERT INTO public.workflow_executions (id, user_id, customer_id, workflow_type, workflow_name, status,
                                        current_slide_index, total_slides, started_at, created_at, updated_at)
SELECT md5('bench-wf-' || e)::uuid, md5('bench-user-' || (((e - 1) % {USERS}) + 1))::uuid, md5('bench-cust-' || e)::uuid,
       'renewal', 'Renewal ' || e,
       (ARRAY['not_started','in_progress','in_progress','completed','in_progress'])[1 + e % 5],
       e % 4, 6, now() - interval '30 days', now() - interval '30 days', now() - (e % 1000) * interval '1 minute'
FROM generate_series(1, {USERS * 5}) e;

INSERT INTO public.workflow_tasks (id, workflow_execution_id, title, description, status, priority, due_date)
SELECT md5('bench-task-' || e || '-' || t)::uuid, md5('bench-wf-' || e)::uuid, 'Task ' || t || ' of workflow ' || e,
       'Prepare the renewal material.', (ARRAY['pending','in_progress','completed'])[t], 'medium',
       now() + (t * interval '3 days')
FROM generate_series(1, {USERS * 5}) e, generate_series(1, 3) t;

INSERT INTO public.workflow_actions (id, workflow_execution_id, user_id, action_type, action_data, created_at)
SELECT md5('bench-action-' || e || '-' || a)::uuid, md5('bench-wf-' || e)::uuid,
       md5('bench-user-' || (((e - 1) % {USERS}) + 1))::uuid, 'note', jsonb_build_object('text', 'step ' || a),
       now() - (a * interval '1 hour')
FROM generate_series(1, {USERS * 5}) e, generate_series(1, 4) a;
"""


def _docs_sql() -> list[str]:
    terms = list(DOC_TERMS.items())
    # Each planted term lands at its own random word position of the body (or nowhere: -1).
    positions = ",\n       ".join(
        f"CASE WHEN random() < {share} THEN 1 + floor(random() * n)::int ELSE -1 END AS p_{term}"
        for term, share in terms
    )
    picks = " ".join(f"WHEN kk.k = s.p_{term} THEN '{term}'" for term, _ in terms)
    return [
        f"""CREATE TEMP TABLE bench_doc_len AS
            SELECT g, 80 + floor(random() * 240)::int AS n FROM generate_series(1, {DOCS}) g""",
        f"""CREATE TEMP TABLE bench_doc_shape AS SELECT g, n, {positions} FROM bench_doc_len""",
        f"""
INSERT INTO public.documentation (id, slug, title, content, category, version, created_at, updated_at)
SELECT md5('bench-doc-' || b.g)::uuid, 'bench-doc-' || b.g,
       initcap({_word("b.g * 8 + 2", zipf=True)}) || ' ' || {_word("b.g * 8 + 3")} || ' '
         || CASE WHEN random() < 0.05 THEN 'renewal ' WHEN random() < 0.02 THEN 'playbook ' ELSE '' END
         || {_word("b.g * 8 + 4")} || ' guide',
       b.content || '.',
       (ARRAY['getting-started','customers','renewals','workflows','integrations','reports','admin','api',
              'security','billing'])[1 + b.g % 10],
       1, now() - interval '200 days', now() - (b.g % 500) * interval '1 hour'
FROM (
  SELECT s.g, string_agg(CASE {picks} ELSE v.w END, ' ' ORDER BY kk.k) AS content
  FROM bench_doc_shape s
  CROSS JOIN LATERAL (SELECT k, {_ZIPF} + 0 * s.g AS wi FROM generate_series(1, s.n) k) kk
  JOIN bench_vocab v ON v.k = kk.wi
  GROUP BY s.g
) b""",
    ]


_INSTALLS = f"""
INSERT INTO public.user_integrations (id, user_id, integration_id, status, scopes, installed_at)
SELECT md5('bench-install-' || n)::uuid, md5('bench-user-' || n)::uuid, '{HUBSPOT}', 'active',
       ARRAY['oauth', 'crm.objects.companies.read'], now() - interval '10 days'
FROM generate_series(1, {USERS}) n;
"""

_TOKENS = f"""
INSERT INTO public.oauth_tokens (id, user_integration_id, user_id, access_token_encrypted, refresh_token_encrypted,
                                 encryption_key_id, scopes, expires_at, refreshed_at)
SELECT md5('bench-token-' || n)::uuid, md5('bench-install-' || n)::uuid, md5('bench-user-' || n)::uuid,
       CASE WHEN n % 10 = 0
            THEN extensions.pgp_sym_encrypt('access-' || n || '-' || md5(n::text), $1, 'cipher-algo=aes256')
            ELSE public.encrypt_oauth_token('access-' || n || '-' || md5(n::text), $1) END,
       CASE WHEN n % 10 = 0
            THEN extensions.pgp_sym_encrypt('refresh-' || n || '-' || md5(n::text), $1, 'cipher-algo=aes256')
            ELSE public.encrypt_oauth_token('refresh-' || n || '-' || md5(n::text), $1) END,
       $2, ARRAY['oauth'], now() + interval '30 days', now() - interval '1 hour'
FROM generate_series(1, {USERS}) n;
"""


async def generate(dsn: str, log: Callable[[str], object] | None = print) -> None:
    """Load the large-scale data into a migrated, demo-seeded database (as the owner)."""
    from bench.common import TOKEN_KEY
    from renubu_mcp.oauth.vault import key_id

    say = log or (lambda _m: None)
    conn = await asyncpg.connect(dsn, command_timeout=None)
    try:
        await conn.execute(
            "SET maintenance_work_mem = '512MB'; SET work_mem = '256MB'; SET search_path = public, extensions"
        )
        crypto_schema = await conn.fetchval(
            "SELECT n.nspname FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace "
            "WHERE e.extname = 'pgcrypto'"
        )
        indexes = await conn.fetch(_SECONDARY_INDEXES, _INDEXED_TABLES)

        async def step(name: str, sql: str, *args: object) -> None:
            t0 = time.perf_counter()
            await conn.execute(sql, *args) if args else await conn.execute(sql)
            say(f"  {name}: {time.perf_counter() - t0:.1f} s")

        async with conn.transaction():
            # Foreign keys and triggers off for the bulk load (owner session only); ids are consistent by construction.
            await conn.execute("SET LOCAL session_replication_role = replica")
            await conn.execute("SELECT setseed(0.42)")
            for row in indexes:
                await conn.execute(f'DROP INDEX public."{row["name"]}"')
            await step("vocabulary", _VOCAB)
            await step(f"{USERS} users", _USERS)
            await step(f"{CUSTOMERS} customers, assignments, contacts", _CUSTOMERS)
            await step("workflows", _WORKFLOWS)
            for i, sql in enumerate(_docs_sql()):
                await step(f"{DOCS} docs ({i + 1}/3)", sql)
            await step(f"{USERS} installs", _INSTALLS)
            await step(
                f"{USERS} tokens",
                _TOKENS.replace("extensions.pgp_sym_encrypt", f'"{crypto_schema}".pgp_sym_encrypt'),
                TOKEN_KEY,
                key_id(TOKEN_KEY),
            )
            t0 = time.perf_counter()
            for row in indexes:
                await conn.execute(row["ddl"])
            say(f"  rebuilt {len(indexes)} indexes: {time.perf_counter() - t0:.1f} s")
            await conn.execute(
                "CREATE SCHEMA IF NOT EXISTS bench_meta; "
                "CREATE TABLE bench_meta.generated (version text NOT NULL, generated_at timestamptz DEFAULT now())"
            )
            await conn.execute("INSERT INTO bench_meta.generated (version) VALUES ($1)", VERSION)
        t0 = time.perf_counter()
        await conn.execute("VACUUM ANALYZE")
        say(f"  vacuum analyze: {time.perf_counter() - t0:.1f} s")
        counts = await conn.fetchrow(
            "SELECT (SELECT count(*) FROM customers) AS customers, (SELECT count(*) FROM documentation) AS docs, "
            "(SELECT count(*) FROM user_integrations) AS installs, "
            "(SELECT count(*) FROM customer_assignments) AS assignments"
        )
        say(f"  rows: {dict(counts)}")
    finally:
        await conn.close()


if __name__ == "__main__":
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    from bench.common import bench_cluster, prepare_large

    async def main() -> None:
        with bench_cluster() as cluster:
            await prepare_large(cluster)
            print(f"ready: {cluster.owner_dsn('bench_large')}")

    asyncio.run(main())
