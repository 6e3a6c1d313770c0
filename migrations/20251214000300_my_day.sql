-- my_day (issue 14): what needs the caller now, in one read. Always the caller's own, admins included (an admin's
-- day is not everyone's): tasks of their open workflows due by the end of today or overdue; their workflows that
-- woke from a snooze and have had no activity since, or wake later today (and why); renewals of the customers
-- assigned to them in the next 30 days, with risk, ARR and their open workflow on it; their parked items due for
-- revisit; and their open workflows with no check-in for 7 days. "Today" is the caller's day in the time zone they
-- give (default UTC).
--
-- Each section names the tool that acts on its entries ("act") and shows at most 10, most urgent first, with the
-- number left out ("more"); an empty section is left out. "_wake" says that one of the caller's snoozed workflows
-- is due: the server wakes it in a transaction and reads again (two round trips only then).

SET search_path = public, extensions;

-- {"act": tool, "items": the first `cap` rows, "more": how many were left out}; NULL when there are none.
CREATE OR REPLACE FUNCTION renubu_read.day_section(act text, rows json[], cap int)
RETURNS json LANGUAGE sql IMMUTABLE AS $$
  SELECT CASE WHEN pg_catalog.cardinality(rows) > 0 THEN pg_catalog.json_strip_nulls(pg_catalog.json_build_object(
    'act', act, 'items', pg_catalog.array_to_json(rows[1:cap]),
    'more', CASE WHEN pg_catalog.cardinality(rows) > cap THEN pg_catalog.cardinality(rows) - cap END)) END
$$;

CREATE OR REPLACE FUNCTION renubu_read.my_day(p jsonb)
RETURNS text LANGUAGE plpgsql STABLE SET search_path = '' AS $$
DECLARE
  v_me uuid := (SELECT auth.uid());
  v_tz text := renubu_read.time_zone(p ->> 'timezone');
  v_cap constant int := 10;
  v_today date := (pg_catalog.now() AT TIME ZONE v_tz)::date;
  v_start timestamptz := v_today::timestamp AT TIME ZONE v_tz;
  v_tomorrow timestamptz := (v_today + 1)::timestamp AT TIME ZONE v_tz;
  v_doc text;
BEGIN
  WITH mine AS MATERIALIZED (
    SELECT e.id, coalesce(e.workflow_name, e.workflow_type) AS name, e.customer_id, c.name AS customer, e.status,
           e.snoozed_until, e.woken_at, e.wake_reason, e.started_at, e.created_at, e.updated_at
    FROM public.workflow_executions e LEFT JOIN public.customers c ON c.id = e.customer_id
    WHERE e.user_id = v_me AND e.deleted_at IS NULL AND e.status <> 'completed'
  ),
  tasks AS (
    SELECT pg_catalog.json_strip_nulls(pg_catalog.json_build_object(
             'id', t.id, 'title', t.title, 'due', renubu_read.ts(t.due_date), 'priority', t.priority,
             'customer', m.customer, 'assignee_name', CASE WHEN t.assigned_to IS DISTINCT FROM v_me THEN a.full_name END
           )) AS item,
           pg_catalog.row_number() OVER (ORDER BY t.due_date, t.id) AS n
    FROM public.workflow_tasks t JOIN mine m ON m.id = t.workflow_execution_id AND m.status <> 'snoozed'
    LEFT JOIN renubu_read.people a ON a.id = t.assigned_to
    WHERE t.deleted_at IS NULL AND t.due_date < v_tomorrow
      AND (t.status IN ('pending', 'in_progress') OR (t.status = 'snoozed' AND t.snoozed_until <= pg_catalog.now()))
  ),
  wakes AS (
    SELECT pg_catalog.json_strip_nulls(pg_catalog.json_build_object(
             'id', m.id, 'name', m.name, 'customer', m.customer,
             'woke_at', CASE WHEN m.status <> 'snoozed' THEN renubu_read.ts(m.woken_at) END,
             'wakes_at', CASE WHEN m.status = 'snoozed' THEN renubu_read.ts(m.snoozed_until) END,
             'why', CASE WHEN m.status <> 'snoozed' THEN m.wake_reason END)) AS item,
           pg_catalog.row_number() OVER (ORDER BY coalesce(m.woken_at, m.snoozed_until), m.id) AS n
    FROM mine m
    WHERE (m.status = 'snoozed' AND m.snoozed_until < v_tomorrow)
       OR (m.status <> 'snoozed' AND m.woken_at IS NOT NULL
           AND (m.woken_at >= v_start OR m.updated_at <= m.woken_at + interval '1 second'))
  ),
  renewals AS (
    SELECT pg_catalog.json_strip_nulls(pg_catalog.json_build_object(
             'id', c.id, 'name', c.name, 'renewal_date', c.renewal_date, 'days', c.renewal_date - v_today,
             'arr', c.arr::float8, 'risk_score', c.risk_score,
             'workflow_id', (SELECT m.id FROM mine m WHERE m.customer_id = c.id
                             ORDER BY m.updated_at DESC, m.id LIMIT 1))) AS item,
           c.arr,
           pg_catalog.row_number() OVER (ORDER BY c.renewal_date, c.risk_score DESC NULLS LAST, c.id) AS n
    FROM public.customers c
    WHERE c.id IN (SELECT a.customer_id FROM public.customer_assignments a WHERE a.user_id = v_me)
      AND c.deleted_at IS NULL AND c.renewal_date BETWEEN v_today AND v_today + 30
  ),
  parked AS (
    SELECT pg_catalog.json_strip_nulls(pg_catalog.json_build_object(
             'id', i.id, 'title', i.title, 'revisit_at', renubu_read.ts(i.revisit_at), 'customer', c.name)) AS item,
           pg_catalog.row_number() OVER (ORDER BY i.revisit_at, i.id) AS n
    FROM public.parking_lot_items i LEFT JOIN public.customers c ON c.id = i.customer_id
    WHERE i.user_id = v_me AND i.status = 'parked' AND i.deleted_at IS NULL AND i.revisit_at < v_tomorrow
  ),
  quiet AS (
    SELECT pg_catalog.json_strip_nulls(pg_catalog.json_build_object(
             'id', m.id, 'name', m.name, 'customer', m.customer, 'last_check_in', renubu_read.ts(l.at))) AS item,
           pg_catalog.row_number() OVER (ORDER BY coalesce(l.at, m.started_at, m.created_at), m.id) AS n
    FROM mine m
    LEFT JOIN LATERAL (SELECT pg_catalog.max(ci.checked_in_at) AS at FROM public.workflow_check_ins ci
                       WHERE ci.workflow_execution_id = m.id AND ci.deleted_at IS NULL) l ON true
    WHERE m.status IN ('not_started', 'in_progress')
      AND coalesce(l.at, m.started_at, m.created_at) < pg_catalog.now() - interval '7 days'
  )
  SELECT pg_catalog.json_strip_nulls(pg_catalog.json_build_object(
    'today', v_today, 'timezone', CASE WHEN v_tz <> 'UTC' THEN v_tz END,
    'tasks_due', (SELECT renubu_read.day_section('update_task', pg_catalog.array_agg(x.item ORDER BY x.n), v_cap)
                  FROM tasks x),
    'woken_workflows', (SELECT renubu_read.day_section('get_workflow', pg_catalog.array_agg(x.item ORDER BY x.n),
                                                       v_cap) FROM wakes x),
    'renewals', (SELECT renubu_read.with_field(
                          renubu_read.day_section('get_customer', pg_catalog.array_agg(x.item ORDER BY x.n), v_cap),
                          'arr_at_stake', pg_catalog.to_jsonb(pg_catalog.sum(x.arr)::float8))
                 FROM renewals x),
    'parked_due', (SELECT renubu_read.day_section('promote_parked_item, update_parked_item or dismiss_parked_item',
                                                  pg_catalog.array_agg(x.item ORDER BY x.n), v_cap)
                   FROM parked x),
    'check_ins_due', (SELECT renubu_read.day_section('check_in_workflow', pg_catalog.array_agg(x.item ORDER BY x.n),
                                                     v_cap) FROM quiet x),
    '_wake', CASE WHEN EXISTS (
      SELECT 1 FROM mine m
      WHERE m.status = 'snoozed' AND (m.snoozed_until <= pg_catalog.now() OR EXISTS (
        SELECT 1 FROM public.workflow_conditions wc
        WHERE wc.workflow_execution_id = m.id AND wc.deleted_at IS NULL
          AND (wc.is_met OR public.wake_condition_holds(wc.condition_type, wc.condition_config, m.id,
                                                        m.customer_id))))) THEN true END
  ))::text INTO v_doc;
  RETURN v_doc;
END
$$;

REVOKE ALL ON FUNCTION renubu_read.day_section(text, json[], int), renubu_read.my_day(jsonb) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION renubu_read.day_section(text, json[], int), renubu_read.my_day(jsonb)
  TO authenticated, service_role;

/* ROLLBACK
DROP FUNCTION IF EXISTS renubu_read.my_day(jsonb);
DROP FUNCTION IF EXISTS renubu_read.day_section(text, json[], int);
*/
