"""The docs toolset through the MCP client: search, reading docs and versions, releases, snapshots, help articles."""

from __future__ import annotations

import json

import asyncpg
import pytest

from renubu_mcp.demo import ADMIN, ALICE

# Two planted docs sharing one made-up word: in the title of one, only in the body of the other.
PLANT = """
INSERT INTO public.documentation (slug, title, category, content) VALUES
  ('zz-title-match', 'Zephyrine configuration', 'test', 'How to set things up. Nothing else to see here.'),
  ('zz-body-match', 'An unrelated page', 'test',
   'This page mentions zephyrine once in passing, between many other words about nothing much at all.')
ON CONFLICT (slug) DO NOTHING
"""


async def owner_fetchval(db, sql: str, *args):
    conn = await asyncpg.connect(db.owner_dsn)
    try:
        return await conn.fetchval(sql, *args)
    finally:
        await conn.close()


async def snapshot_state(db) -> tuple:
    """Everything a release snapshot could change, to compare before and after a refused call."""
    conn = await asyncpg.connect(db.owner_dsn)
    try:
        return (
            await conn.fetchval("SELECT count(*) FROM releases"),
            await conn.fetchval("SELECT version FROM releases WHERE is_current"),
            await conn.fetchval("SELECT count(*) FROM documentation_versions"),
            await conn.fetchval("SELECT sum(version) FROM documentation"),
            await conn.fetchval(
                "SELECT string_agg(concat_ws(':', version, name, notes), ',' ORDER BY version) FROM releases"
            ),
        )
    finally:
        await conn.close()


@pytest.fixture(scope="module")
async def planted(demo):
    conn = await asyncpg.connect(demo.owner_dsn)
    try:
        await conn.execute(PLANT)
    finally:
        await conn.close()


@pytest.fixture
def shared(connect_shared, planted):
    return connect_shared


# search_docs ---------------------------------------------------------------------------------------


async def test_search_ranks_a_title_match_above_a_body_only_match(shared):
    async with shared(ALICE.email) as alice:
        result = await alice.ok("search_docs", {"query": "zephyrine"})
    slugs = [h["slug"] for h in result["hits"]]
    assert slugs == ["zz-title-match", "zz-body-match"]
    assert result["hits"][0]["rank"] > result["hits"][1]["rank"] > 0


async def test_search_returns_slug_title_category_version_and_a_highlighted_snippet(shared):
    async with shared(ALICE.email) as alice:
        result = await alice.ok("search_docs", {"query": "hysteresis"})
    [hit] = result["hits"]
    assert (hit["slug"], hit["category"], hit["version"]) == ("risk-scoring", "reference", 2)
    assert hit["title"] == "How risk scoring works"
    assert "«hysteresis»" in hit["snippet"].lower()
    assert len(hit["snippet"]) < 400
    assert "next_cursor" not in result


async def test_search_finds_stemmed_words(shared):
    async with shared(ALICE.email) as alice:
        result = await alice.ok("search_docs", {"query": "snoozed"})
    assert "workflow-snoozing" in [h["slug"] for h in result["hits"]]


async def test_search_supports_phrases_or_and_exclusion(shared):
    async with shared(ALICE.email) as alice:
        phrase = await alice.ok("search_docs", {"query": '"mentions zephyrine"'})
        reversed_phrase = await alice.ok("search_docs", {"query": '"zephyrine mentions"'})
        either = await alice.ok("search_docs", {"query": "PKCE OR HMAC"})
        both = await alice.ok("search_docs", {"query": "PKCE HMAC"})
        excluded = await alice.ok("search_docs", {"query": "zephyrine -passing"})
    assert [h["slug"] for h in phrase["hits"]] == ["zz-body-match"]
    assert reversed_phrase["hits"] == []
    assert {h["slug"] for h in either["hits"]} == {"oauth-connections", "webhooks"}
    assert both["hits"] == []
    assert [h["slug"] for h in excluded["hits"]] == ["zz-title-match"]


async def test_search_pages_through_every_match_without_duplicates(shared):
    expected = await owner_fetchval(
        shared.database,
        "SELECT count(*) FROM documentation WHERE search_vector @@ websearch_to_tsquery('english', 'renewal') "
        "AND deleted_at IS NULL",
    )
    seen: list[str] = []
    ranks: list[float] = []
    cursor = None
    async with shared(ALICE.email) as alice:
        for _ in range(50):
            result = await alice.ok("search_docs", {"query": "renewal", "limit": 3, "cursor": cursor})
            seen += [h["slug"] for h in result["hits"]]
            ranks += [h["rank"] for h in result["hits"]]
            cursor = result.get("next_cursor")
            if cursor is None:
                break
    assert expected > 6
    assert len(seen) == expected == len(set(seen))
    assert ranks == sorted(ranks, reverse=True)


async def test_a_term_in_most_documents_ranks_title_matches_first_among_a_capped_set(connect):
    """More matches than the cap: the page still starts with the title matches, stored last or not."""
    db = connect.database
    conn = await asyncpg.connect(db.owner_dsn)
    try:
        await conn.execute(
            "INSERT INTO public.documentation (slug, title, category, content) "
            "SELECT 'zz-common-' || n, 'Common page ' || n, 'test', 'This page mentions quokkas once, among other words.' "
            "FROM generate_series(1, 400) n"
        )
        await conn.execute(
            "INSERT INTO public.documentation (slug, title, category, content) VALUES "
            "('zz-quokka-guide', 'The quokka guide', 'test', 'All about quokkas.')"
        )
    finally:
        await conn.close()
    seen: list[str] = []
    cursor = None
    async with connect(ALICE.email) as alice:
        first = await alice.ok("search_docs", {"query": "quokka", "limit": 5})
        assert first["hits"][0]["slug"] == "zz-quokka-guide"
        while True:
            result = await alice.ok("search_docs", {"query": "quokka", "limit": 100, "cursor": cursor})
            seen += [h["slug"] for h in result["hits"]]
            cursor = result.get("next_cursor")
            if cursor is None:
                break
    # 401 match; the ranked set is the title match and 300 of the others: no duplicates, and it ends.
    assert len(seen) == len(set(seen)) == 301 and "zz-quokka-guide" in seen


async def test_search_rejects_a_tampered_cursor_or_one_from_another_query(shared):
    async with shared(ALICE.email) as alice:
        first = await alice.ok("search_docs", {"query": "renewal", "limit": 2})
        garbage = await alice.error("search_docs", {"query": "renewal", "cursor": first["next_cursor"][:-3] + "!!x"})
        other = await alice.error("search_docs", {"query": "customer", "cursor": first["next_cursor"]})
    assert "cursor" in garbage and "cursor" in other


async def test_search_refuses_a_query_with_no_searchable_words(shared):
    async with shared(ALICE.email) as alice:
        for query in ["the and of", "   ", "!!! ??? ---", '""']:
            message = await alice.error("search_docs", {"query": query})
            assert "no searchable words" in message, query


async def test_search_treats_sql_and_huge_input_as_text_or_rejects_it_without_crashing(shared):
    hostile = [
        "'; DROP TABLE documentation; --",
        "renewal' OR '1'='1",
        "\\x00 $1 $$ :: ) ( & | ! <-> *:",
        '"unterminated phrase',
        "OR OR OR -",
        "ünïcödé 日本語 🙂",
    ]
    async with shared(ALICE.email) as alice:
        for query in hostile:
            result = await alice.call("search_docs", {"query": query})
            if result.is_error:
                assert "no searchable words" in result.content[0].text, query
            else:
                assert isinstance(result.structured_content["hits"], list), query
        too_long = await alice.error("search_docs", {"query": "renewal " * 1000})
        assert "500" in too_long
        huge_limit = await alice.error("search_docs", {"query": "renewal", "limit": 10_000})
        assert "100" in huge_limit
        assert (await alice.ok("search_docs", {"query": "hysteresis"}))["hits"]


# get_doc and list_doc_versions ---------------------------------------------------------------------


async def test_get_doc_returns_the_current_doc_with_its_release(shared):
    async with shared(ALICE.email) as alice:
        doc = await alice.ok("get_doc", {"slug": "renewals-playbook"})
    assert doc["source"] == "current" and "current_version" not in doc  # it is the current version
    assert (doc["version"], doc["release_version"]) == (2, "0.2.0")
    assert doc["title"] == "Renewals playbook" and doc["category"] == "guides"
    assert "Renewals due within 30 days" in doc["content"]
    assert doc["release_date"] and doc["updated_at"]


async def test_get_doc_with_a_version_returns_that_snapshot(shared):
    async with shared(ALICE.email) as alice:
        old = await alice.ok("get_doc", {"slug": "renewals-playbook", "version": 1})
        renamed = await alice.ok("get_doc", {"slug": "integrations-overview", "version": 1})
        current = await alice.ok("get_doc", {"slug": "integrations-overview"})
    assert old["source"] == "snapshot"
    assert (old["version"], old["current_version"], old["version_label"], old["release_version"]) == (
        1,
        2,
        "0.1.0",
        "0.1.0",
    )
    assert "Renewals due within 30 days" not in old["content"]
    assert renamed["title"] == "Integrations overview"
    assert current["title"] == "Integrations overview and marketplace"


async def test_get_doc_reports_an_unknown_slug_or_version_as_not_found_naming_what_exists(shared):
    async with shared(ALICE.email) as alice:
        no_doc = await alice.error("get_doc", {"slug": "renewals-handbook"})
        no_version = await alice.error("get_doc", {"slug": "renewals-playbook", "version": 7})
        never_snapshotted = await alice.error("get_doc", {"slug": "zz-title-match", "version": 2})
        bad_slug = await alice.error("get_doc", {"slug": "Robert'); DROP TABLE documentation;--"})
        zero = await alice.error("get_doc", {"slug": "renewals-playbook", "version": 0})
    assert "no doc with slug 'renewals-handbook'" in no_doc and "renewals-playbook" in no_doc
    assert "versions available: 1, 2" in no_version
    assert "versions available: none" in never_snapshotted
    assert "slug has the wrong format" in bad_slug
    assert "version must be 1-1000000" in zero


async def test_get_doc_serves_the_current_version_number_even_if_never_snapshotted(shared):
    async with shared(ALICE.email) as alice:
        doc = await alice.ok("get_doc", {"slug": "zz-title-match", "version": 1})
    assert doc["source"] == "current" and doc["version"] == 1


async def test_list_doc_versions_lists_snapshots_newest_first_without_content(shared):
    async with shared(ALICE.email) as alice:
        versions = await alice.ok("list_doc_versions", {"slug": "renewals-playbook"})
        unknown = await alice.error("list_doc_versions", {"slug": "no-such-doc"})
    assert versions["current_version"] == 2 and versions["version_count"] == 2
    assert [(v["version_number"], v["version_label"], v["release_version"]) for v in versions["versions"]] == [
        (2, "0.2.0", "0.2.0"),
        (1, "0.1.0", "0.1.0"),
    ]
    assert all("content" not in v for v in versions["versions"])
    assert "no doc with slug 'no-such-doc'" in unknown


# releases ------------------------------------------------------------------------------------------


async def test_list_releases_newest_first_with_the_current_one_and_doc_counts(shared):
    async with shared(ALICE.email) as alice:
        first = await alice.ok("list_releases", {"limit": 1})
        second = await alice.ok("list_releases", {"limit": 1, "cursor": first["next_cursor"]})
    [newest], [older] = first["releases"], second["releases"]
    assert (newest["version"], newest["is_current"], newest["doc_count"]) == ("0.2.0", True, 6)
    assert (older["version"], "is_current" in older, older["doc_count"]) == ("0.1.0", False, 19)
    assert "next_cursor" not in second


async def test_an_admin_release_snapshot_becomes_the_current_release_with_new_doc_versions(connect):
    db = connect.database
    versions_before = await owner_fetchval(db, "SELECT count(*) FROM documentation_versions")
    async with connect(ADMIN.email) as admin:
        snap = await admin.ok(
            "create_release_snapshot",
            {
                "version": "0.3.0",
                "release_date": "2030-01-15",
                "doc_slugs": ["webhooks", "getting-started", "webhooks"],
            },
        )
        releases = await admin.ok("list_releases", {})
        doc = await admin.ok("get_doc", {"slug": "webhooks"})
    release = snap["release"]
    assert (release["version"], release["release_date"], release["is_current"], release["doc_count"]) == (
        "0.3.0",
        "2030-01-15",
        True,
        2,
    )
    assert [(d["slug"], d["version_number"]) for d in snap["docs"]] == [("getting-started", 2), ("webhooks", 2)]
    assert [r["version"] for r in releases["releases"] if r.get("is_current")] == ["0.3.0"]
    assert (doc["version"], doc["release_version"]) == (2, "0.3.0")

    conn = await asyncpg.connect(db.owner_dsn)
    try:
        assert await conn.fetch("SELECT version FROM releases WHERE is_current") == [("0.3.0",)]
        assert await conn.fetchval("SELECT count(*) FROM documentation_versions") == versions_before + 2
        stored = await conn.fetch(
            "SELECT d.slug, v.version_number, v.version_label, v.content = d.content AS same "
            "FROM documentation_versions v "
            "JOIN documentation d ON d.id = v.doc_id JOIN releases r ON r.id = v.release_id WHERE r.version = '0.3.0' "
            "ORDER BY d.slug"
        )
        assert [tuple(r) for r in stored] == [("getting-started", 2, "0.3.0", True), ("webhooks", 2, "0.3.0", True)]
    finally:
        await conn.close()


async def test_a_release_snapshot_without_slugs_freezes_every_doc(connect):
    live = await owner_fetchval(connect.database, "SELECT count(*) FROM documentation WHERE deleted_at IS NULL")
    async with connect(ADMIN.email) as admin:
        snap = await admin.ok("create_release_snapshot", {"version": "1.0.0-rc.1"})
    assert len(snap["docs"]) == live == snap["release"]["doc_count"]


async def test_a_release_snapshot_carries_its_name_and_notes_into_the_current_release(connect):
    notes = "## Highlights\n- Snoozed workflows wake on risk.\n- Webhook secrets rotate without downtime."
    async with connect(ADMIN.email) as admin:
        snap = await admin.ok(
            "create_release_snapshot",
            {"version": "0.3.0", "doc_slugs": ["webhooks"], "name": "  Spring clean-up ", "notes": notes},
        )
        listed = await admin.ok("list_releases", {"limit": 1})
        current = json.loads((await admin.client.read_resource("renubu://releases/current")).contents[0].text)
        by_version = await admin.ok("get_release", {"version": "0.3.0"})
        latest = await admin.ok("get_release", {})
    assert (snap["release"]["name"], snap["release"]["notes"]) == ("Spring clean-up", notes)
    assert snap == by_version == latest == current
    assert (listed["releases"][0]["name"], "notes" in listed["releases"][0]) == ("Spring clean-up", False)
    assert (current["release"]["version"], current["release"]["name"]) == ("0.3.0", "Spring clean-up")
    assert await owner_fetchval(connect.database, "SELECT notes FROM releases WHERE version = '0.3.0'") == notes


async def test_a_blank_or_oversized_release_name_or_notes_is_refused_and_nothing_changes(connect):
    before = await snapshot_state(connect.database)
    async with connect(ADMIN.email) as admin:
        blank_name = await admin.error("create_release_snapshot", {"version": "0.3.0", "name": "   "})
        blank_notes = await admin.error("create_release_snapshot", {"version": "0.3.0", "notes": "\n\t"})
        long_name = await admin.error("create_release_snapshot", {"version": "0.3.0", "name": "n" * 201})
        long_notes = await admin.error("create_release_snapshot", {"version": "0.3.0", "notes": "n" * 100_001})
    assert "name must not be blank" in blank_name and "notes must not be blank" in blank_notes
    assert "at most 200" in long_name and "at most 100000" in long_notes
    assert await snapshot_state(connect.database) == before


async def test_a_csm_cannot_create_a_release_snapshot_and_nothing_changes(connect):
    before = await snapshot_state(connect.database)
    async with connect(ALICE.email) as alice:
        message = await alice.error("create_release_snapshot", {"version": "0.3.0", "name": "Mine", "notes": "N"})
        with_slugs = await alice.error("create_release_snapshot", {"version": "0.3.1", "doc_slugs": ["webhooks"]})
    assert "only admins" in message and "only admins" in with_slugs
    assert await snapshot_state(connect.database) == before


async def test_a_duplicate_release_version_is_a_conflict_and_nothing_changes(connect):
    before = await snapshot_state(connect.database)
    async with connect(ADMIN.email) as admin:
        message = await admin.error("create_release_snapshot", {"version": "0.2.0"})
    assert "release '0.2.0' already exists" in message
    assert await snapshot_state(connect.database) == before


async def test_a_release_snapshot_of_unknown_docs_is_not_found_naming_them(connect):
    before = await snapshot_state(connect.database)
    async with connect(ADMIN.email) as admin:
        message = await admin.error(
            "create_release_snapshot", {"version": "0.3.0", "doc_slugs": ["webhooks", "no-such-doc", "another-missing"]}
        )
        bad_version = await admin.error("create_release_snapshot", {"version": "../etc"})
        empty = await admin.error("create_release_snapshot", {"version": "0.3.0", "doc_slugs": []})
    assert "another-missing, no-such-doc" in message and "webhooks" not in message
    assert "version has the wrong format (e.g. 0.3.0)" in bad_version
    assert "doc_slugs needs at least 1 item" in empty
    assert await snapshot_state(connect.database) == before


# help articles -------------------------------------------------------------------------------------


async def test_a_csm_sees_only_published_help_articles(shared):
    async with shared(ALICE.email) as alice:
        result = await alice.ok("list_help_articles", {})
        integrations = await alice.ok("list_help_articles", {"category": "integrations"})  # any case
    assert len(result["articles"]) == 6 and all(a.get("published", True) for a in result["articles"])
    assert "Salesforce field mapping" not in [a["title"] for a in result["articles"]]
    assert {a["doc_slug"] for a in integrations["articles"]} == {"hubspot-integration", "mcp-server-usage"}


async def test_an_admin_also_sees_unpublished_help_articles(shared):
    async with shared(ADMIN.email) as admin:
        result = await admin.ok("list_help_articles", {})
        advanced = await admin.ok("list_help_articles", {"difficulty": "advanced", "limit": 2})
        rest = await admin.ok(
            "list_help_articles", {"difficulty": "advanced", "limit": 2, "cursor": advanced["next_cursor"]}
        )
    drafts = sorted(a["title"] for a in result["articles"] if a.get("published") is False)
    assert len(result["articles"]) == 8
    assert drafts == ["Salesforce field mapping", "Verifying webhook signatures"]
    titles = [a["title"] for a in advanced["articles"] + rest["articles"]]
    assert len(titles) == 3 == len(set(titles)) and "next_cursor" not in rest


async def test_help_articles_reject_an_unknown_difficulty(shared):
    async with shared(ALICE.email) as alice:
        message = await alice.error("list_help_articles", {"difficulty": "expert"})
    assert "beginner" in message


# the contract with assistants ----------------------------------------------------------------------


async def test_docs_tools_declare_honest_hints_and_bound_the_text_people_wrote(shared):
    async with shared(ADMIN.email) as admin:
        tools = {t.name: t for t in (await admin.client.list_tools()).tools}
        doc = await admin.call("get_doc", {"slug": "renewals-playbook"})
    readers = ["search_docs", "get_doc", "list_doc_versions", "list_releases", "get_release", "list_help_articles"]
    for name in readers:
        hints = tools[name].annotations
        assert hints.read_only_hint and not hints.destructive_hint and hints.idempotent_hint, name
    writer = tools["create_release_snapshot"].annotations
    assert not writer.read_only_hint and not writer.destructive_hint and not writer.idempotent_hint
    text = doc.content[0].text
    assert text.startswith("Text inside <untrusted-data-") and text.rstrip().endswith(">")
