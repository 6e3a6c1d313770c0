"""The parking lot through the real MCP client: each user's own (admins all), what an item may name, bad input
changing nothing, and promotion as one transaction. Fixed ids come from renubu_mcp/seeds/demo.sql."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pytest
from mcp import MCPError

from renubu_mcp.demo import ALICE, BOB

from .test_workflows import ACME, ACME_RENEWAL, CONTOSO_COMPLETED, CUSTOMER, GLOBEX_RENEWAL, INJECTION, WF, owner

ITEM = "34000000-0000-4000-8000-0000000000{:02d}".format
BRIGHTWAVE_SPONSOR = ITEM(1)  # alice, revisit yesterday, Brightwave (07), from workflow 03
ACME_PLANT = ITEM(2)  # alice, revisit today, Acme, from the Acme renewal
INITECH_FEEDBACK = ITEM(3)  # alice, in 5 days: the planted injection in its notes
WEBINAR_IDEA = ITEM(4)  # alice, no customer, no date
ACME_PROMOTED = ITEM(5)  # alice, promoted to task 31..0103
LUMEN_DISMISSED = ITEM(6)  # alice, dismissed
GLOBEX_PORTAL = ITEM(12)  # bob, from the Globex renewal
PLANNING_TABLES = ("parking_lot_items", "workflow_executions", "workflow_tasks", "workflow_actions")


async def snapshot(database) -> dict[str, tuple[int, str]]:
    """Row count and a hash of every row of the tables a parking-lot tool may touch."""
    async with owner(database) as conn:
        return {
            table: tuple(
                await conn.fetchrow(
                    f"SELECT count(*), coalesce(md5(string_agg(t::text, '|' ORDER BY t.id)), '') FROM {table} t"
                )
            )
            for table in PLANNING_TABLES
        }


def in_days(days: int) -> str:
    return (datetime.now(timezone.utc) + timedelta(days=days)).replace(microsecond=0).isoformat()


async def test_each_user_lists_their_own_lot_due_first_and_an_admin_lists_everyones(connect_shared):
    async with connect_shared(ALICE.email) as alice:
        parked = (await alice.ok("list_parked_items"))["items"]
        promoted = (await alice.ok("list_parked_items", {"status": "promoted"}))["items"]
        dismissed = (await alice.ok("list_parked_items", {"status": "dismissed"}))["items"]
        acme = (await alice.ok("list_parked_items", {"customer_id": ACME}))["items"]
    # Due for revisit first, the one with no date last; her own carry no owner.
    assert [i["id"] for i in parked] == [BRIGHTWAVE_SPONSOR, ACME_PLANT, INITECH_FEEDBACK, WEBINAR_IDEA]
    assert all("owner_id" not in i for i in parked + promoted + dismissed)
    assert parked[0]["customer_name"] == "Brightwave Media" and parked[0]["from_workflow_id"] == WF(3)
    assert [(i["id"], i["promoted_to_task_id"]) for i in promoted] == [
        (ACME_PROMOTED, "31000000-0000-4000-8000-000000000103")
    ]
    assert [i["id"] for i in dismissed] == [LUMEN_DISMISSED] and dismissed[0]["resolved_at"]
    assert [i["id"] for i in acme] == [ACME_PLANT]
    async with connect_shared(BOB.email) as bob:
        bobs = (await bob.ok("list_parked_items"))["items"]
    assert bobs and not {i["id"] for i in bobs} & {i["id"] for i in parked}
    async with connect_shared("admin@example.com") as admin:
        everyone = (await admin.ok("list_parked_items", {"limit": 100}))["items"]
    assert {i["id"] for i in everyone} == {i["id"] for i in parked + bobs}
    assert {i["owner_name"] for i in everyone} == {"Alice Chen", "Bob Martinez"}


async def test_paging_goes_through_the_lot_once_and_refuses_another_querys_cursor(connect_shared):
    async with connect_shared("admin@example.com") as admin:
        seen, cursor = [], None
        while True:
            page = await admin.ok("list_parked_items", {"limit": 3, **({"cursor": cursor} if cursor else {})})
            seen += [i["id"] for i in page["items"]]
            cursor = page.get("next_cursor")
            if cursor is None:
                break
        first = await admin.ok("list_parked_items", {"limit": 3})
        message = await admin.error("list_parked_items", {"status": "dismissed", "cursor": first["next_cursor"]})
    assert len(seen) == len(set(seen)) == 7
    assert message == "cursor belongs to a different query; start again without a cursor"


async def test_people_wrote_the_notes_so_they_stay_inside_the_boundary(connect_shared):
    async with connect_shared(ALICE.email) as alice:
        result = await alice.call("list_parked_items")
    text = result.content[0].text
    tag = text.split("<", 1)[1].split(">", 1)[0]
    assert INJECTION in text.split(f"<{tag}>\n", 1)[1].rsplit(f"\n</{tag}>", 1)[0]
    assert any(INJECTION in (i.get("notes") or "") for i in result.structured_content["items"])


async def test_parking_names_only_what_the_user_can_see_and_takes_the_customer_from_the_workflow(connect):
    async with connect(ALICE.email) as alice:
        item = await alice.ok(
            "park_item",
            {
                "title": "  Ask about the fourth plant  ",
                "workflow_id": ACME_RENEWAL,
                "revisit_at": in_days(3),
                "notes": "From the QBR.",
            },
        )
        before = await snapshot(connect.database)
        refused = {
            "bob's customer": await alice.error("park_item", {"title": "x", "customer_id": CUSTOMER(21)}),
            "an unassigned customer": await alice.error("park_item", {"title": "x", "customer_id": CUSTOMER(45)}),
            "bob's workflow": await alice.error("park_item", {"title": "x", "workflow_id": GLOBEX_RENEWAL}),
            "a workflow on another customer": await alice.error(
                "park_item", {"title": "x", "customer_id": CUSTOMER(2), "workflow_id": ACME_RENEWAL}
            ),
        }
        assert await snapshot(connect.database) == before
    assert (item["title"], item["customer_id"], item["customer_name"], item["from_workflow_id"], item["status"]) == (
        "Ask about the fourth plant",
        ACME,
        "Acme Corp",
        ACME_RENEWAL,
        "parked",
    )
    assert refused["bob's customer"] == (
        f"no customer {CUSTOMER(21)} (it does not exist or is not assigned to you); "
        "find customers with search_customers"
    )
    assert refused["an unassigned customer"].startswith(f"no customer {CUSTOMER(45)} ")
    assert refused["bob's workflow"] == (
        f"no workflow {GLOBEX_RENEWAL} (it does not exist or is not yours); find workflows with list_workflows"
    )
    assert refused["a workflow on another customer"] == (
        f"workflow {ACME_RENEWAL} is not on customer {CUSTOMER(2)}; pass only workflow_id (the item takes its customer)"
    )
    async with owner(connect.database) as conn:
        stored = await conn.fetchrow("SELECT user_id, created_by FROM parking_lot_items WHERE id = $1", item["id"])
    assert (stored["user_id"], stored["created_by"]) == (ALICE.id, ALICE.id)


async def test_bob_cannot_see_or_change_alices_items_and_is_told_they_are_not_found(connect):
    before = await snapshot(connect.database)
    async with connect(BOB.email) as bob:
        for tool, args in [
            ("promote_parked_item", {"item_id": ACME_PLANT, "workflow_type": "expansion"}),
            ("promote_parked_item", {"item_id": ACME_PLANT, "workflow_id": GLOBEX_RENEWAL}),
            ("update_parked_item", {"item_id": ACME_PLANT, "revisit_at": in_days(30)}),
            ("dismiss_parked_item", {"item_id": ACME_PLANT}),
        ]:
            message = await bob.error(tool, args)
            assert message == (
                f"no parked item {ACME_PLANT} (it does not exist or is not yours); see list_parked_items"
            ), (tool, message)
        with pytest.raises(MCPError) as hidden:
            await bob.client.read_resource(f"renubu://parking-lot/{ACME_PLANT}")
        assert "no parked item" in hidden.value.error.message
    assert await snapshot(connect.database) == before
    async with connect(ALICE.email) as alice:
        mine = json.loads(
            (await alice.client.read_resource(f"renubu://parking-lot/{INITECH_FEEDBACK}")).contents[0].text
        )
    assert mine["id"] == INITECH_FEEDBACK and INJECTION in mine["notes"]


@pytest.mark.parametrize(
    ("tool", "arguments", "expected"),
    [
        ("park_item", {"title": "   "}, "title must not be blank"),
        ("park_item", {"title": "x", "revisit_at": "2030-01-01T09:00:00"}, "revisit_at needs a timezone"),
        ("park_item", {"title": "x" * 201}, "title must be at most 200 characters"),
        ("park_item", {"title": "x", "notes": "n" * 2001}, "notes must be at most 2000 characters"),
        (
            "promote_parked_item",
            {"item_id": ACME_PLANT},
            "pass workflow_type (a new workflow on the item's customer) or "
            "workflow_id (a new task in that workflow), one of the two",
        ),
        (
            "promote_parked_item",
            {"item_id": ACME_PLANT, "workflow_type": "expansion", "workflow_id": ACME_RENEWAL},
            "pass workflow_type",
        ),
        (
            "promote_parked_item",
            {"item_id": ACME_PLANT, "workflow_type": "Expansion!"},
            "workflow_type has the wrong format",
        ),
        (
            "promote_parked_item",
            {"item_id": ACME_PLANT, "workflow_type": "expansion", "due_date": "2030-01-01T09:00:00Z"},
            "due_date goes only with workflow_id (it is the new task's)",
        ),
        (
            "promote_parked_item",
            {"item_id": WEBINAR_IDEA, "workflow_type": "expansion"},
            f"item {WEBINAR_IDEA} names no customer, and a workflow needs one",
        ),
        (
            "promote_parked_item",
            {"item_id": INITECH_FEEDBACK, "workflow_id": ACME_RENEWAL},
            f"item {INITECH_FEEDBACK} is about customer {CUSTOMER(41)} and workflow {ACME_RENEWAL} is on another",
        ),
        (
            "promote_parked_item",
            {"item_id": ACME_PLANT, "workflow_id": CONTOSO_COMPLETED},
            f"workflow {CONTOSO_COMPLETED} is completed; tasks can be added only to workflows that are not_started, "
            "in_progress or snoozed",
        ),
        (
            "promote_parked_item",
            {"item_id": ACME_PROMOTED, "workflow_type": "expansion"},
            f"item {ACME_PROMOTED} is promoted already, which is final; only parked items can be promoted",
        ),
        (
            "promote_parked_item",
            {"item_id": LUMEN_DISMISSED, "workflow_type": "expansion"},
            f"item {LUMEN_DISMISSED} is dismissed already, which is final",
        ),
        ("update_parked_item", {"item_id": ACME_PLANT}, "pass at least one of revisit_at, title, notes, customer_id"),
        (
            "update_parked_item",
            {"item_id": LUMEN_DISMISSED, "revisit_at": "2030-01-01T09:00:00Z"},
            f"item {LUMEN_DISMISSED} is dismissed already, which is final; only parked items can be changed",
        ),
        (
            "update_parked_item",
            {"item_id": ACME_PLANT, "customer_id": CUSTOMER(2)},
            f"item {ACME_PLANT} came from a workflow on another customer than {CUSTOMER(2)}",
        ),
        ("update_parked_item", {"item_id": WEBINAR_IDEA, "customer_id": CUSTOMER(21)}, f"no customer {CUSTOMER(21)}"),
        (
            "dismiss_parked_item",
            {"item_id": ACME_PROMOTED},
            f"item {ACME_PROMOTED} was promoted, which is final; it cannot be dismissed",
        ),
    ],
)
async def test_bad_input_gets_one_clear_line_and_changes_nothing(connect, tool, arguments, expected):
    before = await snapshot(connect.database)
    async with connect(ALICE.email) as alice:
        message = await alice.error(tool, arguments)
    assert message.startswith(expected) and "\n" not in message, message
    assert await snapshot(connect.database) == before


async def test_promoting_into_a_workflow_makes_it_the_items_owners_and_the_item_records_it(connect):
    async with connect("admin@example.com") as admin:  # an admin acting on alice's item: the work is still hers
        result = await admin.ok(
            "promote_parked_item", {"item_id": BRIGHTWAVE_SPONSOR, "workflow_type": "risk_mitigation"}
        )
    workflow, item = result["workflow"], result["item"]
    assert (item["status"], item["promoted_to_workflow_id"], item["resolved_at"] is not None) == (
        "promoted",
        workflow["id"],
        True,
    )
    assert (
        workflow["owner_id"],
        workflow["customer_id"],
        workflow["workflow_type"],
        workflow["workflow_name"],
        workflow["status"],
    ) == (str(ALICE.id), CUSTOMER(7), "risk_mitigation", "Find Brightwave a new executive sponsor", "in_progress")
    async with owner(connect.database) as conn:
        action = await conn.fetchrow(
            "SELECT action_type, action_data, user_id FROM workflow_actions WHERE workflow_execution_id = $1",
            workflow["id"],
        )
    assert (action["action_type"], action["action_data"]["parked_item_id"]) == ("workflow_started", BRIGHTWAVE_SPONSOR)
    async with connect(ALICE.email) as alice:
        mine = await alice.ok("get_workflow", {"workflow_id": workflow["id"]})
        lot = [i["id"] for i in (await alice.ok("list_parked_items"))["items"]]
    assert mine["workflow"]["id"] == workflow["id"] and BRIGHTWAVE_SPONSOR not in lot


async def test_promoting_into_a_task_adds_it_to_the_workflow_with_the_items_words(connect):
    due = in_days(4)
    async with connect(ALICE.email) as alice:
        result = await alice.ok(
            "promote_parked_item", {"item_id": ACME_PLANT, "workflow_id": ACME_RENEWAL, "due_date": due}
        )
        workflow = await alice.ok("get_workflow", {"workflow_id": ACME_RENEWAL})
    task, item = result["task"], result["item"]
    assert (task["workflow_id"], task["title"], task["description"], task["assigned_to"], task["status"]) == (
        ACME_RENEWAL,
        "Ask Acme about the fourth plant",
        "Procurement mentioned a plant opening next year: an expansion?",
        str(ALICE.id),
        "pending",
    )
    assert datetime.fromisoformat(task["due_date"].replace("Z", "+00:00")) == datetime.fromisoformat(due)
    assert (item["status"], item["promoted_to_task_id"]) == ("promoted", task["id"])
    assert task["id"] in {t["id"] for t in workflow["tasks"]}


async def test_a_promotion_that_fails_at_its_last_step_leaves_nothing_behind(connect):
    """One transaction: the new workflow, its action and the item's change stand or fall together."""
    async with owner(connect.database) as conn:
        await conn.execute("""
            CREATE FUNCTION public.zz_refuse_promotion() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN RAISE EXCEPTION 'refused at the last step' USING ERRCODE = 'check_violation'; END $$;
            CREATE TRIGGER zz_refuse_promotion BEFORE UPDATE OF status ON public.parking_lot_items
              FOR EACH ROW WHEN (NEW.status = 'promoted') EXECUTE FUNCTION public.zz_refuse_promotion();
        """)
    before = await snapshot(connect.database)
    async with connect(ALICE.email) as alice:
        await alice.error("promote_parked_item", {"item_id": BRIGHTWAVE_SPONSOR, "workflow_type": "risk_mitigation"})
        await alice.error("promote_parked_item", {"item_id": ACME_PLANT, "workflow_id": ACME_RENEWAL})
    assert await snapshot(connect.database) == before


async def test_two_promotions_of_one_item_at_once_make_exactly_one_workflow(connect):
    import asyncio

    async with connect(ALICE.email) as first, connect(ALICE.email) as second:
        results = await asyncio.gather(
            *(
                s.call("promote_parked_item", {"item_id": ACME_PLANT, "workflow_type": "expansion"})
                for s in (first, second)
            )
        )
    assert sorted(r.is_error for r in results) == [False, True]
    assert "is promoted already" in next(r for r in results if r.is_error).content[0].text
    async with owner(connect.database) as conn:
        made = await conn.fetchval(
            "SELECT count(*) FROM workflow_executions WHERE metadata ->> 'parked_item_id' = $1", ACME_PLANT
        )
    assert made == 1


async def test_reschedule_and_dismiss(connect):
    later = in_days(10)
    async with connect(ALICE.email) as alice:
        moved = await alice.ok(
            "update_parked_item", {"item_id": ACME_PLANT, "revisit_at": later, "title": "Fourth plant: ask again"}
        )
        named = await alice.ok("update_parked_item", {"item_id": WEBINAR_IDEA, "customer_id": CUSTOMER(4)})
        dismissed = await alice.ok("dismiss_parked_item", {"item_id": INITECH_FEEDBACK})
        again = await alice.ok("dismiss_parked_item", {"item_id": INITECH_FEEDBACK})
        due = [i["id"] for i in (await alice.ok("my_day")).get("parked_due", {}).get("items", [])]
    assert (moved["title"], moved["notes"]) == (
        "Fourth plant: ask again",
        "Procurement mentioned a plant opening next year: an expansion?",
    )
    assert datetime.fromisoformat(moved["revisit_at"].replace("Z", "+00:00")) == datetime.fromisoformat(later)
    assert named["customer_name"] == "Blue Harbor Logistics"
    assert (dismissed["status"], again) == ("dismissed", dismissed)  # dismissing twice changes nothing
    assert due == [BRIGHTWAVE_SPONSOR]
