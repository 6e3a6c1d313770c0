-- Documentation system (Phase 0.1): versioned docs with full-text search, release
-- snapshots, and customer-facing help articles.

SET search_path = public, extensions;

CREATE TABLE IF NOT EXISTS public.documentation (
  id uuid PRIMARY KEY DEFAULT uuid_generate_v4(),
  slug text NOT NULL UNIQUE CHECK (slug ~ '^[a-z0-9]+(-[a-z0-9]+)*$' AND length(slug) <= 120),
  title text NOT NULL CHECK (length(btrim(title)) BETWEEN 1 AND 300),
  content text NOT NULL DEFAULT '' CHECK (length(content) <= 1000000),
  category text CHECK (category IS NULL OR length(category) <= 100),
  version integer NOT NULL DEFAULT 1 CHECK (version >= 1),
  release_date date,
  -- Kept by PostgreSQL itself: the title outranks the body.
  search_vector tsvector GENERATED ALWAYS AS (
    setweight(to_tsvector('english'::regconfig, coalesce(title, '')), 'A')
    || setweight(to_tsvector('english'::regconfig, coalesce(content, '')), 'B')
  ) STORED,
  created_by uuid DEFAULT auth.uid() REFERENCES auth.users (id) ON DELETE SET NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  deleted_at timestamptz
);
ALTER TABLE public.documentation ENABLE ROW LEVEL SECURITY;
CREATE INDEX IF NOT EXISTS idx_documentation_search_vector ON public.documentation USING gin (search_vector);
CREATE INDEX IF NOT EXISTS idx_documentation_category ON public.documentation (category);
CREATE INDEX IF NOT EXISTS idx_documentation_created_by ON public.documentation (created_by);
CREATE OR REPLACE TRIGGER documentation_updated_at
  BEFORE UPDATE ON public.documentation
  FOR EACH ROW EXECUTE FUNCTION public.update_updated_at_column();

CREATE TABLE IF NOT EXISTS public.releases (
  id uuid PRIMARY KEY DEFAULT uuid_generate_v4(),
  version text NOT NULL UNIQUE CHECK (version ~ '^[0-9A-Za-z][0-9A-Za-z.+-]{0,49}$'),
  name text CHECK (name IS NULL OR length(name) <= 200),
  release_date date NOT NULL DEFAULT current_date,
  is_current boolean NOT NULL DEFAULT false,
  notes text CHECK (notes IS NULL OR length(notes) <= 100000),
  created_by uuid DEFAULT auth.uid() REFERENCES auth.users (id) ON DELETE SET NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now()
);
ALTER TABLE public.releases ENABLE ROW LEVEL SECURITY;
-- Only one release can be current.
CREATE UNIQUE INDEX IF NOT EXISTS idx_releases_one_current ON public.releases (is_current) WHERE is_current;
CREATE INDEX IF NOT EXISTS idx_releases_release_date ON public.releases (release_date DESC);
CREATE INDEX IF NOT EXISTS idx_releases_created_by ON public.releases (created_by);
CREATE OR REPLACE TRIGGER releases_updated_at
  BEFORE UPDATE ON public.releases
  FOR EACH ROW EXECUTE FUNCTION public.update_updated_at_column();

CREATE TABLE IF NOT EXISTS public.documentation_versions (
  id uuid PRIMARY KEY DEFAULT uuid_generate_v4(),
  doc_id uuid NOT NULL REFERENCES public.documentation (id) ON DELETE CASCADE,
  release_id uuid REFERENCES public.releases (id) ON DELETE SET NULL,
  version_number integer NOT NULL CHECK (version_number >= 1),
  version_label text CHECK (version_label IS NULL OR length(version_label) <= 50),
  title text NOT NULL,
  content text NOT NULL,
  created_by uuid DEFAULT auth.uid() REFERENCES auth.users (id) ON DELETE SET NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  UNIQUE (doc_id, version_number)
);
ALTER TABLE public.documentation_versions ENABLE ROW LEVEL SECURITY;
CREATE INDEX IF NOT EXISTS idx_documentation_versions_release_id ON public.documentation_versions (release_id);
CREATE INDEX IF NOT EXISTS idx_documentation_versions_created_by ON public.documentation_versions (created_by);
CREATE OR REPLACE TRIGGER documentation_versions_updated_at
  BEFORE UPDATE ON public.documentation_versions
  FOR EACH ROW EXECUTE FUNCTION public.update_updated_at_column();

CREATE TABLE IF NOT EXISTS public.help_articles (
  id uuid PRIMARY KEY DEFAULT uuid_generate_v4(),
  doc_id uuid NOT NULL REFERENCES public.documentation (id) ON DELETE CASCADE,
  title text NOT NULL CHECK (length(btrim(title)) BETWEEN 1 AND 300),
  summary text CHECK (summary IS NULL OR length(summary) <= 2000),
  category text NOT NULL CHECK (length(category) BETWEEN 1 AND 100),
  difficulty text NOT NULL DEFAULT 'beginner' CHECK (difficulty IN ('beginner', 'intermediate', 'advanced')),
  view_count integer NOT NULL DEFAULT 0 CHECK (view_count >= 0),
  published boolean NOT NULL DEFAULT false,
  published_at timestamptz,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  deleted_at timestamptz
);
ALTER TABLE public.help_articles ENABLE ROW LEVEL SECURITY;
CREATE INDEX IF NOT EXISTS idx_help_articles_doc_id ON public.help_articles (doc_id);
CREATE INDEX IF NOT EXISTS idx_help_articles_published ON public.help_articles (published, category);
CREATE INDEX IF NOT EXISTS idx_help_articles_deleted_at ON public.help_articles (deleted_at);
CREATE OR REPLACE TRIGGER help_articles_updated_at
  BEFORE UPDATE ON public.help_articles
  FOR EACH ROW EXECUTE FUNCTION public.update_updated_at_column();

-- Policies: signed-in users read docs and versions; admins write. Releases and published
-- help articles are public.
DROP POLICY IF EXISTS "Authenticated users read documentation" ON public.documentation;
CREATE POLICY "Authenticated users read documentation" ON public.documentation
  FOR SELECT TO authenticated USING (true);
DROP POLICY IF EXISTS "Admins write documentation" ON public.documentation;
CREATE POLICY "Admins write documentation" ON public.documentation
  FOR ALL TO authenticated
  USING ((SELECT public.is_admin())) WITH CHECK ((SELECT public.is_admin()));

DROP POLICY IF EXISTS "Authenticated users read documentation versions" ON public.documentation_versions;
CREATE POLICY "Authenticated users read documentation versions" ON public.documentation_versions
  FOR SELECT TO authenticated USING (true);
DROP POLICY IF EXISTS "Admins write documentation versions" ON public.documentation_versions;
CREATE POLICY "Admins write documentation versions" ON public.documentation_versions
  FOR ALL TO authenticated
  USING ((SELECT public.is_admin())) WITH CHECK ((SELECT public.is_admin()));

DROP POLICY IF EXISTS "Anyone reads releases" ON public.releases;
CREATE POLICY "Anyone reads releases" ON public.releases
  FOR SELECT TO anon, authenticated USING (true);
DROP POLICY IF EXISTS "Admins write releases" ON public.releases;
CREATE POLICY "Admins write releases" ON public.releases
  FOR ALL TO authenticated
  USING ((SELECT public.is_admin())) WITH CHECK ((SELECT public.is_admin()));

DROP POLICY IF EXISTS "Anyone reads published help articles" ON public.help_articles;
CREATE POLICY "Anyone reads published help articles" ON public.help_articles
  FOR SELECT TO anon, authenticated USING (published = true AND deleted_at IS NULL);
DROP POLICY IF EXISTS "Admins manage help articles" ON public.help_articles;
CREATE POLICY "Admins manage help articles" ON public.help_articles
  FOR ALL TO authenticated
  USING ((SELECT public.is_admin())) WITH CHECK ((SELECT public.is_admin()));

REVOKE ALL ON public.documentation, public.documentation_versions, public.releases, public.help_articles
  FROM anon, authenticated, service_role;  -- see the core migration
GRANT SELECT, INSERT, UPDATE, DELETE
  ON public.documentation, public.documentation_versions, public.releases, public.help_articles
  TO authenticated, service_role;
GRANT SELECT ON public.releases, public.help_articles TO anon;

-- Snapshot the named docs (all live docs when doc_slugs is NULL) as a new release and
-- make it the current one. SECURITY INVOKER: RLS decides who may (admins).
CREATE OR REPLACE FUNCTION public.create_release_snapshot(
  p_version text, p_release_date date DEFAULT current_date, p_doc_slugs text[] DEFAULT NULL
) RETURNS uuid LANGUAGE plpgsql SET search_path = '' AS $$
DECLARE
  new_release_id uuid;
  missing text[];
BEGIN
  IF p_version IS NULL OR btrim(p_version) = '' THEN
    RAISE EXCEPTION 'a release version is required' USING ERRCODE = '22023';
  END IF;
  IF p_doc_slugs IS NOT NULL THEN
    SELECT array_agg(s ORDER BY s) INTO missing
    FROM unnest(p_doc_slugs) AS s
    WHERE NOT EXISTS (SELECT 1 FROM public.documentation d WHERE d.slug = s AND d.deleted_at IS NULL);
    IF missing IS NOT NULL THEN
      RAISE EXCEPTION 'unknown documentation slug(s): %', array_to_string(missing, ', ')
        USING ERRCODE = 'P0002';
    END IF;
  END IF;

  UPDATE public.releases SET is_current = false WHERE is_current;
  INSERT INTO public.releases (version, release_date, is_current)
  VALUES (p_version, coalesce(p_release_date, current_date), true)
  RETURNING id INTO new_release_id;

  WITH docs AS (
    SELECT d.id, d.title, d.content,
           coalesce((SELECT max(v.version_number) FROM public.documentation_versions v
                     WHERE v.doc_id = d.id), 0) + 1 AS next_version
    FROM public.documentation d
    WHERE d.deleted_at IS NULL AND (p_doc_slugs IS NULL OR d.slug = ANY (p_doc_slugs))
  ), snap AS (
    INSERT INTO public.documentation_versions (doc_id, release_id, version_number, version_label, title, content)
    SELECT id, new_release_id, next_version, p_version, title, content FROM docs
    RETURNING doc_id, version_number
  )
  UPDATE public.documentation d
  SET version = snap.version_number, release_date = coalesce(p_release_date, current_date)
  FROM snap WHERE d.id = snap.doc_id;

  RETURN new_release_id;
END
$$;
REVOKE ALL ON FUNCTION public.create_release_snapshot(text, date, text[]) FROM PUBLIC, anon, authenticated, service_role;
GRANT EXECUTE ON FUNCTION public.create_release_snapshot(text, date, text[]) TO authenticated, service_role;

/* ROLLBACK
DROP FUNCTION IF EXISTS public.create_release_snapshot(text, date, text[]);
DROP TABLE IF EXISTS public.help_articles;
DROP TABLE IF EXISTS public.documentation_versions;
DROP TABLE IF EXISTS public.releases;
DROP TABLE IF EXISTS public.documentation;
*/
