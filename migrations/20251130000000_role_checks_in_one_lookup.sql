-- is_admin() and is_admin_or_pm() read the caller's role in one lookup instead of calling current_user_role()
-- (issue 6): every policy that admits admins evaluates is_admin() once per statement, five times in
-- customer_detail(), and the nested plpgsql call was a measurable part of it (25-40 us per customer_detail_as at
-- 1M customers). Same signatures, attributes, results and grants.

SET search_path = public, extensions;

CREATE OR REPLACE FUNCTION public.is_admin()
RETURNS boolean LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = '' AS $$
BEGIN
  RETURN coalesce((SELECT p.role = 'admin' FROM public.profiles p
                   WHERE p.id = (SELECT auth.uid()) AND p.deleted_at IS NULL), false);
END
$$;

CREATE OR REPLACE FUNCTION public.is_admin_or_pm()
RETURNS boolean LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = '' AS $$
BEGIN
  RETURN coalesce((SELECT p.role IN ('admin', 'pm') FROM public.profiles p
                   WHERE p.id = (SELECT auth.uid()) AND p.deleted_at IS NULL), false);
END
$$;

/* ROLLBACK
CREATE OR REPLACE FUNCTION public.is_admin()
RETURNS boolean LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = '' AS $$
BEGIN
  RETURN coalesce(public.current_user_role() = 'admin', false);
END
$$;
CREATE OR REPLACE FUNCTION public.is_admin_or_pm()
RETURNS boolean LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = '' AS $$
BEGIN
  RETURN coalesce(public.current_user_role() IN ('admin', 'pm'), false);
END
$$;
*/
