"""resources/list pages through the concrete resources the caller can read, and nothing else."""

from __future__ import annotations

import uuid

import pytest
from mcp import Client, MCPError
from mcp.types import INVALID_PARAMS

from renubu_mcp.demo import ADMIN, ALICE
from renubu_mcp.resource_list import PAGE_SIZE

from .conftest import ACME, GLOBEX, MODES, in_process

EXPECTED = """
SELECT 'renubu://customers/' || c.id FROM public.customers c
  WHERE c.deleted_at IS NULL
    AND ($1 OR c.id IN (SELECT customer_id FROM public.customer_assignments WHERE user_id = $2))
UNION ALL SELECT 'renubu://workflows/' || e.id FROM public.workflow_executions e
  WHERE e.deleted_at IS NULL AND ($1 OR e.user_id = $2)
UNION ALL SELECT 'renubu://docs/' || d.slug FROM public.documentation d WHERE d.deleted_at IS NULL
UNION ALL SELECT 'renubu://docs/' || d.slug || '/versions/' || v.version_number FROM public.documentation_versions v
  JOIN public.documentation d ON d.id = v.doc_id AND d.deleted_at IS NULL
UNION ALL SELECT 'renubu://features/' || f.slug FROM public.features f WHERE f.deleted_at IS NULL
UNION ALL SELECT 'renubu://releases/current' FROM public.releases WHERE is_current
UNION ALL SELECT 'renubu://integrations/' || i.slug FROM public.mcp_integrations i
  WHERE i.deleted_at IS NULL AND ($1 OR i.status = 'enabled')
UNION ALL SELECT 'renubu://installs/' || ui.id || '/events' FROM public.user_integrations ui WHERE $1 OR ui.user_id = $2
UNION ALL SELECT 'renubu://parking-lot/' || p.id FROM public.parking_lot_items p
  WHERE p.deleted_at IS NULL AND ($1 OR p.user_id = $2)
"""


async def every_page(client: Client) -> list[list[str]]:
    pages, cursor = [], None
    while True:
        page = await client.list_resources(cursor=cursor)
        pages.append([str(r.uri) for r in page.resources])
        assert all(r.mime_type == "application/json" and r.name for r in page.resources)
        if (cursor := page.next_cursor) is None:
            return pages


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("user", [ALICE, ADMIN], ids=["a CSM", "an admin"])
async def test_the_list_pages_through_exactly_what_the_caller_can_read(demo_db, owner, mode, user):
    # More customers than fit on a page, most of them nobody's but the admins'.
    await owner.executemany(
        "INSERT INTO public.customers (id, name) VALUES ($1, $2)", [(uuid.uuid4(), f"Listed {n}") for n in range(150)]
    )
    expected = {r[0] for r in await owner.fetch(EXPECTED, user.role == "admin", user.id)}
    async with Client(in_process(demo_db.app_dsn, user.email), mode=mode) as client:
        pages = await every_page(client)
        listed = [uri for page in pages for uri in page]
        assert all(len(page) == PAGE_SIZE for page in pages[:-1]) and 0 < len(pages[-1]) <= PAGE_SIZE
        assert len(listed) == len(set(listed)) and set(listed) == expected
        assert (f"renubu://customers/{GLOBEX}" in listed) is (user is ADMIN)
        assert f"renubu://customers/{ACME}" in listed
        for uri in listed[:: max(1, len(listed) // 25)]:  # a sample of each kind reads
            await client.read_resource(uri)


async def test_a_cursor_that_was_not_given_out_is_refused(demo):
    async with Client(in_process(demo.app_dsn, "alice@example.com")) as alice:
        first = await alice.list_resources()
        assert first.next_cursor
        for cursor in (
            "not-a-cursor",
            "eyJraW5kIjoibm93aGVyZSIsImtleSI6IngifQ",  # {"kind":"nowhere","key":"x"}
            "eyJraW5kIjoiY3VzdG9tZXJzIiwia2V5IjoieCJ9",
        ):  # {"kind":"customers","key":"x"}
            with pytest.raises(MCPError) as refused:
                await alice.list_resources(cursor=cursor)
            assert refused.value.error.code == INVALID_PARAMS and "cursor" in refused.value.error.message
