-- Every read tool in one round trip, its result written compactly (issue 12).
--
-- renubu_read holds one function per read tool, `(args jsonb) RETURNS text`: a JSON document in the shape the
-- tool returns, built by the row functions below so that each kind of record (customer, contact, workflow, task,
-- action, feature, integration...) looks the same in every tool. They run as the caller (SECURITY INVOKER), so RLS
-- decides what they see, exactly as in the tools' transactions. Null fields are left out; timestamps are UTC to
-- the second ("2026-01-15T09:00:00Z"); people who appear on a record carry their name beside their id.
--
-- public.read_as(role, claims, read, args as JSON text) is the request function (like customer_detail_as, which it replaces):
-- for the login role only, it checks the role against the allow-list, sets role and claims transaction-locally
-- and calls renubu_read.<read>, as one statement outside any transaction block, so a read is one round trip.
-- List functions return up to `limit` rows and "_more": true (or "_next": the keyset position) when there are
-- more; the server turns that into next_cursor.
--
-- Names: a signed-in user sees the display name (profiles.full_name; never email or role) of the people on the
-- records they can read: workflow owners, task assignees, action authors, feature owners and editors.
-- renubu_read.people is the one door to it: a view with its owner's rights over profiles (profiles' own policies
-- let a user read only their own row), two columns, and no rows for anyone not signed in. A view rather than a
-- SECURITY DEFINER function because it is looked up once per record: a join costs a fraction of a definer call.

SET search_path = public, extensions;

CREATE SCHEMA IF NOT EXISTS renubu_read;
REVOKE ALL ON SCHEMA renubu_read FROM PUBLIC;
GRANT USAGE ON SCHEMA renubu_read TO authenticated, service_role;

-- The caller's profile role, for the login role's tool catalog only (RLS decides what anyone may do).
CREATE OR REPLACE FUNCTION public.user_role(p_id uuid)
RETURNS text LANGUAGE sql STABLE SECURITY DEFINER SET search_path = '' AS $$
  SELECT p.role FROM public.profiles p WHERE p.id = p_id AND p.deleted_at IS NULL
$$;
REVOKE ALL ON FUNCTION public.user_role(uuid) FROM PUBLIC, anon, authenticated, service_role;
GRANT EXECUTE ON FUNCTION public.user_role(uuid) TO authenticator;

CREATE OR REPLACE VIEW renubu_read.people WITH (security_barrier = true) AS
  SELECT p.id, p.full_name FROM public.profiles p WHERE (SELECT auth.uid()) IS NOT NULL;
REVOKE ALL ON renubu_read.people FROM PUBLIC, anon, authenticated, service_role;
GRANT SELECT ON renubu_read.people TO authenticated, service_role;


-- Whether one wake condition of a snoozed workflow holds now (shared by waking and by the reads' "is anything
-- due?" check, so the two cannot drift). Runs as the caller: a customer they cannot see holds nothing.
CREATE OR REPLACE FUNCTION public.wake_condition_holds(p_type text, p_config jsonb, p_execution_id uuid,
                                                       p_customer_id uuid)
RETURNS boolean LANGUAGE sql STABLE SET search_path = '' AS $$
  SELECT coalesce(CASE p_type
    WHEN 'risk_score_at_least' THEN (
      SELECT c.risk_score >= (p_config ->> 'threshold')::int FROM public.customers c WHERE c.id = p_customer_id)
    WHEN 'renewal_within_days' THEN (
      SELECT c.renewal_date <= current_date + (p_config ->> 'days')::int FROM public.customers c
      WHERE c.id = p_customer_id)
    WHEN 'task_completed' THEN EXISTS (
      SELECT 1 FROM public.workflow_tasks t
      WHERE t.id = (p_config ->> 'task_id')::uuid AND t.workflow_execution_id = p_execution_id
        AND t.status = 'completed' AND t.deleted_at IS NULL)
    WHEN 'all_tasks_completed' THEN NOT EXISTS (
      SELECT 1 FROM public.workflow_tasks t
      WHERE t.workflow_execution_id = p_execution_id AND t.deleted_at IS NULL
        AND t.status NOT IN ('completed', 'skipped'))
  END, false)
$$;
REVOKE ALL ON FUNCTION public.wake_condition_holds(text, jsonb, uuid, uuid) FROM PUBLIC, anon;
GRANT EXECUTE ON FUNCTION public.wake_condition_holds(text, jsonb, uuid, uuid) TO authenticated, service_role;

CREATE OR REPLACE FUNCTION public.wake_due_workflows(p_customer_id uuid DEFAULT NULL, p_execution_id uuid DEFAULT NULL)
RETURNS TABLE (execution_id uuid, wake_reason text)
LANGUAGE plpgsql SET search_path = '' AS $$
BEGIN
  IF current_setting('transaction_read_only') = 'on' THEN
    RETURN;
  END IF;

  -- Most reads find nothing snoozed: answer that from the index alone, before taking row locks and
  -- running the two UPDATEs.
  IF NOT EXISTS (
    SELECT 1 FROM public.workflow_executions x
    WHERE x.status = 'snoozed' AND x.deleted_at IS NULL
      AND (p_customer_id IS NULL OR x.customer_id = p_customer_id)
      AND (p_execution_id IS NULL OR x.id = p_execution_id)
  ) THEN
    RETURN;
  END IF;

  PERFORM 1 FROM public.workflow_executions x
  WHERE x.status = 'snoozed' AND x.deleted_at IS NULL
    AND (p_customer_id IS NULL OR x.customer_id = p_customer_id)
    AND (p_execution_id IS NULL OR x.id = p_execution_id)
  ORDER BY x.id
  FOR UPDATE;

  UPDATE public.workflow_conditions wc
  SET is_met = true, met_at = now(), last_evaluated_at = now()
  FROM public.workflow_executions e
  WHERE wc.workflow_execution_id = e.id
    AND e.status = 'snoozed' AND e.deleted_at IS NULL
    AND NOT wc.is_met AND wc.deleted_at IS NULL
    AND (p_customer_id IS NULL OR e.customer_id = p_customer_id)
    AND (p_execution_id IS NULL OR e.id = p_execution_id)
    AND public.wake_condition_holds(wc.condition_type, wc.condition_config, e.id, e.customer_id);

  RETURN QUERY
  UPDATE public.workflow_executions e
  SET status = 'in_progress', woken_at = now(), wake_reason = due.reason, snoozed_until = NULL
  FROM (
    SELECT x.id,
           CASE WHEN x.snoozed_until <= now()
                THEN 'snooze time reached (' || to_char(x.snoozed_until AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI') || ' UTC)'
                ELSE 'wake condition met: ' || (
                  SELECT string_agg(wc.condition_type || ' ' || wc.condition_config::text, '; ' ORDER BY wc.created_at)
                  FROM public.workflow_conditions wc
                  WHERE wc.workflow_execution_id = x.id AND wc.is_met AND wc.deleted_at IS NULL)
           END AS reason
    FROM public.workflow_executions x
    WHERE x.status = 'snoozed' AND x.deleted_at IS NULL
      AND (p_customer_id IS NULL OR x.customer_id = p_customer_id)
      AND (p_execution_id IS NULL OR x.id = p_execution_id)
      AND (x.customer_id IS NULL OR (SELECT public.is_admin())
           OR x.customer_id IN (SELECT public.assigned_customer_ids()))
      AND (x.snoozed_until <= now() OR EXISTS (
        SELECT 1 FROM public.workflow_conditions wc
        WHERE wc.workflow_execution_id = x.id AND wc.is_met AND wc.deleted_at IS NULL))
  ) AS due
  WHERE e.id = due.id AND e.status = 'snoozed'
  RETURNING e.id, e.wake_reason;
END
$$;

-- Whether reading now would wake a snoozed workflow (all of the caller's, one customer's, or one): the reads
-- answer this without writing, and the server wakes them in a transaction only when it is true.
CREATE OR REPLACE FUNCTION renubu_read.wake_due(p_customer_id uuid, p_execution_id uuid)
RETURNS boolean LANGUAGE sql STABLE SET search_path = '' AS $$
  SELECT EXISTS (
    SELECT 1 FROM public.workflow_executions x
    WHERE x.status = 'snoozed' AND x.deleted_at IS NULL
      AND (p_customer_id IS NULL OR x.customer_id = p_customer_id)
      AND (p_execution_id IS NULL OR x.id = p_execution_id)
      AND (x.snoozed_until <= now() OR EXISTS (
        SELECT 1 FROM public.workflow_conditions wc
        WHERE wc.workflow_execution_id = x.id AND wc.deleted_at IS NULL
          AND (wc.is_met OR public.wake_condition_holds(wc.condition_type, wc.condition_config, x.id,
                                                        x.customer_id)))))
$$;

-- --- How each kind of record is written ---------------------------------------------------------------------

CREATE OR REPLACE FUNCTION renubu_read.ts(p timestamptz)
RETURNS text LANGUAGE sql STABLE AS $$
  SELECT pg_catalog.to_char(p AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"')
$$;

-- `obj` with one more field, left out when NULL: for JSON people or other products wrote, kept exactly as stored
-- (a row's own nulls are stripped, never the nulls inside such data), and for fields added to a shared row.
CREATE OR REPLACE FUNCTION renubu_read.with_field(obj json, key text, value jsonb)
RETURNS json LANGUAGE sql IMMUTABLE AS $$
  SELECT CASE WHEN value IS NULL THEN obj
              ELSE (pg_catalog.left(obj::text, -1) || ',' || pg_catalog.to_json(key)::text || ':' || value::text
                    || '}')::json END
$$;

-- The row functions below are plain expressions (no subqueries, no lookups): PostgreSQL inlines them into each
-- query, where a function it cannot inline costs about 10 us per record (EXPLAIN ANALYZE over thousands of
-- records, docs/performance.md). What they need from elsewhere (a customer's or a person's name, whether a
-- workflow is the caller's own) their callers join and pass in.

-- In a list (full_record false) a customer is a summary: no domain, notes cut at 200 characters, no updated_at;
-- get_customer has the whole record. with_days adds days_until_renewal.
CREATE OR REPLACE FUNCTION renubu_read.customer_row(c public.customers, full_record boolean, with_days boolean)
RETURNS json LANGUAGE sql STABLE AS $$
  SELECT pg_catalog.json_strip_nulls(pg_catalog.json_build_object(
    'id', c.id, 'name', c.name, 'domain', CASE WHEN full_record THEN c.domain END, 'industry', c.industry,
    'arr', c.arr::float8, 'renewal_date', c.renewal_date,
    'days_until_renewal', CASE WHEN with_days THEN c.renewal_date - current_date END, 'risk_score', c.risk_score,
    'notes', CASE WHEN full_record OR pg_catalog.length(c.notes) <= 200 THEN c.notes
                  ELSE pg_catalog.left(c.notes, 200) || '…' END,
    'updated_at', CASE WHEN full_record THEN renubu_read.ts(c.updated_at) END))
$$;

CREATE OR REPLACE FUNCTION renubu_read.contact_row(ct public.contacts, with_customer boolean)
RETURNS json LANGUAGE sql STABLE AS $$
  SELECT pg_catalog.json_strip_nulls(pg_catalog.json_build_object(
    'id', ct.id, 'customer_id', CASE WHEN with_customer THEN ct.customer_id END, 'name', ct.name,
    'email', ct.email, 'role', ct.role, 'phone', ct.phone, 'is_primary', CASE WHEN ct.is_primary THEN true END))
$$;

-- The owner is named only when it is someone else (show_owner): a user's own workflows need no owner. Inside a
-- customer's own document (show_customer false) the customer is not repeated.
CREATE OR REPLACE FUNCTION renubu_read.workflow_row(e public.workflow_executions, customer_name text,
                                                   owner_name text, show_customer boolean, show_owner boolean)
RETURNS json LANGUAGE sql STABLE AS $$
  SELECT pg_catalog.json_strip_nulls(pg_catalog.json_build_object(
    'id', e.id, 'owner_id', CASE WHEN show_owner THEN e.user_id END,
    'owner_name', CASE WHEN show_owner THEN owner_name END,
    'customer_id', CASE WHEN show_customer THEN e.customer_id END,
    'customer_name', CASE WHEN show_customer THEN customer_name END, 'workflow_type', e.workflow_type,
    'workflow_name', e.workflow_name, 'status', e.status, 'current_slide_index', e.current_slide_index,
    'total_slides', e.total_slides, 'snoozed_until', renubu_read.ts(e.snoozed_until),
    'wake_conditions', CASE WHEN e.wake_conditions <> '[]'::jsonb THEN e.wake_conditions END,
    'woken_at', renubu_read.ts(e.woken_at), 'wake_reason', e.wake_reason,
    'started_at', renubu_read.ts(e.started_at), 'completed_at', renubu_read.ts(e.completed_at),
    'updated_at', renubu_read.ts(e.updated_at)))
$$;

CREATE OR REPLACE FUNCTION renubu_read.task_row(t public.workflow_tasks, with_workflow boolean,
                                               assignee_name text)
RETURNS json LANGUAGE sql STABLE AS $$
  SELECT pg_catalog.json_strip_nulls(pg_catalog.json_build_object(
    'id', t.id, 'workflow_id', CASE WHEN with_workflow THEN t.workflow_execution_id END, 'title', t.title,
    'description', t.description, 'status', t.status, 'priority', t.priority, 'assigned_to', t.assigned_to,
    'assignee_name', assignee_name, 'due_date', renubu_read.ts(t.due_date),
    'snoozed_until', renubu_read.ts(t.snoozed_until), 'completed_at', renubu_read.ts(t.completed_at),
    'updated_at', renubu_read.ts(t.updated_at)))
$$;

CREATE OR REPLACE FUNCTION renubu_read.action_row(a public.workflow_actions, with_workflow boolean,
                                                 user_name text)
RETURNS json LANGUAGE sql STABLE AS $$
  SELECT renubu_read.with_field(pg_catalog.json_strip_nulls(pg_catalog.json_build_object(
    'id', a.id, 'workflow_id', CASE WHEN with_workflow THEN a.workflow_execution_id END, 'task_id', a.task_id,
    'user_id', a.user_id, 'user_name', user_name, 'action_type', a.action_type,
    'created_at', renubu_read.ts(a.created_at))), 'action_data', a.action_data)
$$;

CREATE OR REPLACE FUNCTION renubu_read.feature_row(f public.features, owner_name text)
RETURNS json LANGUAGE sql STABLE AS $$
  SELECT pg_catalog.json_strip_nulls(pg_catalog.json_build_object(
    'slug', f.slug, 'title', f.title, 'description', f.description, 'status', f.status, 'phase', f.phase,
    'priority', f.priority, 'owner_id', f.owner_id, 'owner_name', owner_name,
    'shipped_at', renubu_read.ts(f.shipped_at), 'updated_at', renubu_read.ts(f.updated_at)))
$$;

CREATE OR REPLACE FUNCTION renubu_read.release_row(r public.releases, doc_count bigint, with_notes boolean)
RETURNS json LANGUAGE sql STABLE AS $$
  SELECT pg_catalog.json_strip_nulls(pg_catalog.json_build_object(
    'version', r.version, 'name', r.name, 'release_date', r.release_date,
    'is_current', CASE WHEN r.is_current THEN true END, 'doc_count', doc_count,
    'notes', CASE WHEN with_notes THEN r.notes END))
$$;

-- A marketplace entry as every user may list it (the full entry adds endpoints and settings: get_integration).
-- Built from named columns: the encrypted client secret is not readable by request roles at all.
CREATE OR REPLACE FUNCTION renubu_read.integration_summary(slug text, name text, category text, connection_type text,
                                                           status text, description text)
RETURNS json LANGUAGE sql IMMUTABLE AS $$
  SELECT pg_catalog.json_strip_nulls(pg_catalog.json_build_object(
    'slug', slug, 'name', name, 'category', category, 'connection_type', connection_type, 'status', status,
    'description', description))
$$;

GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA renubu_read TO authenticated, service_role;

-- --- Customers -------------------------------------------------------------------------------------------------

-- RLS decides visibility in every branch; the branches only help the planner (bench/search_scale.py, 1M
-- customers): a CSM's search starts from their assigned ids; an admin's rare name fragment from the ids
-- admin_customer_ids_by_name finds through the trigram index (at most 1000, then read through RLS); otherwise an
-- admin walks the index of the sort order, planned for that order (EXECUTE).
CREATE OR REPLACE FUNCTION renubu_read.search_customers(p jsonb)
RETURNS text LANGUAGE plpgsql STABLE SET search_path = '' AS $$
DECLARE
  v_pattern text := p ->> 'pattern';
  v_after date := (p ->> 'after')::date;
  v_before date := (p ->> 'before')::date;
  v_risk int := (p ->> 'min_risk')::int;
  v_sort text := p ->> 'sort';
  v_limit int := (p ->> 'limit')::int;
  v_offset int := (p ->> 'offset')::int;
  v_ids uuid[];
  v_rows json[];
  v_order text;
BEGIN
  IF NOT (SELECT public.is_admin()) THEN
    v_ids := ARRAY(SELECT public.assigned_customer_ids());
  ELSIF v_pattern IS NOT NULL THEN
    v_ids := ARRAY(SELECT public.admin_customer_ids_by_name(v_pattern, 1001));
    IF pg_catalog.cardinality(v_ids) > 1000 THEN
      v_ids := NULL;
    END IF;
  END IF;
  IF v_ids IS NOT NULL THEN
    SELECT pg_catalog.array_agg(renubu_read.customer_row(c, false, false) ORDER BY c.ord) INTO v_rows FROM (
      SELECT c, pg_catalog.row_number() OVER (ORDER BY
               CASE WHEN v_sort = 'name' THEN c.name END,
               CASE WHEN v_sort = 'renewal_date' THEN c.renewal_date END NULLS LAST,
               CASE WHEN v_sort = 'risk_score' THEN c.risk_score END DESC NULLS LAST,
               CASE WHEN v_sort = 'arr' THEN c.arr END DESC, c.id) AS ord
      FROM public.customers c
      WHERE c.id = ANY (v_ids) AND c.deleted_at IS NULL
        AND (v_pattern IS NULL OR c.name ILIKE v_pattern)
        AND (v_after IS NULL OR c.renewal_date >= v_after)
        AND (v_before IS NULL OR c.renewal_date <= v_before)
        AND (v_risk IS NULL OR c.risk_score >= v_risk)
      ORDER BY ord LIMIT v_limit + 1 OFFSET v_offset) c;
  ELSE
    v_order := CASE v_sort WHEN 'renewal_date' THEN 'c.renewal_date ASC NULLS LAST, c.id'
                           WHEN 'risk_score' THEN 'c.risk_score DESC NULLS LAST, c.id'
                           WHEN 'arr' THEN 'c.arr DESC, c.id'
                           ELSE 'c.name ASC, c.id' END;
    EXECUTE pg_catalog.format(
      'SELECT pg_catalog.array_agg(renubu_read.customer_row(c, false, false) ORDER BY %1$s) FROM ('
      '  SELECT c.* FROM public.customers c WHERE c.deleted_at IS NULL'
      '    AND ($1::text IS NULL OR c.name ILIKE $1) AND ($2::date IS NULL OR c.renewal_date >= $2)'
      '    AND ($3::date IS NULL OR c.renewal_date <= $3) AND ($4::int IS NULL OR c.risk_score >= $4)'
      '  ORDER BY %1$s LIMIT $5 OFFSET $6) c', v_order)
      INTO v_rows USING v_pattern, v_after, v_before, v_risk, v_limit + 1, v_offset;
  END IF;
  RETURN renubu_read.page('customers', v_rows, v_limit);
END
$$;

-- A list function reads up to lim + 1 records into an array: the first lim are the page, and one more means there
-- are more. {key: the page, "_more": true when there are more}; the records are not parsed again.
CREATE OR REPLACE FUNCTION renubu_read.page(key text, rows json[], lim int)
RETURNS text LANGUAGE sql IMMUTABLE AS $$
  SELECT pg_catalog.json_build_object(key, coalesce(pg_catalog.array_to_json(rows[1:lim]), '[]'::json),
                                      '_more', CASE WHEN pg_catalog.cardinality(rows) > lim THEN true END)::text
$$;

CREATE OR REPLACE FUNCTION renubu_read.get_customer(p jsonb)
RETURNS text LANGUAGE plpgsql STABLE SET search_path = '' AS $$
DECLARE
  v_id uuid := (p ->> 'customer_id')::uuid;
  v_me uuid := auth.uid();
  v_doc text;
BEGIN
  WITH e AS MATERIALIZED (
    SELECT x FROM public.workflow_executions x WHERE x.customer_id = v_id AND x.deleted_at IS NULL
  )
  SELECT pg_catalog.json_build_object(
    'customer', renubu_read.customer_row(c, true, true),
    'contacts', coalesce((
      SELECT pg_catalog.json_agg(renubu_read.contact_row(ct, false) ORDER BY ct.is_primary DESC, ct.name, ct.id)
      FROM (SELECT ct.* FROM public.contacts ct WHERE ct.customer_id = c.id AND ct.deleted_at IS NULL
            ORDER BY ct.is_primary DESC, ct.name, ct.id LIMIT 100) ct), '[]'),
    'open_workflows', coalesce((
      SELECT pg_catalog.json_agg(renubu_read.workflow_row(w.x, NULL, o.full_name, false,
                                                          (w.x).user_id IS DISTINCT FROM v_me)
                                 ORDER BY (w.x).updated_at DESC, (w.x).id)
      FROM (SELECT e.x FROM e WHERE (e.x).status <> 'completed'
            ORDER BY (e.x).updated_at DESC, (e.x).id LIMIT 50) w
      LEFT JOIN renubu_read.people o ON o.id = (w.x).user_id), '[]'),
    'open_tasks', coalesce((
      SELECT pg_catalog.json_agg(renubu_read.task_row(t, true, n.full_name) ORDER BY t.due_date NULLS LAST, t.id)
      FROM (SELECT t.* FROM public.workflow_tasks t JOIN e ON (e.x).id = t.workflow_execution_id
            WHERE t.deleted_at IS NULL AND t.status IN ('pending', 'in_progress', 'snoozed')
            ORDER BY t.due_date NULLS LAST, t.id LIMIT 100) t
      LEFT JOIN renubu_read.people n ON n.id = t.assigned_to), '[]'),
    'recent_actions', coalesce((
      SELECT pg_catalog.json_agg(renubu_read.action_row(a, true, n.full_name) ORDER BY a.created_at DESC, a.id)
      FROM (SELECT a.* FROM public.workflow_actions a JOIN e ON (e.x).id = a.workflow_execution_id
            WHERE a.deleted_at IS NULL ORDER BY a.created_at DESC, a.id LIMIT 20) a
      LEFT JOIN renubu_read.people n ON n.id = a.user_id), '[]'),
    '_wake', CASE WHEN EXISTS (SELECT 1 FROM e WHERE (e.x).status = 'snoozed')
                  THEN renubu_read.wake_due(v_id, NULL) END
  )::text INTO v_doc
  FROM public.customers c
  WHERE c.id = v_id AND c.deleted_at IS NULL;
  IF v_doc IS NULL THEN
    RAISE EXCEPTION 'no customer % (it does not exist or is not assigned to you); find customers with search_customers', v_id
      USING ERRCODE = 'no_data_found';
  END IF;
  RETURN v_doc;
END
$$;

CREATE OR REPLACE FUNCTION renubu_read.list_contacts(p jsonb)
RETURNS text LANGUAGE plpgsql STABLE SET search_path = '' AS $$
DECLARE
  v_id uuid := (p ->> 'customer_id')::uuid;
  v_limit int := (p ->> 'limit')::int;
  v_rows json[];
BEGIN
  IF NOT EXISTS (SELECT 1 FROM public.customers c WHERE c.id = v_id AND c.deleted_at IS NULL) THEN
    RAISE EXCEPTION 'no customer % (it does not exist or is not assigned to you); find customers with search_customers', v_id
      USING ERRCODE = 'no_data_found';
  END IF;
  SELECT pg_catalog.array_agg(renubu_read.contact_row(ct, false) ORDER BY ct.is_primary DESC, ct.name, ct.id)
  INTO v_rows
  FROM (SELECT ct.* FROM public.contacts ct WHERE ct.customer_id = v_id AND ct.deleted_at IS NULL
        ORDER BY ct.is_primary DESC, ct.name, ct.id LIMIT v_limit + 1 OFFSET (p ->> 'offset')::int) ct;
  RETURN renubu_read.page('contacts', v_rows, v_limit);
END
$$;

CREATE OR REPLACE FUNCTION renubu_read.upcoming_renewals(p jsonb)
RETURNS text LANGUAGE plpgsql STABLE SET search_path = '' AS $$
DECLARE
  v_days int := (p ->> 'days_ahead')::int;
  v_limit int := (p ->> 'limit')::int;
  v_end date := current_date + v_days;
  v_count bigint;
  v_arr numeric;
  v_rows json[];
BEGIN
  SELECT count(*), coalesce(sum(c.arr), 0) INTO v_count, v_arr FROM public.customers c
  WHERE c.deleted_at IS NULL AND c.renewal_date BETWEEN current_date AND v_end;
  SELECT pg_catalog.array_agg(renubu_read.customer_row(c, false, true) ORDER BY c.renewal_date, c.id)
  INTO v_rows
  FROM (SELECT c.* FROM public.customers c
        WHERE c.deleted_at IS NULL AND c.renewal_date BETWEEN current_date AND v_end
        ORDER BY c.renewal_date, c.id LIMIT v_limit + 1 OFFSET (p ->> 'offset')::int) c;
  RETURN pg_catalog.json_build_object(
    'days_ahead', v_days, 'renewal_count', v_count, 'arr_at_stake', v_arr::float8,
    'renewals', coalesce(pg_catalog.array_to_json(v_rows[1:v_limit]), '[]'::json),
    '_more', CASE WHEN pg_catalog.cardinality(v_rows) > v_limit THEN true END)::text;
END
$$;

-- --- Workflows -------------------------------------------------------------------------------------------------

-- Newest activity first, paged by the last row's (updated_at, id): waking and every write move a workflow to the
-- top, which would make an offset repeat one row and skip another.
CREATE OR REPLACE FUNCTION renubu_read.list_workflows(p jsonb)
RETURNS text LANGUAGE plpgsql STABLE SET search_path = '' AS $$
DECLARE
  v_status text := p ->> 'status';
  v_customer uuid := (p ->> 'customer_id')::uuid;
  v_owner uuid := (p ->> 'owner_id')::uuid;
  v_after timestamptz := (p ->> 'after')::timestamptz;
  v_after_id uuid := (p ->> 'after_id')::uuid;
  v_limit int := (p ->> 'limit')::int;
  v_me uuid := auth.uid();
  v_doc text;
BEGIN
  WITH page AS MATERIALIZED (
    SELECT e, c.name AS customer_name,
           pg_catalog.row_number() OVER (ORDER BY e.updated_at DESC, e.id DESC) AS n
    FROM public.workflow_executions e LEFT JOIN public.customers c ON c.id = e.customer_id
    WHERE e.deleted_at IS NULL
      AND (v_status IS NULL OR e.status = v_status)
      AND (v_customer IS NULL OR e.customer_id = v_customer)
      AND (v_owner IS NULL OR e.user_id = v_owner)
      AND (v_after IS NULL OR (e.updated_at, e.id) < (v_after, v_after_id))
    ORDER BY e.updated_at DESC, e.id DESC
    LIMIT v_limit + 1
  )
  SELECT pg_catalog.json_build_object(
    'workflows', coalesce((
      SELECT pg_catalog.json_agg(renubu_read.workflow_row(page.e, page.customer_name, o.full_name, true,
                                                          (page.e).user_id IS DISTINCT FROM v_me) ORDER BY page.n)
      FROM page LEFT JOIN renubu_read.people o ON o.id = (page.e).user_id WHERE page.n <= v_limit), '[]'),
    '_next', (SELECT pg_catalog.json_build_object('u', public.utc_text((last.e).updated_at), 'i', (last.e).id)
              FROM page last WHERE last.n = v_limit AND EXISTS (SELECT 1 FROM page WHERE page.n > v_limit)),
    '_wake', CASE WHEN v_after IS NULL AND renubu_read.wake_due(v_customer, NULL) THEN true END
  )::text INTO v_doc;
  RETURN v_doc;
END
$$;

CREATE OR REPLACE FUNCTION renubu_read.get_workflow(p jsonb)
RETURNS text LANGUAGE plpgsql STABLE SET search_path = '' AS $$
DECLARE
  v_id uuid := (p ->> 'workflow_id')::uuid;
  v_actions int := (p ->> 'action_limit')::int;
  v_doc text;
BEGIN
  SELECT renubu_read.with_field(pg_catalog.json_build_object(
    'workflow', renubu_read.workflow_row(e, c.name, o.full_name, true, e.user_id IS DISTINCT FROM auth.uid()),
    'tasks', coalesce((
      SELECT pg_catalog.json_agg(renubu_read.task_row(t, false, n.full_name)
                                 ORDER BY t.status IN ('completed', 'skipped'), t.due_date NULLS LAST, t.created_at, t.id)
      FROM (SELECT t.* FROM public.workflow_tasks t WHERE t.workflow_execution_id = e.id AND t.deleted_at IS NULL
            ORDER BY t.status IN ('completed', 'skipped'), t.due_date NULLS LAST, t.created_at, t.id LIMIT 200) t
      LEFT JOIN renubu_read.people n ON n.id = t.assigned_to),
      '[]'),
    'actions', coalesce((
      SELECT pg_catalog.json_agg(renubu_read.action_row(a, false, n.full_name) ORDER BY a.created_at DESC, a.id DESC)
      FROM (SELECT a.* FROM public.workflow_actions a WHERE a.workflow_execution_id = e.id AND a.deleted_at IS NULL
            ORDER BY a.created_at DESC, a.id DESC LIMIT v_actions) a
      LEFT JOIN renubu_read.people n ON n.id = a.user_id), '[]'),
    'action_count', (SELECT count(*) FROM public.workflow_actions a
                     WHERE a.workflow_execution_id = e.id AND a.deleted_at IS NULL),
    '_wake', CASE WHEN e.status = 'snoozed' AND renubu_read.wake_due(NULL, e.id) THEN true END
  ), 'wake_conditions', (
      SELECT pg_catalog.jsonb_agg(pg_catalog.jsonb_strip_nulls(pg_catalog.jsonb_build_object(
               'type', wc.condition_type, 'config', wc.condition_config, 'is_met', wc.is_met,
               'met_at', renubu_read.ts(wc.met_at))) ORDER BY wc.created_at, wc.id)
      FROM public.workflow_conditions wc WHERE wc.workflow_execution_id = e.id AND wc.deleted_at IS NULL)
  )::text INTO v_doc
  FROM public.workflow_executions e LEFT JOIN public.customers c ON c.id = e.customer_id
  LEFT JOIN renubu_read.people o ON o.id = e.user_id
  WHERE e.id = v_id AND e.deleted_at IS NULL;
  IF v_doc IS NULL THEN
    RAISE EXCEPTION 'no workflow % (it does not exist or is not yours); find workflows with list_workflows', v_id
      USING ERRCODE = 'no_data_found';
  END IF;
  RETURN v_doc;
END
$$;

-- --- Docs ------------------------------------------------------------------------------------------------------

-- "No doc with this slug", naming the closest existing slugs (by the words in the slug).
CREATE OR REPLACE FUNCTION renubu_read.no_such_doc(p_slug text)
RETURNS text LANGUAGE sql STABLE SET search_path = '' AS $$
  SELECT 'no doc with slug ' || pg_catalog.quote_literal(p_slug) || coalesce('; docs with related words: ' || (
    SELECT pg_catalog.string_agg(s.slug, ', ' ORDER BY s.rank DESC, s.slug) FROM (
      SELECT d.slug, pg_catalog.ts_rank_cd(d.search_vector, q) AS rank
      FROM public.documentation d,
           pg_catalog.websearch_to_tsquery('english', pg_catalog.replace(p_slug, '-', ' or ')) q
      WHERE d.search_vector @@ q AND d.deleted_at IS NULL
      ORDER BY rank DESC, d.slug LIMIT 5) s), '') || '. Find docs with search_docs'
$$;

-- Ranking reads each candidate's whole tsvector, so its cost grows with the number of matches, not the table: only
-- a capped candidate set is ranked (every title match, up to 300, and the first 300 body matches); a query
-- matching more is ranked within that set and paging ends with it (the tool's description says so). ts_headline
-- runs only on the page's rows and on at most the first 100,000 characters of each.
CREATE OR REPLACE FUNCTION renubu_read.search_docs(p jsonb)
RETURNS text LANGUAGE plpgsql STABLE SET search_path = '' AS $$
DECLARE
  v_query text := p ->> 'query';
  v_limit int := (p ->> 'limit')::int;
  v_offset int := (p ->> 'offset')::int;
  v_rows json[];
BEGIN
  WITH candidates AS MATERIALIZED (
    (SELECT d.id FROM public.documentation d
     WHERE pg_catalog.to_tsvector('english'::regconfig, d.title) @@ pg_catalog.websearch_to_tsquery('english', v_query)
       AND d.deleted_at IS NULL LIMIT 300)
    UNION
    (SELECT d.id FROM public.documentation d
     WHERE d.search_vector @@ pg_catalog.websearch_to_tsquery('english', v_query) AND d.deleted_at IS NULL LIMIT 300)
  ),
  ranked AS (
    SELECT d.id, pg_catalog.ts_rank_cd('{0.05, 0.1, 0.25, 1.0}'::float4[], d.search_vector,
                                       pg_catalog.websearch_to_tsquery('english', v_query), 32) AS rank
    FROM candidates c JOIN public.documentation d ON d.id = c.id
    ORDER BY rank DESC, d.slug
    LIMIT v_limit + 1 OFFSET v_offset
  )
  SELECT pg_catalog.array_agg(pg_catalog.json_strip_nulls(pg_catalog.json_build_object(
           'slug', d.slug, 'title', d.title, 'category', d.category, 'version', d.version,
           'rank', pg_catalog.round(r.rank::numeric, 4)::float8,
           'snippet', pg_catalog.regexp_replace(pg_catalog.ts_headline('english', pg_catalog.left(d.content, 100000),
               pg_catalog.websearch_to_tsquery('english', v_query),
               'StartSel=«, StopSel=», MaxFragments=2, MaxWords=18, MinWords=6, ShortWord=2, FragmentDelimiter=" … "'),
             '\s+', ' ', 'g')))
         ORDER BY r.rank DESC, d.slug)
  INTO v_rows
  FROM ranked r JOIN public.documentation d ON d.id = r.id;
  IF v_rows IS NULL AND v_offset = 0
     AND pg_catalog.numnode(pg_catalog.websearch_to_tsquery('english', v_query)) = 0 THEN
    RAISE EXCEPTION 'the query has no searchable words (only very common words like ''the'' or punctuation); use more specific terms'
      USING ERRCODE = 'invalid_parameter_value';
  END IF;
  RETURN renubu_read.page('hits', v_rows, v_limit);
END
$$;

CREATE OR REPLACE FUNCTION renubu_read.get_doc(p jsonb)
RETURNS text LANGUAGE plpgsql STABLE SET search_path = '' AS $$
DECLARE
  v_slug text := p ->> 'slug';
  v_version int := (p ->> 'version')::int;
  d public.documentation;
  v_doc json;
  v_numbers text;
BEGIN
  SELECT * INTO d FROM public.documentation x WHERE x.slug = v_slug AND x.deleted_at IS NULL;
  IF d.id IS NULL THEN
    RAISE EXCEPTION '%', renubu_read.no_such_doc(v_slug) USING ERRCODE = 'no_data_found';
  END IF;
  IF v_version IS NOT NULL AND v_version <> d.version THEN
    SELECT pg_catalog.json_build_object(
             'slug', d.slug, 'title', v.title, 'category', d.category, 'source', 'snapshot',
             'version', v.version_number, 'current_version', d.version, 'version_label', v.version_label,
             'release_version', r.version, 'release_date', r.release_date, 'updated_at', renubu_read.ts(v.updated_at),
             'content', v.content)
    INTO v_doc
    FROM public.documentation_versions v LEFT JOIN public.releases r ON r.id = v.release_id
    WHERE v.doc_id = d.id AND v.version_number = v_version;
    IF v_doc IS NULL THEN
      SELECT pg_catalog.string_agg(v.version_number::text, ', ' ORDER BY v.version_number) INTO v_numbers
      FROM public.documentation_versions v WHERE v.doc_id = d.id;
      RAISE EXCEPTION 'doc % has no version %; versions available: %; the current doc is version % (omit version to read it)',
        pg_catalog.quote_literal(v_slug), v_version, coalesce(v_numbers, 'none (no release has snapshotted it)'),
        d.version USING ERRCODE = 'no_data_found';
    END IF;
  ELSE
    -- The current text (also when the version asked for is the live doc's own number).
    SELECT pg_catalog.json_build_object(
             'slug', d.slug, 'title', d.title, 'category', d.category, 'source', 'current', 'version', d.version,
             'release_version', r.version, 'release_date', d.release_date, 'updated_at', renubu_read.ts(d.updated_at),
             'content', d.content)
    INTO v_doc
    FROM (SELECT 1) one
    LEFT JOIN public.documentation_versions v ON v.doc_id = d.id AND v.version_number = d.version
    LEFT JOIN public.releases r ON r.id = v.release_id;
  END IF;
  RETURN pg_catalog.json_strip_nulls(v_doc)::text;
END
$$;

CREATE OR REPLACE FUNCTION renubu_read.list_doc_versions(p jsonb)
RETURNS text LANGUAGE plpgsql STABLE SET search_path = '' AS $$
DECLARE
  v_slug text := p ->> 'slug';
  v_doc text;
BEGIN
  SELECT pg_catalog.json_build_object(
    'slug', d.slug, 'title', d.title, 'current_version', d.version,
    'version_count', (SELECT count(*) FROM public.documentation_versions v WHERE v.doc_id = d.id),
    'versions', coalesce((
      SELECT pg_catalog.json_agg(pg_catalog.json_strip_nulls(pg_catalog.json_build_object(
               'version_number', v.version_number, 'version_label', v.version_label, 'release_version', r.version,
               'release_date', r.release_date, 'created_at', renubu_read.ts(v.created_at)))
             ORDER BY v.version_number DESC)
      FROM (SELECT v.* FROM public.documentation_versions v WHERE v.doc_id = d.id
            ORDER BY v.version_number DESC LIMIT 100) v LEFT JOIN public.releases r ON r.id = v.release_id), '[]')
  )::text INTO v_doc
  FROM public.documentation d WHERE d.slug = v_slug AND d.deleted_at IS NULL;
  IF v_doc IS NULL THEN
    RAISE EXCEPTION '%', renubu_read.no_such_doc(v_slug) USING ERRCODE = 'no_data_found';
  END IF;
  RETURN v_doc;
END
$$;

CREATE OR REPLACE FUNCTION renubu_read.list_releases(p jsonb)
RETURNS text LANGUAGE plpgsql STABLE SET search_path = '' AS $$
DECLARE
  v_limit int := (p ->> 'limit')::int;
  v_rows json[];
BEGIN
  SELECT pg_catalog.array_agg(renubu_read.release_row(r, d.n, false)
                             ORDER BY r.release_date DESC, r.created_at DESC, r.id)
  INTO v_rows
  FROM (SELECT r.* FROM public.releases r ORDER BY r.release_date DESC, r.created_at DESC, r.id
        LIMIT v_limit + 1 OFFSET (p ->> 'offset')::int) r
  CROSS JOIN LATERAL (SELECT count(*) AS n FROM public.documentation_versions v WHERE v.release_id = r.id) d;
  RETURN renubu_read.page('releases', v_rows, v_limit);
END
$$;

-- One release with its notes and the docs it snapshotted: the version given, or the current one.
CREATE OR REPLACE FUNCTION renubu_read.get_release(p jsonb)
RETURNS text LANGUAGE plpgsql STABLE SET search_path = '' AS $$
DECLARE
  v_version text := p ->> 'version';
  v_doc text;
BEGIN
  SELECT pg_catalog.json_build_object(
    'release', renubu_read.release_row(r, (SELECT count(*) FROM public.documentation_versions v
                                           WHERE v.release_id = r.id), true),
    'docs', coalesce((
      SELECT pg_catalog.json_agg(pg_catalog.json_build_object('slug', d.slug, 'title', v.title,
                                                              'version_number', v.version_number) ORDER BY d.slug)
      FROM public.documentation_versions v JOIN public.documentation d ON d.id = v.doc_id
      WHERE v.release_id = r.id), '[]')
  )::text INTO v_doc
  FROM public.releases r
  WHERE CASE WHEN v_version IS NULL THEN r.is_current ELSE r.version = v_version END;
  IF v_doc IS NULL THEN
    IF v_version IS NULL THEN
      RAISE EXCEPTION 'no release is current yet; an admin makes one with create_release_snapshot'
        USING ERRCODE = 'no_data_found';
    END IF;
    RAISE EXCEPTION 'no release %; see list_releases', pg_catalog.quote_literal(v_version)
      USING ERRCODE = 'no_data_found';
  END IF;
  RETURN v_doc;
END
$$;

CREATE OR REPLACE FUNCTION renubu_read.list_help_articles(p jsonb)
RETURNS text LANGUAGE plpgsql STABLE SET search_path = '' AS $$
DECLARE
  v_category text := p ->> 'category';
  v_difficulty text := p ->> 'difficulty';
  v_limit int := (p ->> 'limit')::int;
  v_rows json[];
BEGIN
  SELECT pg_catalog.array_agg(pg_catalog.json_strip_nulls(pg_catalog.json_build_object(
           'id', h.id, 'doc_slug', d.slug, 'title', h.title, 'summary', h.summary, 'category', h.category,
           'difficulty', h.difficulty, 'published', CASE WHEN NOT h.published THEN false END,
           'published_at', renubu_read.ts(h.published_at), 'view_count', h.view_count,
           'updated_at', renubu_read.ts(h.updated_at)))
         ORDER BY h.category, h.title, h.id)
  INTO v_rows
  FROM (SELECT h.* FROM public.help_articles h
        WHERE h.deleted_at IS NULL
          AND (v_category IS NULL OR pg_catalog.lower(h.category) = pg_catalog.lower(v_category))
          AND (v_difficulty IS NULL OR h.difficulty = v_difficulty)
        ORDER BY h.category, h.title, h.id LIMIT v_limit + 1 OFFSET (p ->> 'offset')::int) h
  LEFT JOIN public.documentation d ON d.id = h.doc_id AND d.deleted_at IS NULL;
  RETURN renubu_read.page('articles', v_rows, v_limit);
END
$$;

-- --- Features --------------------------------------------------------------------------------------------------

CREATE OR REPLACE FUNCTION renubu_read.list_features(p jsonb)
RETURNS text LANGUAGE plpgsql STABLE SET search_path = '' AS $$
DECLARE
  v_status text := p ->> 'status';
  v_phase text := p ->> 'phase';
  v_priority int := (p ->> 'priority')::int;
  v_limit int := (p ->> 'limit')::int;
  v_rows json[];
BEGIN
  SELECT pg_catalog.array_agg(renubu_read.feature_row(f, o.full_name) ORDER BY f.priority, f.title, f.id) INTO v_rows
  FROM (SELECT f.* FROM public.features f
        WHERE f.deleted_at IS NULL AND (v_status IS NULL OR f.status = v_status)
          AND (v_phase IS NULL OR f.phase = v_phase) AND (v_priority IS NULL OR f.priority = v_priority)
        ORDER BY f.priority, f.title, f.id LIMIT v_limit + 1 OFFSET (p ->> 'offset')::int) f
  LEFT JOIN renubu_read.people o ON o.id = f.owner_id;
  RETURN renubu_read.page('features', v_rows, v_limit);
END
$$;

-- One feature with its newest 20 history entries. Also read by update_feature inside its transaction.
CREATE OR REPLACE FUNCTION renubu_read.get_feature(p jsonb)
RETURNS text LANGUAGE plpgsql STABLE SET search_path = '' AS $$
DECLARE
  v_slug text := p ->> 'slug';
  v_doc text;
BEGIN
  SELECT pg_catalog.json_build_object(
    'feature', renubu_read.feature_row(f, o.full_name),
    'history_count', (SELECT count(*) FROM public.feature_updates u WHERE u.feature_id = f.id),
    'history', coalesce((
      SELECT pg_catalog.json_agg(pg_catalog.json_strip_nulls(pg_catalog.json_build_object(
               'update_type', u.update_type, 'old_value', u.old_value, 'new_value', u.new_value, 'note', u.note,
               'changed_by', u.changed_by, 'changed_by_name', n.full_name,
               'created_at', renubu_read.ts(u.created_at))) ORDER BY u.created_at DESC, u.update_type, u.id)
      FROM (SELECT u.* FROM public.feature_updates u WHERE u.feature_id = f.id
            ORDER BY u.created_at DESC, u.update_type, u.id LIMIT 20) u
      LEFT JOIN renubu_read.people n ON n.id = u.changed_by), '[]')
  )::text INTO v_doc
  FROM public.features f LEFT JOIN renubu_read.people o ON o.id = f.owner_id
  WHERE f.slug = v_slug AND f.deleted_at IS NULL;
  IF v_doc IS NULL THEN
    RAISE EXCEPTION 'no feature with slug %; find slugs with list_features', pg_catalog.quote_literal(v_slug)
      USING ERRCODE = 'no_data_found';
  END IF;
  RETURN v_doc;
END
$$;

-- --- Integrations ----------------------------------------------------------------------------------------------

CREATE OR REPLACE FUNCTION renubu_read.list_integrations(p jsonb)
RETURNS text LANGUAGE plpgsql STABLE SET search_path = '' AS $$
DECLARE
  v_pattern text := p ->> 'pattern';
  v_limit int := (p ->> 'limit')::int;
  v_rows json[];
BEGIN
  SELECT pg_catalog.array_agg(renubu_read.integration_summary(i.slug, i.name, i.category, i.connection_type,
                                                            i.status, i.description) ORDER BY i.name, i.id)
  INTO v_rows
  FROM (SELECT i.id, i.slug, i.name, i.category, i.connection_type, i.status, i.description
        FROM public.mcp_integrations i
        WHERE i.deleted_at IS NULL
          AND (v_pattern IS NULL OR i.name ILIKE v_pattern OR i.slug ILIKE v_pattern)
          AND (p ->> 'category' IS NULL OR i.category = p ->> 'category')
          AND (p ->> 'connection_type' IS NULL OR i.connection_type = p ->> 'connection_type')
          AND (p ->> 'status' IS NULL OR i.status = p ->> 'status')
        ORDER BY i.name, i.id LIMIT v_limit + 1 OFFSET (p ->> 'offset')::int) i;
  RETURN renubu_read.page('integrations', v_rows, v_limit);
END
$$;

CREATE OR REPLACE FUNCTION renubu_read.get_integration(p jsonb)
RETURNS text LANGUAGE plpgsql STABLE SET search_path = '' AS $$
DECLARE
  v_doc text;
BEGIN
  SELECT pg_catalog.json_strip_nulls(pg_catalog.json_build_object(
           'slug', i.slug, 'name', i.name, 'category', i.category, 'connection_type', i.connection_type,
           'status', i.status, 'description', i.description, 'authorization_url', i.authorization_url,
           'token_url', i.token_url, 'revocation_url', i.revocation_url, 'default_scopes', i.default_scopes,
           'client_id', i.client_id, 'has_client_secret', i.client_secret_key_id IS NOT NULL,
           'token_endpoint_auth_method', CASE WHEN i.connection_type = 'oauth2' THEN i.token_endpoint_auth_method END,
           'issuer', i.issuer, 'api_base_url', i.api_base_url,
           'api_key_header', CASE WHEN i.connection_type = 'api_key' THEN i.api_key_header END,
           'docs_url', i.docs_url, 'icon_url', i.icon_url, 'updated_at', renubu_read.ts(i.updated_at)))::text
  INTO v_doc
  FROM public.mcp_integrations i WHERE i.slug = p ->> 'slug' AND i.deleted_at IS NULL;
  IF v_doc IS NULL THEN
    RAISE EXCEPTION 'no integration % in the marketplace; find slugs with list_integrations',
      pg_catalog.quote_literal(p ->> 'slug') USING ERRCODE = 'no_data_found';
  END IF;
  RETURN v_doc;
END
$$;

CREATE OR REPLACE FUNCTION renubu_read.list_my_integrations(p jsonb)
RETURNS text LANGUAGE plpgsql STABLE SET search_path = '' AS $$
DECLARE
  v_limit int := (p ->> 'limit')::int;
  v_rows json[];
BEGIN
  SELECT pg_catalog.array_agg(pg_catalog.json_strip_nulls(pg_catalog.json_build_object(
           'install_id', ui.id, 'slug', i.slug, 'name', i.name, 'connection_type', i.connection_type,
           'status', ui.status, 'scopes', CASE WHEN ui.scopes <> '{}' THEN ui.scopes END,
           'installed_at', renubu_read.ts(ui.installed_at), 'last_used_at', renubu_read.ts(ui.last_used_at),
           'last_error', ui.last_error, 'token_expires_at', renubu_read.ts(t.expires_at),
           'can_refresh', CASE WHEN t.refresh_token_encrypted IS NOT NULL THEN true END,
           'signing_secret_hint', '…' || w.secret_hint))
         ORDER BY i.name, ui.id)
  INTO v_rows
  FROM (SELECT ui.* FROM public.user_integrations ui
        JOIN public.mcp_integrations i ON i.id = ui.integration_id
        WHERE ui.user_id = (SELECT auth.uid()) AND ui.deleted_at IS NULL
          AND (p ->> 'status' IS NULL OR ui.status = p ->> 'status')
        ORDER BY i.name, ui.id LIMIT v_limit + 1 OFFSET (p ->> 'offset')::int) ui
  JOIN public.mcp_integrations i ON i.id = ui.integration_id
  LEFT JOIN public.oauth_tokens t ON t.user_integration_id = ui.id
  LEFT JOIN public.webhook_endpoints w ON w.user_integration_id = ui.id;
  RETURN renubu_read.page('installs', v_rows, v_limit);
END
$$;

-- Events keep arriving while someone pages through them, so pages follow the last event shown (time and id).
CREATE OR REPLACE FUNCTION renubu_read.list_integration_events(p jsonb)
RETURNS text LANGUAGE plpgsql STABLE SET search_path = '' AS $$
DECLARE
  v_slug text := p ->> 'slug';
  v_install uuid := (p ->> 'install_id')::uuid;
  v_type text := p ->> 'event_type';
  v_after timestamptz := (p ->> 'after')::timestamptz;
  v_after_id uuid := (p ->> 'after_id')::uuid;
  v_limit int := (p ->> 'limit')::int;
  v_doc text;
BEGIN
  IF (v_slug IS NOT NULL OR v_install IS NOT NULL) AND NOT EXISTS (
    SELECT 1 FROM public.user_integrations ui JOIN public.mcp_integrations i ON i.id = ui.integration_id
    WHERE (v_slug IS NULL OR (i.slug = v_slug AND ui.user_id = (SELECT auth.uid())))
      AND (v_install IS NULL OR ui.id = v_install)) THEN
    RAISE EXCEPTION 'no install % of yours; see list_my_integrations', coalesce(v_slug, v_install::text)
      USING ERRCODE = 'no_data_found';
  END IF;
  WITH page AS MATERIALIZED (
    SELECT e, i.slug, pg_catalog.row_number() OVER (ORDER BY e.received_at DESC, e.id DESC) AS n
    FROM public.integration_events e
    JOIN public.user_integrations ui ON ui.id = e.user_integration_id
    JOIN public.mcp_integrations i ON i.id = ui.integration_id
    WHERE (v_slug IS NULL OR (i.slug = v_slug AND ui.user_id = (SELECT auth.uid())))
      AND (v_install IS NULL OR e.user_integration_id = v_install)
      AND (v_slug IS NOT NULL OR v_install IS NOT NULL OR e.user_id = (SELECT auth.uid()))
      AND (v_type IS NULL OR e.event_type = v_type)
      AND (v_after IS NULL OR (e.received_at, e.id) < (v_after, v_after_id))
    ORDER BY e.received_at DESC, e.id DESC
    LIMIT v_limit + 1
  )
  SELECT pg_catalog.json_build_object(
    'events', coalesce((
      SELECT pg_catalog.json_agg(renubu_read.with_field(pg_catalog.json_strip_nulls(pg_catalog.json_build_object(
               'event_id', (page.e).id, 'install_id', (page.e).user_integration_id, 'slug', page.slug,
               'received_at', renubu_read.ts((page.e).received_at), 'sent_at', renubu_read.ts((page.e).sent_at),
               'event_type', (page.e).event_type)), 'payload', (page.e).payload) ORDER BY page.n)
      FROM page WHERE page.n <= v_limit), '[]'),
    '_next', (SELECT pg_catalog.json_build_object('u', public.utc_text((last.e).received_at), 'i', (last.e).id)
              FROM page last WHERE last.n = v_limit AND EXISTS (SELECT 1 FROM page WHERE page.n > v_limit))
  )::text INTO v_doc;
  RETURN v_doc;
END
$$;

GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA renubu_read TO authenticated, service_role;

-- --- The request function ----------------------------------------------------------------------------------------

CREATE OR REPLACE FUNCTION public.read_as(p_role text, p_claims text, p_read text, p_args text)
RETURNS text LANGUAGE plpgsql SET search_path = '' AS $$
DECLARE
  v_result text;
BEGIN
  IF p_role IS NULL OR p_role NOT IN ('authenticated', 'anon') THEN
    RAISE EXCEPTION 'request role % is not allowed', p_role USING ERRCODE = 'insufficient_privilege';
  END IF;
  PERFORM pg_catalog.set_config('role', p_role, true), pg_catalog.set_config('request.jwt.claims', p_claims, true);
  -- %I: the name can only ever be a function of the renubu_read schema, which only migrations create.
  EXECUTE pg_catalog.format('SELECT renubu_read.%I($1)', p_read) INTO v_result USING p_args::jsonb;
  RETURN v_result;
END
$$;
REVOKE ALL ON FUNCTION public.read_as(text, text, text, text) FROM PUBLIC, anon, authenticated, service_role;
GRANT EXECUTE ON FUNCTION public.read_as(text, text, text, text) TO authenticator;

DROP FUNCTION IF EXISTS public.customer_detail_as(text, text, uuid);
DROP FUNCTION IF EXISTS public.customer_detail(uuid);

/* ROLLBACK
DROP FUNCTION IF EXISTS public.read_as(text, text, text, text);
DROP SCHEMA IF EXISTS renubu_read CASCADE;
DROP FUNCTION IF EXISTS public.user_role(uuid);
CREATE OR REPLACE FUNCTION public.wake_due_workflows(p_customer_id uuid DEFAULT NULL, p_execution_id uuid DEFAULT NULL)
RETURNS TABLE (execution_id uuid, wake_reason text)
LANGUAGE plpgsql SET search_path = '' AS $$
BEGIN
  IF current_setting('transaction_read_only') = 'on' THEN
    RETURN;
  END IF;
  IF NOT EXISTS (
    SELECT 1 FROM public.workflow_executions x
    WHERE x.status = 'snoozed' AND x.deleted_at IS NULL
      AND (p_customer_id IS NULL OR x.customer_id = p_customer_id)
      AND (p_execution_id IS NULL OR x.id = p_execution_id)
  ) THEN
    RETURN;
  END IF;
  PERFORM 1 FROM public.workflow_executions x
  WHERE x.status = 'snoozed' AND x.deleted_at IS NULL
    AND (p_customer_id IS NULL OR x.customer_id = p_customer_id)
    AND (p_execution_id IS NULL OR x.id = p_execution_id)
  ORDER BY x.id
  FOR UPDATE;
  UPDATE public.workflow_conditions wc
  SET is_met = true, met_at = now(), last_evaluated_at = now()
  FROM public.workflow_executions e
  LEFT JOIN public.customers c ON c.id = e.customer_id
  WHERE wc.workflow_execution_id = e.id
    AND e.status = 'snoozed' AND e.deleted_at IS NULL
    AND NOT wc.is_met AND wc.deleted_at IS NULL
    AND (p_customer_id IS NULL OR e.customer_id = p_customer_id)
    AND (p_execution_id IS NULL OR e.id = p_execution_id)
    AND CASE wc.condition_type
      WHEN 'risk_score_at_least' THEN c.risk_score >= (wc.condition_config ->> 'threshold')::int
      WHEN 'renewal_within_days' THEN c.renewal_date <= current_date + (wc.condition_config ->> 'days')::int
      WHEN 'task_completed' THEN EXISTS (
        SELECT 1 FROM public.workflow_tasks t
        WHERE t.id = (wc.condition_config ->> 'task_id')::uuid AND t.workflow_execution_id = e.id
          AND t.status = 'completed' AND t.deleted_at IS NULL)
      WHEN 'all_tasks_completed' THEN NOT EXISTS (
        SELECT 1 FROM public.workflow_tasks t
        WHERE t.workflow_execution_id = e.id AND t.deleted_at IS NULL
          AND t.status NOT IN ('completed', 'skipped'))
      ELSE false
    END;
  RETURN QUERY
  UPDATE public.workflow_executions e
  SET status = 'in_progress', woken_at = now(), wake_reason = due.reason, snoozed_until = NULL
  FROM (
    SELECT x.id,
           CASE WHEN x.snoozed_until <= now()
                THEN 'snooze time reached (' || to_char(x.snoozed_until AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI') || ' UTC)'
                ELSE 'wake condition met: ' || (
                  SELECT string_agg(wc.condition_type || ' ' || wc.condition_config::text, '; ' ORDER BY wc.created_at)
                  FROM public.workflow_conditions wc
                  WHERE wc.workflow_execution_id = x.id AND wc.is_met AND wc.deleted_at IS NULL)
           END AS reason
    FROM public.workflow_executions x
    WHERE x.status = 'snoozed' AND x.deleted_at IS NULL
      AND (p_customer_id IS NULL OR x.customer_id = p_customer_id)
      AND (p_execution_id IS NULL OR x.id = p_execution_id)
      AND (x.customer_id IS NULL OR (SELECT public.is_admin())
           OR x.customer_id IN (SELECT public.assigned_customer_ids()))
      AND (x.snoozed_until <= now() OR EXISTS (
        SELECT 1 FROM public.workflow_conditions wc
        WHERE wc.workflow_execution_id = x.id AND wc.is_met AND wc.deleted_at IS NULL))
  ) AS due
  WHERE e.id = due.id AND e.status = 'snoozed'
  RETURNING e.id, e.wake_reason;
END
$$;
DROP FUNCTION IF EXISTS public.wake_condition_holds(text, jsonb, uuid, uuid);
CREATE OR REPLACE FUNCTION public.customer_detail(p_customer_id uuid)
RETURNS TABLE (detail text, has_snoozed boolean)
LANGUAGE plpgsql STABLE SET search_path = '' SET timezone = 'UTC' AS $$
BEGIN
  RETURN QUERY
  WITH e AS MATERIALIZED (
    SELECT x.id, x.user_id, x.customer_id, x.workflow_type, x.workflow_name, x.status, x.current_slide_index,
           x.total_slides, x.snoozed_until, x.wake_conditions, x.woken_at, x.wake_reason, x.started_at,
           x.completed_at, x.updated_at
    FROM public.workflow_executions x
    WHERE x.customer_id = p_customer_id AND x.deleted_at IS NULL
  )
  SELECT pg_catalog.json_build_object(
    'customer', pg_catalog.json_build_object(
      'id', c.id, 'name', c.name, 'domain', c.domain, 'industry', c.industry, 'arr', c.arr::text,
      'renewal_date', c.renewal_date, 'risk_score', c.risk_score, 'notes', c.notes,
      'updated_at', public.utc_text(c.updated_at)),
    'contacts', coalesce((
      SELECT pg_catalog.json_agg(pg_catalog.json_build_object(
               'id', ct.id, 'customer_id', ct.customer_id, 'name', ct.name, 'email', ct.email, 'role', ct.role,
               'phone', ct.phone, 'is_primary', ct.is_primary)
             ORDER BY ct.is_primary DESC, ct.name) FROM (
        SELECT ct.id, ct.customer_id, ct.name, ct.email, ct.role, ct.phone, ct.is_primary
        FROM public.contacts ct
        WHERE ct.customer_id = c.id AND ct.deleted_at IS NULL
        ORDER BY ct.is_primary DESC, ct.name LIMIT 100) ct), '[]'),
    'open_workflows', coalesce((
      SELECT pg_catalog.json_agg(pg_catalog.json_build_object(
               'id', w.id, 'owner_id', w.user_id, 'customer_id', w.customer_id, 'customer_name', c.name,
               'workflow_type', w.workflow_type, 'workflow_name', w.workflow_name, 'status', w.status,
               'current_slide_index', w.current_slide_index,
               'total_slides', w.total_slides, 'snoozed_until', public.utc_text(w.snoozed_until),
               'wake_conditions', w.wake_conditions, 'woken_at', public.utc_text(w.woken_at),
               'wake_reason', w.wake_reason, 'started_at', public.utc_text(w.started_at),
               'completed_at', public.utc_text(w.completed_at), 'updated_at', public.utc_text(w.updated_at))
             ORDER BY w.updated_at DESC) FROM (
        SELECT e.* FROM e WHERE e.status <> 'completed'
        ORDER BY e.updated_at DESC LIMIT 50) w), '[]'),
    'open_tasks', coalesce((
      SELECT pg_catalog.json_agg(pg_catalog.json_build_object(
               'id', t.id, 'workflow_execution_id', t.workflow_execution_id, 'title', t.title,
               'description', t.description, 'status', t.status, 'priority', t.priority,
               'assigned_to', t.assigned_to, 'due_date', public.utc_text(t.due_date),
               'snoozed_until', public.utc_text(t.snoozed_until), 'completed_at', public.utc_text(t.completed_at),
               'updated_at', public.utc_text(t.updated_at))
             ORDER BY t.due_date NULLS LAST, t.id) FROM (
        SELECT t.id, t.workflow_execution_id, t.title, t.description, t.status, t.priority, t.assigned_to,
               t.due_date, t.snoozed_until, t.completed_at, t.updated_at
        FROM public.workflow_tasks t JOIN e ON e.id = t.workflow_execution_id
        WHERE t.deleted_at IS NULL AND t.status IN ('pending', 'in_progress', 'snoozed')
        ORDER BY t.due_date NULLS LAST, t.id LIMIT 100) t), '[]'),
    'recent_actions', coalesce((
      SELECT pg_catalog.json_agg(pg_catalog.json_build_object(
               'id', a.id, 'workflow_execution_id', a.workflow_execution_id, 'task_id', a.task_id,
               'user_id', a.user_id, 'action_type', a.action_type, 'action_data', a.action_data,
               'created_at', public.utc_text(a.created_at))
             ORDER BY a.created_at DESC, a.id) FROM (
        SELECT a.id, a.workflow_execution_id, a.task_id, a.user_id, a.action_type, a.action_data, a.created_at
        FROM public.workflow_actions a JOIN e ON e.id = a.workflow_execution_id
        WHERE a.deleted_at IS NULL
        ORDER BY a.created_at DESC, a.id LIMIT 20) a), '[]')
  )::text,
  EXISTS (SELECT 1 FROM e WHERE e.status = 'snoozed')
  FROM public.customers c
  WHERE c.id = p_customer_id AND c.deleted_at IS NULL;
END
$$;
REVOKE ALL ON FUNCTION public.customer_detail(uuid) FROM PUBLIC, anon, authenticated, service_role;
GRANT EXECUTE ON FUNCTION public.customer_detail(uuid) TO authenticated, service_role;
CREATE OR REPLACE FUNCTION public.customer_detail_as(p_role text, p_claims text, p_customer_id uuid)
RETURNS TABLE (detail text, has_snoozed boolean)
LANGUAGE plpgsql SET search_path = '' AS $$
BEGIN
  IF p_role IS NULL OR p_role NOT IN ('authenticated', 'anon') THEN
    RAISE EXCEPTION 'request role % is not allowed', p_role USING ERRCODE = 'insufficient_privilege';
  END IF;
  PERFORM pg_catalog.set_config('role', p_role, true), pg_catalog.set_config('request.jwt.claims', p_claims, true);
  RETURN QUERY SELECT d.detail, d.has_snoozed FROM public.customer_detail(p_customer_id) d;
END
$$;
REVOKE ALL ON FUNCTION public.customer_detail_as(text, text, uuid) FROM PUBLIC, anon, authenticated, service_role;
GRANT EXECUTE ON FUNCTION public.customer_detail_as(text, text, uuid) TO authenticator;
*/
