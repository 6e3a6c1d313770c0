"""Features toolset (being written)."""

from __future__ import annotations

from .registry import Toolset

toolset = Toolset("features")
