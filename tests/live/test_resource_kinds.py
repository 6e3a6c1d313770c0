"""The four places a resource kind lives agree (renubu_mcp/resource_kinds.py): the server registers exactly the
kinds' templates; a subscriber is told of a change exactly when they could read the resource
(renubu_read.readable against resources/read); and each table's trigger names the resources its rows belong to
(the table-to-resource mapping, written out here as the reviewed contract)."""

from __future__ import annotations

import asyncio
import json
import uuid
from typing import Any

import asyncpg
import pytest
from mcp import Client, MCPError

from renubu_mcp.db import Database, Principal
from renubu_mcp.demo import ADMIN, ALICE, BOB, PAT
from renubu_mcp.live.feed import CHANNEL
from renubu_mcp.live.hub import ChangeHub
from renubu_mcp.resource_kinds import KINDS, parse
from renubu_mcp.server import build_server
from tests.tools.conftest import settings_for

from .conftest import ACME, ALICE_ACME_WORKFLOW, GLOBEX, in_process

W = ALICE_ACME_WORKFLOW
ALICE_PARKED = "34000000-0000-4000-8000-000000000002"
BOB_PARKED = "34000000-0000-4000-8000-000000000011"


async def test_the_server_registers_exactly_the_kinds_templates():
    server = build_server(settings_for("postgresql://unused", "alice@example.com"))
    templates = {t.uri_template for t in await server.list_resource_templates()}
    static = {str(r.uri) for r in await server.list_resources()}
    assert templates | static == {kind.template for kind in KINDS}
    for kind in KINDS:
        assert set(kind.completions) == set(kind.parameters), kind.name


@pytest.fixture
async def install(owner) -> str:
    """An active stripe-billing install of Alice's."""
    return str(
        await owner.fetchval(
            "INSERT INTO public.user_integrations (user_id, integration_id, status) "
            "SELECT $1, id, 'active' FROM public.mcp_integrations WHERE slug = 'stripe-billing' RETURNING id",
            ALICE.id,
        )
    )


def samples(install: str) -> list[str]:
    """For each kind, URIs that some users can read and others cannot, and ones nobody can."""
    nobody = str(uuid.uuid4())
    return [
        f"renubu://customers/{ACME}",
        f"renubu://customers/{GLOBEX}",
        f"renubu://customers/{nobody}",
        f"renubu://workflows/{W}",
        "renubu://workflows/30000000-0000-4000-8000-000000000011",
        f"renubu://workflows/{nobody}",
        "renubu://docs/risk-scoring",
        "renubu://docs/no-such-doc",
        "renubu://docs/risk-scoring/versions/1",
        "renubu://docs/risk-scoring/versions/2",
        "renubu://docs/risk-scoring/versions/99",
        "renubu://docs/no-such-doc/versions/1",
        "renubu://features/salesforce-sync",
        "renubu://features/no-such-feature",
        "renubu://releases/current",
        "renubu://integrations/hubspot",
        "renubu://integrations/google-calendar",
        "renubu://integrations/nope",
        f"renubu://installs/{install}/events",
        f"renubu://installs/{nobody}/events",
        f"renubu://parking-lot/{ALICE_PARKED}",
        f"renubu://parking-lot/{BOB_PARKED}",
        f"renubu://parking-lot/{nobody}",
    ]


async def test_a_subscriber_is_told_of_a_change_exactly_when_they_could_read_the_resource(demo_db, install):
    uris = samples(install)
    assert {parse(uri).kind for uri in uris} == {kind.name for kind in KINDS}  # every kind is sampled
    db = await Database.connect(demo_db.app_dsn, max_size=2)
    hub = ChangeHub(db, KINDS, None, read_only=True)
    try:
        for user in (ALICE, BOB, ADMIN, PAT):
            readable = await hub.readable(Principal(user.id, user.email), [parse(uri) for uri in uris])
            async with Client(in_process(demo_db.app_dsn, user.email)) as client:
                for uri in uris:
                    try:
                        await client.read_resource(uri)
                        reads = True
                    except MCPError:
                        reads = False
                    assert (parse(uri) in readable) is reads, (user.email, uri)
    finally:
        await db.close()


# The table-to-resource mapping: a write to each table, and the [uri, witness] pairs its trigger announces.
WRITES: dict[str, tuple[str, set[tuple[str, str | None]]]] = {
    "customers": (
        f"UPDATE public.customers SET notes = 'x' WHERE id = '{ACME}'",
        {(f"renubu://customers/{ACME}", None)},
    ),
    "contacts": (
        f"INSERT INTO public.contacts (customer_id, name) VALUES ('{ACME}', 'New contact')",
        {(f"renubu://customers/{ACME}", None)},
    ),
    "workflow_executions": (
        f"UPDATE public.workflow_executions SET current_slide_index = 1 WHERE id = '{W}'",
        {(f"renubu://workflows/{W}", None), (f"renubu://customers/{ACME}", f"renubu://workflows/{W}")},
    ),
    "workflow_tasks": (
        f"INSERT INTO public.workflow_tasks (workflow_execution_id, title) VALUES ('{W}', 'Call')",
        {(f"renubu://workflows/{W}", None), (f"renubu://customers/{ACME}", f"renubu://workflows/{W}")},
    ),
    "workflow_actions": (
        f"INSERT INTO public.workflow_actions (workflow_execution_id, user_id, action_type) "
        f"VALUES ('{W}', '{ALICE.id}', 'note')",
        {(f"renubu://workflows/{W}", None), (f"renubu://customers/{ACME}", f"renubu://workflows/{W}")},
    ),
    "workflow_conditions": (
        f"INSERT INTO public.workflow_conditions (workflow_execution_id, condition_type) "
        f"VALUES ('{W}', 'all_tasks_completed')",
        {(f"renubu://workflows/{W}", None)},
    ),
    "documentation": (
        "UPDATE public.documentation SET title = title || '!' WHERE slug = 'risk-scoring'",
        {("renubu://docs/risk-scoring", None), ("renubu://docs/risk-scoring/versions/2", None)},
    ),
    "documentation_versions": (
        "UPDATE public.documentation_versions SET version_label = 'x' WHERE version_number = 1"
        " AND doc_id = (SELECT id FROM public.documentation WHERE slug = 'risk-scoring')",
        {
            ("renubu://docs/risk-scoring/versions/1", None),
            ("renubu://docs/risk-scoring", None),
            ("renubu://releases/current", None),
        },
    ),
    "releases": ("UPDATE public.releases SET notes = notes WHERE is_current", {("renubu://releases/current", None)}),
    "features": (
        "UPDATE public.features SET priority = priority WHERE slug = 'salesforce-sync'",
        {("renubu://features/salesforce-sync", None)},
    ),
    "feature_updates": (
        "INSERT INTO public.feature_updates (feature_id, update_type, note) "
        "SELECT id, 'note', 'x' FROM public.features WHERE slug = 'salesforce-sync'",
        {("renubu://features/salesforce-sync", None)},
    ),
    "mcp_integrations": (
        "UPDATE public.mcp_integrations SET description = 'x' WHERE slug = 'hubspot'",
        {("renubu://integrations/hubspot", None)},
    ),
    "integration_events": (
        "INSERT INTO public.integration_events (user_integration_id, user_id, sent_at, payload, "
        "signature_hash) SELECT id, user_id, now(), '{}', repeat('a', 64)"
        " FROM public.user_integrations",
        {("renubu://installs/{install}/events", None)},
    ),
    "parking_lot_items": (
        f"UPDATE public.parking_lot_items SET notes = 'x' WHERE id = '{ALICE_PARKED}'",
        {(f"renubu://parking-lot/{ALICE_PARKED}", None)},
    ),
}


async def test_each_tables_trigger_announces_the_resources_its_rows_belong_to(demo_db, owner, install):
    tables = {
        r["table"]
        for r in await owner.fetch(
            "SELECT c.relname AS table FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid"
            " WHERE c.relnamespace = 'public'::regnamespace"
            " AND t.tgfoid = 'renubu_live.resource_changed()'::regprocedure"
        )
    }
    assert set(WRITES) == tables, "a table is notified that the mapping here does not name"
    heard: asyncio.Queue[str] = asyncio.Queue()
    listener = await asyncpg.connect(demo_db.app_dsn)
    await listener.add_listener(CHANNEL, lambda *args: heard.put_nowait(args[-1]))
    try:
        for table, (statement, expected) in WRITES.items():
            await owner.execute(statement)
            payload: Any = json.loads(await asyncio.wait_for(heard.get(), 30))
            expected = {(uri.replace("{install}", install), witness) for uri, witness in expected}
            assert {(uri, witness) for uri, witness in payload} == expected, table
            assert heard.empty(), table
    finally:
        await listener.close()
