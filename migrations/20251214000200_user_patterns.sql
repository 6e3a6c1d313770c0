-- Phase 3 of the schema document, user patterns (issue 14): per user, figures derived from that user's own history.
--
-- Computed when asked, not stored. public.user_patterns_of(user) reads the user's own workflows of the last year
-- (and their tasks, actions and check-ins) through the indexes on the owner: 1.6x get_customer's read at demo
-- scale, 3-4x with ten years of heavy history (bench/patterns.py, docs/performance.md "User patterns"). Refreshing
-- a stored row on every write instead would put that same computation into every task update, action and check-in
-- (5-12x the write; they outnumber pattern reads by far), need a definer function writing rows for other users
-- (an admin's write changes the owner's figures), and lose updates when two of a user's writes commit together;
-- computed figures are always current and need none of that.
-- public.user_patterns is the relation the schema document plans: a view, one row per profile the caller can read
-- (their own; admins all), running as the caller so RLS decides (security_invoker). Nothing in it can be written.
--
-- The figures cover the last 365 days ("since"). Each carries its sample size n, and its values only when n is at
-- least 5: nothing is claimed from less. Snoozes count each workflow's latest snooze that has ended (the workflow
-- keeps snoozed_at, woken_at and why it woke); times of day are in the time zone asked for (default UTC).

SET search_path = public, extensions;

-- A user's actions in a time window (when in the day they act), without reading their whole history.
CREATE INDEX IF NOT EXISTS idx_workflow_actions_user_id_created_at ON public.workflow_actions (user_id, created_at);

-- {"n": n} with `figures` added when n is large enough to say anything.
CREATE OR REPLACE FUNCTION public.pattern_figure(n bigint, figures jsonb)
RETURNS jsonb LANGUAGE sql IMMUTABLE SET search_path = '' AS $$
  SELECT CASE WHEN n >= 5 THEN pg_catalog.jsonb_build_object('n', n) || pg_catalog.jsonb_strip_nulls(figures)
              ELSE pg_catalog.jsonb_build_object('n', n) END
$$;

-- Runs as the caller: another user's history is as invisible here as anywhere (every figure has n 0), and an
-- admin sees exactly what the user sees of their own. The last 365 days only: recent habits are the ones worth
-- planning with, and the cost stays bounded by a year of activity however long someone has used Renubu.
CREATE OR REPLACE FUNCTION public.user_patterns_of(p_user uuid, p_timezone text DEFAULT 'UTC')
RETURNS jsonb LANGUAGE sql STABLE SET search_path = '' AS $$
  -- The window's start is written out where it is used (now() - 365 days): a CTE would hide it from the planner,
  -- which estimates with it and then reads the window through the indexes.
  WITH own AS MATERIALIZED (
    -- The workflows with activity in the window: a write to a workflow, its tasks, actions or check-ins moves its
    -- updated_at, so everything of theirs in the window hangs off these (read through the foreign-key indexes).
    SELECT e.id, e.workflow_type, e.status, e.started_at, e.created_at, e.completed_at, e.snoozed_at, e.woken_at,
           e.wake_reason
    FROM public.workflow_executions e
    WHERE e.user_id = p_user AND e.deleted_at IS NULL AND e.updated_at >= pg_catalog.now() - interval '365 days'
  ),
  snoozes AS (
    SELECT pg_catalog.count(*) AS n,
           pg_catalog.percentile_cont(0.5) WITHIN GROUP (ORDER BY s.days) AS median,
           pg_catalog.count(*) FILTER (WHERE s.how = 'time') AS by_time,
           pg_catalog.count(*) FILTER (WHERE s.how = 'condition') AS by_condition
    FROM (SELECT EXTRACT(epoch FROM o.woken_at - o.snoozed_at)::float8 / 86400 AS days,
                 CASE WHEN o.wake_reason LIKE 'snooze time reached%' THEN 'time'
                      WHEN o.wake_reason LIKE 'wake condition met%' THEN 'condition' ELSE 'by_hand' END AS how
          FROM own o
          WHERE o.snoozed_at IS NOT NULL AND o.woken_at >= o.snoozed_at
            AND o.woken_at >= pg_catalog.now() - interval '365 days') s
  ),
  durations AS (
    SELECT d.workflow_type, pg_catalog.count(*) AS n,
           pg_catalog.percentile_cont(0.5) WITHIN GROUP (ORDER BY d.days) AS median
    FROM (SELECT o.workflow_type,
                 EXTRACT(epoch FROM o.completed_at - coalesce(o.started_at, o.created_at))::float8 / 86400 AS days
          FROM own o
          WHERE o.status = 'completed' AND o.completed_at >= pg_catalog.now() - interval '365 days') d
    GROUP BY d.workflow_type
  ),
  tasks AS (
    SELECT pg_catalog.count(*) AS n,
           pg_catalog.percentile_cont(0.5) WITHIN GROUP (
             ORDER BY EXTRACT(epoch FROM t.completed_at - t.created_at)::float8 / 86400) AS median,
           pg_catalog.count(t.due_date) AS n_due,
           pg_catalog.count(*) FILTER (WHERE t.completed_at <= t.due_date) AS on_time
    FROM public.workflow_tasks t JOIN own o ON o.id = t.workflow_execution_id
    WHERE t.status = 'completed' AND t.deleted_at IS NULL
      AND t.completed_at >= pg_catalog.now() - interval '365 days'
  ),
  check_ins AS MATERIALIZED (
    SELECT c.workflow_execution_id, c.checked_in_at
    FROM public.workflow_check_ins c JOIN own o ON o.id = c.workflow_execution_id
    WHERE c.created_by = p_user AND c.deleted_at IS NULL
      AND c.checked_in_at >= pg_catalog.now() - interval '365 days'
  ),
  check_in_gaps AS (
    SELECT pg_catalog.count(g.days) AS n,
           pg_catalog.percentile_cont(0.5) WITHIN GROUP (ORDER BY g.days) AS median
    FROM (SELECT EXTRACT(epoch FROM c.checked_in_at - pg_catalog.lag(c.checked_in_at) OVER (
                   PARTITION BY c.workflow_execution_id ORDER BY c.checked_in_at))::float8 / 86400 AS days
          FROM check_ins c) g
  ),
  -- When in the day they act (their actions and check-ins): counted per hour, then the busiest hour and the hours
  -- between which the middle 80 % fall, read off the 24 counts.
  hourly AS (
    SELECT h.hour, pg_catalog.count(*) AS n
    FROM (SELECT EXTRACT(hour FROM a.created_at AT TIME ZONE p_timezone)::int AS hour
          FROM public.workflow_actions a JOIN own o ON o.id = a.workflow_execution_id
          WHERE a.user_id = p_user AND a.deleted_at IS NULL
            AND a.created_at >= pg_catalog.now() - interval '365 days'
          UNION ALL
          SELECT EXTRACT(hour FROM c.checked_in_at AT TIME ZONE p_timezone)::int FROM check_ins c) h
    GROUP BY h.hour
  ),
  hours AS (
    SELECT coalesce(pg_catalog.sum(x.n), 0)::bigint AS n,
           (SELECT y.hour FROM hourly y ORDER BY y.n DESC, y.hour LIMIT 1) AS peak,
           pg_catalog.min(x.hour) FILTER (WHERE x.cumulative >= 0.1 * x.total) AS first,
           pg_catalog.min(x.hour) FILTER (WHERE x.cumulative >= 0.9 * x.total) AS last
    FROM (SELECT y.hour, y.n, pg_catalog.sum(y.n) OVER (ORDER BY y.hour) AS cumulative,
                 pg_catalog.sum(y.n) OVER () AS total FROM hourly y) x
  )
  SELECT pg_catalog.jsonb_build_object(
    'since', (pg_catalog.now() - interval '365 days')::date,
    'snoozes', public.pattern_figure(s.n, pg_catalog.jsonb_build_object(
      'median_days', pg_catalog.round(s.median::numeric, 1),
      'woke_by_time', pg_catalog.round(s.by_time::numeric / nullif(s.n, 0), 2),
      'woke_by_condition', pg_catalog.round(s.by_condition::numeric / nullif(s.n, 0), 2),
      'woke_by_hand', pg_catalog.round((s.n - s.by_time - s.by_condition)::numeric / nullif(s.n, 0), 2))),
    'workflow_days', coalesce((
      SELECT pg_catalog.jsonb_object_agg(d.workflow_type, public.pattern_figure(d.n, pg_catalog.jsonb_build_object(
               'median', pg_catalog.round(d.median::numeric, 1))))
      FROM durations d), '{}'),
    'task_days', public.pattern_figure(t.n, pg_catalog.jsonb_build_object(
      'median', pg_catalog.round(t.median::numeric, 1))),
    'tasks_on_time', public.pattern_figure(t.n_due, pg_catalog.jsonb_build_object(
      'share', pg_catalog.round(t.on_time::numeric / nullif(t.n_due, 0), 2))),
    'check_in_gap_days', public.pattern_figure(c.n, pg_catalog.jsonb_build_object(
      'median', pg_catalog.round(c.median::numeric, 1))),
    'active_hours', public.pattern_figure(h.n, pg_catalog.jsonb_build_object(
      'peak', h.peak, 'from', h.first, 'to', h.last)))
  FROM snoozes s, tasks t, check_in_gaps c, hours h
$$;

REVOKE ALL ON FUNCTION public.pattern_figure(bigint, jsonb), public.user_patterns_of(uuid, text)
  FROM PUBLIC, anon, authenticated, service_role;
GRANT EXECUTE ON FUNCTION public.pattern_figure(bigint, jsonb), public.user_patterns_of(uuid, text)
  TO authenticated, service_role;

CREATE OR REPLACE VIEW public.user_patterns WITH (security_invoker = true) AS
  SELECT p.id AS user_id, public.user_patterns_of(p.id) AS patterns
  FROM public.profiles p WHERE p.deleted_at IS NULL;
REVOKE ALL ON public.user_patterns FROM PUBLIC, anon, authenticated, service_role;
GRANT SELECT ON public.user_patterns TO authenticated, service_role;

-- --- Reads (migration 20251204's conventions) ------------------------------------------------------------------

-- An IANA time zone PostgreSQL knows ('UTC' when none is given); any other text is a bad argument.
CREATE OR REPLACE FUNCTION renubu_read.time_zone(p_name text)
RETURNS text LANGUAGE plpgsql STABLE SET search_path = '' AS $$
BEGIN
  IF p_name IS NULL OR p_name = 'UTC' THEN
    RETURN 'UTC';
  END IF;
  PERFORM pg_catalog.now() AT TIME ZONE p_name;
  RETURN p_name;
EXCEPTION WHEN invalid_parameter_value THEN
  RAISE EXCEPTION 'timezone % is not a time zone name; use an IANA name such as America/New_York or Europe/Paris',
    pg_catalog.quote_literal(p_name) USING ERRCODE = 'raise_exception';
END
$$;

CREATE OR REPLACE FUNCTION renubu_read.get_my_patterns(p jsonb)
RETURNS text LANGUAGE plpgsql STABLE SET search_path = '' AS $$
DECLARE
  v_tz text := renubu_read.time_zone(p ->> 'timezone');
BEGIN
  RETURN (pg_catalog.jsonb_build_object('min_sample', 5)
          || CASE WHEN v_tz <> 'UTC' THEN pg_catalog.jsonb_build_object('timezone', v_tz) ELSE '{}' END
          || public.user_patterns_of((SELECT auth.uid()), v_tz))::text;
END
$$;

REVOKE ALL ON FUNCTION renubu_read.time_zone(text), renubu_read.get_my_patterns(jsonb) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION renubu_read.time_zone(text), renubu_read.get_my_patterns(jsonb)
  TO authenticated, service_role;

/* ROLLBACK
DROP FUNCTION IF EXISTS renubu_read.get_my_patterns(jsonb);
DROP FUNCTION IF EXISTS renubu_read.time_zone(text);
DROP VIEW IF EXISTS public.user_patterns;
DROP FUNCTION IF EXISTS public.user_patterns_of(uuid, text);
DROP FUNCTION IF EXISTS public.pattern_figure(bigint, jsonb);
DROP INDEX IF EXISTS public.idx_workflow_actions_user_id_created_at;
*/
