"""The demo users' fixed identities, shared by the demo seed, the CLI and the tests."""

from __future__ import annotations

from dataclasses import dataclass
from uuid import UUID

import asyncpg


@dataclass(frozen=True)
class DemoUser:
    id: UUID
    email: str
    full_name: str
    role: str


ADMIN = DemoUser(UUID("00000000-0000-4000-8000-000000000001"), "admin@example.com", "Ada Admin", "admin")
ALICE = DemoUser(UUID("00000000-0000-4000-8000-000000000002"), "alice@example.com", "Alice Chen", "csm")
BOB = DemoUser(UUID("00000000-0000-4000-8000-000000000003"), "bob@example.com", "Bob Martinez", "csm")
PAT = DemoUser(UUID("00000000-0000-4000-8000-000000000004"), "pat@example.com", "Pat Patel", "pm")

DEMO_USERS = (ADMIN, ALICE, BOB, PAT)


async def give_demo_users_a_password(owner_dsn: str, password: str) -> int:
    """Demo users without a password get this one (a database seeded before the seed set passwords); how many."""
    conn = await asyncpg.connect(owner_dsn)
    try:
        status = await conn.execute(
            "UPDATE auth.users SET encrypted_password = renubu_auth.hash_password($1), updated_at = now()"
            " WHERE id = ANY($2::uuid[]) AND encrypted_password IS NULL",
            password,
            [user.id for user in DEMO_USERS],
        )
    finally:
        await conn.close()
    return int(status.split()[-1])
