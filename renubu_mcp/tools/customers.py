"""Customers toolset: the CSM's book of business — accounts, contacts and renewals."""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal
from typing import Annotated, Literal

from mcp.server.mcpserver import Context
from mcp.types import CallToolResult
from pydantic import Field

from ..context import read_as_caller, read_in, user_transaction
from ..errors import InvalidArgument, NotFound
from ..results import render
from . import workflow_queries
from .common import Cursor, CustomerId, Limit, like_pattern, not_blank
from .paging import decode_cursor, finish_page
from .registry import Toolset

toolset = Toolset("customers")

NOT_FOUND = "no customer {} (it does not exist or is not assigned to you); find customers with search_customers"


@toolset.read("Search customers")
async def search_customers(
    ctx: Context,
    query: Annotated[str | None, Field(max_length=200, description="part of the name")] = None,
    renewal_after: date | None = None,
    renewal_before: date | None = None,
    min_risk_score: Annotated[int | None, Field(ge=0, le=100)] = None,
    sort: Annotated[
        Literal["name", "renewal_date", "risk_score", "arr"], Field(description="risk_score and arr: highest first")
    ] = "name",
    limit: Limit = 20,
    cursor: Cursor = None,
) -> CallToolResult:
    """Find customers you manage (admins: all) by name, renewal window or risk."""
    if renewal_after and renewal_before and renewal_after > renewal_before:
        raise InvalidArgument("renewal_after must be on or before renewal_before")
    filters = {"query": query, "after": renewal_after, "before": renewal_before, "risk": min_risk_score, "sort": sort}
    offset = decode_cursor(cursor, filters)
    document = await read_as_caller(
        ctx,
        "search_customers",
        {
            "pattern": like_pattern(query),
            "after": renewal_after,
            "before": renewal_before,
            "min_risk": min_risk_score,
            "sort": sort,
            "limit": limit,
            "offset": offset,
        },
    )
    return render(finish_page(document, offset, limit, filters))


@toolset.read("Get customer")
async def get_customer(ctx: Context, customer_id: CustomerId) -> CallToolResult:
    """One account in full: customer, contacts, open workflows and tasks, 20 latest actions."""
    args = {"customer_id": customer_id}
    document = await read_as_caller(ctx, "get_customer", args)
    if document.pop("_wake", None):
        # One of its snoozed workflows is due: wake it as if a timer had fired, then read again.
        async with user_transaction(ctx) as conn:
            woken = await workflow_queries.wake_due_workflows(conn, customer_id=customer_id)
            if woken:
                document = await read_in(conn, "get_customer", args)
                document.pop("_wake", None)
                document["woken"] = woken
    return render(document)


@toolset.read("List contacts")
async def list_contacts(
    ctx: Context, customer_id: CustomerId, limit: Limit = 20, cursor: Cursor = None
) -> CallToolResult:
    """Contacts at one customer, primary first."""
    filters = {"customer": customer_id}
    offset = decode_cursor(cursor, filters)
    document = await read_as_caller(
        ctx, "list_contacts", {"customer_id": customer_id, "limit": limit, "offset": offset}
    )
    return render(finish_page(document, offset, limit, filters))


@toolset.read("Upcoming renewals")
async def upcoming_renewals(
    ctx: Context,
    days_ahead: Annotated[int, Field(ge=1, le=730)] = 90,
    limit: Limit = 20,
    cursor: Cursor = None,
) -> CallToolResult:
    """Your renewals in the next days_ahead days, soonest first, with ARR at stake."""
    filters = {"days": days_ahead}
    offset = decode_cursor(cursor, filters)
    document = await read_as_caller(
        ctx, "upcoming_renewals", {"days_ahead": days_ahead, "limit": limit, "offset": offset}
    )
    return render(finish_page(document, offset, limit, filters))


@toolset.write("Update customer", destructive=False, idempotent=True)
async def update_customer(
    ctx: Context,
    customer_id: CustomerId,
    risk_score: Annotated[int | None, Field(ge=0, le=100)] = None,
    renewal_date: date | None = None,
    arr: Annotated[
        Decimal | None, Field(ge=0, le=Decimal("999999999999.99"), decimal_places=2, description="USD per year")
    ] = None,
) -> CallToolResult:
    """Change a customer's risk score, renewal date or ARR."""
    if risk_score is None and renewal_date is None and arr is None:
        raise InvalidArgument("pass at least one of risk_score, renewal_date, arr")
    async with user_transaction(ctx) as conn:
        row = await conn.fetchval(
            """
            UPDATE customers c SET
              risk_score = coalesce($2, c.risk_score),
              renewal_date = coalesce($3, c.renewal_date),
              arr = coalesce($4, c.arr)
            WHERE c.id = $1 AND c.deleted_at IS NULL
            RETURNING renubu_read.customer_row(c, true, true)::text
            """,
            customer_id,
            risk_score,
            renewal_date,
            arr,
        )
    if row is None:
        raise NotFound(NOT_FOUND.format(customer_id))
    return render(json.loads(row))


@toolset.write("Add contact", destructive=False, idempotent=False)
async def add_contact(
    ctx: Context,
    customer_id: CustomerId,
    name: Annotated[str, Field(min_length=1, max_length=200)],
    email: Annotated[
        str | None, Field(max_length=320, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$", description="e.g. ana@acme.com")
    ] = None,
    role: Annotated[str | None, Field(max_length=100, description="e.g. CFO, Champion")] = None,
    phone: Annotated[str | None, Field(max_length=50)] = None,
    is_primary: bool = False,
) -> CallToolResult:
    """Add a contact to one of your customers."""
    name = not_blank("name", name)
    async with user_transaction(ctx) as conn:
        if not await conn.fetchval(
            "SELECT EXISTS (SELECT 1 FROM customers c WHERE c.id = $1 AND c.deleted_at IS NULL)", customer_id
        ):
            raise NotFound(NOT_FOUND.format(customer_id))
        if is_primary:
            await conn.execute(
                "UPDATE contacts SET is_primary = false WHERE customer_id = $1 AND is_primary", customer_id
            )
        row = await conn.fetchval(
            """
            INSERT INTO contacts AS ct (customer_id, name, email, role, phone, is_primary)
            VALUES ($1, $2, $3, $4, $5, $6)
            RETURNING renubu_read.contact_row(ct, true)::text
            """,
            customer_id,
            name,
            email,
            role,
            phone,
            is_primary,
        )
    return render(json.loads(row))
