"""The features toolset through the MCP client: listing, history, and who may change a feature."""

from __future__ import annotations

import asyncpg

from renubu_mcp.demo import ADMIN, ALICE, PAT

SEED_FEATURE_COUNT = 16


async def feature_state(db, slug: str) -> tuple:
    """A feature's row and its whole history, as the owner sees them (RLS not in effect)."""
    conn = await asyncpg.connect(db.owner_dsn)
    try:
        row = await conn.fetchrow(
            "SELECT status, phase, priority, shipped_at, updated_at FROM features WHERE slug = $1", slug
        )
        history = await conn.fetch(
            "SELECT u.update_type, u.old_value, u.new_value, u.note, u.changed_by FROM feature_updates u "
            "JOIN features f ON f.id = u.feature_id WHERE f.slug = $1 ORDER BY u.created_at, u.update_type",
            slug,
        )
        return tuple(row), [tuple(h) for h in history]
    finally:
        await conn.close()


async def test_list_features_sorts_by_priority_then_title(connect_shared):
    async with connect_shared(ALICE.email) as alice:
        result = await alice.ok("list_features", {"limit": 100})
    features = result["features"]
    assert len(features) == SEED_FEATURE_COUNT and "next_cursor" not in result
    keys = [(f["priority"], f["title"]) for f in features]
    assert keys == sorted(keys)
    assert features[0]["priority"] == 1


async def test_list_features_filters_by_status_phase_and_priority(connect_shared):
    async with connect_shared(ALICE.email) as alice:
        shipped = await alice.ok("list_features", {"status": "shipped"})
        phase_3 = await alice.ok("list_features", {"phase": "3"})
        top = await alice.ok("list_features", {"priority": 1})
        combined = await alice.ok("list_features", {"status": "active", "priority": 1})
    assert {f["slug"] for f in shipped["features"]} == {
        "documentation-system",
        "feature-tracking",
        "oauth-token-encryption",
        "mcp-registry",
    }
    assert all(f["shipped_at"] for f in shipped["features"])
    assert {f["slug"] for f in phase_3["features"]} == {
        "risk-score-explanations",
        "ai-email-drafts",
        "mobile-app",
        "salesforce-sync",
    }
    assert top["features"] and all(f["priority"] == 1 for f in top["features"])
    assert [f["slug"] for f in combined["features"]] == ["customer-health-dashboard"]


async def test_list_features_pages_without_duplicates(connect_shared):
    seen: list[str] = []
    cursor = None
    async with connect_shared(PAT.email) as pat:
        for _ in range(10):
            result = await pat.ok("list_features", {"limit": 5, "cursor": cursor})
            seen += [f["slug"] for f in result["features"]]
            cursor = result.get("next_cursor")
            if cursor is None:
                break
        tampered = await pat.error("list_features", {"limit": 5, "cursor": "bm90LWEtY3Vyc29y"})
        other_filter = await pat.error(
            "list_features",
            {"status": "active", "cursor": (await pat.ok("list_features", {"limit": 5}))["next_cursor"]},
        )
    assert len(seen) == SEED_FEATURE_COUNT == len(set(seen))
    assert "cursor" in tampered and "cursor" in other_filter


async def test_get_feature_returns_the_feature_with_its_history_newest_first(connect_shared):
    async with connect_shared(ALICE.email) as alice:
        detail = await alice.ok("get_feature", {"slug": "salesforce-sync"})
    feature, history = detail["feature"], detail["history"]
    assert (feature["status"], feature["phase"], feature["priority"]) == ("deferred", "3", 2)
    assert detail["history_count"] == 4
    assert [h["update_type"] for h in history] == ["note", "status_change", "phase_change", "created"]
    assert (history[1]["old_value"], history[1]["new_value"], history[1]["changed_by"]) == (
        "planned",
        "deferred",
        str(PAT.id),
    )
    assert history[1]["changed_by_name"] == "Pat Patel" and feature["owner_name"] == "Pat Patel"
    assert (history[2]["old_value"], history[2]["new_value"]) == ("2", "3")
    assert history[0]["note"].startswith("Deferred to phase 3")


async def test_get_feature_of_an_unknown_slug_is_not_found(connect_shared):
    async with connect_shared(ALICE.email) as alice:
        missing = await alice.error("get_feature", {"slug": "time-travel"})
        malformed = await alice.error("get_feature", {"slug": "Time Travel!"})
    assert "no feature with slug 'time-travel'" in missing
    assert "slug has the wrong format" in malformed


async def test_a_product_manager_updates_a_feature_and_the_change_is_logged(connect):
    async with connect(PAT.email) as pat:
        detail = await pat.ok(
            "update_feature",
            {"slug": "renewal-forecasting", "status": "active", "priority": 1, "note": "Pulled forward for Q3."},
        )
    feature, history = detail["feature"], detail["history"]
    assert (feature["status"], feature["priority"], feature["phase"]) == ("active", 1, "2")
    latest = {h["update_type"]: h for h in history[:3]}
    assert set(latest) == {"status_change", "priority_change", "note"}
    assert (latest["status_change"]["old_value"], latest["status_change"]["new_value"]) == ("planned", "active")
    assert (latest["priority_change"]["old_value"], latest["priority_change"]["new_value"]) == ("2", "1")
    assert latest["note"]["note"] == "Pulled forward for Q3."
    assert {h["changed_by"] for h in latest.values()} == {str(PAT.id)}

    row, stored = await feature_state(connect.database, "renewal-forecasting")
    assert row[:3] == ("active", "2", 1)
    assert ("status_change", "planned", "active", None, PAT.id) in stored
    assert ("note", None, None, "Pulled forward for Q3.", PAT.id) in stored


async def test_an_admin_ships_a_feature_and_changes_its_phase(connect):
    async with connect(ADMIN.email) as admin:
        shipped = await admin.ok("update_feature", {"slug": "wake-conditions", "status": "shipped", "phase": "1.5"})
        noted = await admin.ok("update_feature", {"slug": "wake-conditions", "note": "Announced in the newsletter."})
    assert (shipped["feature"]["status"], shipped["feature"]["phase"]) == ("shipped", "1.5")
    assert shipped["feature"]["shipped_at"] is not None
    assert noted["history"][0]["update_type"] == "note"
    assert noted["history_count"] == shipped["history_count"] + 1 == 4
    _, stored = await feature_state(connect.database, "wake-conditions")
    assert ("phase_change", "1", "1.5", None, ADMIN.id) in stored


async def test_a_csm_cannot_update_a_feature_and_nothing_changes(connect):
    before = await feature_state(connect.database, "renewal-forecasting")
    async with connect(ALICE.email) as alice:
        status = await alice.error("update_feature", {"slug": "renewal-forecasting", "status": "shipped"})
        note = await alice.error("update_feature", {"slug": "renewal-forecasting", "note": "Ship it!"})
        missing = await alice.error("update_feature", {"slug": "time-travel", "priority": 1})
    assert "only admins and product managers can change features" in status
    assert "only admins and product managers can change features" in note
    assert "no feature with slug 'time-travel'" in missing
    assert await feature_state(connect.database, "renewal-forecasting") == before


async def test_bad_feature_updates_are_errors_and_change_nothing(connect):
    before = await feature_state(connect.database, "renewal-forecasting")
    bad = [
        ({"status": "done"}, "active"),
        ({"priority": 9}, "priority must be 1-5"),
        ({"priority": 0}, "priority must be 1-5"),
        ({"phase": "abc"}, "phase has the wrong format (e.g. 1 or 0.2)"),
        ({"phase": "1;DROP"}, "phase has the wrong format"),
        ({"phase": "1" * 50}, "at most 20"),
        ({"note": "x" * 6000}, "5000"),
        ({"note": "   "}, "blank"),
        ({}, "at least one of"),
        ({"status": "shipped", "priority": "high"}, "priority must be a whole number"),
        ({"slug": "renewal-forecasting", "state": "shipped"}, "unknown argument 'state' (did you mean 'status'?)"),
    ]
    async with connect(PAT.email) as pat:
        for changes, expected in bad:
            message = await pat.error("update_feature", {"slug": "renewal-forecasting", **changes})
            assert expected in message, (changes, message)
        invalid_filter = await pat.error("list_features", {"status": "done"})
    assert "shipped" in invalid_filter
    assert await feature_state(connect.database, "renewal-forecasting") == before


async def test_features_tools_declare_honest_hints(connect_shared):
    async with connect_shared(PAT.email) as pat:  # a PM: the one role besides admins shown update_feature
        tools = {t.name: t for t in (await pat.client.list_tools()).tools}
    for name in ["list_features", "get_feature"]:
        hints = tools[name].annotations
        assert hints.read_only_hint and hints.idempotent_hint and not hints.destructive_hint, name
    writer = tools["update_feature"].annotations
    assert not writer.read_only_hint and not writer.destructive_hint and not writer.idempotent_hint
    schema = tools["list_features"].input_schema["properties"]
    assert "shipped" in str(schema["status"])
