"""Enums shared by several GraphQL types: the domain's own enums, registered with Strawberry."""

from __future__ import annotations

import strawberry

from domain.flight import PositionSource, Source

strawberry.enum(Source, name="Source", description="Where a state came from.")
strawberry.enum(PositionSource, name="PositionSource", description="How the position was found.")

__all__ = ["PositionSource", "Source"]
