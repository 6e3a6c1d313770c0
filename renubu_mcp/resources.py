"""Resources: the same records the tools return, addressed by renubu:// URIs, with the same visibility."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any
from uuid import UUID

from mcp.server import MCPServer
from mcp.server.mcpserver import Context
from mcp.server.mcpserver.exceptions import ResourceError, ResourceNotFoundError, ToolError
from mcp.types import CallToolResult

from .context import AppState
from .errors import InvalidArgument, NotFound
from .results import compact_json
from .tools import customers, docs, features, integration_api, marketplace, parking_lot, workflows

JSON = "application/json"


async def _as_resource(read: Callable[..., Awaitable[CallToolResult | dict[str, Any]]], *args: Any) -> str:
    """Run a tool's read as a resource read: its data as compact JSON (a resource is a JSON document, so no
    untrusted-data boundary: clients present it as data), its errors as resource errors."""
    try:
        result = await read(*args)
    except (NotFound, InvalidArgument) as exc:
        raise ResourceNotFoundError(str(exc)) from None
    except ToolError as exc:
        raise ResourceError(str(exc)) from None
    return compact_json(result.structured_content if isinstance(result, CallToolResult) else result)


def _uuid(value: str, what: str) -> UUID:
    try:
        return UUID(value)
    except ValueError:
        raise ResourceNotFoundError(f"{what} ids are UUIDs; {value!r} is not one") from None


def _int(value: str, what: str) -> int:
    if not value.isdigit() or int(value) < 1:
        raise ResourceNotFoundError(f"{what} must be a positive whole number, not {value!r}")
    return int(value)


def register(server: MCPServer, toolsets: tuple[str, ...], app: Callable[[], AppState]) -> None:
    """Add the resources of the offered toolsets; `app` gives the running app state."""
    if "customers" in toolsets:

        @server.resource(
            "renubu://customers/{customer_id}",
            title="Customer",
            mime_type=JSON,
            description="One customer in full (contacts, open workflows and tasks, recent actions).",
        )
        async def customer(customer_id: str, ctx: Context) -> str:
            return await _as_resource(customers.get_customer, ctx, _uuid(customer_id, "customer"))

    if "workflows" in toolsets:

        @server.resource(
            "renubu://workflows/{workflow_id}",
            title="Workflow",
            mime_type=JSON,
            description="One workflow execution with its tasks and actions.",
        )
        async def workflow(workflow_id: str, ctx: Context) -> str:
            return await _as_resource(workflows.get_workflow, ctx, _uuid(workflow_id, "workflow"))

        @server.resource(
            "renubu://parking-lot/{item_id}",
            title="Parked item",
            mime_type=JSON,
            description="One item of your parking lot in full, with what it became.",
        )
        async def parked_item(item_id: str, ctx: Context) -> str:
            return await _as_resource(parking_lot.read_item, ctx, _uuid(item_id, "parked item"))

    if "docs" in toolsets:

        @server.resource(
            "renubu://docs/{slug}",
            title="Documentation page",
            mime_type=JSON,
            description="The current version of a documentation page.",
        )
        async def doc(slug: str, ctx: Context) -> str:
            return await _as_resource(docs.get_doc, ctx, slug)

        @server.resource(
            "renubu://docs/{slug}/versions/{version_number}",
            title="Documentation version",
            mime_type=JSON,
            description="A documentation page as snapshotted at one release.",
        )
        async def doc_version(slug: str, version_number: str, ctx: Context) -> str:
            return await _as_resource(docs.get_doc, ctx, slug, _int(version_number, "version_number"))

        @server.resource(
            "renubu://releases/current",
            title="Current release",
            mime_type=JSON,
            description="The current Renubu release.",
        )
        async def current_release() -> str:
            return await _as_resource(docs.current_release, app())

    if "features" in toolsets:

        @server.resource(
            "renubu://features/{slug}",
            title="Feature",
            mime_type=JSON,
            description="One feature of the product registry with its change history.",
        )
        async def feature(slug: str, ctx: Context) -> str:
            return await _as_resource(features.get_feature, ctx, slug)

    if "integrations" in toolsets:

        @server.resource(
            "renubu://integrations/{slug}",
            title="Integration",
            mime_type=JSON,
            description="One marketplace entry in full.",
        )
        async def integration(slug: str, ctx: Context) -> str:
            return await _as_resource(marketplace.get_integration, ctx, slug)

        @server.resource(
            "renubu://installs/{install_id}/events",
            title="Integration events",
            mime_type=JSON,
            description="The 20 newest events one of your webhook integrations delivered.",
        )
        async def install_events(install_id: str, ctx: Context) -> str:
            async def newest(ctx: Context, install: UUID) -> dict[str, Any]:
                result = await integration_api.list_integration_events(ctx, install_id=install)
                return {"events": result.structured_content["events"]}

            return await _as_resource(newest, ctx, _uuid(install_id, "install"))
