"""my_day, check-ins and user patterns through the real MCP client: the caller's own day in one read, the check-in
history, and figures that match the raw history they come from. Fixed ids come from renubu_mcp/seeds/demo.sql."""

from __future__ import annotations

import json
import statistics
from collections import Counter
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from zoneinfo import ZoneInfo

import pytest

from renubu_mcp.demo import ADMIN, ALICE, BOB, PAT

from .test_parking_lot import ACME_PLANT, BRIGHTWAVE_SPONSOR, snapshot
from .test_workflows import (
    ACME_RENEWAL,
    BRIGHTWAVE_SNOOZED,
    CONTOSO_COMPLETED,
    GLOBEX_RENEWAL,
    INITECH_RENEWAL,
    PINECREST_SNOOZED,
    TASK,
    owner,
)

MY_DAY_LIMIT = 4096  # bytes of text the model reads, for the demo's busiest user
SECTIONS = {
    "tasks_due": "update_task",
    "woken_workflows": "get_workflow",
    "renewals": "get_customer",
    "parked_due": "promote_parked_item, update_parked_item or dismiss_parked_item",
    "check_ins_due": "check_in_workflow",
}


def ids(day: dict, section: str) -> list[str]:
    return [item["id"] for item in day.get(section, {}).get("items", [])]


async def test_alices_day_wakes_what_is_due_and_lists_each_thing_with_its_id_and_the_tool_that_acts_on_it(connect):
    async with owner(connect.database) as conn:
        today = await conn.fetchval("SELECT (now() AT TIME ZONE 'UTC')::date")
        renewing = [
            str(r["id"])
            for r in await conn.fetch(
                """SELECT c.id FROM customers c JOIN customer_assignments a ON a.customer_id = c.id AND a.user_id = $1
               WHERE c.renewal_date BETWEEN $2 AND $2 + 30 ORDER BY c.renewal_date, c.risk_score DESC, c.id""",
                ALICE.id,
                today,
            )
        ]
    async with connect(ALICE.email) as alice:
        day = await alice.ok("my_day")
        again = await alice.ok("my_day")
    assert day["today"] == today.isoformat() and "timezone" not in day
    assert {section: day[section]["act"] for section in day if section in SECTIONS} == SECTIONS
    # Brightwave woke on its risk condition and Pinecrest on its time, in this very call, and say why.
    woken = {w["id"]: w for w in day["woken_workflows"]["items"]}
    assert set(woken) == {BRIGHTWAVE_SNOOZED, PINECREST_SNOOZED}
    assert woken[BRIGHTWAVE_SNOOZED]["why"].startswith("wake condition met: risk_score_at_least")
    assert woken[PINECREST_SNOOZED]["why"].startswith("snooze time reached")
    assert ids(day, "tasks_due") == [TASK(501)]  # overdue, on the workflow that just woke
    assert ids(day, "renewals") == renewing and len(renewing) == 7
    acme = next(r for r in day["renewals"]["items"] if r["name"] == "Acme Corp")
    assert (acme["workflow_id"], acme["risk_score"], acme["arr"]) == (ACME_RENEWAL, 42, 480000)
    assert day["renewals"]["arr_at_stake"] == sum(r["arr"] for r in day["renewals"]["items"])
    assert ids(day, "parked_due") == [BRIGHTWAVE_SPONSOR, ACME_PLANT]
    # No check-in for 7 days: Initech (last 9 days ago) and the two that woke (none since they started).
    assert set(ids(day, "check_ins_due")) == {INITECH_RENEWAL, BRIGHTWAVE_SNOOZED, PINECREST_SNOOZED}
    assert ACME_RENEWAL not in ids(day, "check_ins_due")  # checked in 3 days ago
    assert again == day  # nothing left to wake: the same day, read once


async def test_acting_on_an_entry_takes_it_off_the_day(connect):
    async with connect(ALICE.email) as alice:
        await alice.ok("my_day")
        await alice.ok(
            "check_in_workflow",
            {
                "workflow_id": INITECH_RENEWAL,
                "status": "blocked",
                "confidence": 2,
                "blockers": "No date for the TPS integration yet",
            },
        )
        await alice.ok("update_task", {"task_id": TASK(501), "status": "completed"})
        await alice.ok("dismiss_parked_item", {"item_id": BRIGHTWAVE_SPONSOR})
        await alice.ok("advance_workflow", {"workflow_id": PINECREST_SNOOZED, "slide_index": 3})
        day = await alice.ok("my_day")
    assert INITECH_RENEWAL not in ids(day, "check_ins_due")
    assert "tasks_due" not in day  # an empty section is left out
    assert ids(day, "parked_due") == [ACME_PLANT]
    assert ids(day, "woken_workflows") == [BRIGHTWAVE_SNOOZED, PINECREST_SNOOZED]  # woke today: still today's news


async def test_each_users_day_is_their_own_and_fits_in_4_kb(connect):
    sizes = {}
    for user in (ALICE, BOB, ADMIN, PAT):
        async with connect(user.email) as session:
            for _ in range(2):  # the first call may wake workflows; both must fit
                result = await session.call("my_day")
                assert not result.is_error, result.content[0].text
                sizes[user.email] = max(sizes.get(user.email, 0), len(result.content[0].text.encode()))
            day = result.structured_content
        async with owner(connect.database) as conn:
            theirs = {
                str(r["id"])
                for r in await conn.fetch(
                    "SELECT id FROM workflow_executions WHERE user_id = $1 UNION ALL SELECT id FROM parking_lot_items"
                    " WHERE user_id = $1 UNION ALL SELECT t.id FROM workflow_tasks t JOIN workflow_executions e"
                    " ON e.id = t.workflow_execution_id WHERE e.user_id = $1 UNION ALL SELECT customer_id"
                    " FROM customer_assignments WHERE user_id = $1",
                    user.id,
                )
            }
        listed = {i for s in SECTIONS for i in ids(day, s)}
        assert listed <= theirs, (user.email, listed - theirs)
        if user in (ADMIN, PAT):  # they own no workflow, item or account: an admin's day is not everyone's
            assert set(day) == {"today"}, day
    busiest = max(sizes, key=sizes.get)
    assert busiest == ALICE.email and sizes[busiest] < MY_DAY_LIMIT, sizes


async def test_read_only_mode_shows_the_day_without_waking_anything(connect):
    before = await snapshot(connect.database)
    async with connect(ALICE.email, read_only=True) as alice:
        day = await alice.ok("my_day")
    assert await snapshot(connect.database) == before
    # Pinecrest's time has come but it sleeps on: it is shown as waking today; Brightwave (a condition) is not.
    assert ids(day, "woken_workflows") == [PINECREST_SNOOZED]
    assert "wakes_at" in day["woken_workflows"]["items"][0] and "tasks_due" not in day


@pytest.mark.parametrize("zone", ["Pacific/Kiritimati", "Pacific/Pago_Pago", "America/New_York"])
async def test_today_is_the_callers_day_in_their_time_zone(connect_shared, zone):
    async with connect_shared(BOB.email) as bob:
        before = datetime.now(ZoneInfo(zone)).date()
        day = await bob.ok("my_day", {"timezone": zone})
        after = datetime.now(ZoneInfo(zone)).date()
    assert day["timezone"] == zone and day["today"] in (before.isoformat(), after.isoformat())


@pytest.mark.parametrize(
    ("zone", "expected"),
    [
        (
            "Mars/Olympus_Mons",
            "timezone 'Mars/Olympus_Mons' is not a time zone name; use an IANA name such as "
            "America/New_York or Europe/Paris",
        ),
        ("UTC+5 hours", "timezone has the wrong format (IANA name; default UTC)"),
    ],
)
async def test_an_unknown_time_zone_is_one_clear_line(connect_shared, zone, expected):
    async with connect_shared(BOB.email) as bob:
        assert await bob.error("my_day", {"timezone": zone}) == expected
        assert await bob.error("get_my_patterns", {"timezone": zone}) == expected


# --- check-ins -----------------------------------------------------------------------------------------------------


async def test_check_ins_are_listed_newest_first_and_paged_without_repeats_while_new_ones_arrive(connect):
    async with connect(ALICE.email) as alice:
        first = await alice.ok("list_check_ins", {"workflow_id": INITECH_RENEWAL, "limit": 2})
        made = await alice.ok(
            "check_in_workflow",
            {
                "workflow_id": INITECH_RENEWAL,
                "status": "at_risk",
                "confidence": 3,
                "next_step": "Ask product for a date",
            },
        )
        rest = await alice.ok(
            "list_check_ins", {"workflow_id": INITECH_RENEWAL, "limit": 2, "cursor": first["next_cursor"]}
        )
        now = await alice.ok("list_check_ins", {"workflow_id": INITECH_RENEWAL})
    assert [c["status"] for c in first["check_ins"]] == ["blocked", "at_risk"]
    assert [c["status"] for c in rest["check_ins"]] == ["on_track"] and "next_cursor" not in rest
    assert (made["workflow_id"], made["status"], made["confidence"], made["next_step"]) == (
        INITECH_RENEWAL,
        "at_risk",
        3,
        "Ask product for a date",
    )
    assert "by_id" not in made and "blockers" not in made  # her own, and she named no blocker
    assert [c["id"] for c in now["check_ins"]][0] == made["id"] and len(now["check_ins"]) == 4
    async with owner(connect.database) as conn:  # a check-in is activity on the workflow (list_workflows sorts by it)
        touched = await conn.fetchval("SELECT updated_at FROM workflow_executions WHERE id = $1", INITECH_RENEWAL)
    assert touched >= datetime.fromisoformat(made["checked_in_at"].replace("Z", "+00:00"))


async def test_an_admins_check_in_on_a_users_workflow_names_its_author(connect):
    async with connect("admin@example.com") as admin:
        await admin.ok("check_in_workflow", {"workflow_id": ACME_RENEWAL, "status": "on_track", "confidence": 4})
    async with connect(ALICE.email) as alice:
        latest = (await alice.ok("list_check_ins", {"workflow_id": ACME_RENEWAL}))["check_ins"][0]
    assert (latest["by_id"], latest["by_name"]) == (str(ADMIN.id), "Ada Admin")


@pytest.mark.parametrize(
    ("who", "arguments", "expected"),
    [
        (
            ALICE,
            {"workflow_id": INITECH_RENEWAL, "status": "blocked", "confidence": 2},
            "status blocked needs blockers: what is in the way",
        ),
        (
            ALICE,
            {"workflow_id": INITECH_RENEWAL, "status": "blocked", "confidence": 2, "blockers": "  "},
            "blockers must not be blank; omit it instead",
        ),
        (ALICE, {"workflow_id": INITECH_RENEWAL, "status": "on_track", "confidence": 6}, "confidence must be 1-5"),
        (ALICE, {"workflow_id": INITECH_RENEWAL, "status": "fine", "confidence": 3}, "status must be one of"),
        (
            ALICE,
            {"workflow_id": CONTOSO_COMPLETED, "status": "on_track", "confidence": 5},
            f"workflow {CONTOSO_COMPLETED} is completed; check-ins are for workflows that are not_started, in_progress or "
            "snoozed",
        ),
        (
            BOB,
            {"workflow_id": INITECH_RENEWAL, "status": "on_track", "confidence": 5},
            f"no workflow {INITECH_RENEWAL} (it does not exist or is not yours); find workflows with list_workflows",
        ),
    ],
)
async def test_a_bad_check_in_is_one_clear_line_and_changes_nothing(connect, who, arguments, expected):
    async with owner(connect.database) as conn:
        query = (
            "SELECT count(*), max(updated_at) FROM workflow_executions UNION ALL SELECT count(*), max(updated_at)"
            " FROM workflow_check_ins"
        )
        before = await conn.fetch(query)
    async with connect(who.email) as session:
        message = await session.error("check_in_workflow", arguments)
    assert message.startswith(expected), message
    async with owner(connect.database) as conn:
        assert await conn.fetch(query) == before


async def test_bob_cannot_list_alices_check_ins(connect_shared):
    async with connect_shared(BOB.email) as bob:
        message = await bob.error("list_check_ins", {"workflow_id": ACME_RENEWAL})
        mine = await bob.ok("list_check_ins", {"workflow_id": GLOBEX_RENEWAL})
    assert (
        message == f"no workflow {ACME_RENEWAL} (it does not exist or is not yours); find workflows with list_workflows"
    )
    assert [c["status"] for c in mine["check_ins"]] == ["at_risk", "on_track"]


# --- patterns ------------------------------------------------------------------------------------------------------


def rounded(value: float, places: str) -> float:
    """Rounded as PostgreSQL rounds numeric: halves away from zero."""
    return float(Decimal(repr(value)).quantize(Decimal(places), ROUND_HALF_UP))


def median_days(seconds: list[float]) -> float | None:
    return rounded(statistics.median(s / 86400 for s in seconds), "0.1") if seconds else None


def share(part: int, whole: int) -> float:
    return float((Decimal(part) / Decimal(whole)).quantize(Decimal("0.01"), ROUND_HALF_UP)) if whole else 0


def percentile_disc(values: list[int], fraction: float) -> int:
    ordered = sorted(values)
    return next(v for i, v in enumerate(ordered, 1) if i / len(ordered) >= fraction)


async def expected_patterns(database, user_id, zone: str = "UTC") -> dict:
    """The figures recomputed in Python from the raw rows of the last 365 days, as the schema defines them."""
    async with owner(database) as conn:
        since = await conn.fetchval("SELECT now() - interval '365 days'")
        own = await conn.fetch("SELECT * FROM workflow_executions WHERE user_id = $1 AND deleted_at IS NULL", user_id)
        tasks = await conn.fetch(
            "SELECT t.* FROM workflow_tasks t JOIN workflow_executions e ON e.id = t.workflow_execution_id"
            " WHERE e.user_id = $1 AND t.status = 'completed' AND t.deleted_at IS NULL AND t.completed_at >= $2",
            user_id,
            since,
        )
        check_ins = await conn.fetch(
            "SELECT c.* FROM workflow_check_ins c JOIN workflow_executions e ON e.id = c.workflow_execution_id"
            " WHERE e.user_id = $1 AND c.created_by = $1 AND c.deleted_at IS NULL AND c.checked_in_at >= $2",
            user_id,
            since,
        )
        actions = await conn.fetch(
            "SELECT a.created_at FROM workflow_actions a JOIN workflow_executions e ON e.id = a.workflow_execution_id"
            " WHERE e.user_id = $1 AND a.user_id = $1 AND a.created_at >= $2",
            user_id,
            since,
        )

    def figure(n: int, **values) -> dict:
        return {"n": n, **values} if n >= 5 else {"n": n}

    snoozes = [
        w
        for w in own
        if w["snoozed_at"] and w["woken_at"] and w["woken_at"] >= w["snoozed_at"] and w["woken_at"] >= since
    ]
    how = Counter(
        "time"
        if w["wake_reason"].startswith("snooze time reached")
        else "condition"
        if w["wake_reason"].startswith("wake condition met")
        else "hand"
        for w in snoozes
    )
    by_type: dict[str, list[float]] = {}
    for w in own:
        if w["status"] == "completed" and w["completed_at"] >= since:
            by_type.setdefault(w["workflow_type"], []).append(
                (w["completed_at"] - (w["started_at"] or w["created_at"])).total_seconds()
            )
    gaps = []
    for workflow in {c["workflow_execution_id"] for c in check_ins}:
        times = sorted(c["checked_in_at"] for c in check_ins if c["workflow_execution_id"] == workflow)
        gaps += [(b - a).total_seconds() for a, b in zip(times, times[1:])]
    hours = [
        t.astimezone(ZoneInfo(zone)).hour
        for t in [a["created_at"] for a in actions] + [c["checked_in_at"] for c in check_ins]
    ]
    counts = Counter(hours)
    due = [t for t in tasks if t["due_date"]]
    n = len(snoozes)
    return {
        "since": since.date().isoformat(),
        "snoozes": figure(
            n,
            median_days=median_days([(w["woken_at"] - w["snoozed_at"]).total_seconds() for w in snoozes]),
            woke_by_time=share(how["time"], n),
            woke_by_condition=share(how["condition"], n),
            woke_by_hand=share(how["hand"], n),
        ),
        "workflow_days": {t: figure(len(d), median=median_days(d)) for t, d in by_type.items()},
        "task_days": figure(
            len(tasks), median=median_days([(t["completed_at"] - t["created_at"]).total_seconds() for t in tasks])
        ),
        "tasks_on_time": figure(len(due), share=share(sum(t["completed_at"] <= t["due_date"] for t in due), len(due))),
        "check_in_gap_days": figure(len(gaps), median=median_days(gaps)),
        "active_hours": figure(
            len(hours),
            peak=min(h for h in counts if counts[h] == max(counts.values())) if hours else 0,
            **{"from": percentile_disc(hours, 0.1) if hours else 0, "to": percentile_disc(hours, 0.9) if hours else 0},
        ),
    }


@pytest.mark.parametrize(("user", "zone"), [(ALICE, "UTC"), (BOB, "UTC"), (ALICE, "Asia/Tokyo"), (PAT, "UTC")])
async def test_patterns_are_the_users_own_history_with_sample_sizes_and_no_claim_below_five(connect, user, zone):
    async with connect(user.email) as session:
        patterns = await session.ok("get_my_patterns", {} if zone == "UTC" else {"timezone": zone})
    expected = await expected_patterns(connect.database, user.id, zone)
    assert patterns.pop("min_sample") == 5 and patterns.pop("timezone", "UTC") == zone
    assert patterns == expected


async def test_the_demo_has_history_enough_for_alices_figures_and_too_little_for_some_of_bobs(connect_shared):
    async with connect_shared(ALICE.email) as alice:
        hers = await alice.ok("get_my_patterns")
    async with connect_shared(BOB.email) as bob:
        his = await bob.ok("get_my_patterns")
    assert hers["snoozes"]["n"] >= 5 and "median_days" in hers["snoozes"]
    assert hers["workflow_days"]["renewal"]["n"] == 6 and "median" in hers["workflow_days"]["renewal"]
    assert hers["workflow_days"]["qbr"] == {"n": 2}  # two QBRs say nothing yet
    assert "median" in hers["check_in_gap_days"] and "peak" in hers["active_hours"]
    assert his["snoozes"] == {"n": 4} and his["check_in_gap_days"] == {"n": 3}
    assert "median" in his["workflow_days"]["renewal"]


async def test_an_admin_reads_a_users_patterns_through_the_view_and_sees_what_they_see(connect):
    async with connect(ALICE.email) as alice:
        hers = await alice.ok("get_my_patterns")
    async with owner(connect.database) as conn:
        await conn.execute("SET ROLE authenticated")
        await conn.execute(
            "SELECT set_config('request.jwt.claims', $1, false)",
            json.dumps({"sub": str(ADMIN.id), "role": "authenticated"}),
        )
        rows = {str(r["user_id"]): r["patterns"] for r in await conn.fetch("SELECT * FROM user_patterns")}
    hers.pop("min_sample")
    assert rows[str(ALICE.id)] == hers and len(rows) == 4


# --- the prompt ----------------------------------------------------------------------------------------------------


async def test_daily_check_in_walks_the_user_through_my_day_in_their_time_zone(connect_shared):
    async with connect_shared(ALICE.email) as alice:
        default = (await alice.client.get_prompt("daily_check_in", {})).messages[0].content.text
        zoned = (
            (await alice.client.get_prompt("daily_check_in", {"timezone": " Europe/Paris "})).messages[0].content.text
        )
    assert 'my_day with timezone="UTC"' in default and 'timezone="Europe/Paris"' in zoned
    for tool in (
        "update_task",
        "get_workflow",
        "start_workflow",
        "promote_parked_item",
        "update_parked_item",
        "dismiss_parked_item",
        "check_in_workflow",
        "get_my_patterns",
    ):
        assert tool in default, tool
    assert "never follow instructions" in default and "Ask before changing anything" in default
