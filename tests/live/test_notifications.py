"""Change notifications, in both protocol eras (resources/subscribe in 2025-11-25, subscriptions/listen in
2026-07-28), driven by the SDK's client: a subscriber hears of every change they may see, whoever made it and
however (a tool, a webhook delivery, a snoozed workflow waking, an admin's marketplace change, another program),
and of nothing else, not even a URI.

Absence is shown without waiting on the clock: changes are delivered in the order they were committed, so when a
later change the subscriber may see arrives first, the earlier one was withheld.
"""

from __future__ import annotations

import asyncio
import json
from datetime import datetime, timedelta, timezone

import httpx
import pytest
from mcp import MCPError
from mcp.types import INVALID_PARAMS

from renubu_mcp.context import AppState
from renubu_mcp.db import Database
from tests.integrations.conftest import connect_webhook, settings_for as integration_settings, signed, web_app
from tests.tools.conftest import Session

from .conftest import (
    ACME,
    ALICE_ACME_WORKFLOW,
    BOB_MASSIVE_WORKFLOW,
    GLOBEX,
    INITECH,
    MASSIVE,
    MODES,
    customer_uri,
    in_process,
    watcher,
    workflow_uri,
)

pytestmark = pytest.mark.parametrize("mode", MODES)


async def test_a_tool_write_notifies_every_subscriber_of_what_it_touched(demo_db, mode):
    async with (
        watcher(in_process(demo_db.app_dsn, "alice@example.com"), mode) as alice,
        watcher(in_process(demo_db.app_dsn, "alice@example.com"), "auto") as writer,
    ):
        async with alice.watching(customer_uri(ACME), workflow_uri(ALICE_ACME_WORKFLOW)) as next_update:
            await writer.ok("update_customer", {"customer_id": ACME, "risk_score": 77})
            assert await next_update() == customer_uri(ACME)
            await writer.ok("create_task", {"workflow_id": ALICE_ACME_WORKFLOW, "title": "Send the renewal quote"})
            # A task is part of its workflow and of its customer's open work.
            assert {await next_update(), await next_update()} == {customer_uri(ACME), workflow_uri(ALICE_ACME_WORKFLOW)}
        document = json.loads((await alice.client.read_resource(customer_uri(ACME))).contents[0].text)
        assert document["customer"]["risk_score"] == 77


async def test_a_user_never_hears_of_a_change_to_a_resource_they_cannot_read(demo_db, mode):
    async with (
        watcher(in_process(demo_db.app_dsn, "bob@example.com"), mode) as bob,
        watcher(in_process(demo_db.app_dsn, "alice@example.com"), "auto") as alice,
    ):
        # Bob may watch any URI (refusing would tell him which exist), but hears only of what he can read.
        async with bob.watching(customer_uri(ACME), customer_uri(INITECH)) as next_update:
            await alice.ok("update_customer", {"customer_id": ACME, "risk_score": 12})
            await alice.ok("update_customer", {"customer_id": INITECH, "risk_score": 13})
            assert await next_update() == customer_uri(INITECH)
            await alice.ok("add_contact", {"customer_id": ACME, "name": "Wile E."})
            await alice.ok("update_customer", {"customer_id": INITECH, "risk_score": 14})
            assert await next_update() == customer_uri(INITECH)


async def test_a_change_to_a_colleagues_workflow_on_a_shared_customer_is_not_news(demo_db, mode):
    """Alice shares Massive Dynamic with Bob, but not Bob's workflow on it: she never learns it moved."""
    async with (
        watcher(in_process(demo_db.app_dsn, "alice@example.com"), mode) as alice,
        watcher(in_process(demo_db.app_dsn, "bob@example.com"), "auto") as bob,
    ):
        async with alice.watching(customer_uri(MASSIVE), customer_uri(INITECH)) as next_update:
            await bob.ok(
                "record_action",
                {
                    "workflow_id": BOB_MASSIVE_WORKFLOW,
                    "action_type": "call_logged",
                    "action_data": {"summary": "pricing call"},
                },
            )
            await bob.ok("update_customer", {"customer_id": INITECH, "risk_score": 55})
            assert await next_update() == customer_uri(INITECH)
            with pytest.raises(asyncio.TimeoutError):
                await next_update(timeout=0.5)  # nothing left over: the workflow's change was never queued
            await bob.ok("update_customer", {"customer_id": MASSIVE, "risk_score": 56})
            assert await next_update() == customer_uri(MASSIVE)  # Massive Dynamic itself she may watch


async def test_a_change_made_outside_the_server_notifies_too(demo_db, owner, mode):
    """Renubu's own app writes the same tables: the triggers catch every writer."""
    async with watcher(in_process(demo_db.app_dsn, "alice@example.com"), mode) as alice:
        async with alice.watching(customer_uri(ACME)) as next_update:
            await owner.execute("UPDATE public.customers SET notes = 'from the web app' WHERE id = $1", ACME)
            assert await next_update() == customer_uri(ACME)


async def test_a_rolled_back_write_notifies_no_one(demo_db, owner, mode):
    async with watcher(in_process(demo_db.app_dsn, "alice@example.com"), mode) as alice:
        async with alice.watching(customer_uri(ACME), customer_uri(INITECH)) as next_update:
            with pytest.raises(ZeroDivisionError):
                async with owner.transaction():
                    await owner.execute("UPDATE public.customers SET risk_score = 2 WHERE id = $1", INITECH)
                    raise ZeroDivisionError
            await owner.execute("UPDATE public.customers SET risk_score = 3 WHERE id = $1", ACME)
            assert await next_update() == customer_uri(ACME)
            with pytest.raises(asyncio.TimeoutError):
                await next_update(timeout=0.5)


async def test_a_webhook_delivery_notifies_the_install_owner(demo_db, mode):
    db = await Database.connect(demo_db.app_dsn, max_size=2)
    app = AppState(
        settings=integration_settings(demo_db.app_dsn, None),
        db=db,
        stdio_principal=None,
        token_key=integration_settings(demo_db.app_dsn, None).token_encryption_key,
    )
    try:
        server = in_process(
            demo_db.app_dsn, "alice@example.com", token_encryption_key=app.settings.token_encryption_key
        )
        async with (
            watcher(server, mode) as alice,
            httpx.AsyncClient(transport=httpx.ASGITransport(app=web_app(app)), base_url="http://127.0.0.1:8765") as web,
        ):
            started, secret = await connect_webhook(Session(alice.client, "alice@example.com"), web)
            events = f"renubu://installs/{started['install_id']}/events"
            async with alice.watching(events) as next_update:
                body = json.dumps({"type": "invoice.paid", "id": "evt_9"}).encode()
                answer = await web.post(
                    f"/webhooks/{started['install_id']}", content=body, headers=signed(secret, body)
                )
                assert answer.status_code == 202, answer.text
                assert await next_update() == events
            listed = json.loads((await alice.client.read_resource(events)).contents[0].text)
            assert [e["event_type"] for e in listed["events"]] == ["invoice.paid"]
    finally:
        await db.close()


async def test_an_admin_change_to_the_marketplace_notifies_those_who_can_still_read_the_entry(demo_db, mode):
    hubspot = "renubu://integrations/hubspot"
    async with (
        watcher(in_process(demo_db.app_dsn, "alice@example.com"), mode) as alice,
        watcher(in_process(demo_db.app_dsn, "admin@example.com"), mode) as admin,
    ):
        async with (
            alice.watching(hubspot, "renubu://integrations/gong") as alice_next,
            admin.watching(hubspot) as admin_next,
        ):
            await admin.ok("update_integration", {"slug": "hubspot", "description": "CRM sync, now with notes"})
            assert await alice_next() == hubspot and await admin_next() == hubspot
            # Disabled, the entry is the admins' alone: Alice is not told (she cannot read it any more).
            await admin.ok("set_integration_status", {"slug": "hubspot", "status": "disabled"})
            assert await admin_next() == hubspot
            await admin.ok("update_integration", {"slug": "gong", "description": "Call recordings"})
            assert await alice_next() == "renubu://integrations/gong"


async def test_a_snoozed_workflow_waking_on_time_notifies_its_watchers(demo_db, owner, mode, quick_waking):
    async with watcher(in_process(demo_db.app_dsn, "alice@example.com"), mode) as alice:
        until = (datetime.now(timezone.utc) + timedelta(seconds=3)).isoformat()
        await alice.ok("snooze_workflow", {"workflow_id": ALICE_ACME_WORKFLOW, "until": until})
        async with alice.watching(workflow_uri(ALICE_ACME_WORKFLOW)) as next_update:
            # Nobody reads it: the server wakes it when its time comes, as a read would, and says so.
            while await next_update() == workflow_uri(ALICE_ACME_WORKFLOW):
                status = await owner.fetchval(
                    "SELECT status FROM public.workflow_executions WHERE id = $1", ALICE_ACME_WORKFLOW
                )
                if status == "in_progress":
                    break
        woken = json.loads((await alice.client.read_resource(workflow_uri(ALICE_ACME_WORKFLOW))).contents[0].text)
        assert woken["workflow"]["wake_reason"].startswith("snooze time reached")


async def test_a_snoozed_workflow_wakes_for_its_customers_watchers_too(demo_db, owner, mode, quick_waking):
    await owner.execute(
        "UPDATE public.workflow_executions SET snoozed_until = now() + interval '2 seconds'"
        " WHERE id = '30000000-0000-4000-8000-000000000005'"
    )  # Pinecrest's, snoozed
    pinecrest = customer_uri("10000000-0000-4000-8000-000000000005")
    async with watcher(in_process(demo_db.app_dsn, "alice@example.com"), mode) as alice:
        async with alice.watching(pinecrest) as next_update:
            assert await next_update() == pinecrest
    assert (
        await owner.fetchval(
            "SELECT status FROM public.workflow_executions WHERE id = '30000000-0000-4000-8000-000000000005'"
        )
        == "in_progress"
    )


async def test_after_losing_the_database_connection_subscribers_hear_that_anything_may_have_changed(
    demo_db, owner, mode
):
    async with watcher(in_process(demo_db.app_dsn, "alice@example.com"), mode) as alice:
        async with alice.watching(customer_uri(GLOBEX), customer_uri(ACME)) as next_update:
            cut = await owner.fetch(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                " WHERE datname = current_database() AND query LIKE 'LISTEN %'"
            )
            assert len(cut) == 1
            # Notifications sent while the feed reconnects are lost, so it reports a gap: Alice is told about all
            # she watches and may read (Acme), never Globex.
            assert await next_update() == customer_uri(ACME)
            await owner.execute("UPDATE public.customers SET risk_score = 9 WHERE id = $1", ACME)
            assert await next_update() == customer_uri(ACME)


async def test_a_uri_that_names_no_resource_here_is_not_watched(demo_db, mode):
    async with watcher(in_process(demo_db.app_dsn, "alice@example.com"), mode) as alice:
        if alice.modern:
            async with alice.client.listen(
                resource_subscriptions=["renubu://nowhere/1", customer_uri(ACME), "renubu://customers/not-a-uuid"]
            ) as subscription:
                assert subscription.honored.resource_subscriptions == [customer_uri(ACME)]
                assert not subscription.honored.tools_list_changed
        else:
            with pytest.raises(MCPError) as refused:
                await alice.subscribe("renubu://customers/not-a-uuid")
            assert refused.value.error.code == INVALID_PARAMS
            assert "resources/list" in refused.value.error.message


async def test_unsubscribing_or_leaving_the_stream_stops_the_updates(demo_db, owner, mode):
    async with watcher(in_process(demo_db.app_dsn, "alice@example.com"), mode) as alice:
        async with alice.watching(customer_uri(ACME)) as next_update:
            await owner.execute("UPDATE public.customers SET risk_score = 20 WHERE id = $1", ACME)
            assert await next_update() == customer_uri(ACME)
        async with alice.watching(customer_uri(INITECH)) as next_update:
            await owner.execute("UPDATE public.customers SET risk_score = 21 WHERE id = $1", ACME)
            await owner.execute("UPDATE public.customers SET risk_score = 22 WHERE id = $1", INITECH)
            assert await next_update() == customer_uri(INITECH)
