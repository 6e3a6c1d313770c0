-- The parking lot (issue 14) joins the live resource machinery (issue 13, migration 20251212000000) as the kind
-- "parking_lot", renubu://parking-lot/{item_id}: its ids complete (the caller's own items, by title or pasted id
-- prefix, open ones first), its items are in resources/list, a subscriber may hear of an item exactly when they may
-- read it, and a write to an item notifies its URI. readable and resources_of are restated whole with the new kind
-- (CREATE OR REPLACE); nothing else about them changes.

SET search_path = public, extensions;

-- The caller's own items (an admin's too: a completion offers what one would pick, not everyone's lot).
CREATE OR REPLACE FUNCTION renubu_read.complete_parked_items(p jsonb)
RETURNS text LANGUAGE sql STABLE SET search_path = '' AS $$
  SELECT renubu_read.completion((
    SELECT pg_catalog.json_agg(m.id ORDER BY m.rank, m.resolved, m.updated_at DESC, m.id) FROM (
      SELECT i.id, r.rank, i.status <> 'parked' AS resolved, i.updated_at FROM public.parking_lot_items i
      CROSS JOIN LATERAL (SELECT CASE WHEN renubu_read.id_starts_with(i.id, renubu_read.fragment(p)) THEN 0
                                      ELSE renubu_read.match_rank(i.title, renubu_read.fragment(p)) END AS rank) r
      WHERE i.user_id = (SELECT auth.uid()) AND i.deleted_at IS NULL AND r.rank IS NOT NULL
      ORDER BY 2, 3, 4 DESC, 1 LIMIT (p ->> 'limit')::int + 1) m), (p ->> 'limit')::int)
$$;

CREATE OR REPLACE FUNCTION renubu_read.readable(p jsonb)
RETURNS text LANGUAGE plpgsql STABLE SET search_path = '' AS $$
DECLARE
  v_customers uuid[] := ARRAY(SELECT pg_catalog.jsonb_array_elements_text(p -> 'customers'))::uuid[];
  v_workflows uuid[] := ARRAY(SELECT pg_catalog.jsonb_array_elements_text(p -> 'workflows'))::uuid[];
  v_docs text[] := ARRAY(SELECT pg_catalog.jsonb_array_elements_text(p -> 'docs'));
  v_features text[] := ARRAY(SELECT pg_catalog.jsonb_array_elements_text(p -> 'features'));
  v_integrations text[] := ARRAY(SELECT pg_catalog.jsonb_array_elements_text(p -> 'integrations'));
  v_installs uuid[] := ARRAY(SELECT pg_catalog.jsonb_array_elements_text(p -> 'installs'))::uuid[];
  v_parked uuid[] := ARRAY(SELECT pg_catalog.jsonb_array_elements_text(p -> 'parking_lot'))::uuid[];
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
                 WHERE ui.id = ANY (v_installs)),
    'parking_lot', (SELECT pg_catalog.json_agg(i.id) FROM public.parking_lot_items i
                    WHERE i.id = ANY (v_parked) AND i.deleted_at IS NULL)
  ))::text;
END
$$;

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
  ELSIF p_kind = 'parking_lot' THEN
    SELECT pg_catalog.jsonb_agg(pg_catalog.jsonb_build_object(
             'key', i.id, 'uri', 'renubu://parking-lot/' || i.id, 'name', i.title) ORDER BY i.id)
    INTO v_rows FROM (
      SELECT i.id, i.title FROM public.parking_lot_items i
      WHERE i.deleted_at IS NULL AND (p_after IS NULL OR i.id > (p_after #>> '{}')::uuid)
        AND (v_admin OR i.user_id = (SELECT auth.uid()))
      ORDER BY i.id LIMIT p_limit) i;
  ELSE
    RAISE EXCEPTION 'unknown resource kind %', p_kind USING ERRCODE = 'raise_exception';
  END IF;
  RETURN coalesce(v_rows, '[]'::jsonb);
END
$$;

REVOKE ALL ON FUNCTION renubu_read.complete_parked_items(jsonb) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION renubu_read.complete_parked_items(jsonb) TO authenticated, service_role;

CREATE OR REPLACE TRIGGER parking_lot_items_resource_changed
  AFTER INSERT OR UPDATE OR DELETE ON public.parking_lot_items
  FOR EACH ROW EXECUTE FUNCTION renubu_live.resource_changed('renubu://parking-lot/{id}');

/* ROLLBACK
DROP TRIGGER IF EXISTS parking_lot_items_resource_changed ON public.parking_lot_items;
DROP FUNCTION IF EXISTS renubu_read.complete_parked_items(jsonb);
-- then restore renubu_read.readable and renubu_read.resources_of from 20251212000000.
*/
