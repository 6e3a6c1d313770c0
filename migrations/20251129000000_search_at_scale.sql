-- Search at scale (issue 6).
--
-- search_docs: an index on the title's words, so that a search for a term found in most documents can still find
-- every document with the term in its title (which outranks the body) without ranking every match. The
-- expression is the title part of documentation.search_vector.
--
-- search_customers by name, for admins: under RLS the planner cannot use the trigram index for `name ILIKE`
-- (ILIKE is not leakproof, so it must run after the policy, which no index answers), so a rare fragment scanned
-- all 1M customers (200 ms warm, seconds cold). admin_customer_ids_by_name finds the candidates through the index
-- as the table owner, for admins only; the tool then reads those ids through RLS as usual, so what anyone sees is
-- still decided by the policies. It returns ids, nothing else.

SET search_path = public, extensions;

CREATE INDEX IF NOT EXISTS idx_documentation_title_search
  ON public.documentation USING gin (to_tsvector('english'::regconfig, title));

CREATE OR REPLACE FUNCTION public.admin_customer_ids_by_name(p_pattern text, p_limit integer)
RETURNS SETOF uuid LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = '' AS $$
BEGIN
  IF p_pattern IS NULL OR NOT public.is_admin() THEN
    RETURN;
  END IF;
  -- Planned for this pattern each time (EXECUTE): a long fragment is answered by the trigram index, a short or
  -- very common one by a scan that stops at the limit; one cached generic plan fits neither.
  RETURN QUERY EXECUTE
    'SELECT c.id FROM public.customers c WHERE c.name ILIKE $1 AND c.deleted_at IS NULL LIMIT $2'
    USING p_pattern, greatest(p_limit, 0);
END
$$;
REVOKE ALL ON FUNCTION public.admin_customer_ids_by_name(text, integer) FROM PUBLIC, anon, authenticated, service_role;
GRANT EXECUTE ON FUNCTION public.admin_customer_ids_by_name(text, integer) TO authenticated, service_role;

/* ROLLBACK
DROP FUNCTION IF EXISTS public.admin_customer_ids_by_name(text, integer);
DROP INDEX IF EXISTS public.idx_documentation_title_search;
*/
