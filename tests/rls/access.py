"""Running one statement as one principal and judging what RLS and the grants let it do.

Every request goes through Database.as_user and is then rolled back, so tests sharing a database cannot
see each other's writes.
"""

from __future__ import annotations

import enum
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar
from uuid import UUID

import asyncpg
import pytest

from renubu_mcp.db import Database, Principal

from .world import PRINCIPALS, rid

T = TypeVar("T")


class _Undo(Exception):
    """Raised inside as_user to roll its transaction back."""


async def rolled_back(app: Database, principal: Principal, work: Callable[[asyncpg.Connection], Awaitable[T]]) -> T:
    """Run `work` in one request as `principal`, then roll the request back; errors propagate."""
    box: list[T] = []
    try:
        async with app.as_user(principal) as conn:
            box.append(await work(conn))
            raise _Undo
    except _Undo:
        pass
    return box[0]


@dataclass
class Outcome:
    rows: list[asyncpg.Record] = field(default_factory=list)
    error: asyncpg.PostgresError | None = None

    def describe(self) -> str:
        if self.error is not None:
            return f"{type(self.error).__name__}: {self.error}"
        return f"{len(self.rows)} row(s): {[tuple(r) for r in self.rows]}"


async def attempt(app: Database, principal: Principal, sql: str, *args: Any) -> Outcome:
    """One statement as `principal`, rolled back; the rows it returned or the error it raised."""

    async def work(conn: asyncpg.Connection) -> Outcome:
        try:
            return Outcome(rows=await conn.fetch(sql, *args))
        except asyncpg.PostgresError as exc:
            return Outcome(error=exc)

    return await rolled_back(app, principal, work)


class Expect(enum.Enum):
    OK = "allowed"  # the statement returns exactly the target row
    NONE = "hidden"  # no error, 0 rows: RLS filtered the row out (USING)
    RLS = "rls-error"  # 42501 new row violates row-level security policy (WITH CHECK)
    DENIED = "permission-denied"  # 42501 permission denied: the role lacks the grant


OK, NONE, RLS, DENIED = Expect.OK, Expect.NONE, Expect.RLS, Expect.DENIED


def assert_outcome(outcome: Outcome, expect: Expect, target: UUID, what: str) -> None:
    got = outcome.describe()
    if expect is OK:
        assert outcome.error is None, f"{what}: expected allowed, got {got}"
        assert [r[0] for r in outcome.rows] == [target], f"{what}: expected the target row back, got {got}"
    elif expect is NONE:
        assert outcome.error is None and outcome.rows == [], f"{what}: expected 0 rows and no error, got {got}"
    else:
        needle = "row-level security" if expect is RLS else "permission denied"
        assert isinstance(outcome.error, asyncpg.InsufficientPrivilegeError), (
            f"{what}: expected {expect.value}, got {got}"
        )
        assert needle in str(outcome.error), f"{what}: expected {expect.value}, got {got}"


def ops(select: Expect, insert: Expect, update: Expect, delete: Expect, soft_delete: Expect | None = None) -> dict:
    row = {"select": select, "insert": insert, "update": update, "delete": delete}
    if soft_delete is not None:
        row["soft_delete"] = soft_delete
    return row


@dataclass
class TableCase:
    """What each actor may do to one table's target row (and to one new row in the target's scope)."""

    table: str
    target: UUID  # an existing row belonging to the owner's scope
    insert_sql: str  # $1 is the new row's id; must RETURN id
    insert_args: tuple = ()
    expect: dict[str, dict[str, Expect]] = field(default_factory=dict)  # actor -> op -> Expect
    insert_id: UUID | None = None  # the new row's id when it cannot be arbitrary (profiles: an auth user's)

    def statement(self, op: str) -> tuple[str, tuple, UUID]:
        t = f"public.{self.table}"
        if op == "select":
            return f"SELECT id FROM {t} WHERE id = $1", (self.target,), self.target
        if op == "update":
            return f"UPDATE {t} SET updated_at = now() WHERE id = $1 RETURNING id", (self.target,), self.target
        if op == "soft_delete":
            return f"UPDATE {t} SET deleted_at = now() WHERE id = $1 RETURNING id", (self.target,), self.target
        if op == "delete":
            return f"DELETE FROM {t} WHERE id = $1 RETURNING id", (self.target,), self.target
        new_id = self.insert_id or rid(f"new:{self.table}")
        return self.insert_sql, (new_id, *self.insert_args), new_id


def cells(cases: list[TableCase]) -> list:
    """One pytest param per (table, actor, operation), named like `contacts: bob update -> hidden`."""
    return [
        pytest.param(case, actor, op, expect, id=f"{case.table}: {actor} {op} -> {expect.value}")
        for case in cases
        for actor, row in case.expect.items()
        for op, expect in row.items()
    ]


async def check_cell(app: Database, case: TableCase, actor: str, op: str, expect: Expect) -> None:
    sql, args, target = case.statement(op)
    outcome = await attempt(app, PRINCIPALS[actor], sql, *args)
    assert_outcome(outcome, expect, target, f"{actor} {op} on {case.table}")
