"""The tool tests' isolation checks, run again on a database built the Supabase way (every table and function
granted to anon and authenticated by default privileges, auth owned by Supabase): each user sees and changes only
what row-level security gives them, and being refused looks the same as something that does not exist."""

from tests.tools.test_customers import (  # noqa: F401  (collected here, on this directory's fixtures)
    test_a_shared_customer_is_visible_to_both_assignees,
    test_admin_sees_every_customer,
    test_alice_updates_her_customer_and_bob_cannot,
    test_bob_cannot_reach_alices_customer_through_any_read_tool,
    test_each_user_pages_through_exactly_their_assigned_customers,
)
from tests.tools.test_server import test_resources_follow_the_same_visibility_as_the_tools  # noqa: F401
from tests.tools.test_workflows import test_users_list_exactly_their_own_workflows_and_admins_list_all  # noqa: F401
from tests.tools.test_workflows_guards import (  # noqa: F401
    test_a_workflow_started_by_bob_is_his_and_invisible_to_alice,
    test_bob_cannot_read_or_change_alices_workflows_and_is_told_they_are_not_found,
)


async def test_these_checks_run_on_the_supabase_built_database(connect_shared):
    import asyncpg

    conn = await asyncpg.connect(connect_shared.database.owner_dsn)
    try:
        row = await conn.fetchrow(
            "SELECT r.rolsuper, r.rolbypassrls, n.nspowner::regrole::text AS auth_owner"
            " FROM pg_roles r, pg_namespace n WHERE r.rolname = current_user"
            " AND n.nspname = 'auth'"
        )
    finally:
        await conn.close()
    assert tuple(row) == (False, True, "supabase_auth_admin")
