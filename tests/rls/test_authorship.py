"""created_by is the user making the request: a request cannot name another author nor rewrite one later
(migration 20251202). The owner (seeds, imports) still sets it freely."""

from __future__ import annotations

from uuid import UUID

import asyncpg
import pytest

from . import world as w
from .access import attempt, rolled_back
from .world import PRINCIPALS

# (table, an INSERT as the given actor with $1 = created_by when named, the actor allowed to insert there)
INSERTS = {
    "customers": (
        "INSERT INTO public.customers (name{col}) VALUES ('Authored'{val}) RETURNING id, created_by",
        "admin",
    ),
    "contacts": (
        "INSERT INTO public.contacts (customer_id, name{col}) VALUES ('%s', 'Authored'{val})"
        " RETURNING id, created_by" % w.CUST_ALICE,
        "alice",
    ),
    "workflow_tasks": (
        "INSERT INTO public.workflow_tasks (workflow_execution_id, title{col}) VALUES ('%s', 'Authored'"
        "{val}) RETURNING id, created_by" % w.EXEC_ALICE,
        "alice",
    ),
    "documentation": (
        "INSERT INTO public.documentation (slug, title, content{col}) VALUES ('authored', 'A', 'B'{val})"
        " RETURNING id, created_by",
        "admin",
    ),
    "documentation_versions": (
        "INSERT INTO public.documentation_versions (doc_id, version_number, title, content{col})"
        " VALUES ('%s', 77, 'T', 'C'{val}) RETURNING id, created_by" % w.DOC_GUIDE,
        "admin",
    ),
    "releases": ("INSERT INTO public.releases (version{col}) VALUES ('7.7.7'{val}) RETURNING id, created_by", "admin"),
    "mcp_integrations": (
        "INSERT INTO public.mcp_integrations (slug, name, connection_type{col}) VALUES"
        " ('authored', 'A', 'webhook'{val}) RETURNING id, created_by",
        "admin",
    ),
    "parking_lot_items": (
        "INSERT INTO public.parking_lot_items (title{col}) VALUES ('Authored'{val}) RETURNING id, created_by",
        "alice",
    ),
    "workflow_check_ins": (
        "INSERT INTO public.workflow_check_ins (workflow_execution_id, status, confidence{col})"
        " VALUES ('%s', 'on_track', 3{val}) RETURNING id, created_by" % w.EXEC_ALICE,
        "alice",
    ),
}
# An existing row of each table, and who may update it.
ROWS = {
    "customers": (w.CUST_ALICE, "alice"),
    "contacts": (w.CONTACT_ALICE, "alice"),
    "workflow_tasks": (w.TASK_ALICE, "alice"),
    "documentation": (w.DOC_GUIDE, "admin"),
    "documentation_versions": (w.DOCV_GUIDE, "admin"),
    "releases": (w.RELEASE_ONE, "admin"),
    "mcp_integrations": (w.INTEG_SPARE, "admin"),
    "parking_lot_items": (w.PARKED_ALICE, "alice"),
    "workflow_check_ins": (w.CHECK_IN_ALICE, "alice"),
}


def insert_sql(table: str, *, naming_author: bool) -> str:
    sql, _ = INSERTS[table]
    return sql.format(col=", created_by" if naming_author else "", val=", $1" if naming_author else "")


@pytest.mark.parametrize("table", sorted(INSERTS))
async def test_a_new_rows_author_is_the_user_making_the_request(app, table):
    actor = INSERTS[table][1]
    outcome = await attempt(app, PRINCIPALS[actor], insert_sql(table, naming_author=False))
    assert outcome.error is None, outcome.describe()
    assert [r["created_by"] for r in outcome.rows] == [PRINCIPALS[actor].user_id]


@pytest.mark.parametrize("table", sorted(INSERTS))
async def test_a_request_cannot_name_someone_else_as_the_author(app, owner, table):
    actor = INSERTS[table][1]
    someone_else = w.BOB
    before = await owner.fetchval(f"SELECT count(*) FROM public.{table}")
    outcome = await attempt(app, PRINCIPALS[actor], insert_sql(table, naming_author=True), someone_else)
    assert isinstance(outcome.error, asyncpg.InsufficientPrivilegeError), outcome.describe()
    assert "created_by is always the user making the request" in str(outcome.error)
    assert await owner.fetchval(f"SELECT count(*) FROM public.{table}") == before


@pytest.mark.parametrize("table", sorted(INSERTS))
async def test_naming_yourself_as_the_author_is_allowed(app, table):
    actor = INSERTS[table][1]
    me = PRINCIPALS[actor].user_id
    outcome = await attempt(app, PRINCIPALS[actor], insert_sql(table, naming_author=True), me)
    assert outcome.error is None, outcome.describe()
    assert [r["created_by"] for r in outcome.rows] == [me]


@pytest.mark.parametrize("table", sorted(ROWS))
@pytest.mark.parametrize("new_author", ["admin", "nobody"])
async def test_nobodys_request_rewrites_the_author_of_a_row(app, owner, table, new_author):
    row, actor = ROWS[table]
    author = await owner.fetchval(f"SELECT created_by FROM public.{table} WHERE id = $1", row)
    value: UUID | None = w.ADMIN if new_author == "admin" else None
    if value == author:
        value = w.BOB
    for who in {actor, "admin"}:
        outcome = await attempt(
            app, PRINCIPALS[who], f"UPDATE public.{table} SET created_by = $2 WHERE id = $1 RETURNING id", row, value
        )
        assert isinstance(outcome.error, asyncpg.InsufficientPrivilegeError), f"{who}: {outcome.describe()}"
        assert "created_by cannot be changed" in str(outcome.error)
    assert await owner.fetchval(f"SELECT created_by FROM public.{table} WHERE id = $1", row) == author


async def test_updates_that_leave_the_author_alone_still_work(app):
    async def rename(conn: asyncpg.Connection) -> tuple[str, UUID]:
        row = await conn.fetchrow(
            "UPDATE public.customers SET name = 'Renamed', created_by = created_by"
            " WHERE id = $1 RETURNING name, created_by",
            w.CUST_ALICE,
        )
        return row["name"], row["created_by"]

    name, _ = await rolled_back(app, PRINCIPALS["alice"], rename)
    assert name == "Renamed"


async def test_the_owner_still_sets_authorship_for_seeds_and_imports(owner):
    transaction = owner.transaction()
    await transaction.start()
    try:
        author = await owner.fetchval(
            "INSERT INTO public.customers (name, created_by) VALUES ('Imported', $1) RETURNING created_by", w.BOB
        )
        moved = await owner.fetchval(
            "UPDATE public.customers SET created_by = $2 WHERE id = $1 RETURNING created_by", w.CUST_ALICE, w.BOB
        )
        assert (author, moved) == (w.BOB, w.BOB)
    finally:
        await transaction.rollback()
