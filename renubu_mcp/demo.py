"""The demo users' fixed identities, shared by the demo seed, the CLI and the tests."""

from __future__ import annotations

from dataclasses import dataclass
from uuid import UUID


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
