"""Documentation, its versions, releases and help articles: signed-in users read, admins write.

There is no per-user owner here: the writer is the admin; alice (a CSM) and pat (a PM) are other signed-in users.
"""

from __future__ import annotations

import asyncpg
import pytest

from . import world as w
from .access import DENIED, NONE, OK, RLS, TableCase, attempt, cells, check_cell, ops, rolled_back
from .world import PRINCIPALS

CASES = [
    TableCase(
        "documentation",
        w.DOC_GUIDE,
        "INSERT INTO public.documentation (id, slug, title, content) VALUES ($1, 'new-doc', 'New', 'Body') RETURNING id",
        expect={
            "alice": ops(OK, RLS, NONE, NONE, soft_delete=NONE),
            "pat": ops(OK, RLS, NONE, NONE, soft_delete=NONE),
            "admin": ops(OK, OK, OK, OK, soft_delete=OK),
            "anon": ops(DENIED, DENIED, DENIED, DENIED, soft_delete=DENIED),
        },
    ),
    TableCase(
        "documentation_versions",
        w.DOCV_GUIDE,
        "INSERT INTO public.documentation_versions (id, doc_id, version_number, title, content)"
        " VALUES ($1, $2, 99, 'T', 'C') RETURNING id",
        (w.DOC_GUIDE,),
        expect={
            "alice": ops(OK, RLS, NONE, NONE),
            "pat": ops(OK, RLS, NONE, NONE),
            "admin": ops(OK, OK, OK, OK),
            "anon": ops(DENIED, DENIED, DENIED, DENIED),
        },
    ),
    TableCase(
        "releases",
        w.RELEASE_ONE,
        "INSERT INTO public.releases (id, version) VALUES ($1, '9.9.9') RETURNING id",
        expect={
            "alice": ops(OK, RLS, NONE, NONE),
            "pat": ops(OK, RLS, NONE, NONE),
            "admin": ops(OK, OK, OK, OK),
            "anon": ops(OK, DENIED, DENIED, DENIED),  # releases are public reading
        },
    ),
    TableCase(
        "help_articles",
        w.HELP_PUBLISHED,
        "INSERT INTO public.help_articles (id, doc_id, title, category, published) VALUES ($1, $2, 'H', 'c', true)"
        " RETURNING id",
        (w.DOC_GUIDE,),
        expect={
            "alice": ops(OK, RLS, NONE, NONE, soft_delete=NONE),
            "pat": ops(OK, RLS, NONE, NONE, soft_delete=NONE),
            "admin": ops(OK, OK, OK, OK, soft_delete=OK),
            "anon": ops(OK, DENIED, DENIED, DENIED, soft_delete=DENIED),  # published articles are public
        },
    ),
]


@pytest.mark.parametrize(("case", "actor", "op", "expect"), cells(CASES))
async def test_each_actor_gets_exactly_the_access_the_docs_policies_grant(app, case, actor, op, expect):
    await check_cell(app, case, actor, op, expect)


@pytest.mark.parametrize(("actor", "sees_draft"), [("anon", False), ("alice", False), ("admin", True)])
async def test_unpublished_help_articles_are_visible_to_admins_only(app, actor, sees_draft):
    outcome = await attempt(app, PRINCIPALS[actor], "SELECT id FROM public.help_articles WHERE id = $1", w.HELP_DRAFT)
    assert (outcome.rows != []) is sees_draft, outcome.describe()


async def test_only_one_release_can_be_current(app):
    outcome = await attempt(
        app,
        PRINCIPALS["admin"],
        "INSERT INTO public.releases (version, is_current) VALUES ('2.0.0', true) RETURNING id",
    )
    assert isinstance(outcome.error, asyncpg.UniqueViolationError), outcome.describe()
    assert outcome.error.constraint_name == "idx_releases_one_current"


async def test_an_admin_snapshot_creates_the_current_release_with_a_version_of_every_doc(app):
    async def snapshot(conn):
        release_id = await conn.fetchval("SELECT public.create_release_snapshot('1.0.0')")
        current = await conn.fetch("SELECT id FROM public.releases WHERE is_current")
        versions = await conn.fetch(
            "SELECT doc_id, version_number, version_label, title FROM public.documentation_versions"
            " WHERE release_id = $1",
            release_id,
        )
        doc_version = await conn.fetchval("SELECT version FROM public.documentation WHERE id = $1", w.DOC_GUIDE)
        return release_id, current, versions, doc_version

    release_id, current, versions, doc_version = await rolled_back(app, PRINCIPALS["admin"], snapshot)
    assert release_id is not None
    assert [r["id"] for r in current] == [release_id]
    assert [tuple(v) for v in versions] == [(w.DOC_GUIDE, 2, "1.0.0", "Renewal guide")]
    assert doc_version == 2


@pytest.mark.parametrize("actor", ["alice", "pat"])
async def test_a_non_admin_cannot_create_a_release_snapshot(app, actor):
    outcome = await attempt(app, PRINCIPALS[actor], "SELECT public.create_release_snapshot('1.0.0')")
    assert isinstance(outcome.error, asyncpg.InsufficientPrivilegeError), outcome.describe()
    assert "row-level security" in str(outcome.error)


async def test_anon_cannot_call_the_snapshot_function(app):
    outcome = await attempt(app, PRINCIPALS["anon"], "SELECT public.create_release_snapshot('1.0.0')")
    assert isinstance(outcome.error, asyncpg.InsufficientPrivilegeError), outcome.describe()
    assert "permission denied for function" in str(outcome.error)


async def test_the_search_vector_is_maintained_on_insert_and_update(app):
    async def write_and_search(conn):
        q = "SELECT search_vector @@ to_tsquery('english', $2) FROM public.documentation WHERE id = $1"
        doc = await conn.fetchval(
            "INSERT INTO public.documentation (slug, title, content) VALUES ('quokka', 'Quokka care', 'Feeding')"
            " RETURNING id"
        )
        before = (await conn.fetchval(q, doc, "quokka"), await conn.fetchval(q, doc, "wombat"))
        await conn.execute("UPDATE public.documentation SET title = 'Wombat care' WHERE id = $1", doc)
        after = (await conn.fetchval(q, doc, "quokka"), await conn.fetchval(q, doc, "wombat"))
        return before, after

    before, after = await rolled_back(app, PRINCIPALS["admin"], write_and_search)
    assert before == (True, False)
    assert after == (False, True)


async def test_a_title_match_ranks_above_a_body_match(app):
    async def rank(conn):
        await conn.execute(
            "INSERT INTO public.documentation (slug, title, content) VALUES"
            " ('in-body', 'Renewal notes', 'Mentions the zephyr once.'),"
            " ('in-title', 'Zephyr playbook', 'Nothing else here.')"
        )
        return await conn.fetch(
            "SELECT slug, ts_rank(search_vector, q) AS r FROM public.documentation,"
            " websearch_to_tsquery('english', 'zephyr') AS q WHERE search_vector @@ q ORDER BY r DESC"
        )

    ranked = await rolled_back(app, PRINCIPALS["admin"], rank)
    assert [r["slug"] for r in ranked] == ["in-title", "in-body"]
    assert ranked[0]["r"] > ranked[1]["r"]
