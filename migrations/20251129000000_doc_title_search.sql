-- search_docs at scale (issue 6): an index on the title's words, so that a search for a term found in most
-- documents can still find every document with the term in its title (which outranks the body) without ranking
-- every match. The expression is the title part of documentation.search_vector.

SET search_path = public, extensions;

CREATE INDEX IF NOT EXISTS idx_documentation_title_search
  ON public.documentation USING gin (to_tsvector('english'::regconfig, title));

/* ROLLBACK
DROP INDEX IF EXISTS public.idx_documentation_title_search;
*/
