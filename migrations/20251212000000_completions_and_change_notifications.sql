-- Completions, the resource list and change notifications (issue 13).
--
-- Completion (completion/complete): renubu_read.complete_<kind>(p) returns {"values": [...], "has_more": true?},
-- at most p.limit values of one resource-template parameter for p.fragment, best matches first: an id that
-- starts with the fragment (when it looks like a pasted id), then a name that starts with it, then a word in the
-- name that starts with it, then (3 characters or more) a name that contains it. They run as the caller like every
-- read, so RLS decides what can be offered. A CSM's candidates are their assigned customers; an admin's come from
-- admin_customer_completion_ids, which finds them through indexes as the table owner (under RLS the planner cannot
-- use an index for LIKE, which is not leakproof: the same reason as admin_customer_ids_by_name) and returns ids
-- only, read again through RLS. With one or two characters an admin's completion is by prefix only: a substring
-- of two letters has no trigram to look up and would scan a million names.
--
-- The resource list (resources/list): renubu_read.list_resources(p) pages through every concrete resource the
-- caller can read, kind by kind in the order p.kinds gives, each kind by its key (keyset paging).
--
-- Change notifications: after a write, a row trigger on each table a resource is built from sends
-- pg_notify('renubu_resource_changes', '[[uri, witness], ...]') with the URIs of the resources the row belongs to.
-- NOTIFY is delivered at commit (never for a rolled-back write) to every server process that LISTENs, whichever
-- process or program made the write (Renubu's own app writes these tables too). The witness, when there is one, is
-- a second resource the subscriber must also be able to read: a change to Bob's workflow on a customer Alice shares
-- with him is not news Alice may have. Servers check both under the subscriber's RLS (renubu_read.readable) before
-- they tell anyone. The payload holds URIs only (ids and slugs), never content.
--
-- The table-to-resource mapping is the list of CREATE TRIGGER statements at the end: one trigger per table, its
-- arguments the URI templates ({column} is the row's value; a witness follows " when "). renubu_live.row_keys adds
-- the parent keys a child row does not carry (the customer of a task's workflow, the slug of a version's doc).

SET search_path = public, extensions;

-- --- Indexes for completing by prefix and substring -----------------------------------------------------------

-- Byte order ("C") so that a prefix is an index range whatever the database's collation.
CREATE INDEX IF NOT EXISTS idx_customers_name_completion
  ON public.customers ((lower(name) COLLATE "C"), id) WHERE deleted_at IS NULL;
CREATE INDEX IF NOT EXISTS idx_workflow_executions_name_completion
  ON public.workflow_executions ((lower(workflow_name) COLLATE "C")) WHERE deleted_at IS NULL;
CREATE INDEX IF NOT EXISTS idx_workflow_executions_name_trgm
  ON public.workflow_executions USING gin (workflow_name gin_trgm_ops) WHERE deleted_at IS NULL;
CREATE INDEX IF NOT EXISTS idx_documentation_slug_completion
  ON public.documentation ((slug COLLATE "C")) WHERE deleted_at IS NULL;
CREATE INDEX IF NOT EXISTS idx_documentation_completion_trgm
  ON public.documentation USING gin ((slug || ' ' || title) gin_trgm_ops) WHERE deleted_at IS NULL;

-- --- Completion --------------------------------------------------------------------------------------------------

-- `p` with LIKE's wildcards taken literally.
CREATE OR REPLACE FUNCTION renubu_read.like_escape(p text)
RETURNS text LANGUAGE sql IMMUTABLE AS $$
  SELECT pg_catalog.replace(pg_catalog.replace(pg_catalog.replace(p, '\', '\\'), '%', '\%'), '_', '\_')
$$;

-- Whether a (lower-case) fragment is worth matching against ids: hex digits and dashes, with a digit or a dash in
-- it or at least 8 long (so that "bead" or "cafe" stays a name).
CREATE OR REPLACE FUNCTION renubu_read.is_id_prefix(p_fragment text)
RETURNS boolean LANGUAGE sql IMMUTABLE AS $$
  SELECT p_fragment ~ '^[0-9a-f-]+$'
     AND pg_catalog.length(pg_catalog.replace(p_fragment, '-', '')) BETWEEN 1 AND 32
     AND (p_fragment ~ '[0-9-]' OR pg_catalog.length(p_fragment) >= 8)
$$;

CREATE OR REPLACE FUNCTION renubu_read.id_starts_with(p_id uuid, p_fragment text)
RETURNS boolean LANGUAGE sql IMMUTABLE AS $$
  SELECT renubu_read.is_id_prefix(p_fragment)
     AND pg_catalog.starts_with(pg_catalog.replace(p_id::text, '-', ''), pg_catalog.replace(p_fragment, '-', ''))
$$;

-- How well a text matches a lower-case fragment: 1 it starts with it (or the fragment is empty), 2 a word in it
-- does (words split at spaces and - _ . /), 3 it contains it (fragments of 3 characters or more), NULL no match.
CREATE OR REPLACE FUNCTION renubu_read.match_rank(p_text text, p_fragment text)
RETURNS int LANGUAGE sql IMMUTABLE AS $$
  SELECT CASE
    WHEN p_text IS NULL THEN NULL
    WHEN p_fragment = '' OR pg_catalog.starts_with(pg_catalog.lower(p_text), p_fragment) THEN 1
    WHEN pg_catalog.strpos(' ' || pg_catalog.translate(pg_catalog.lower(p_text), '-_./', '    '), ' ' || p_fragment) > 0
      THEN 2
    WHEN pg_catalog.length(p_fragment) >= 3 AND pg_catalog.strpos(pg_catalog.lower(p_text), p_fragment) > 0 THEN 3
  END
$$;

-- The completion document from ranked values (one more than the limit: then there are more).
CREATE OR REPLACE FUNCTION renubu_read.completion(p_values json, p_limit int)
RETURNS text LANGUAGE sql IMMUTABLE AS $$
  SELECT pg_catalog.json_strip_nulls(pg_catalog.json_build_object(
    'values', coalesce((SELECT pg_catalog.json_agg(v.value ORDER BY v.n)
                        FROM pg_catalog.json_array_elements(p_values) WITH ORDINALITY AS v(value, n)
                        WHERE v.n <= p_limit), '[]'::json),
    'has_more', CASE WHEN pg_catalog.json_array_length(coalesce(p_values, '[]'::json)) > p_limit THEN true END))::text
$$;

CREATE OR REPLACE FUNCTION renubu_read.fragment(p jsonb)
RETURNS text LANGUAGE sql IMMUTABLE AS $$
  SELECT pg_catalog.lower(pg_catalog.btrim(coalesce(p ->> 'fragment', '')))
$$;

-- An admin's candidate customers for a fragment, found through indexes: ids starting with it, names starting with it
-- (in byte order), and for 3 characters or more up to 500 names containing it. Ids only; nothing for anyone else.
CREATE OR REPLACE FUNCTION public.admin_customer_completion_ids(p_fragment text, p_limit integer)
RETURNS SETOF uuid LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = '' AS $$
DECLARE
  v_hex text := pg_catalog.replace(p_fragment, '-', '');
BEGIN
  IF p_fragment IS NULL OR NOT public.is_admin() THEN
    RETURN;
  END IF;
  IF renubu_read.is_id_prefix(p_fragment) THEN
    RETURN QUERY SELECT c.id FROM public.customers c
      WHERE c.id BETWEEN pg_catalog.rpad(v_hex, 32, '0')::uuid AND pg_catalog.rpad(v_hex, 32, 'f')::uuid
        AND c.deleted_at IS NULL
      ORDER BY c.id LIMIT p_limit;
  END IF;
  IF p_fragment = '' THEN
    RETURN QUERY SELECT c.id FROM public.customers c WHERE c.deleted_at IS NULL
      ORDER BY (pg_catalog.lower(c.name) COLLATE "C"), c.id LIMIT p_limit;
    RETURN;
  END IF;
  -- The names from the fragment up to (not including) the fragment with its last character one higher.
  RETURN QUERY SELECT c.id FROM public.customers c
    WHERE (pg_catalog.lower(c.name) COLLATE "C") >= p_fragment
      AND (pg_catalog.lower(c.name) COLLATE "C") < pg_catalog.left(p_fragment, -1)
          || pg_catalog.chr(pg_catalog.ascii(pg_catalog.right(p_fragment, 1)) + 1)
      AND c.deleted_at IS NULL
    ORDER BY (pg_catalog.lower(c.name) COLLATE "C"), c.id LIMIT p_limit;
  IF pg_catalog.length(p_fragment) >= 3 THEN
    -- Planned for this fragment each time: a rare one is answered by the trigram index, a common one by a walk
    -- that stops at the limit; one cached generic plan fits neither.
    RETURN QUERY EXECUTE
      'SELECT c.id FROM public.customers c WHERE c.name ILIKE $1 AND c.deleted_at IS NULL LIMIT 500'
      USING '%' || renubu_read.like_escape(p_fragment) || '%';
  END IF;
END
$$;
REVOKE ALL ON FUNCTION public.admin_customer_completion_ids(text, integer)
  FROM PUBLIC, anon, authenticated, service_role;
GRANT EXECUTE ON FUNCTION public.admin_customer_completion_ids(text, integer) TO authenticated, service_role;

CREATE OR REPLACE FUNCTION renubu_read.complete_customers(p jsonb)
RETURNS text LANGUAGE plpgsql STABLE SET search_path = '' AS $$
DECLARE
  v_fragment text := renubu_read.fragment(p);
  v_limit int := (p ->> 'limit')::int;
  v_ids uuid[];
BEGIN
  IF (SELECT public.is_admin()) THEN
    v_ids := ARRAY(SELECT public.admin_customer_completion_ids(v_fragment, v_limit + 1));
  ELSE
    v_ids := ARRAY(SELECT public.assigned_customer_ids());
  END IF;
  RETURN renubu_read.completion((
    SELECT pg_catalog.json_agg(m.id ORDER BY m.rank, m.sort_key, m.id) FROM (
      SELECT c.id, r.rank, pg_catalog.lower(c.name) COLLATE "C" AS sort_key
      FROM public.customers c
      CROSS JOIN LATERAL (SELECT CASE WHEN renubu_read.id_starts_with(c.id, v_fragment) THEN 0
                                      ELSE renubu_read.match_rank(c.name, v_fragment) END AS rank) r
      WHERE c.id = ANY (v_ids) AND c.deleted_at IS NULL AND r.rank IS NOT NULL
      ORDER BY r.rank, 3, c.id LIMIT v_limit + 1) m), v_limit);
END
$$;

-- An admin's candidate workflows, found through indexes like their candidate customers: ids starting with the
-- fragment, names starting with it, workflows of the customers whose names match, and for 3 characters or more up
-- to 500 names containing it. With no fragment, the first by id (an admin sees every workflow: type a name).
CREATE OR REPLACE FUNCTION public.admin_workflow_completion_ids(p_fragment text, p_limit integer)
RETURNS SETOF uuid LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = '' AS $$
DECLARE
  v_hex text := pg_catalog.replace(p_fragment, '-', '');
BEGIN
  IF p_fragment IS NULL OR NOT public.is_admin() THEN
    RETURN;
  END IF;
  IF renubu_read.is_id_prefix(p_fragment) THEN
    RETURN QUERY SELECT e.id FROM public.workflow_executions e
      WHERE e.id BETWEEN pg_catalog.rpad(v_hex, 32, '0')::uuid AND pg_catalog.rpad(v_hex, 32, 'f')::uuid
        AND e.deleted_at IS NULL
      ORDER BY e.id LIMIT p_limit;
  END IF;
  IF p_fragment = '' THEN
    RETURN QUERY SELECT e.id FROM public.workflow_executions e WHERE e.deleted_at IS NULL ORDER BY e.id LIMIT p_limit;
    RETURN;
  END IF;
  RETURN QUERY SELECT e.id FROM public.workflow_executions e
    WHERE (pg_catalog.lower(e.workflow_name) COLLATE "C") >= p_fragment
      AND (pg_catalog.lower(e.workflow_name) COLLATE "C") < pg_catalog.left(p_fragment, -1)
          || pg_catalog.chr(pg_catalog.ascii(pg_catalog.right(p_fragment, 1)) + 1)
      AND e.deleted_at IS NULL
    ORDER BY (pg_catalog.lower(e.workflow_name) COLLATE "C") LIMIT p_limit;
  RETURN QUERY SELECT e.id FROM public.workflow_executions e
    WHERE e.customer_id IN (SELECT public.admin_customer_completion_ids(p_fragment, p_limit)) AND e.deleted_at IS NULL
    LIMIT 500;
  IF pg_catalog.length(p_fragment) >= 3 THEN
    RETURN QUERY EXECUTE
      'SELECT e.id FROM public.workflow_executions e WHERE e.workflow_name ILIKE $1 AND e.deleted_at IS NULL LIMIT 500'
      USING '%' || renubu_read.like_escape(p_fragment) || '%';
  END IF;
END
$$;
REVOKE ALL ON FUNCTION public.admin_workflow_completion_ids(text, integer)
  FROM PUBLIC, anon, authenticated, service_role;
GRANT EXECUTE ON FUNCTION public.admin_workflow_completion_ids(text, integer) TO authenticated, service_role;

-- Workflows by their name or their customer's name (or id), open ones first, then the latest activity. A user's
-- candidates are their own workflows; an admin's come from admin_workflow_completion_ids.
CREATE OR REPLACE FUNCTION renubu_read.complete_workflows(p jsonb)
RETURNS text LANGUAGE plpgsql STABLE SET search_path = '' AS $$
DECLARE
  v_fragment text := renubu_read.fragment(p);
  v_limit int := (p ->> 'limit')::int;
  v_ids uuid[];
BEGIN
  IF (SELECT public.is_admin()) THEN
    v_ids := ARRAY(SELECT public.admin_workflow_completion_ids(v_fragment, v_limit + 1));
  ELSE
    v_ids := ARRAY(SELECT e.id FROM public.workflow_executions e WHERE e.user_id = (SELECT auth.uid()));
  END IF;
  RETURN renubu_read.completion((
    SELECT pg_catalog.json_agg(m.id ORDER BY m.rank, m.done, m.updated_at DESC, m.id) FROM (
      SELECT e.id, r.rank, e.status = 'completed' AS done, e.updated_at
      FROM public.workflow_executions e
      LEFT JOIN public.customers c ON c.id = e.customer_id
      CROSS JOIN LATERAL (SELECT CASE WHEN renubu_read.id_starts_with(e.id, v_fragment) THEN 0
                                      ELSE least(renubu_read.match_rank(e.workflow_name, v_fragment),
                                                 renubu_read.match_rank(c.name, v_fragment)) END AS rank) r
      WHERE e.id = ANY (v_ids) AND e.deleted_at IS NULL AND r.rank IS NOT NULL
      ORDER BY r.rank, 3, e.updated_at DESC, e.id LIMIT v_limit + 1) m), v_limit);
END
$$;

-- Doc slugs by slug or title. Docs are readable by every signed-in user (the policy is `true`), so the indexes
-- serve the invoker directly.
CREATE OR REPLACE FUNCTION renubu_read.complete_docs(p jsonb)
RETURNS text LANGUAGE plpgsql STABLE SET search_path = '' AS $$
DECLARE
  v_fragment text := renubu_read.fragment(p);
  v_limit int := (p ->> 'limit')::int;
  v_ids uuid[];
  v_more uuid[];
BEGIN
  IF v_fragment = '' THEN
    v_ids := ARRAY(SELECT d.id FROM public.documentation d WHERE d.deleted_at IS NULL
                   ORDER BY (d.slug COLLATE "C") LIMIT v_limit + 1);
  ELSE
    v_ids := ARRAY(SELECT d.id FROM public.documentation d
                   WHERE (d.slug COLLATE "C") >= v_fragment
                     AND (d.slug COLLATE "C") < pg_catalog.left(v_fragment, -1)
                         || pg_catalog.chr(pg_catalog.ascii(pg_catalog.right(v_fragment, 1)) + 1)
                     AND d.deleted_at IS NULL
                   ORDER BY (d.slug COLLATE "C") LIMIT v_limit + 1);
    IF pg_catalog.length(v_fragment) >= 3 THEN
      EXECUTE 'SELECT ARRAY(SELECT d.id FROM public.documentation d'
              ' WHERE (d.slug || '' '' || d.title) ILIKE $1 AND d.deleted_at IS NULL LIMIT 500)'
        INTO STRICT v_more USING '%' || renubu_read.like_escape(v_fragment) || '%';
      v_ids := v_ids || v_more;
    END IF;
  END IF;
  RETURN renubu_read.completion((
    SELECT pg_catalog.json_agg(m.slug ORDER BY m.rank, m.slug) FROM (
      SELECT d.slug COLLATE "C" AS slug,
             least(renubu_read.match_rank(d.slug, v_fragment), renubu_read.match_rank(d.title, v_fragment)) AS rank
      FROM public.documentation d
      WHERE d.id = ANY (v_ids) AND d.deleted_at IS NULL
        AND least(renubu_read.match_rank(d.slug, v_fragment), renubu_read.match_rank(d.title, v_fragment)) IS NOT NULL
      ORDER BY 2, 1 LIMIT v_limit + 1) m), v_limit);
END
$$;

-- The version numbers of the doc p.slug (its snapshots and its current number), newest first.
CREATE OR REPLACE FUNCTION renubu_read.complete_doc_versions(p jsonb)
RETURNS text LANGUAGE sql STABLE SET search_path = '' AS $$
  SELECT renubu_read.completion((
    SELECT pg_catalog.json_agg(n.number::text ORDER BY n.number DESC) FROM (
      SELECT DISTINCT x.number FROM public.documentation d
      CROSS JOIN LATERAL (SELECT d.version AS number
                          UNION ALL
                          SELECT v.version_number FROM public.documentation_versions v WHERE v.doc_id = d.id) x
      WHERE d.slug = p ->> 'slug' AND d.deleted_at IS NULL
        AND pg_catalog.starts_with(x.number::text, renubu_read.fragment(p))
      ORDER BY x.number DESC LIMIT (p ->> 'limit')::int + 1) n), (p ->> 'limit')::int)
$$;

CREATE OR REPLACE FUNCTION renubu_read.complete_features(p jsonb)
RETURNS text LANGUAGE sql STABLE SET search_path = '' AS $$
  SELECT renubu_read.completion((
    SELECT pg_catalog.json_agg(m.slug ORDER BY m.rank, m.slug) FROM (
      SELECT f.slug COLLATE "C" AS slug, r.rank FROM public.features f
      CROSS JOIN LATERAL (SELECT least(renubu_read.match_rank(f.slug, renubu_read.fragment(p)),
                                       renubu_read.match_rank(f.title, renubu_read.fragment(p))) AS rank) r
      WHERE f.deleted_at IS NULL AND r.rank IS NOT NULL
      ORDER BY 2, 1 LIMIT (p ->> 'limit')::int + 1) m), (p ->> 'limit')::int)
$$;

CREATE OR REPLACE FUNCTION renubu_read.complete_integrations(p jsonb)
RETURNS text LANGUAGE sql STABLE SET search_path = '' AS $$
  SELECT renubu_read.completion((
    SELECT pg_catalog.json_agg(m.slug ORDER BY m.rank, m.slug) FROM (
      SELECT i.slug COLLATE "C" AS slug, r.rank FROM public.mcp_integrations i
      CROSS JOIN LATERAL (SELECT least(renubu_read.match_rank(i.slug, renubu_read.fragment(p)),
                                       renubu_read.match_rank(i.name, renubu_read.fragment(p))) AS rank) r
      WHERE i.deleted_at IS NULL AND r.rank IS NOT NULL
      ORDER BY 2, 1 LIMIT (p ->> 'limit')::int + 1) m), (p ->> 'limit')::int)
$$;

-- The caller's own installs (by the integration's slug or name, or the install id).
CREATE OR REPLACE FUNCTION renubu_read.complete_installs(p jsonb)
RETURNS text LANGUAGE sql STABLE SET search_path = '' AS $$
  SELECT renubu_read.completion((
    SELECT pg_catalog.json_agg(m.id ORDER BY m.rank, m.slug, m.id) FROM (
      SELECT ui.id, i.slug COLLATE "C" AS slug, r.rank FROM public.user_integrations ui
      JOIN public.mcp_integrations i ON i.id = ui.integration_id
      CROSS JOIN LATERAL (SELECT CASE WHEN renubu_read.id_starts_with(ui.id, renubu_read.fragment(p)) THEN 0
                                      ELSE least(renubu_read.match_rank(i.slug, renubu_read.fragment(p)),
                                                 renubu_read.match_rank(i.name, renubu_read.fragment(p))) END AS rank) r
      WHERE ui.user_id = (SELECT auth.uid()) AND ui.deleted_at IS NULL AND r.rank IS NOT NULL
      ORDER BY 3, 2, 1 LIMIT (p ->> 'limit')::int + 1) m), (p ->> 'limit')::int)
$$;

-- --- What a subscriber may read --------------------------------------------------------------------------------

-- Of the resources named in p (by kind: {"customers": [ids], "doc_versions": [[slug, n]], "releases": ["current"],
-- ...}), those the caller can read now, in the same shape: each test is the condition under which the resource's
-- read (resources/read) answers instead of "not found". The ids are typed before the queries: a cast inside a
-- query is not leakproof, so under RLS it would be applied after the policy, to every row (a scan of 1M customers).
CREATE OR REPLACE FUNCTION renubu_read.readable(p jsonb)
RETURNS text LANGUAGE plpgsql STABLE SET search_path = '' AS $$
DECLARE
  v_customers uuid[] := ARRAY(SELECT pg_catalog.jsonb_array_elements_text(p -> 'customers'))::uuid[];
  v_workflows uuid[] := ARRAY(SELECT pg_catalog.jsonb_array_elements_text(p -> 'workflows'))::uuid[];
  v_docs text[] := ARRAY(SELECT pg_catalog.jsonb_array_elements_text(p -> 'docs'));
  v_features text[] := ARRAY(SELECT pg_catalog.jsonb_array_elements_text(p -> 'features'));
  v_integrations text[] := ARRAY(SELECT pg_catalog.jsonb_array_elements_text(p -> 'integrations'));
  v_installs uuid[] := ARRAY(SELECT pg_catalog.jsonb_array_elements_text(p -> 'installs'))::uuid[];
  v_version_slugs text[] := ARRAY(SELECT v ->> 0 FROM pg_catalog.jsonb_array_elements(p -> 'doc_versions') v);
  v_version_numbers int[] := ARRAY(SELECT (v ->> 1)::int FROM pg_catalog.jsonb_array_elements(p -> 'doc_versions') v);
BEGIN
  RETURN pg_catalog.json_strip_nulls(pg_catalog.json_build_object(
    'customers', (SELECT pg_catalog.json_agg(c.id) FROM public.customers c
                  WHERE c.id = ANY (v_customers) AND c.deleted_at IS NULL),
    'workflows', (SELECT pg_catalog.json_agg(e.id) FROM public.workflow_executions e
                  WHERE e.id = ANY (v_workflows) AND e.deleted_at IS NULL),
    'docs', (SELECT pg_catalog.json_agg(d.slug) FROM public.documentation d
             WHERE d.slug = ANY (v_docs) AND d.deleted_at IS NULL),
    'doc_versions', (SELECT pg_catalog.json_agg(pg_catalog.json_build_array(d.slug, x.number))
                     FROM unnest(v_version_slugs, v_version_numbers) AS x(slug, number)
                     JOIN public.documentation d ON d.slug = x.slug AND d.deleted_at IS NULL
                     WHERE x.number = d.version OR EXISTS (
                       SELECT 1 FROM public.documentation_versions v
                       WHERE v.doc_id = d.id AND v.version_number = x.number)),
    'features', (SELECT pg_catalog.json_agg(f.slug) FROM public.features f
                 WHERE f.slug = ANY (v_features) AND f.deleted_at IS NULL),
    'releases', CASE WHEN p ? 'releases' AND EXISTS (SELECT 1 FROM public.releases r WHERE r.is_current)
                     THEN pg_catalog.json_build_array('current') END,
    'integrations', (SELECT pg_catalog.json_agg(i.slug) FROM public.mcp_integrations i
                     WHERE i.slug = ANY (v_integrations) AND i.deleted_at IS NULL),
    'installs', (SELECT pg_catalog.json_agg(ui.id) FROM public.user_integrations ui
                 JOIN public.mcp_integrations i ON i.id = ui.integration_id
                 WHERE ui.id = ANY (v_installs))
  ))::text;
END
$$;

-- Of the customers and workflows named in p, those with a snoozed workflow that reading would wake now.
CREATE OR REPLACE FUNCTION renubu_read.due_to_wake(p jsonb)
RETURNS text LANGUAGE sql STABLE SET search_path = '' AS $$
  SELECT pg_catalog.json_strip_nulls(pg_catalog.json_build_object(
    'customers', (SELECT pg_catalog.json_agg(x.id) FROM pg_catalog.jsonb_array_elements_text(p -> 'customers') x(id)
                  WHERE renubu_read.wake_due(x.id::uuid, NULL)),
    'workflows', (SELECT pg_catalog.json_agg(x.id) FROM pg_catalog.jsonb_array_elements_text(p -> 'workflows') x(id)
                  WHERE renubu_read.wake_due(NULL, x.id::uuid))
  ))::text
$$;

-- --- The resource list -------------------------------------------------------------------------------------------

-- Up to p_limit resources of one kind after the key p_after (NULL: from the start), in key order, as
-- [{"key", "uri", "name"}]. A CSM's customers start from their assignments and their workflows from their own,
-- for the planner; RLS decides in every branch.
CREATE OR REPLACE FUNCTION renubu_read.resources_of(p_kind text, p_after jsonb, p_limit int)
RETURNS jsonb LANGUAGE plpgsql STABLE SET search_path = '' AS $$
DECLARE
  v_admin boolean := (SELECT public.is_admin());
  v_rows jsonb;
BEGIN
  IF p_kind = 'customers' THEN
    SELECT pg_catalog.jsonb_agg(pg_catalog.jsonb_build_object('key', c.id, 'uri', 'renubu://customers/' || c.id,
                                                              'name', c.name) ORDER BY c.id)
    INTO v_rows FROM (
      SELECT c.id, c.name FROM public.customers c
      WHERE c.deleted_at IS NULL AND (p_after IS NULL OR c.id > (p_after #>> '{}')::uuid)
        AND (v_admin OR c.id = ANY (ARRAY(SELECT public.assigned_customer_ids())))
      ORDER BY c.id LIMIT p_limit) c;
  ELSIF p_kind = 'workflows' THEN
    SELECT pg_catalog.jsonb_agg(pg_catalog.jsonb_build_object('key', e.id, 'uri', 'renubu://workflows/' || e.id,
                                                              'name', e.workflow_name) ORDER BY e.id)
    INTO v_rows FROM (
      SELECT e.id, e.workflow_name FROM public.workflow_executions e
      WHERE e.deleted_at IS NULL AND (p_after IS NULL OR e.id > (p_after #>> '{}')::uuid)
        AND (v_admin OR e.user_id = (SELECT auth.uid()))
      ORDER BY e.id LIMIT p_limit) e;
  ELSIF p_kind = 'docs' THEN
    SELECT pg_catalog.jsonb_agg(pg_catalog.jsonb_build_object('key', d.slug, 'uri', 'renubu://docs/' || d.slug,
                                                              'name', d.title) ORDER BY d.slug)
    INTO v_rows FROM (
      SELECT d.slug COLLATE "C" AS slug, d.title FROM public.documentation d
      WHERE d.deleted_at IS NULL AND (p_after IS NULL OR (d.slug COLLATE "C") > p_after #>> '{}')
      ORDER BY 1 LIMIT p_limit) d;
  ELSIF p_kind = 'doc_versions' THEN
    SELECT pg_catalog.jsonb_agg(pg_catalog.jsonb_build_object(
             'key', pg_catalog.jsonb_build_array(v.slug, v.version_number),
             'uri', 'renubu://docs/' || v.slug || '/versions/' || v.version_number,
             'name', v.title || ' (version ' || v.version_number || ')') ORDER BY v.slug, v.version_number)
    INTO v_rows FROM (
      SELECT d.slug COLLATE "C" AS slug, v.version_number, v.title FROM public.documentation_versions v
      JOIN public.documentation d ON d.id = v.doc_id AND d.deleted_at IS NULL
      WHERE p_after IS NULL OR ((d.slug COLLATE "C"), v.version_number) > (p_after ->> 0, (p_after ->> 1)::int)
      ORDER BY 1, 2 LIMIT p_limit) v;
  ELSIF p_kind = 'features' THEN
    SELECT pg_catalog.jsonb_agg(pg_catalog.jsonb_build_object('key', f.slug, 'uri', 'renubu://features/' || f.slug,
                                                              'name', f.title) ORDER BY f.slug)
    INTO v_rows FROM (
      SELECT f.slug COLLATE "C" AS slug, f.title FROM public.features f
      WHERE f.deleted_at IS NULL AND (p_after IS NULL OR (f.slug COLLATE "C") > p_after #>> '{}')
      ORDER BY 1 LIMIT p_limit) f;
  ELSIF p_kind = 'releases' THEN
    SELECT pg_catalog.jsonb_agg(pg_catalog.jsonb_build_object('key', 'current', 'uri', 'renubu://releases/current',
                                                              'name', 'Current release'))
    INTO v_rows FROM public.releases r WHERE r.is_current AND p_after IS NULL AND p_limit > 0;
  ELSIF p_kind = 'integrations' THEN
    SELECT pg_catalog.jsonb_agg(pg_catalog.jsonb_build_object('key', i.slug, 'uri', 'renubu://integrations/' || i.slug,
                                                              'name', i.name) ORDER BY i.slug)
    INTO v_rows FROM (
      SELECT i.slug COLLATE "C" AS slug, i.name FROM public.mcp_integrations i
      WHERE i.deleted_at IS NULL AND (p_after IS NULL OR (i.slug COLLATE "C") > p_after #>> '{}')
      ORDER BY 1 LIMIT p_limit) i;
  ELSIF p_kind = 'installs' THEN
    SELECT pg_catalog.jsonb_agg(pg_catalog.jsonb_build_object(
             'key', u.id, 'uri', 'renubu://installs/' || u.id || '/events', 'name', u.name || ' events') ORDER BY u.id)
    INTO v_rows FROM (
      SELECT ui.id, i.name FROM public.user_integrations ui JOIN public.mcp_integrations i ON i.id = ui.integration_id
      WHERE (p_after IS NULL OR ui.id > (p_after #>> '{}')::uuid) AND (v_admin OR ui.user_id = (SELECT auth.uid()))
      ORDER BY ui.id LIMIT p_limit) u;
  ELSE
    RAISE EXCEPTION 'unknown resource kind %', p_kind USING ERRCODE = 'raise_exception';
  END IF;
  RETURN coalesce(v_rows, '[]'::jsonb);
END
$$;

-- One page of the caller's resources: {"resources": [{"uri", "name"}], "_next": {"kind", "key"}} (no _next on the
-- last page). p: {"kinds": [...in order], "after": {"kind", "key"} or absent, "limit": n}.
CREATE OR REPLACE FUNCTION renubu_read.list_resources(p jsonb)
RETURNS text LANGUAGE plpgsql STABLE SET search_path = '' AS $$
DECLARE
  v_limit int := (p ->> 'limit')::int;
  v_after jsonb := p -> 'after';
  v_kind text;
  v_started boolean := v_after IS NULL;
  v_rows jsonb := '[]';
  v_batch jsonb;
  v_last jsonb;
BEGIN
  FOR v_kind IN SELECT k FROM pg_catalog.jsonb_array_elements_text(p -> 'kinds') WITH ORDINALITY AS x(k, n)
                ORDER BY n LOOP
    IF NOT v_started THEN
      CONTINUE WHEN v_kind <> v_after ->> 'kind';
      v_started := true;
      v_batch := renubu_read.resources_of(v_kind, v_after -> 'key', v_limit + 1);
    ELSE
      v_batch := renubu_read.resources_of(v_kind, NULL, v_limit + 1 - pg_catalog.jsonb_array_length(v_rows));
    END IF;
    v_rows := v_rows || (SELECT coalesce(pg_catalog.jsonb_agg(r.value || pg_catalog.jsonb_build_object('kind', v_kind)
                                                               ORDER BY r.n), '[]')
                         FROM pg_catalog.jsonb_array_elements(v_batch) WITH ORDINALITY AS r(value, n));
    EXIT WHEN pg_catalog.jsonb_array_length(v_rows) > v_limit;
  END LOOP;
  IF pg_catalog.jsonb_array_length(v_rows) > v_limit THEN
    v_last := v_rows -> (v_limit - 1);
  END IF;
  RETURN pg_catalog.json_build_object(
    'resources', (SELECT coalesce(pg_catalog.jsonb_agg(pg_catalog.jsonb_build_object('uri', r.value -> 'uri',
                                                                                     'name', r.value -> 'name')
                                                       ORDER BY r.n), '[]')
                  FROM pg_catalog.jsonb_array_elements(v_rows) WITH ORDINALITY AS r(value, n) WHERE r.n <= v_limit),
    '_next', CASE WHEN v_last IS NOT NULL
                  THEN pg_catalog.jsonb_build_object('kind', v_last -> 'kind', 'key', v_last -> 'key') END)::text;
END
$$;

GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA renubu_read TO authenticated, service_role;

-- --- Change notifications ----------------------------------------------------------------------------------------

CREATE SCHEMA IF NOT EXISTS renubu_live;
REVOKE ALL ON SCHEMA renubu_live FROM PUBLIC;

-- `p_template` with each {column} replaced by the row's value; NULL when a value is missing.
CREATE OR REPLACE FUNCTION renubu_live.fill(p_template text, p_row jsonb)
RETURNS text LANGUAGE plpgsql IMMUTABLE STRICT SET search_path = '' AS $$
DECLARE
  v_out text := p_template;
  v_name text;
BEGIN
  FOR v_name IN SELECT m[1] FROM pg_catalog.regexp_matches(p_template, '\{([a-z_]+)\}', 'g') AS m LOOP
    IF p_row ->> v_name IS NULL THEN
      RETURN NULL;
    END IF;
    v_out := pg_catalog.replace(v_out, '{' || v_name || '}', p_row ->> v_name);
  END LOOP;
  RETURN v_out;
END
$$;

-- A row with the keys of its parents that URIs need and the row does not carry; a missing parent gives NULL, and
-- with it no URI.
CREATE OR REPLACE FUNCTION renubu_live.row_keys(p_row jsonb)
RETURNS jsonb LANGUAGE sql STABLE SET search_path = '' AS $$
  SELECT p_row
    || CASE WHEN p_row ? 'workflow_execution_id' THEN pg_catalog.jsonb_build_object('workflow_customer_id', (
         SELECT e.customer_id FROM public.workflow_executions e
         WHERE e.id = (p_row ->> 'workflow_execution_id')::uuid)) ELSE '{}'::jsonb END
    || CASE WHEN p_row ? 'doc_id' THEN pg_catalog.jsonb_build_object('doc_slug', (
         SELECT d.slug FROM public.documentation d WHERE d.id = (p_row ->> 'doc_id')::uuid)) ELSE '{}'::jsonb END
    || CASE WHEN p_row ? 'feature_id' THEN pg_catalog.jsonb_build_object('feature_slug', (
         SELECT f.slug FROM public.features f WHERE f.id = (p_row ->> 'feature_id')::uuid)) ELSE '{}'::jsonb END
$$;

-- The row trigger: its arguments are URI templates ("<uri> when <witness>" for a witness); the old and the new row
-- each fill them, and the distinct [uri, witness] pairs go out as one notification. SECURITY DEFINER so that any
-- role that may write the table (a request role, service_role, another program's own role) fires it without
-- rights on renubu_live; it reads parent keys and sends URIs, nothing else.
CREATE OR REPLACE FUNCTION renubu_live.resource_changed()
RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER SET search_path = '' AS $$
DECLARE
  v_rows jsonb[] := '{}';
  v_row jsonb;
  v_template text;
  v_uri text;
  v_changes jsonb := '[]';
BEGIN
  IF TG_OP <> 'INSERT' THEN
    v_rows := v_rows || renubu_live.row_keys(pg_catalog.to_jsonb(OLD));
  END IF;
  IF TG_OP <> 'DELETE' THEN
    v_rows := v_rows || renubu_live.row_keys(pg_catalog.to_jsonb(NEW));
  END IF;
  FOREACH v_row IN ARRAY v_rows LOOP
    FOREACH v_template IN ARRAY TG_ARGV LOOP
      v_uri := renubu_live.fill(pg_catalog.split_part(v_template, ' when ', 1), v_row);
      IF v_uri IS NOT NULL THEN
        v_changes := v_changes || pg_catalog.jsonb_build_array(pg_catalog.jsonb_build_array(
          v_uri, renubu_live.fill(NULLIF(pg_catalog.split_part(v_template, ' when ', 2), ''), v_row)));
      END IF;
    END LOOP;
  END LOOP;
  IF v_changes <> '[]'::jsonb THEN
    PERFORM pg_catalog.pg_notify('renubu_resource_changes', (
      SELECT pg_catalog.jsonb_agg(DISTINCT c) FROM pg_catalog.jsonb_array_elements(v_changes) c)::text);
  END IF;
  RETURN NULL;
END
$$;
-- A trigger runs its function without checking EXECUTE, so nobody needs it (or the helpers) granted.
REVOKE ALL ON FUNCTION renubu_live.resource_changed(), renubu_live.row_keys(jsonb), renubu_live.fill(text, jsonb)
  FROM PUBLIC, anon, authenticated, service_role;

-- The table-to-resource mapping.
CREATE OR REPLACE TRIGGER customers_resource_changed AFTER INSERT OR UPDATE OR DELETE ON public.customers
  FOR EACH ROW EXECUTE FUNCTION renubu_live.resource_changed('renubu://customers/{id}');
CREATE OR REPLACE TRIGGER contacts_resource_changed AFTER INSERT OR UPDATE OR DELETE ON public.contacts
  FOR EACH ROW EXECUTE FUNCTION renubu_live.resource_changed('renubu://customers/{customer_id}');
CREATE OR REPLACE TRIGGER workflow_executions_resource_changed
  AFTER INSERT OR UPDATE OR DELETE ON public.workflow_executions
  FOR EACH ROW EXECUTE FUNCTION renubu_live.resource_changed(
    'renubu://workflows/{id}', 'renubu://customers/{customer_id} when renubu://workflows/{id}');
CREATE OR REPLACE TRIGGER workflow_tasks_resource_changed AFTER INSERT OR UPDATE OR DELETE ON public.workflow_tasks
  FOR EACH ROW EXECUTE FUNCTION renubu_live.resource_changed(
    'renubu://workflows/{workflow_execution_id}',
    'renubu://customers/{workflow_customer_id} when renubu://workflows/{workflow_execution_id}');
CREATE OR REPLACE TRIGGER workflow_actions_resource_changed AFTER INSERT OR UPDATE OR DELETE ON public.workflow_actions
  FOR EACH ROW EXECUTE FUNCTION renubu_live.resource_changed(
    'renubu://workflows/{workflow_execution_id}',
    'renubu://customers/{workflow_customer_id} when renubu://workflows/{workflow_execution_id}');
CREATE OR REPLACE TRIGGER workflow_conditions_resource_changed
  AFTER INSERT OR UPDATE OR DELETE ON public.workflow_conditions
  FOR EACH ROW EXECUTE FUNCTION renubu_live.resource_changed('renubu://workflows/{workflow_execution_id}');
CREATE OR REPLACE TRIGGER documentation_resource_changed AFTER INSERT OR UPDATE OR DELETE ON public.documentation
  FOR EACH ROW EXECUTE FUNCTION renubu_live.resource_changed(
    'renubu://docs/{slug}', 'renubu://docs/{slug}/versions/{version}');
CREATE OR REPLACE TRIGGER documentation_versions_resource_changed
  AFTER INSERT OR UPDATE OR DELETE ON public.documentation_versions
  FOR EACH ROW EXECUTE FUNCTION renubu_live.resource_changed(
    'renubu://docs/{doc_slug}/versions/{version_number}', 'renubu://docs/{doc_slug}', 'renubu://releases/current');
CREATE OR REPLACE TRIGGER releases_resource_changed AFTER INSERT OR UPDATE OR DELETE ON public.releases
  FOR EACH ROW EXECUTE FUNCTION renubu_live.resource_changed('renubu://releases/current');
CREATE OR REPLACE TRIGGER features_resource_changed AFTER INSERT OR UPDATE OR DELETE ON public.features
  FOR EACH ROW EXECUTE FUNCTION renubu_live.resource_changed('renubu://features/{slug}');
CREATE OR REPLACE TRIGGER feature_updates_resource_changed AFTER INSERT OR UPDATE OR DELETE ON public.feature_updates
  FOR EACH ROW EXECUTE FUNCTION renubu_live.resource_changed('renubu://features/{feature_slug}');
CREATE OR REPLACE TRIGGER mcp_integrations_resource_changed AFTER INSERT OR UPDATE OR DELETE ON public.mcp_integrations
  FOR EACH ROW EXECUTE FUNCTION renubu_live.resource_changed('renubu://integrations/{slug}');
CREATE OR REPLACE TRIGGER integration_events_resource_changed
  AFTER INSERT OR UPDATE OR DELETE ON public.integration_events
  FOR EACH ROW EXECUTE FUNCTION renubu_live.resource_changed('renubu://installs/{user_integration_id}/events');

/* ROLLBACK
DROP TRIGGER IF EXISTS integration_events_resource_changed ON public.integration_events;
DROP TRIGGER IF EXISTS mcp_integrations_resource_changed ON public.mcp_integrations;
DROP TRIGGER IF EXISTS feature_updates_resource_changed ON public.feature_updates;
DROP TRIGGER IF EXISTS features_resource_changed ON public.features;
DROP TRIGGER IF EXISTS releases_resource_changed ON public.releases;
DROP TRIGGER IF EXISTS documentation_versions_resource_changed ON public.documentation_versions;
DROP TRIGGER IF EXISTS documentation_resource_changed ON public.documentation;
DROP TRIGGER IF EXISTS workflow_conditions_resource_changed ON public.workflow_conditions;
DROP TRIGGER IF EXISTS workflow_actions_resource_changed ON public.workflow_actions;
DROP TRIGGER IF EXISTS workflow_tasks_resource_changed ON public.workflow_tasks;
DROP TRIGGER IF EXISTS workflow_executions_resource_changed ON public.workflow_executions;
DROP TRIGGER IF EXISTS contacts_resource_changed ON public.contacts;
DROP TRIGGER IF EXISTS customers_resource_changed ON public.customers;
DROP SCHEMA IF EXISTS renubu_live CASCADE;
DROP FUNCTION IF EXISTS renubu_read.list_resources(jsonb);
DROP FUNCTION IF EXISTS renubu_read.resources_of(text, jsonb, int);
DROP FUNCTION IF EXISTS renubu_read.due_to_wake(jsonb);
DROP FUNCTION IF EXISTS renubu_read.readable(jsonb);
DROP FUNCTION IF EXISTS renubu_read.complete_installs(jsonb);
DROP FUNCTION IF EXISTS renubu_read.complete_integrations(jsonb);
DROP FUNCTION IF EXISTS renubu_read.complete_features(jsonb);
DROP FUNCTION IF EXISTS renubu_read.complete_doc_versions(jsonb);
DROP FUNCTION IF EXISTS renubu_read.complete_docs(jsonb);
DROP FUNCTION IF EXISTS renubu_read.complete_workflows(jsonb);
DROP FUNCTION IF EXISTS renubu_read.complete_customers(jsonb);
DROP FUNCTION IF EXISTS public.admin_workflow_completion_ids(text, integer);
DROP FUNCTION IF EXISTS public.admin_customer_completion_ids(text, integer);
DROP FUNCTION IF EXISTS renubu_read.fragment(jsonb);
DROP FUNCTION IF EXISTS renubu_read.completion(json, int);
DROP FUNCTION IF EXISTS renubu_read.match_rank(text, text);
DROP FUNCTION IF EXISTS renubu_read.id_starts_with(uuid, text);
DROP FUNCTION IF EXISTS renubu_read.is_id_prefix(text);
DROP FUNCTION IF EXISTS renubu_read.like_escape(text);
DROP INDEX IF EXISTS public.idx_documentation_completion_trgm;
DROP INDEX IF EXISTS public.idx_documentation_slug_completion;
DROP INDEX IF EXISTS public.idx_workflow_executions_name_trgm;
DROP INDEX IF EXISTS public.idx_workflow_executions_name_completion;
DROP INDEX IF EXISTS public.idx_customers_name_completion;
*/
